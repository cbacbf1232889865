// Where the CPU of a batch goes, thread by thread: each thread's on-CPU nanoseconds (/proc/self/task/<tid>/schedstat,
// the scheduler's own count, not 10 ms ticks) over a batch of transcodes at concurrency 2, divided by the jobs — the
// main thread (JS, N-API, GC's main-thread part), the libuv threadpool (the jobs), V8's helper threads (concurrent
// GC, compilers) — and the same batch through the C++ floor for its CPU per job. CPU per job is robust to other load
// on the machine (the wall time is not). For a before/after of a change to the binding or the pool (issue 13):
//
//   node bench/thread-cpu.mjs [--base DIR] [--rounds 3] [--set phrases] [--settings seed] [--repeat 2]
//
// The cells are bench/thread-cpu-cell.cjs (CommonJS, so that nothing has used the threadpool before it lists the
// startup threads). --base DIR: another checkout whose dist/ and build/Release/ttsav.node are the "before". Needs the corpus and the
// floor (node bench/run.mjs --phases check --quick makes both). Each cell runs in a fresh process (this file with
// --cell); cells interleave, order reversed every other round; medians over the rounds.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const work = path.join(root, '.tmp', 'bench');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};

/** The floor's spelling of the settings (bench/thread-cpu-cell.cjs has ttsav's). */
const FLOOR = {
  seed: ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'],
  speech: ['container=mp4', 'bitrate=64000', 'rate=0', 'channels=1', 'coder=fast', 'faststart=1'],
};

{
  const execFileP = promisify(execFile);
  const rounds = Number(option('rounds', 3));
  const set = option('set', 'phrases');
  const settings = option('settings', 'seed');
  const repeat = Number(option('repeat', 2));
  const base = option('base');
  const manifest = JSON.parse(readFileSync(path.join(work, 'corpus-v1', 'manifest.json'), 'utf8'));
  const list = path.join(work, `thread-cpu-${set}.txt`);
  writeFileSync(list, manifest.files.filter((f) => f.set === set).map((f) => path.join(work, 'corpus-v1', f.file)).join('\n') + '\n');
  const floorBin = path.join(root, 'build-bench', 'ttsav-bench-floor');
  if (!existsSync(floorBin)) throw new Error('no floor: cmake --build build-bench --target ttsav-bench-floor');
  const snapshot = (from, name) => {
    const dir = path.join(work, `cpu-snap-${name}`);
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(from, 'dist'), path.join(dir, 'dist'), { recursive: true });
    cpSync(path.join(from, 'package.json'), path.join(dir, 'package.json'));
    cpSync(path.join(from, 'build', 'Release', 'ttsav.node'), path.join(dir, 'ttsav.node'));
    return { name, ttsav: path.join(dir, 'dist', 'index.js'), addon: path.join(dir, 'ttsav.node') };
  };
  const builds = [snapshot(root, 'this'), ...(base ? [snapshot(path.resolve(base), 'base')] : [])];
  const kinds = (option('kinds', 'pool,transcode2,transcode8')).split(',');
  const results = [];
  for (let r = 0; r < rounds; r++) {
    const cells = [{ who: 'floor' }];
    for (const b of builds) for (const k of kinds) cells.push({ who: `${b.name} ${k}`, build: b, kind: k });
    if (r % 2) cells.reverse();
    for (const c of cells) {
      const load1 = os.loadavg()[0];
      let out;
      if (c.who === 'floor') {
        const o = JSON.parse((await execFileP(floorBin, ['--list', list, '--threads', '2', '--repeat', String(repeat), ...FLOOR[settings]])).stdout);
        out = { files: o.files, wallMs: o.wallMs, libuvMs: o.cpuMs / o.files, mainMs: 0, otherMs: 0 };
      } else {
        const config = { kind: c.kind === 'pool' ? 'pool' : 'ttsav', inflight: Number(c.kind.replace('transcode', '')) || 2, settings, list, repeat, ttsav: c.build.ttsav };
        const { stdout } = await execFileP(process.execPath, [path.join(here, 'thread-cpu-cell.cjs'), JSON.stringify(config)], {
          env: { ...process.env, TTSAV_ADDON: c.build.addon },
        });
        out = JSON.parse(stdout.trim().split('\n').pop());
      }
      results.push({ round: r, who: c.who, load1, ...out });
      console.error(`round ${r + 1} ${c.who}: main ${out.mainMs.toFixed(3)} ms/job, jobs' threads ${out.libuvMs.toFixed(2)}, other ${out.otherMs.toFixed(3)}, wall ${(out.wallMs / out.files).toFixed(2)} ms/file (load ${load1.toFixed(2)})`);
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const lines = [
    `${set}/${settings}, ${rounds} rounds, repeat ${repeat}; loads ${Math.min(...results.map((x) => x.load1)).toFixed(2)}–${Math.max(...results.map((x) => x.load1)).toFixed(2)} (1-min, ${os.cpus().length} cores)`,
    '',
    '| contender | main thread CPU ms/job | threadpool (floor: all) CPU ms/job | other threads ms/job | total ÷ floor | wall ms/file |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const who of [...new Set(results.map((x) => x.who))]) {
    const mine = results.filter((x) => x.who === who);
    const ratio = mine.map((x) => (x.mainMs + x.libuvMs + x.otherMs) / results.find((y) => y.round === x.round && y.who === 'floor').libuvMs);
    lines.push(`| ${who} | ${median(mine.map((x) => x.mainMs)).toFixed(3)} | ${median(mine.map((x) => x.libuvMs)).toFixed(2)} | ${median(mine.map((x) => x.otherMs)).toFixed(3)} | ${median(ratio).toFixed(3)}× | ${median(mine.map((x) => x.wallMs / x.files)).toFixed(2)} |`);
  }
  console.log(lines.join('\n'));
  writeFileSync(path.join(work, `thread-cpu-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(results, null, 1));
}
