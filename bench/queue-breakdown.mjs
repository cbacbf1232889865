// ttsav/queue: where one job's time goes, in one process (no child processes, so every piece has a clock).
//
//   JOBS=60 CONC=1 PREFETCH=1 node bench/queue-breakdown.mjs
//
// Needs dist/, bullmq, ioredis and /usr/bin/redis-server. Prints, per job (means): createPool() alone, the worker
// wall time, storage exists / input read / put inside the job, BullMQ's part (the 'active' event to the
// 'completed' event minus the processor's own time: lock tracking + moveToCompleted, which also fetches the next
// job), the gap between one job's 'completed' and the next one's 'active', and the fsync floor measured alone:
// a write without sync, a write + fdatasync, a directory fsync, and the whole atomic put.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, rename, mkdir } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { createPool, speak } = await import(path.join(root, 'dist', 'index.js'));
const { createQueue, createWorker, fileStorage } = await import(path.join(root, 'dist', 'queue', 'index.js'));
const JOBS = Number(process.env.JOBS ?? 60);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'qp-'));
const port = await new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
process.on('exit', () => { redis.kill('SIGKILL'); rmSync(tmp, { recursive: true, force: true }); });
await new Promise((r) => setTimeout(r, 300));
const url = `redis://127.0.0.1:${port}`;
const store = path.join(tmp, 'store');
const inner = fileStorage(store);
const spoken = await speak('Hello there.', { format: 'mp3', bitrate: '48k', sampleRate: 24000, channels: 1 });
await inner.put('in/phrase.mp3', spoken.audio);
const T = { exists: 0, get: 0, put: 0 };
const storage = { url: inner.url,
  async exists(k) { const t = performance.now(); const r = await inner.exists(k); T.exists += performance.now() - t; return r; },
  async get(k) { const t = performance.now(); const r = await inner.get(k); T.get += performance.now() - t; return r; },
  async put(k, b, m) { const t = performance.now(); await inner.put(k, b, m); T.put += performance.now() - t; } };
const opts = { preset: 'balanced' };
// pool baseline
const pool = createPool({ concurrency: 1 });
await pool.transcode(spoken.audio, opts);
let t0 = performance.now();
for (let i = 0; i < JOBS; i++) await pool.transcode(spoken.audio, opts);
const poolMs = performance.now() - t0;
const out = (await pool.transcode(spoken.audio, opts)).data;
await pool.close();
// fsync floor: writeAtomic-like sequence
await mkdir(path.join(tmp, 'f'), { recursive: true });
t0 = performance.now();
for (let i = 0; i < JOBS; i++) await inner.put(`f/${i}.m4a`, out);
const putMs = (performance.now() - t0) / JOBS;
t0 = performance.now();
for (let i = 0; i < JOBS; i++) { const fh = await open(path.join(tmp, 'f', `x${i}`), 'wx'); await fh.writeFile(out); await fh.close(); }
const nosyncMs = (performance.now() - t0) / JOBS;
t0 = performance.now();
for (let i = 0; i < JOBS; i++) { const fh = await open(path.join(tmp, 'f', `y${i}`), 'wx'); await fh.writeFile(out); await fh.datasync(); await fh.close(); }
const dsyncMs = (performance.now() - t0) / JOBS;
t0 = performance.now();
for (let i = 0; i < JOBS; i++) { const d = await open(path.join(tmp, 'f'), 'r'); await d.sync(); await d.close(); }
const dirsyncMs = (performance.now() - t0) / JOBS;

// worker in-process
const starts = [], ends = [], done = [];
const w = createWorker({ connection: url, name: 'bd', storage, concurrency: Number(process.env.CONC ?? 1), prefetch: Number(process.env.PREFETCH ?? 1), bullmq: JSON.parse(process.env.BULL ?? '{}') });
const proc = w.workers.main;
proc.on('active', () => starts.push(performance.now()));
proc.on('completed', (job, rv) => { ends.push(performance.now()); done.push(rv); });
await w.ready();
const q = createQueue({ connection: url, name: 'bd' });
const jobs = Array.from({ length: JOBS }, (_, i) => ({ input: 'in/phrase.mp3', output: `o/${i}.m4a`, ...opts }));
t0 = performance.now();
await q.addBulk(jobs);
const addMs = performance.now() - t0;
while (done.length < JOBS) await new Promise((r) => setTimeout(r, 1));
const wMs = performance.now() - t0;
const mean = (f) => done.reduce((a, r) => a + f(r), 0) / done.length;
const tr = mean((r) => r.timings.transcode), tot = mean((r) => r.timings.total), slot = mean((r) => r.timings.slot);
// gap: completed event of job i -> active of job i+1
let gap = 0; for (let i = 1; i < JOBS; i++) gap += starts[i] - ends[i - 1];
console.log(JSON.stringify({ load: os.loadavg()[0], poolPerJob: +(poolMs / JOBS).toFixed(2), workerPerJob: +(wMs / JOBS).toFixed(2), overhead: +((wMs - poolMs) / JOBS).toFixed(2), addBulkMs: +addMs.toFixed(1),
  inJob: { total: +tot.toFixed(2), slotWait: +slot.toFixed(2), transcode: +tr.toFixed(2), exists: +(T.exists / JOBS).toFixed(2), get: +(T.get / JOBS).toFixed(2), put: +(T.put / JOBS).toFixed(2), other: +(tot - slot - tr - (T.exists + T.get + T.put) / JOBS).toFixed(2) },
  activeToCompletedMinusTotal: +((ends.reduce((a, e, i) => a + e - starts[i], 0) / JOBS) - tot).toFixed(2), gapNote: 'negative with prefetch: the next job is active before this one completes', completedToNextActive: +(gap / (JOBS - 1)).toFixed(2),
  putSolo: +putMs.toFixed(2), writeNoSync: +nosyncMs.toFixed(2), writeDatasync: +dsyncMs.toFixed(2), dirFsync: +dirsyncMs.toFixed(2) }, null, 1));
await q.close(); await w.close();
process.exit(0);
