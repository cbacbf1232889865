// Where the CPU of a batch goes, thread by thread: each thread's on-CPU nanoseconds (/proc/self/task/<tid>/schedstat,
// the scheduler's own count, not 10 ms ticks) over a batch of transcodes at concurrency 2, divided by the jobs — the
// main thread (JS, N-API, GC's main-thread part), the libuv threadpool (the jobs), V8's helper threads (concurrent
// GC, compilers) — and the same batch through the C++ floor for its CPU per job. CPU per job is robust to other load
// on the machine (the wall time is not). For a before/after of a change to the binding or the pool (issue 13):
//
//   node bench/thread-cpu.mjs [--base DIR] [--rounds 3] [--set phrases] [--settings seed] [--repeat 2]
//
// --base DIR: another checkout whose dist/ and build/Release/ttsav.node are the "before". Needs the corpus and the
// floor (node bench/run.mjs --phases check --quick makes both). Each cell runs in a fresh process (this file with
// --cell); cells interleave, order reversed every other round; medians over the rounds.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

const SETTINGS = {
  seed: { ttsav: { faststart: false }, floor: ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'] },
  speech: { ttsav: { preset: 'speech' }, floor: ['container=mp4', 'bitrate=64000', 'rate=0', 'channels=1', 'coder=fast', 'faststart=1'] },
};

/** On-CPU ns of every thread of this process, by tid, with its name. */
function threads() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { ns, comm });
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function runCell(config) {
  const paths = readFileSync(config.list, 'utf8').split('\n').filter(Boolean);
  const inputs = paths.map((p) => readFileSync(p));
  const total = inputs.length * config.repeat;
  const ttsav = createRequire(import.meta.url)(config.ttsav);
  const options = SETTINGS[config.settings].ttsav;
  let batch;
  if (config.kind === 'pool') {
    const pool = ttsav.createPool({ concurrency: 2, defaults: options });
    await pool.transcode(inputs[0]);
    batch = async () => {
      function* items() {
        for (let i = 0; i < total; i++) yield inputs[i % inputs.length];
      }
      for await (const item of pool.transcodeMany(items(), { ordered: false, total })) if (item.error) throw item.error;
    };
  } else {
    // transcode() behind a semaphore: `inflight` calls out at once (2: awaited two at a time, as bench/cell.mjs;
    // more: concurrent calls queue).
    await ttsav.transcode(inputs[0], options);
    batch = async () => {
      let next = 0;
      const worker = async () => {
        for (let i; (i = next++) < total; ) await ttsav.transcode(inputs[i % inputs.length], options);
      };
      await Promise.all(Array.from({ length: config.inflight }, worker));
    };
  }
  const pid = String(process.pid);
  const before = threads();
  const t0 = performance.now();
  await batch();
  const wallMs = performance.now() - t0;
  const after = threads();
  const groups = { main: 0, libuv: 0, other: 0 };
  for (const [tid, { ns, comm }] of after) {
    const d = ns - (before.get(tid)?.ns ?? 0);
    if (tid === pid) groups.main += d;
    else if (comm.startsWith('libuv')) groups.libuv += d;
    else groups.other += d;
  }
  const perJob = (ns) => ns / 1e6 / total;
  return { files: total, wallMs, mainMs: perJob(groups.main), libuvMs: perJob(groups.libuv), otherMs: perJob(groups.other) };
}

if (args[0] === '--cell') {
  const out = await runCell(JSON.parse(args[1]));
  process.stdout.write(JSON.stringify(out) + '\n');
} else {
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
        const o = JSON.parse((await execFileP(floorBin, ['--list', list, '--threads', '2', '--repeat', String(repeat), ...SETTINGS[settings].floor])).stdout);
        out = { files: o.files, wallMs: o.wallMs, libuvMs: o.cpuMs / o.files, mainMs: 0, otherMs: 0 };
      } else {
        const config = { kind: c.kind === 'pool' ? 'pool' : 'ttsav', inflight: Number(c.kind.replace('transcode', '')) || 2, settings, list, repeat, ttsav: c.build.ttsav };
        const { stdout } = await execFileP(process.execPath, [fileURLToPath(import.meta.url), '--cell', JSON.stringify(config)], {
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
