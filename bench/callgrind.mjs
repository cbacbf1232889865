// ttsav's overhead over the C++ floor in instructions (valgrind --tool=callgrind), which other load on the machine
// does not disturb: each contender runs once with a batch of 1 file and once with 1 + K files; the difference is the
// cost of K jobs, start-up and warm-up cancel out. Node, V8, libuv, the binding and the JS facade are all counted.
//
//   node bench/callgrind.mjs <input.mp3> [K=4] [seed|speech]
//
// Needs valgrind and a built floor (npm run bench builds it; or cmake --build build-bench --target ttsav-bench-floor).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const [input, kArg = '4', settings = 'seed'] = process.argv.slice(2);
if (!input) {
  console.error('usage: node bench/callgrind.mjs <input.mp3> [K] [seed|speech]');
  process.exit(2);
}
const K = Number(kArg);
const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-callgrind-'));
const FLOOR = {
  seed: ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'],
  speech: ['container=mp4', 'bitrate=64000', 'rate=0', 'channels=1', 'coder=fast', 'faststart=1'],
};

function totalIr(cmd, args, name) {
  const out = path.join(dir, `${name}.out`);
  execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, cmd, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(out, 'utf8'));
  return Number(m[1]);
}

try {
  const list = (n) => {
    const f = path.join(dir, `list-${n}.txt`);
    writeFileSync(f, `${path.resolve(input)}\n`);
    return f;
  };
  const floor = (repeat) => totalIr(path.join(root, 'build-bench', 'ttsav-bench-floor'), ['--list', list(1), '--repeat', String(repeat), ...FLOOR[settings]], `floor-${repeat}`);
  const ttsav = (repeat) =>
    totalIr(process.execPath, [path.join(here, 'cell.mjs'), JSON.stringify({ kind: 'ttsav', settings, conc: 1, list: list(1), repeat })], `ttsav-${repeat}`);
  const f1 = floor(1);
  const fK = floor(1 + K);
  const t1 = ttsav(1);
  const tK = ttsav(1 + K);
  const perJobFloor = (fK - f1) / K;
  const perJobTtsav = (tK - t1) / K;
  console.log(`${path.basename(input)}, ${settings} settings, ${K} extra jobs`);
  console.log(`floor: ${(perJobFloor / 1e6).toFixed(2)} M instructions per job`);
  console.log(`ttsav: ${(perJobTtsav / 1e6).toFixed(2)} M instructions per job`);
  console.log(`overhead: ${(((perJobTtsav - perJobFloor) / 1e6)).toFixed(3)} M instructions per job = ${((perJobTtsav / perJobFloor - 1) * 100).toFixed(2)}%`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
