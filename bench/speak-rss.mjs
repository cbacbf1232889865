// Memory of offline speech under load (issue 14): 4 concurrent speak() calls through one pool with the espeak
// engine, for a number of rounds, then idle. Reports RSS before any speech (baseline), the peak under load (the
// larger of VmHWM and RSS sampled every 20 ms), RSS after 10 s of idling (idle espeak workers are released after
// idleTimeoutMs, default 5 s), and the throughput of the load (speeches/s, and CPU ms per speech: user + system
// time of the whole process, workers and libuv's threads included — steadier than speeches/s on a shared machine).
// One fresh process.
// With --warm, first one speech and 6 s of idling: warmMB is RSS once the one-time costs are paid (FFmpeg's static
// tables, V8 code, the allocator's arenas) and the worker is released again; the idle figure compares to it.
//
//   node --expose-gc bench/speak-rss.mjs [--rounds N] [--clients N] [--workers N] [--warm] [--root DIR]
//
// --root DIR loads ttsav from another package root (DIR/dist and DIR/build, e.g. a worktree of an older commit,
// built), for comparisons. --compare DIR [--repeat N] runs this script N times (default 3) in fresh processes for
// DIR and for this checkout, alternating, and prints each run and the ratios (this checkout / DIR) of throughput
// CPU per speech and peak RSS, taken within each pair of runs, so machine load affects both sides alike.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const num = (name, fallback) => Number(arg(name, fallback));

if (arg('compare') !== undefined) {
  const other = path.resolve(arg('compare'));
  const repeat = num('repeat', 3);
  const pass = process.argv.slice(2).filter((a, i, all) => a !== '--compare' && all[i - 1] !== '--compare' && a !== '--repeat' && all[i - 1] !== '--repeat');
  const once = (root) => {
    const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...pass, ...(root ? ['--root', root] : [])], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`run failed (${root ?? 'this checkout'}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  const pairs = [];
  for (let i = 0; i < repeat; i++) {
    // Alternate which side goes first, so a trend in machine load does not favour one.
    let base, head;
    if (i % 2 === 0) {
      base = once(other);
      head = once();
    } else {
      head = once();
      base = once(other);
    }
    pairs.push({ base, head });
    console.log(JSON.stringify({ run: i + 1, base, head }));
  }
  const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const ratios = (key) => pairs.map((p) => p.head[key] / p.base[key]);
  const fmt = (xs) => `${mean(xs).toFixed(3)} (${xs.map((x) => x.toFixed(3)).join(', ')})`;
  console.log(`throughput head/base: ${fmt(ratios('speechesPerSec'))}`);
  console.log(`CPU per speech head/base: ${fmt(ratios('cpuMsPerSpeech'))}`);
  console.log(`peak RSS head/base:   ${fmt(ratios('peakMB'))}`);
  console.log(`peak MB base ${pairs.map((p) => p.base.peakMB).join(', ')}; head ${pairs.map((p) => p.head.peakMB).join(', ')}`);
  console.log(`idle 10 s MB base ${pairs.map((p) => p.base.idle10sMB).join(', ')}; head ${pairs.map((p) => p.head.idle10sMB).join(', ')}`);
  process.exit(0);
}

const root = path.resolve(arg('root', path.join(here, '..')));
const require = createRequire(path.join(root, 'package.json'));
const { createPool, speak, espeak } = require(path.join(root, 'dist', 'index.js'));

const rounds = num('rounds', 5);
const clients = num('clients', 4);
const mb = (b) => Math.round(b / 1048576);
const text = 'Your order has shipped and will arrive on Thursday. Thank you for shopping with us, and have a nice day.';
/** The kernel's high-water mark of this process's RSS (bytes), where /proc has it. */
const hwm = () => {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
  } catch {
    return 0;
  }
};

const baseline = process.memoryUsage().rss;
let peak = baseline;
let peakAt = null;
const sampler = setInterval(() => { const m = process.memoryUsage(); if (m.rss > peak) { peak = m.rss; peakAt = m; } }, 20);
const pool = createPool({ concurrency: 2 });
const engine = espeak(Number.isFinite(num('workers', NaN)) ? { workers: num('workers', 2) } : {});
let warm;
if (process.argv.includes('--warm')) {
  await speak(text, { engine, pool, format: 'adts', preset: 'speech' });
  await new Promise((r) => setTimeout(r, 6000));
  globalThis.gc?.();
  warm = process.memoryUsage().rss;
  peak = warm;
}
const started = performance.now();
const cpu0 = process.cpuUsage();
let n = 0;
for (let r = 0; r < rounds; r++) {
  await Promise.all(Array.from({ length: clients }, () => speak(text, { engine, pool, format: 'adts', preset: 'speech' }).then(() => n++)));
}
const loadMs = performance.now() - started;
const cpu = process.cpuUsage(cpu0);
const afterLoad = process.memoryUsage().rss;
const workersAtEnd = engine.workerStats().workers;
await new Promise((r) => setTimeout(r, 10_000));
globalThis.gc?.();
const idle = process.memoryUsage().rss;
clearInterval(sampler);
console.log(JSON.stringify({
  clients, rounds, speeches: n, loadMs: Math.round(loadMs), speechesPerSec: Math.round((n / loadMs) * 1e5) / 100,
  cpuMsPerSpeech: Math.round((cpu.user + cpu.system) / 1000 / n),
  workers: workersAtEnd, baselineMB: mb(baseline), ...(warm ? { warmMB: mb(warm) } : {}), peakMB: mb(Math.max(peak, hwm())),
  afterLoadMB: mb(afterLoad), idle10sMB: mb(idle),
  atPeakMB: peakAt && { heapTotal: mb(peakAt.heapTotal), external: mb(peakAt.external), arrayBuffers: mb(peakAt.arrayBuffers) },
  workersAfterIdle: engine.workerStats().workers,
}));
await pool.close();
await engine.close();
