// Compiler options of the bundled FFmpeg (LTO, -O3 variants, …) against each other and against the system libav:
// the C++ codec floor (bench/floor.cc) linked against each build encodes the same 44.1 kHz stereo speech WAVs with
// the seed settings (AAC-LC twoloop 192k, mp4) on one thread.
//   1. Bitstream: every floor's output bytes (SHA-256) per file; builds of the same FFmpeg must agree.
//   2. Instructions per audio second (valgrind --tool=callgrind) on the first file: a run with --repeat 1 and one
//      with --repeat 2; the difference is the cost of one more encode of it, so start-up and warm-up cancel. The
//      count is deterministic: other load on the machine does not change it.
//   3. CPU ms per audio second (user+sys as the floor reports it), rounds rotating the order; min and median.
//
//   node bench/ffmpeg-builds.mjs name=path/to/ttsav-bench-floor [name=…] [--rounds 7] [--no-callgrind]
// The first floor is the reference for the ratios. A floor per build: `cmake -S . -B build-bench-x` with
// TTSAV_FFMPEG=bundled|system, `cmake --build build-bench-x --target ttsav-bench-floor`. Corpus: espeak-ng speech
// made 10 s WAVs with the ffmpeg CLI, kept in .tmp/bench-builds/. Prints a Markdown table.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = opt('rounds', 7);
const callgrind = !args.includes('--no-callgrind');
const floors = args.filter((a) => /^[\w.+-]+=/.test(a)).map((a) => {
  const [name, ...rest] = a.split('=');
  return { name, bin: path.resolve(rest.join('=')) };
});
if (floors.length === 0) {
  console.error('usage: node bench/ffmpeg-builds.mjs name=path/to/ttsav-bench-floor [name=…] [--rounds N] [--no-callgrind]');
  process.exit(2);
}
const log = (s) => process.stderr.write(`${s}\n`);
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];

const dir = path.join(root, '.tmp', 'bench-builds');
mkdirSync(dir, { recursive: true });
const files = [];
for (let i = 0; i < 3; i++) {
  const wav = path.join(dir, `speech${i}-10s.wav`);
  if (!existsSync(wav)) {
    const text = `Line ${i}. The quick brown fox jumps over the lazy dog, and the bundled encoder is measured against the system one. `.repeat(2);
    const voice = path.join(dir, `voice${i}.wav`);
    execFileSync('espeak-ng', ['-w', voice, '-s', String(150 + i * 10), text]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '-1', '-i', voice, '-t', '10', '-ar', '44100', '-ac', '2', '-c:a', 'pcm_s16le', wav]);
  }
  files.push(wav);
}
const list = path.join(dir, 'list.txt');
writeFileSync(list, files.join('\n') + '\n');
const audioSeconds = files.length * 10;
const SEED = ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'];

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-builds-'));
try {
  for (const f of floors) {
    const out = path.join(tmp, `out-${f.name}`);
    mkdirSync(out);
    execFileSync(f.bin, ['--list', list, '--write', out, ...SEED], { stdio: 'ignore' });
    f.hashes = readdirSync(out)
      .sort()
      .map((n) => createHash('sha256').update(readFileSync(path.join(out, n))).digest('hex').slice(0, 16));
    log(`${f.name}: outputs ${f.hashes.join(' ')}`);
  }
  if (callgrind) {
    const one = path.join(dir, 'list1.txt');
    writeFileSync(one, `${files[0]}\n`);
    const ir = (f, repeat) => {
      const out = path.join(tmp, `${f.name}-${repeat}.cg`);
      execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, f.bin, '--list', one, '--repeat', String(repeat), ...SEED], {
        stdio: 'ignore',
      });
      return Number(/^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(out, 'utf8'))[1]);
    };
    for (const f of floors) {
      f.irPerSecond = (ir(f, 2) - ir(f, 1)) / 10;
      log(`${f.name}: ${(f.irPerSecond / 1e6).toFixed(2)} M instructions per audio second`);
    }
  }
  for (const f of floors) f.cpu = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < floors.length; k++) {
      const f = floors[(k + r) % floors.length];
      const res = JSON.parse(execFileSync(f.bin, ['--list', list, '--repeat', '2', '--threads', '1', ...SEED], { encoding: 'utf8' }));
      if (res.errors) throw new Error(`${f.name}: ${res.errors} errors`);
      f.cpu.push(res.cpuMs / (2 * audioSeconds));
    }
    log(`round ${r + 1}/${rounds} (load ${os.loadavg()[0].toFixed(1)})`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const ref = floors[0];
console.log(`${files.length} × 10 s speech, 44.1 kHz stereo → AAC-LC twoloop 192k mp4, one thread; ${rounds} timed rounds; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
console.log('| build | output = first? | M instr / audio s | × first | CPU ms / audio s min | median | × first (median) |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const f of floors) {
  const same = f.hashes.join() === ref.hashes.join() ? 'yes' : 'no';
  const irs = f.irPerSecond ? (f.irPerSecond / 1e6).toFixed(2) : '–';
  const irx = f.irPerSecond ? (f.irPerSecond / ref.irPerSecond).toFixed(4) : '–';
  console.log(
    `| ${f.name} | ${same} | ${irs} | ${irx} | ${sorted(f.cpu)[0].toFixed(2)} | ${median(f.cpu).toFixed(2)} | ${(median(f.cpu) / median(ref.cpu)).toFixed(3)} |`,
  );
}
