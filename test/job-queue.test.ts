/**
 * The native job queue (native/job_queue.*) under the pool: runners take jobs in order without exceeding the limit,
 * a cancelled queued job leaves the queue unrun, idle runners give their threadpool threads back, and a pool's
 * threads are bounded by its concurrency.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TtsavError } from '../lib/index';
import { loadNative } from '../lib/native';
import { transcodeQueued } from '../lib/transcode';
import { decodedSamples, tone, withTempDir } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const SPEECH = { preset: 'speech', format: 'adts' } as const;

let short: Buffer;
let long: Buffer;
beforeAll(() => {
  short = tone(0.5, { frequency: 660 });
  long = tone(30);
});

describe('native job queue', () => {
  it('runs its jobs in order, one at a time at limit 1, and each result decodes', async () => {
    const queue = loadNative().queueCreate(1);
    const order: number[] = [];
    const runs = [0, 1, 2, 3].map((i) =>
      transcodeQueued(queue, short, SPEECH).then((r) => {
        order.push(i);
        return r;
      }),
    );
    const results = await Promise.all(runs);
    expect(order).toEqual([0, 1, 2, 3]);
    for (const { result, waitMs } of results) {
      expect(result.samples).toBe(results[0]!.result.samples);
      expect(decodedSamples(result.data, 1)).toBeGreaterThan(result.samples - 1024);
      expect(waitMs).toBeGreaterThanOrEqual(0);
    }
    // At limit 1 the last job waited at least for the three before it to run (each a whole job on its thread).
    const ran = results.slice(0, 3).reduce((ms, r) => ms + r.result.timings.total, 0);
    expect(results[3]!.waitMs).toBeGreaterThanOrEqual(ran * 0.9);
  });

  it('an aborted queued job leaves the queue unrun; the running one stops; the rest still run', async () => {
    const queue = loadNative().queueCreate(1);
    const running = new AbortController();
    const queued = new AbortController();
    const a = transcodeQueued(queue, long, { preset: 'balanced', signal: running.signal });
    const b = transcodeQueued(queue, long, { preset: 'balanced', signal: queued.signal });
    const c = transcodeQueued(queue, short, SPEECH);
    queued.abort();
    const errB = (await b.catch((e: unknown) => e)) as TtsavError;
    expect(errB.code).toBe('ERR_TTSAV_ABORTED');
    running.abort();
    const errA = (await a.catch((e: unknown) => e)) as TtsavError;
    expect(errA.code).toBe('ERR_TTSAV_ABORTED');
    const { result } = await c;
    expect(result.samples).toBeGreaterThan(0);
  });

  it('validates its limit', () => {
    const native = loadNative();
    for (const bad of [0, -1, 2000, Number.NaN, '2'])
      expect(() => native.queueCreate(bad as number)).toThrow(expect.objectContaining({ code: 'ERR_TTSAV_OPTIONS' }));
    const queue = native.queueCreate(2);
    expect(() => native.queueSetLimit(queue, 0)).toThrow(expect.objectContaining({ code: 'ERR_TTSAV_OPTIONS' }));
    native.queueSetLimit(queue, 3);
  });
});

describe('the pool on the native job queue and the libuv threadpool', () => {
  it('holds at most `concurrency` threadpool threads while busy, and none once idle', () => {
    // UV_THREADPOOL_SIZE=3, a pool of 2 with a batch of 8 s clips: a third thread stays free for fs while the batch
    // runs. After the batch, two pbkdf2 jobs need both threads the pool used: runners parked waiting for work would
    // hang them (the process is killed at the timeout).
    const code = `
      const { createPool } = require('./dist/index.js');
      const fs = require('fs');
      const crypto = require('crypto');
      const long = fs.readFileSync(process.argv[1]);
      (async () => {
        const pool = createPool({ concurrency: 2 });
        const batch = Promise.all(Array.from({ length: 6 }, () => pool.transcode(long, { preset: 'speech' })));
        let readWhileBusy = false;
        await new Promise((r) => setTimeout(r, 20));
        await fs.promises.readFile(process.argv[1]);
        const m = pool.metrics();
        readWhileBusy = m.inFlightJobs === 2 && m.queueDepth > 0;
        const done = await batch;
        const pb = () => new Promise((res, rej) => crypto.pbkdf2('x', 'y', 1000, 32, 'sha256', (e, k) => (e ? rej(e) : res(k.length))));
        const keys = await Promise.all([pb(), pb(), pb()]);
        console.log(readWhileBusy, done.length, keys.join(','));
        await pool.close();
      })();`;
    const r = withTempDir((dir) => {
      const file = path.join(dir, 'clip.mp3');
      writeFileSync(file, tone(8));
      return spawnSync(process.execPath, ['-e', code, file], { cwd: ROOT, timeout: 120_000, env: { ...process.env, UV_THREADPOOL_SIZE: '3' } });
    });
    expect(r.signal, `killed: ${r.stderr.toString()}`).toBeNull();
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString().trim()).toBe('true 6 32,32,32');
  }, 130_000);
});
