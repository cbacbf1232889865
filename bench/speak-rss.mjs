// Memory of offline speech under load (issue 14): 4 concurrent speak() calls through one pool with the espeak
// engine, for a number of rounds, then idle. Reports RSS before any speech (baseline), the peak under load, and RSS
// after 10 s of idling (idle espeak workers are released after idleTimeoutMs, default 5 s). One fresh process.
// With --warm, first one speech and 6 s of idling: warmMB is RSS once the one-time costs are paid (FFmpeg's static
// tables, V8 code, the allocator's arenas) and the worker is released again; the idle figure compares to it.
//
//   node --expose-gc bench/speak-rss.mjs [--rounds N] [--clients N] [--workers N] [--warm]
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { createPool, speak, espeak } = require('../dist/index.js');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const rounds = arg('rounds', 5);
const clients = arg('clients', 4);
const mb = (b) => Math.round(b / 1048576);
const text = 'Your order has shipped and will arrive on Thursday. Thank you for shopping with us, and have a nice day.';

const baseline = process.memoryUsage().rss;
let peak = baseline;
let peakAt = null;
const sampler = setInterval(() => { const m = process.memoryUsage(); if (m.rss > peak) { peak = m.rss; peakAt = m; } }, 20);
const pool = createPool({ concurrency: 2 });
const engine = espeak(Number.isFinite(arg('workers', NaN)) ? { workers: arg('workers', 2) } : {});
let warm;
if (process.argv.includes('--warm')) {
  await speak(text, { engine, pool, format: 'adts', preset: 'speech' });
  await new Promise((r) => setTimeout(r, 6000));
  globalThis.gc?.();
  warm = process.memoryUsage().rss;
  peak = warm;
}
const started = performance.now();
let n = 0;
for (let r = 0; r < rounds; r++) {
  await Promise.all(Array.from({ length: clients }, () => speak(text, { engine, pool, format: 'adts', preset: 'speech' }).then(() => n++)));
}
const loadMs = performance.now() - started;
const afterLoad = process.memoryUsage().rss;
await new Promise((r) => setTimeout(r, 10_000));
globalThis.gc?.();
const idle = process.memoryUsage().rss;
clearInterval(sampler);
console.log(JSON.stringify({ clients, rounds, speeches: n, loadMs: Math.round(loadMs), baselineMB: mb(baseline), ...(warm ? { warmMB: mb(warm) } : {}), peakMB: mb(peak), afterLoadMB: mb(afterLoad), idle10sMB: mb(idle), atPeakMB: peakAt && { heapTotal: mb(peakAt.heapTotal), external: mb(peakAt.external), arrayBuffers: mb(peakAt.arrayBuffers) }, workersAfterIdle: engine.workerStats().workers }));
await pool.close();
await engine.close();
