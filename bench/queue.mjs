// ttsav/queue: scaling across worker processes, and what the queue costs per job.
//
//   node bench/queue.mjs [--jobs 100] [--rounds 3] [--preset balanced]
//
// Needs dist/ (npm run build:ts), bullmq and ioredis (dev dependencies) and /usr/bin/redis-server (started here
// on a free loopback port, no persistence). The work: a ~1 s spoken phrase (MP3, as EdgeTTS sends it) stored once,
// transcoded by N jobs { input, output } through `ttsav worker` processes at concurrency 1 into a fileStorage.
//   scaling:  wall time of N jobs on 1 worker process vs on 2 worker processes (goal >= 1.8x on 2 cores)
//   overhead: per job (default --prefetch 1, and --prefetch 0 for the strictly serial worker), (1 worker process at concurrency 1) - (createPool({ concurrency: 1 }) in this process,
//             the same phrases one after another, no storage): BullMQ round trip + exists check + input read +
//             atomic put with fsync (goal <= 2 ms)
// Contenders alternate within each round; medians are reported. Workers are started and connected before the
// jobs are added, so process start-up is not counted.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' }, preset: { type: 'string', default: 'balanced' } } });
const JOBS = Number(values.jobs);
const ROUNDS = Number(values.rounds);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(root, 'dist', 'cli.js');
const { createPool, speak } = await import(path.join(root, 'dist', 'index.js'));
const { createQueue, fileStorage } = await import(path.join(root, 'dist', 'queue', 'index.js'));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-bench-queue-'));
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
const url = `redis://127.0.0.1:${port}`;
const children = new Set([redis]);
const cleanup = () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
};
process.on('exit', cleanup);

const store = path.join(tmp, 'store');
const storage = fileStorage(store);
const spoken = await speak('Hello there.', { format: 'mp3', bitrate: '48k', sampleRate: 24000, channels: 1 });
const phrase = spoken.audio;
const phraseSeconds = spoken.durationSeconds;
await storage.put('in/phrase.mp3', phrase);
const options = { preset: values.preset };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function startWorkers(n, queue, extra = []) {
  const ws = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(process.execPath, [CLI, 'worker', '--redis', url, '--queue', queue, '--store', store, '-j', '1', '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    const w = { c, results: [], ready: false };
    let out = '';
    c.stdout.on('data', (d) => {
      out += d;
      let k;
      while ((k = out.indexOf('\n')) >= 0) {
        w.results.push(JSON.parse(out.slice(0, k)));
        out = out.slice(k + 1);
      }
    });
    c.stderr.on('data', (d) => {
      if (String(d).includes(' on queue ')) w.ready = true;
    });
    ws.push(w);
  }
  while (!ws.every((w) => w.ready)) await sleep(20);
  return ws;
}
async function stopWorkers(ws) {
  await Promise.all(ws.map((w) => new Promise((r) => {
    w.c.once('exit', r);
    w.c.kill('SIGTERM');
  })));
  for (const w of ws) children.delete(w.c);
}

let round = 0;
async function queueRun(workers, extra) {
  const queue = `b${round++}`;
  const ws = await startWorkers(workers, queue, extra);
  const q = createQueue({ connection: url, name: queue });
  const jobs = Array.from({ length: JOBS }, (_, i) => ({ input: 'in/phrase.mp3', output: `${queue}/${i}.m4a`, ...options }));
  const t0 = performance.now();
  await q.addBulk(jobs);
  while (ws.reduce((a, w) => a + w.results.length, 0) < JOBS) await sleep(2);
  const ms = performance.now() - t0;
  const results = ws.flatMap((w) => w.results);
  const failed = results.filter((r) => r.status !== 'completed').length;
  const mean = (f) => results.reduce((a, r) => a + f(r), 0) / results.length;
  await q.close();
  await stopWorkers(ws);
  return { ms, failed, put: mean((r) => r.timings?.put ?? 0), inWorker: mean((r) => (r.timings ? r.timings.total - r.timings.transcode - (r.timings.slot ?? 0) : 0)) };
}

async function poolRun() {
  const pool = createPool({ concurrency: 1 });
  await pool.transcode(phrase, options); // warm, like the workers' first job is not the one measured alone
  const t0 = performance.now();
  for (let i = 0; i < JOBS; i++) await pool.transcode(phrase, options);
  const ms = performance.now() - t0;
  await pool.close();
  return { ms };
}

const rows = { one: [], serial: [], two: [], pool: [] };
for (let r = 0; r < ROUNDS; r++) {
  rows.one.push(await queueRun(1));
  rows.serial.push(await queueRun(1, ['--prefetch', '0']));
  rows.two.push(await queueRun(2));
  rows.pool.push(await poolRun());
  process.stderr.write(`round ${r + 1}/${ROUNDS}: 1 worker ${rows.one.at(-1).ms.toFixed(0)} ms (prefetch 0: ${rows.serial.at(-1).ms.toFixed(0)} ms), 2 workers ${rows.two.at(-1).ms.toFixed(0)} ms, pool ${rows.pool.at(-1).ms.toFixed(0)} ms\n`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const one = median(rows.one.map((x) => x.ms));
const serial = median(rows.serial.map((x) => x.ms));
const two = median(rows.two.map((x) => x.ms));
const pool = median(rows.pool.map((x) => x.ms));
const failed = [...rows.one, ...rows.serial, ...rows.two].reduce((a, x) => a + x.failed, 0);
console.log(`ttsav/queue, ${JOBS} jobs of a ${phraseSeconds.toFixed(2)} s MP3 phrase → ${values.preset}, ${ROUNDS} round(s), ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(1)}`);
console.log('');
console.log('| setting | wall ms (median) | ms per job | relative |');
console.log('|---|---:|---:|---:|');
console.log(`| createPool({ concurrency: 1 }) in-process | ${pool.toFixed(0)} | ${(pool / JOBS).toFixed(2)} | baseline |`);
console.log(`| 1 worker process, concurrency 1 | ${one.toFixed(0)} | ${(one / JOBS).toFixed(2)} | ${(pool / one).toFixed(2)}x |`);
console.log(`| 1 worker process, concurrency 1, --prefetch 0 | ${serial.toFixed(0)} | ${(serial / JOBS).toFixed(2)} | ${(pool / serial).toFixed(2)}x |`);
console.log(`| 2 worker processes, concurrency 1 each | ${two.toFixed(0)} | ${(two / JOBS).toFixed(2)} | ${(pool / two).toFixed(2)}x |`);
console.log('');
console.log(`scaling, 2 workers vs 1: ${(one / two).toFixed(2)}x (goal >= 1.8x)`);
console.log(`queue overhead per job (1 worker - pool): ${((one - pool) / JOBS).toFixed(2)} ms (goal <= 2 ms); with --prefetch 0 (each job's put and acknowledgement before the next transcode): ${((serial - pool) / JOBS).toFixed(2)} ms`);
console.log(`inside the worker per job (latency, overlapped with the next transcode unless --prefetch 0): exists + input read + put ${median(rows.one.map((x) => x.inWorker)).toFixed(2)} ms, of which put (fsync) ${median(rows.one.map((x) => x.put)).toFixed(2)} ms; prefetch 0: ${median(rows.serial.map((x) => x.inWorker)).toFixed(2)} ms, put ${median(rows.serial.map((x) => x.put)).toFixed(2)} ms`);
if (failed) console.log(`FAILED jobs: ${failed}`);
process.exit(failed ? 1 : 0); // the redis-server child would keep the loop alive
