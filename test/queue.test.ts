/**
 * ttsav/queue in one process against a real redis-server: one job per output (dedupe by job id), a finished
 * output is never made twice, permanent errors fail at once while transient ones are retried, an EdgeTTS 429
 * pauses the EdgeTTS queue without spending an attempt, close() finishes the jobs in flight and leaves the rest
 * queued, and the package loads its optional peers only through ttsav/queue.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TtsavError, espeak } from '../lib/index';
import { createQueue, createWorker, fileStorage, jobIdFor, type Storage, type TtsavQueue, type TtsavWorker } from '../lib/queue/index';
import type { TtsEngine } from '../lib/tts/types';
import { decodedSamples, fixture } from './helpers/media';
import { startRedis, type RedisServer } from './helpers/redis';

const ROOT = path.resolve(__dirname, '..');
let redis: RedisServer;
let tmp: string;
const open: { close(): Promise<void> }[] = [];
let n = 0;
/** A fresh queue name per test, so that tests never see each other's jobs. */
const qname = (): string => `t${++n}-${process.pid}`;

beforeAll(async () => {
  redis = await startRedis();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-queue-'));
});
afterAll(async () => {
  for (const o of open.reverse()) await o.close().catch(() => undefined);
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function track<T extends { close(): Promise<void> }>(o: T): T {
  open.push(o);
  return o;
}

async function until(what: string, cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const files = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();

describe('ttsav/queue with redis-server', () => {
  it('the same output enqueued twice is one job and one object; a finished output re-added is skipped, not remade', async () => {
    const name = qname();
    const dir = path.join(tmp, name);
    const q = track(createQueue({ connection: redis.url, name }));
    const a = await q.add({ text: 'One job for one output.', output: 'lines/a.m4a' });
    const b = await q.add({ text: 'One job for one output, enqueued again.', output: 'lines/a.m4a' });
    const bulk = await q.addBulk([{ text: 'Another.', output: 'lines/b.m4a' }, { text: 'Another again.', output: 'lines/b.m4a' }]);
    expect(a.id).toBe(jobIdFor('lines/a.m4a'));
    expect(b.id).toBe(a.id);
    expect(bulk[0]!.id).toBe(bulk[1]!.id);
    expect((await q.counts()).waiting).toBe(2);

    const w = track(createWorker({ connection: redis.url, name, storage: fileStorage(dir), concurrency: 1 }));
    await until('2 completed', async () => (await q.counts()).completed === 2);
    expect(files(dir)).toEqual(['lines/a.m4a', 'lines/b.m4a']);
    const job = await q.queues.main.getJob(a.id);
    const rv = job!.returnvalue as { skipped: boolean; durationSeconds: number; bytes: number; timings: { total: number } };
    expect(rv.skipped).toBe(false);
    const data = await fileStorage(dir).get('lines/a.m4a');
    expect(rv.bytes).toBe(data!.length);
    // The first text was spoken (the second add was ignored): its length decodes back from the file.
    expect(Math.abs(decodedSamples(data!, 2) / 44100 - rv.durationSeconds)).toBeLessThan(0.05);

    // Re-adding a completed output is still the one job.
    await q.add({ text: 'Third time.', output: 'lines/a.m4a' });
    expect(await q.counts()).toMatchObject({ waiting: 0, completed: 2 });

    // Once BullMQ forgot the job, a new add is a new job, but the output is not made again.
    await job!.remove();
    const again = await q.add({ text: 'Made again?', output: 'lines/a.m4a' });
    await until('re-added job completed', async () => (await q.queues.main.getJob(again.id))?.finishedOn !== undefined);
    const rj = await q.queues.main.getJob(again.id);
    expect(rj!.returnvalue).toMatchObject({ output: 'lines/a.m4a', skipped: true, reason: 'exists' });
    expect((await fileStorage(dir).get('lines/a.m4a'))!.equals(data!)).toBe(true);
    expect(w.metrics()).toMatchObject({ completed: 2, skipped: 1, failedPermanent: 0, failedTransient: 0 });

    const text = await w.metricsText();
    expect(text).toMatch(/^ttsav_pool_/m);
    expect(text).toContain('ttsav_queue_jobs_total{outcome="completed"} 2');
    expect(text).toContain('ttsav_queue_jobs_total{outcome="skipped"} 1');
    expect(text).toMatch(new RegExp(`ttsav_queue_depth\\{queue="${name}",state="completed"\\} 2`));
  });

  it('jobs are checked before they reach Redis', async () => {
    const q = track(createQueue({ connection: redis.url, name: qname() }));
    await expect(q.add({ text: 'x', output: '../escape.m4a' })).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    await expect(q.add({ output: 'x.m4a' } as never)).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    await expect(q.add({ text: 'x', input: 'in.mp3', output: 'x.m4a' } as never)).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    await expect(q.add({ text: 'x', output: 'x.m4a', bitrate: 'loud' })).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    await expect(q.add({ text: 'x', output: 'x.m4a', engine: 'polly' as never })).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    await expect(q.addBulk([{ text: 'fine', output: 'ok.m4a' }, { text: '', output: 'bad.m4a' }])).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    expect(await q.counts()).toMatchObject({ waiting: 0 }); // nothing of the bad bulk was added
    expect(() => createQueue({ connection: 'http://x', name: 'n' })).toThrow(TtsavError);
    expect(() => createQueue({ connection: redis.url, name: 'a:b' })).toThrow(/queue name/);
  });

  it('permanent errors fail at once with the code in the reason; transient ones are retried with backoff', async () => {
    const name = qname();
    const dir = path.join(tmp, name);
    const files0 = fileStorage(dir);
    await files0.put('in/garbage.mp3', Buffer.from('this is not audio at all, just bytes '.repeat(40)));
    await files0.put('in/good.mp3', fixture('edge.mp3'));
    // A storage whose first two puts fail like a flaky network store.
    let failures = 2;
    const flaky: Storage = {
      url: files0.url,
      get: (k) => files0.get(k),
      exists: (k) => files0.exists(k),
      async put(k, bytes, meta) {
        if (failures-- > 0) throw new TtsavError('ERR_TTSAV_STORAGE', `storage put ${k} failed: ECONNRESET`);
        return files0.put(k, bytes, meta);
      },
    };
    const q = track(createQueue({ connection: redis.url, name, defaultJobOptions: { attempts: 4, backoff: { type: 'fixed', delay: 30 } } }));
    const bad = await q.add({ input: 'in/garbage.mp3', output: 'out/garbage.m4a' });
    const missing = await q.add({ input: 'in/nowhere.mp3', output: 'out/nowhere.m4a' });
    const w = track(createWorker({ connection: redis.url, name, storage: flaky, concurrency: 1 }));
    await until('2 failed', async () => (await q.counts()).failed === 2);
    for (const [id, code] of [[bad.id, 'ERR_TTSAV_INVALID_DATA'], [missing.id, 'ERR_TTSAV_INVALID_DATA']] as const) {
      const j = await q.queues.main.getJob(id);
      expect(j!.attemptsMade).toBe(1);
      expect(j!.failedReason.startsWith(`${code}: `)).toBe(true);
    }
    const good = await q.add({ input: 'in/good.mp3', output: 'out/good.m4a', preset: 'speech' });
    await until('good completed', async () => (await q.counts()).completed === 1);
    const j = await q.queues.main.getJob(good.id);
    expect(j!.attemptsMade).toBe(3); // two failed puts, then the whole object
    expect(j!.returnvalue).toMatchObject({ skipped: false, output: 'out/good.m4a', channels: 1 });
    expect(files(dir)).toEqual(['in/garbage.mp3', 'in/good.mp3', 'out/good.m4a']);
    expect(w.metrics()).toMatchObject({ completed: 1, failedPermanent: 2, failedTransient: 2 });

    // A transient error that never clears uses every attempt, and its reason is the code and message.
    failures = 1000;
    const doomed = await q.add({ input: 'in/good.mp3', output: 'out/doomed.m4a' });
    await until('doomed failed', async () => (await q.counts()).failed === 3);
    const dj = await q.queues.main.getJob(doomed.id);
    expect(dj!.attemptsMade).toBe(4);
    expect(dj!.failedReason).toBe('ERR_TTSAV_STORAGE: storage put out/doomed.m4a failed: ECONNRESET');
  });

  it('an EdgeTTS 429 pauses the EdgeTTS queue and puts the job back without spending an attempt', async () => {
    const name = qname();
    const dir = path.join(tmp, name);
    const real = espeak();
    let calls = 0;
    const fakeEdge: TtsEngine = {
      name: 'edge',
      format: real.format,
      validate: () => undefined,
      voices: async () => [],
      async synthesize(text, o) {
        if (calls++ === 0) throw new TtsavError('ERR_TTSAV_TTS', 'EdgeTTS: HTTP 429 (after 4 attempt(s))', { detail: 'HTTP 429' });
        return real.synthesize(text, { ...o, voice: 'en-us' });
      },
    };
    const q = track(createQueue({ connection: redis.url, name }));
    const added = await q.add({ text: 'Rate limited once.', engine: 'edge', voice: 'en-US-AriaNeural', output: 'edge.m4a' });
    expect(added.queue).toBe(`${name}-edge`);
    const w = track(createWorker({ connection: redis.url, name, storage: fileStorage(dir), engines: { edge: fakeEdge }, rateLimitMs: 100 }));
    await until('edge job completed', async () => (await q.counts()).completed === 1);
    const j = await q.queues.edge.getJob(added.id);
    expect(j!.attemptsMade).toBe(1); // the rate-limited try was not counted (a spent attempt would make it 2)
    expect(j!.returnvalue).toMatchObject({ skipped: false, tts: { engine: 'edge', voice: 'en-us' } });
    expect(calls).toBe(2);
    expect(w.metrics()).toMatchObject({ rateLimited: 1, completed: 1, failedTransient: 0 });
    await real.close();
  });

  it('close() lets the jobs in flight finish and leaves the rest queued for another worker', async () => {
    const name = qname();
    const dir = path.join(tmp, name);
    const q = track(createQueue({ connection: redis.url, name }));
    await q.addBulk(Array.from({ length: 8 }, (_, i) => ({ text: `Graceful line number ${i}, a little longer than the others.`, output: `g/${i}.m4a` })));
    const w1: TtsavWorker = createWorker({ connection: redis.url, name, storage: fileStorage(dir), concurrency: 1 });
    await until('a job active', async () => w1.metrics().inFlight > 0);
    await w1.close();
    const c = await q.counts();
    expect(c.active).toBe(0);
    expect(c.failed).toBe(0);
    expect(c.completed).toBeGreaterThanOrEqual(1);
    expect(c.waiting).toBeGreaterThan(0);
    expect(c.completed + c.waiting).toBe(8);
    expect(files(dir).length).toBe(c.completed); // every finished job's output is there, whole; nothing else
    // The job w1 had prefetched (fetched, not started) went back to waiting without spending an attempt.
    for (const j of await q.queues.main.getWaiting()) expect(j.attemptsMade, j.id).toBe(0);
    const w2 = track(createWorker({ connection: redis.url, name, storage: fileStorage(dir), concurrency: 2 }));
    await until('all 8 completed', async () => (await q.counts()).completed === 8);
    expect(files(dir)).toEqual(Array.from({ length: 8 }, (_, i) => `g/${i}.m4a`).sort());
    expect(w2.metrics().skipped).toBe(0);
  });
});

describe('CLI: enqueue, worker, queue-status', () => {
  it('enqueue reads lines from stdin (twice: still one job per line); the worker serves metrics; queue-status reports', async () => {
    const CLI = path.join(ROOT, 'dist', 'cli.js');
    const name = qname();
    const dir = path.join(tmp, name);
    const run = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], { input, cwd: ROOT, timeout: 120_000 });
    const lines = 'First line.\n\nSecond line.\nThird line.\n';
    for (let i = 0; i < 2; i++) {
      const e = run(['enqueue', '--redis', redis.url, '--queue', name, '--file', '-', '--out-prefix', 'cli/', '-p', 'speech', '--json'], lines);
      expect(e.status, e.stderr.toString()).toBe(0);
      expect(JSON.parse(e.stdout.toString())).toEqual({ enqueued: 3, outputs: ['cli/00001.m4a', 'cli/00003.m4a', 'cli/00004.m4a'] });
    }
    const s0 = run(['queue-status', '--redis', redis.url, '--queue', name, '--json']);
    expect(JSON.parse(s0.stdout.toString())).toMatchObject({ queue: name, waiting: 3, active: 0, completed: 0, failed: 0 });
    const { spawn } = await import('node:child_process');
    const w = spawn(process.execPath, [CLI, 'worker', '--redis', redis.url, '--queue', name, '--store', `file://${dir}`, '-j', 'auto', '--metrics-port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    w.stderr.on('data', (d) => (err += d.toString()));
    const q = track(createQueue({ connection: redis.url, name }));
    await until('3 completed', async () => (await q.counts()).completed === 3);
    const port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(err)?.[1]);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^ttsav_pool_jobs_total|^# HELP ttsav_pool_/m);
    expect(text).toContain('ttsav_queue_jobs_total{outcome="completed"} 3');
    expect(text).toContain(`ttsav_queue_depth{queue="${name}",state="completed"} 3`);
    const exited = new Promise<number | null>((r) => w.once('exit', (code) => r(code)));
    w.kill('SIGINT');
    expect(await exited, err).toBe(0);
    expect(err).toMatch(/stopped: 3 completed, 0 skipped, 0 failed/);
    expect(files(dir)).toEqual(['cli/00001.m4a', 'cli/00003.m4a', 'cli/00004.m4a']);
    const s1 = run(['queue-status', '--redis', redis.url, '--queue', name]);
    expect(s1.stdout.toString()).toMatch(new RegExp(`queue ${name}: 0 waiting, 0 active, 0 delayed, 3 completed, 0 failed`));
    const bad = run(['worker', '--redis', redis.url, '--queue', name, '--store', 'ftp://x']);
    expect(bad.status).toBe(2);
  });
});

describe('optional peers', () => {
  it("require('ttsav') never loads bullmq or ioredis; ttsav/queue without them fails with ERR_TTSAV_LOAD naming both", () => {
    const probe = spawnSync(process.execPath, ['-e', `require('./dist/index.js'); process.stdout.write(String(Object.keys(require.cache).filter((k) => /node_modules\\/(bullmq|ioredis)\\//.test(k)).length))`], { cwd: ROOT });
    expect(probe.stdout.toString()).toBe('0');
    const hook = path.join(tmp, 'hide-peers.cjs');
    writeFileSync(hook, `const M = require('module'); const orig = M._resolveFilename;
M._resolveFilename = function (req, ...rest) { if (req === 'bullmq' || req === 'ioredis') { const e = new Error("Cannot find module '" + req + "'"); e.code = 'MODULE_NOT_FOUND'; throw e; } return orig.call(this, req, ...rest); };`);
    const r = spawnSync(process.execPath, ['-r', hook, '-e', `try { require('./dist/queue/index.js'); } catch (e) { process.stdout.write(JSON.stringify({ code: e.code, message: e.message, ttsav: e instanceof require('./dist/index.js').TtsavError })); }`], { cwd: ROOT });
    const out = JSON.parse(r.stdout.toString()) as { code: string; message: string; ttsav: boolean };
    expect(out.code).toBe('ERR_TTSAV_LOAD');
    expect(out.ttsav).toBe(true);
    expect(out.message).toContain('bullmq');
    expect(out.message).toContain('ioredis');
    expect(out.message).toContain('npm install bullmq ioredis');
  });
});
