/**
 * The batch engine: admission by concurrency and memory budget, queued signals and timeouts, transcodeMany's
 * ordering, laziness, failures and cancellation, metrics, and a pool that lets the process exit after close().
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPool, estimateJob, TtsavError, transcode, type BatchInput, type ItemResult } from '../lib/index';
import { AutoConcurrency } from '../lib/autotune';
import { trackTtsWorkers } from '../lib/pool';
import { WORKING_BYTES } from '../lib/budget';
import { normalizeOptions } from '../lib/options';
import { decodedSamples, ffmpeg, fixture, fixturePath, tone, toneWav } from './helpers/media';
import { spyOnNativeTranscode } from './helpers/native-spy';
import { rejection } from './helpers/rejection';

const ROOT = path.resolve(__dirname, '..');
const SPEECH = { preset: 'speech', format: 'adts' } as const;

/** Short generated clips, so that 300 jobs stay cheap on a 2-core machine. */
let tone1s: Buffer;
let tone03s: Buffer;
let tone60s: Buffer;
beforeAll(() => {
  tone1s = toneWav(1, { frequency: 330, sampleRate: 22050 });
  tone03s = tone(0.3, { frequency: 880 });
  tone60s = tone(60);
});

let spy: ReturnType<typeof spyOnNativeTranscode> | undefined;
afterEach(() => {
  spy?.restore();
  spy = undefined;
  vi.restoreAllMocks();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}


const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('budget estimate', () => {
  it('is input + 2 × output + working memory, bounded by maxDurationSeconds', () => {
    const opts = normalizeOptions({ bitrate: '64k' });
    const e = estimateJob(100_000, opts); // 100 kB at the 16 kbit/s floor = 50 s
    expect(e.seconds).toBe(50);
    expect(e.outputBytes).toBe(Math.ceil(50 * 8000 * 1.05) + 65536);
    expect(e.bytes).toBe(100_000 + 2 * e.outputBytes + WORKING_BYTES);
    const capped = estimateJob(100_000, normalizeOptions({ bitrate: '64k', maxDurationSeconds: 10 }));
    expect(capped.seconds).toBe(10);
    expect(capped.bytes).toBeLessThan(e.bytes);
  });

  it('is an upper bound of the output of real jobs', async () => {
    for (const name of ['edge.mp3', 'speech.opus', 'speech.flac', 'stereo48k.wav']) {
      const input = fixture(name);
      const r = await transcode(input);
      expect(r.data.length, name).toBeLessThan(estimateJob(input.length, normalizeOptions({})).outputBytes);
    }
  });
});

describe('TTS workers in the pool (trackTtsWorkers)', () => {
  it("reserve workerBytes each in the budget while they live, and show in the tts gauges", async () => {
    const engine = { live: 2, workerBytes: 100, workerStats: () => ({ workers: engine.live, running: 1, queued: 3 }) };
    const pool = createPool({ concurrency: 4, maxInFlightBytes: 300 });
    trackTtsWorkers(pool, engine);
    trackTtsWorkers({ transcode: () => undefined }, engine); // not a pool: ignored
    trackTtsWorkers(pool, { synthesize: () => undefined }); // no workers: ignored
    expect(pool.metrics().tts).toEqual({ workers: 2, running: 1, queued: 3, reservedBytes: 200 });
    expect(pool.metricsText()).toMatch(/^ttsav_pool_tts_reserved_bytes 200$/m);
    expect(pool.metricsText()).toMatch(/^ttsav_pool_tts_queue_depth 3$/m);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    // Nothing runs: the first task starts though 200 reserved + 150 > 300.
    const a = pool.run(async () => {
      order.push('a');
      await held;
    }, { bytes: 150 });
    const b = pool.run(async () => void order.push('b'), { bytes: 50 });
    await new Promise((r) => setImmediate(r));
    // 200 + 150 + 50 > 300: b waits for budget although a slot is free.
    expect(order).toEqual(['a']);
    expect(pool.metrics()).toMatchObject({ queueDepth: 1, inFlightJobs: 1, inFlightBytes: 150 });
    expect(pool.saturated).toBe(true);
    engine.live = 0;
    release();
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(pool.metrics().jobs.budgetDelayed).toBe(1);
    // Once the engine has no workers left it is no longer counted.
    const idle = { workerBytes: 100, workerStats: () => ({ workers: 0, running: 0, queued: 0 }) };
    trackTtsWorkers(pool, idle);
    expect(pool.metrics().tts).toEqual({ workers: 0, running: 1, queued: 3, reservedBytes: 0 });
    await pool.close();
  });
});

describe('pool.transcode', () => {
  it('gives the same result as transcode()', async () => {
    const pool = createPool({ concurrency: 2 });
    const input = fixture('edge.mp3');
    const [a, b] = await Promise.all([pool.transcode(input, { faststart: false }), transcode(input, { faststart: false })]);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
    expect(a.samples).toBe(b.samples);
    await pool.close();
  });

  it('applies the pool defaults, overridden per call', async () => {
    const pool = createPool({ defaults: { format: 'adts', channels: 1, sampleRate: 24000 } });
    const a = await pool.transcode(tone03s);
    const b = await pool.transcode(tone03s, { channels: 2 });
    expect([a.format, a.channels, a.sampleRate]).toEqual(['adts', 1, 24000]);
    expect([b.format, b.channels]).toEqual(['adts', 2]);
    await pool.close();
  });

  it('validates its own options and the transcode options up front', async () => {
    const bad = [{ concurrency: 0 }, { concurrency: 2.5 }, { maxInFlightBytes: -1 }, { maxQueue: -1 }, { oversize: 'x' }, { defaults: { sampleRate: 7 } }];
    for (const o of bad) expect(() => createPool(o as never), JSON.stringify(o)).toThrow(expect.objectContaining({ code: 'ERR_TTSAV_OPTIONS' }));
    const pool = createPool();
    spy = spyOnNativeTranscode();
    const err = await rejection(pool.transcode(tone03s, { bitrate: 'loud' }));
    expect(err.code).toBe('ERR_TTSAV_OPTIONS');
    expect((await rejection(pool.transcode('x' as never))).code).toBe('ERR_TTSAV_OPTIONS');
    expect(spy.calls()).toBe(0);
    expect(pool.metrics().jobs.failedByCode).toEqual({ ERR_TTSAV_OPTIONS: 2 });
    await pool.close();
  });

  it('warns once when the concurrency exceeds the libuv threadpool', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    createPool({ concurrency: size });
    expect(warn).not.toHaveBeenCalled();
    createPool({ concurrency: size + 1 });
    createPool({ concurrency: size + 2 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/UV_THREADPOOL_SIZE/);
  });

  it('a queued job whose signal aborts rejects at once and never starts', async () => {
    const pool = createPool({ concurrency: 1 });
    spy = spyOnNativeTranscode();
    const running = pool.transcode(tone60s, SPEECH);
    const controller = new AbortController();
    const queued = pool.transcode(tone03s, { ...SPEECH, signal: controller.signal });
    expect(pool.metrics().queueDepth).toBe(1);
    const started = performance.now();
    controller.abort();
    const err = await rejection(queued);
    expect(err.code).toBe('ERR_TTSAV_ABORTED');
    expect(performance.now() - started).toBeLessThan(100);
    expect(pool.metrics().queueDepth).toBe(0);
    await running;
    // It was handed ahead to the native queue (every slot was busy) and taken out of it unrun.
    expect(spy.calls()).toBe(2);
    expect(pool.metrics().jobs).toMatchObject({ started: 1, succeeded: 1, failed: 1 });
    await pool.close();
  });

  it('timeoutMs counts from the call: a job stuck in the queue times out there', async () => {
    const pool = createPool({ concurrency: 1 });
    spy = spyOnNativeTranscode();
    const running = pool.transcode(tone60s, SPEECH);
    const err = await rejection(pool.transcode(tone03s, { ...SPEECH, timeoutMs: 50 }));
    expect(err.code).toBe('ERR_TTSAV_TIMEOUT');
    expect(err.message).toMatch(/queued/);
    await running;
    expect(spy.calls()).toBe(2); // submitted ahead to the native queue, taken out of it unrun
    expect(pool.metrics().jobs).toMatchObject({ started: 1, succeeded: 1, failed: 1 });
    await pool.close();
  });

  it('maxQueue refuses jobs beyond it with ERR_TTSAV_BUSY (queue-full), apart from LIMIT in metrics', async () => {
    const pool = createPool({ concurrency: 1, maxQueue: 1 });
    const a = pool.transcode(tone03s, SPEECH);
    const b = pool.transcode(tone03s, SPEECH);
    const err = await rejection(pool.transcode(tone03s, SPEECH));
    expect([err.code, err.reason]).toEqual(['ERR_TTSAV_BUSY', 'queue-full']);
    expect(err.message).toMatch(/maxQueue/);
    expect(err.detail).toBeUndefined();
    // A too-large input is LIMIT (never retry), not BUSY (retry later).
    const limit = await rejection(pool.transcode(tone03s, { ...SPEECH, maxInputBytes: 10 }));
    expect([limit.code, limit.reason]).toEqual(['ERR_TTSAV_LIMIT', 'input-size']);
    await Promise.all([a, b]);
    expect(pool.metrics().jobs).toMatchObject({ succeeded: 2, failed: 2, failedByCode: { ERR_TTSAV_BUSY: 1, ERR_TTSAV_LIMIT: 1 } });
    expect(pool.metricsText()).toMatch(/^ttsav_pool_jobs_failed_total\{code="ERR_TTSAV_BUSY"\} 1$/m);
    await pool.close();
  });

  it('a signal aborted with a TimeoutError is ERR_TTSAV_TIMEOUT, queued or running; any other reason is ABORTED', async () => {
    const pool = createPool({ concurrency: 1 });
    const running = rejection(pool.transcode(tone60s, { ...SPEECH, signal: AbortSignal.timeout(30) }));
    const queued = rejection(pool.transcode(tone03s, { ...SPEECH, signal: AbortSignal.timeout(10) }));
    const q = await queued;
    expect(q.code).toBe('ERR_TTSAV_TIMEOUT');
    expect((q.cause as Error).name).toBe('TimeoutError');
    const r = await running;
    expect(r.code).toBe('ERR_TTSAV_TIMEOUT');
    expect(r.detail).toBeUndefined();
    const c = new AbortController();
    const aborted = pool.transcode(tone60s, { ...SPEECH, signal: c.signal });
    await tick(20);
    c.abort(new Error('client went away'));
    expect((await rejection(aborted)).code).toBe('ERR_TTSAV_ABORTED');
    expect(pool.metrics().jobs.failedByCode).toEqual({ ERR_TTSAV_TIMEOUT: 2, ERR_TTSAV_ABORTED: 1 });
    await pool.close();
  });

  it('a job over the whole budget runs alone, never next to another (no deadlock)', async () => {
    const big = Buffer.from(tone1s); // a distinct Buffer to recognise it
    const pool = createPool({ concurrency: 4, maxInFlightBytes: 100, estimateBytes: (input) => (input === big ? 1000 : 30) });
    const native = (await import('../lib/native')).loadNative();
    const seen: { big: boolean; running: number }[] = [];
    const original = native.queueSubmit;
    vi.spyOn(native, 'queueSubmit').mockImplementation((queue, input, ...rest) => {
      seen.push({ big: input === big, running: pool.metrics().inFlightJobs });
      return original.call(native, queue, input, ...rest);
    });
    const inputs = [tone03s, tone03s, tone03s, tone03s, big, tone03s, tone03s, big, tone03s];
    const results = await Promise.all(inputs.map((b) => pool.transcode(b, SPEECH)));
    expect(results).toHaveLength(inputs.length);
    expect(seen).toHaveLength(inputs.length);
    for (const s of seen) expect(s.running).toBeLessThanOrEqual(s.big ? 1 : 3);
    expect(seen.filter((s) => s.big)).toEqual([{ big: true, running: 1 }, { big: true, running: 1 }]);
    expect(Math.max(...seen.map((s) => s.running))).toBe(3); // 3 × 30 fits in 100, 4 do not
    const m = pool.metrics();
    expect(m.jobs.oversize).toBe(2);
    expect(m.maxInFlightJobsSeen).toBe(3);
    await pool.close();
  });

  it("oversize: 'reject' fails such a job with ERR_TTSAV_LIMIT before it starts", async () => {
    const pool = createPool({ maxInFlightBytes: 1024 * 1024, oversize: 'reject' });
    spy = spyOnNativeTranscode();
    const err = await rejection(pool.transcode(fixture('speech.wav')));
    expect([err.code, err.reason]).toEqual(['ERR_TTSAV_LIMIT', 'job-memory']);
    expect(err.message).toMatch(/maxInFlightBytes/);
    expect(spy.calls()).toBe(0);
    await pool.close();
  });
});

describe('transcodeMany', () => {
  it('300 mixed clips under a small memory budget: all succeed, the budget is never exceeded', async () => {
    const corpus: { input: Buffer; options: object }[] = [
      { input: fixture('edge.mp3'), options: SPEECH },
      { input: fixture('speech.opus'), options: { format: 'adts', channels: 1, bitrate: '48k', aacCoder: 'fast' } },
      { input: fixture('speech.flac'), options: SPEECH },
      { input: fixture('speech.m4a'), options: { preset: 'speech', format: 'm4a' } },
      { input: fixture('stereo48k.wav'), options: SPEECH },
      { input: tone1s, options: { format: 'm4a', bitrate: '96k' } },
      { input: tone03s, options: {} },
      { input: tone03s, options: { format: 'adts', channels: 1 } },
      { input: tone1s, options: SPEECH },
      { input: tone03s, options: SPEECH },
    ];
    // Reference sample counts: one plain transcode of each corpus entry.
    const expected = await Promise.all(corpus.map((c) => transcode(c.input, c.options).then((r) => r.samples)));
    const estimates = corpus.map((c) => estimateJob(c.input.length, normalizeOptions(c.options)).bytes);
    // Room for one of the largest jobs and a few small ones, where the concurrency would allow 4.
    const budget = Math.round(Math.max(...estimates) * 1.5);
    const pool = createPool({ concurrency: 4, maxInFlightBytes: budget });
    let rss = process.memoryUsage().rss;
    const rssBefore = rss;
    const sampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 20);
    const items = Array.from({ length: 300 }, (_, i) => ({ id: `clip-${i}`, ...corpus[i % corpus.length]! }));
    let progressCalls = 0;
    let lastDone = 0;
    const results = await collect(
      pool.transcodeMany<string>(items, {
        onProgress: (p) => {
          progressCalls++;
          expect(p.done).toBe(lastDone + 1);
          lastDone = p.done;
          expect(p.total).toBe(300);
        },
      }),
    );
    clearInterval(sampler);

    expect(results).toHaveLength(300);
    results.forEach((r, i) => {
      expect(r.index).toBe(i);
      expect(r.id).toBe(`clip-${i}`);
      expect(r.error).toBeUndefined();
      expect(r.result!.samples).toBe(expected[i % corpus.length]);
    });
    // What came back decodes: spot-check a few with the ffmpeg CLI.
    for (const i of [0, 3, 5, 6]) {
      const r = results[i]!.result!;
      expect(Math.abs(decodedSamples(r.data, r.channels) - r.samples)).toBeLessThan(2048 + 1);
    }
    const m = pool.metrics();
    expect(m.jobs).toMatchObject({ submitted: 300, started: 300, succeeded: 300, failed: 0, oversize: 0 });
    expect(estimates.every((e) => e <= budget)).toBe(true);
    expect(m.maxInFlightBytesSeen).toBeLessThanOrEqual(budget);
    expect(m.maxInFlightBytesSeen).toBeGreaterThan(budget / 2);
    expect(m.jobs.budgetDelayed).toBeGreaterThan(0); // jobs waited for memory with a slot free: the budget bit
    expect(m.maxInFlightJobsSeen).toBeGreaterThanOrEqual(2);
    expect(m.inFlightBytes).toBe(0);
    expect(m.queueDepth).toBe(0);
    expect(m.audioSeconds).toBeCloseTo(results.reduce((s, r) => s + r.result!.durationSeconds, 0), 6);
    expect(m.histograms.jobSeconds.count).toBe(300);
    expect(m.histograms.stageSeconds.encode.count).toBe(300);
    expect(progressCalls).toBe(300);
    console.log(
      `300 clips: peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB (before ${(rssBefore / 2 ** 20).toFixed(0)} MiB), budget ` +
        `${(budget / 2 ** 20).toFixed(1)} MiB, max in flight ${(m.maxInFlightBytesSeen / 2 ** 20).toFixed(1)} MiB / ${m.maxInFlightJobsSeen} jobs`,
    );
    await pool.close();
  });

  it('bad inputs are reported per item; the rest succeed', async () => {
    const pool = createPool({ concurrency: 2 });
    const items: BatchInput[] = [
      tone03s,
      fixture('cut37.mp3'),
      { id: 'png', input: fixture('image.png') },
      Buffer.alloc(0),
      { id: 'video', input: fixture('video-only.mp4') },
      { id: 'opts', input: tone03s, options: { sampleRate: 7 } },
      'not a buffer' as never,
      tone1s,
    ];
    const results = await collect(pool.transcodeMany(items, SPEECH));
    expect(results.map((r) => r.id)).toEqual([0, 1, 'png', 3, 'video', 'opts', 6, 7]);
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual([
      'ok',
      'ERR_TTSAV_INVALID_DATA',
      'ERR_TTSAV_UNSUPPORTED', // a PNG is an image: media, but no audio stream
      'ERR_TTSAV_INVALID_DATA',
      'ERR_TTSAV_UNSUPPORTED',
      'ERR_TTSAV_OPTIONS',
      'ERR_TTSAV_OPTIONS',
      'ok',
    ]);
    for (const r of results) if (r.error) expect(r.error).toBeInstanceOf(TtsavError);
    expect(pool.metrics().jobs.failedByCode).toEqual({ ERR_TTSAV_INVALID_DATA: 2, ERR_TTSAV_UNSUPPORTED: 2, ERR_TTSAV_OPTIONS: 1 }) // the non-Buffer item never reaches the pool;
    await pool.close();
  });

  it('failFast stops at the first failure and throws it', async () => {
    const pool = createPool({ concurrency: 1 });
    const items = [tone03s, fixture('cut37.mp3'), tone03s, tone03s, tone03s, tone03s];
    const seen: ItemResult[] = [];
    let thrown: unknown;
    try {
      for await (const r of pool.transcodeMany(items, { ...SPEECH, failFast: true, readAhead: 2 })) seen.push(r);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TtsavError);
    expect((thrown as TtsavError).code).toBe('ERR_TTSAV_INVALID_DATA');
    expect((thrown as TtsavError).message).toMatch(/item 1 \(index 1\)/);
    expect(seen.every((r) => !r.error)).toBe(true);
    await tick(100);
    expect(pool.metrics().jobs.started).toBeLessThanOrEqual(3); // nothing after the failure (and its read-ahead)
    expect(pool.metrics().inFlightJobs).toBe(0);
    await pool.close();
  });

  it('input order by default, completion order with ordered: false', async () => {
    const pool = createPool({ concurrency: 2 });
    const items = [tone60s, tone03s, tone03s, tone03s, tone03s, tone03s];
    const ordered = await collect(pool.transcodeMany(items, SPEECH));
    expect(ordered.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const completion = await collect(pool.transcodeMany(items, { ...SPEECH, ordered: false }));
    const order = completion.map((r) => r.index);
    expect([...order].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // The 60 s clip takes far longer than the five 0.3 s clips running beside it: it comes last.
    expect(order[order.length - 1]).toBe(0);
    for (const r of completion) expect(r.result!.samples).toBe(ordered[r.index]!.result!.samples);
    await pool.close();
  });

  it('reads an infinite async generator lazily, with a bounded read-ahead, and closes it on break', async () => {
    const pool = createPool({ concurrency: 2 });
    let pulled = 0;
    let closed = false;
    async function* forever(): AsyncGenerator<BatchInput> {
      try {
        for (;;) {
          pulled++;
          yield { id: `n${pulled}`, input: tone03s };
        }
      } finally {
        closed = true;
      }
    }
    const batch = pool.transcodeMany(forever(), { ...SPEECH, readAhead: 4 });
    expect(pulled).toBe(0); // nothing is read before the first next()
    let consumed = 0;
    for await (const r of batch) {
      expect(r.error).toBeUndefined();
      consumed++;
      if (consumed === 5) {
        // A slow consumer: the engine stops reading at the read-ahead bound.
        await tick(300);
        expect(pulled - consumed).toBeLessThanOrEqual(4);
      }
      expect(pulled - consumed).toBeLessThanOrEqual(4);
      if (consumed === 20) break;
    }
    expect(closed).toBe(true);
    expect(pulled).toBeLessThanOrEqual(24);
    const m = pool.metrics();
    expect(m.inFlightJobs).toBe(0);
    expect(m.queueDepth).toBe(0);
    expect(batch.progress().total).toBeUndefined();
    await pool.close();
  });

  it('a large read-ahead under a batch signal adds no listener per item (no MaxListenersExceededWarning)', async () => {
    const warn = vi.spyOn(process, 'emitWarning');
    const pool = createPool({ concurrency: 1 });
    const controller = new AbortController();
    const items = Array.from({ length: 40 }, () => tone03s);
    const results = await collect(pool.transcodeMany(items, { ...SPEECH, readAhead: 40, signal: controller.signal }));
    expect(results.every((r) => r.result)).toBe(true);
    expect(warn.mock.calls.filter((c) => /MaxListeners/.test(String(c[0]) + String((c[1] as { type?: string })?.type ?? c[1])))).toEqual([]);
    await pool.close();
  });

  it('maxQueue applies backpressure to a batch instead of failing it', async () => {
    for (const maxQueue of [0, 1]) {
      const pool = createPool({ concurrency: 1, maxQueue });
      let maxDepth = 0;
      const results = await collect(
        pool.transcodeMany(Array.from({ length: 8 }, () => tone03s), {
          ...SPEECH,
          readAhead: 8,
          onProgress: () => (maxDepth = Math.max(maxDepth, pool.metrics().queueDepth)),
        }),
      );
      expect(results.every((r) => r.result)).toBe(true);
      expect(maxDepth).toBeLessThanOrEqual(1);
      await pool.close();
    }
  });

  it('the batch signal cancels midway: nothing more starts, running jobs end, the iterator settles', async () => {
    const pool = createPool({ concurrency: 2 });
    const controller = new AbortController();
    let closed = false;
    function* source(): Generator<BatchInput> {
      try {
        for (let i = 0; i < 200; i++) yield { id: i, input: i % 3 === 0 ? tone60s : tone1s };
      } finally {
        closed = true;
      }
    }
    const batch = pool.transcodeMany(source(), { ...SPEECH, signal: controller.signal, readAhead: 10 });
    const got: ItemResult[] = [];
    let thrown: unknown;
    const started = performance.now();
    let abortedAt = 0;
    try {
      for await (const r of batch) {
        got.push(r);
        if (got.length === 3) {
          controller.abort(new Error('stop'));
          abortedAt = performance.now();
        }
      }
    } catch (err) {
      thrown = err;
    }
    const settledMs = performance.now() - abortedAt;
    expect((thrown as TtsavError).code).toBe('ERR_TTSAV_ABORTED');
    expect(got).toHaveLength(3);
    expect(settledMs).toBeLessThan(500);
    expect(closed).toBe(true);
    const m = pool.metrics();
    expect(m.inFlightJobs).toBe(0);
    expect(m.queueDepth).toBe(0);
    const startedAtAbort = m.jobs.started;
    await tick(300);
    expect(pool.metrics().jobs.started).toBe(startedAtAbort);
    expect(startedAtAbort).toBeLessThan(20);
    expect(m.jobs.failedByCode.ERR_TTSAV_ABORTED).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(30_000);
    // The pool still serves.
    expect((await pool.transcode(tone03s, SPEECH)).samples).toBeGreaterThan(0);
    await pool.close();
  });

  it('after an abort, memory returns near the baseline (external memory exactly, RSS within a margin)', () => {
    const code = `
      const { createPool, transcode } = require('./dist/index.js');
      const fs = require('fs');
      const [long, wav] = [fs.readFileSync(process.argv[1]), fs.readFileSync(process.argv[2])];
      const settle = async () => { for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 50)); } };
      (async () => {
        await transcode(wav);
        await settle();
        const base = process.memoryUsage();
        const pool = createPool({ concurrency: 2 });
        const c = new AbortController();
        let peak = 0;
        const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
        let n = 0, code;
        function* items() { for (let i = 0; i < 1000; i++) yield i % 8 === 0 ? long : wav; } // long: 10 min of audio, cut by the abort
        try { for await (const r of pool.transcodeMany(items(), { signal: c.signal, ordered: false })) if (++n === 6) c.abort(); }
        catch (e) { code = e.code; }
        clearInterval(t);
        await pool.close();
        await settle();
        const after = process.memoryUsage();
        console.log(JSON.stringify({ code, n, base: base.rss, peak, after: after.rss, baseExt: base.external, afterExt: after.external }));
      })();`;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', code, fixturePath('long.mp3'), fixturePath('stereo48k.wav')], { cwd: ROOT, timeout: 60_000 });
    expect(r.status, r.stderr.toString()).toBe(0);
    const m = JSON.parse(r.stdout.toString()) as Record<string, number | string>;
    const MiB = 2 ** 20;
    expect(m.code).toBe('ERR_TTSAV_ABORTED');
    expect(m.n).toBe(6);
    // Output buffers are external memory: all of it is given back.
    expect(Math.abs((m.afterExt as number) - (m.baseExt as number))).toBeLessThan(2 * MiB);
    // RSS keeps what glibc's per-thread arenas hold on to, but not the jobs' working sets.
    expect((m.after as number) - (m.base as number)).toBeLessThan(40 * MiB);
    if (process.env.TTSAV_TEST_VERBOSE) console.log(m);
  });

  it('concurrency auto runs a batch to the end and reports its decisions', async () => {
    const pool = createPool({ concurrency: 'auto', auto: { windowMs: 100 } });
    expect(pool.concurrency).toBe(1);
    const results = await collect(pool.transcodeMany(Array.from({ length: 40 }, (_, i) => (i % 2 ? tone1s : fixture('edge.mp3'))), SPEECH));
    expect(results.every((r) => r.result)).toBe(true);
    expect(pool.autoHistory().length).toBeGreaterThan(0);
    for (const d of pool.autoHistory()) {
      expect(d.limit).toBeGreaterThanOrEqual(1);
      expect(d.limit).toBeLessThanOrEqual(pool.metrics().maxConcurrency);
    }
    await pool.close();
  });
});

describe('auto concurrency controller', () => {
  /** Drives the controller with a throughput model: each window at level L yields model(L) audio s per s. */
  function simulate(max: number, model: (l: number) => number, windows: number, opts = {}) {
    const c = new AutoConcurrency(max, { windowMs: 1000, freeMemory: () => 8 * 2 ** 30, ...opts });
    let now = 0;
    c.resume(now);
    const levels: number[] = [];
    for (let w = 0; w < windows; w++) {
      const jobs = 2 * c.limit;
      for (let j = 0; j < jobs; j++) {
        now += 1000 / jobs;
        c.settled(model(c.limit) / jobs, now);
      }
      levels.push(c.limit);
    }
    c.pause();
    return { levels, history: c.history };
  }

  it('climbs to the knee of the throughput curve and stays near it', () => {
    const { levels } = simulate(8, (l) => 10 * Math.min(l, 3), 60);
    const tail = levels.slice(20);
    // Mostly at 3; brief probes of 4 (stale measurements are re-checked), never below 3 once there.
    expect(tail.filter((l) => l === 3).length / tail.length).toBeGreaterThan(0.7);
    expect(Math.min(...tail)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...tail)).toBeLessThanOrEqual(4);
  });

  it('backs off when more jobs make things worse (oversubscription)', () => {
    const { levels } = simulate(8, (l) => (l <= 2 ? 10 * l : 20 - 3 * (l - 2)), 40);
    const tail = levels.slice(15);
    expect(tail.filter((l) => l === 2).length / tail.length).toBeGreaterThan(0.7);
  });

  it('steps down when the event loop is starved', async () => {
    const c = new AutoConcurrency(4, { windowMs: 10, eventLoopDelayMs: 50, freeMemory: () => 8 * 2 ** 30 });
    let now = 0;
    c.resume(0);
    for (let i = 0; i < 200 && c.limit < 4; i++) c.settled(c.limit, (now += 10));
    expect(c.limit).toBe(4);
    // Block the loop for 150 ms, twice, then let the histogram's timer see it.
    for (let k = 0; k < 2; k++) {
      await tick(20);
      const until = performance.now() + 150;
      while (performance.now() < until);
    }
    await tick(30);
    for (let i = 0; i < 50 && !c.history.some((d) => d.reason === 'event-loop'); i++) c.settled(c.limit, (now += 10));
    const brake = c.history.find((d) => d.reason === 'event-loop');
    expect(brake).toBeDefined();
    expect(brake!.eventLoopDelayMs).toBeGreaterThan(50);
    expect(brake!.limit).toBe(3);
    c.pause();
  });

  it('steps down when memory runs short', () => {
    let free = 8 * 2 ** 30;
    const c = new AutoConcurrency(4, { windowMs: 10, freeMemory: () => free });
    let now = 0;
    c.resume(0);
    for (let i = 0; i < 200 && c.limit < 4; i++) c.settled(c.limit, (now += 10));
    expect(c.limit).toBe(4);
    free = 0;
    for (let i = 0; i < 200 && c.limit > 1; i++) c.settled(1, (now += 10));
    expect(c.limit).toBe(1);
    expect(c.history.some((d) => d.reason === 'memory')).toBe(true);
    c.pause();
  });
});

describe('for services: queueMs, saturated, ready()', () => {
  it('result.queueMs is the time a job waited for admission', async () => {
    const pool = createPool({ concurrency: 1 });
    const [a, b] = await Promise.all([pool.transcode(tone1s, SPEECH), pool.transcode(tone03s, SPEECH)]);
    // b waited for all of a's run: longer than a, which started at once.
    expect(b.queueMs!).toBeGreaterThan(a.queueMs!);
    await pool.close();
  });

  it('saturated says a new job would wait; ready() says it would be admitted', async () => {
    const pool = createPool({ concurrency: 1, maxQueue: 1 });
    expect([pool.saturated, pool.ready()]).toEqual([false, true]);
    const a = pool.transcode(tone1s, SPEECH);
    expect([pool.saturated, pool.ready()]).toEqual([true, true]); // the next one queues
    const b = pool.transcode(tone03s, SPEECH);
    expect([pool.saturated, pool.ready()]).toEqual([true, false]); // the next one is refused
    expect((await rejection(pool.transcode(tone03s, SPEECH))).code).toBe('ERR_TTSAV_BUSY');
    await Promise.all([a, b]);
    expect([pool.saturated, pool.ready()]).toEqual([false, true]);
    const closing = pool.close();
    expect(pool.ready()).toBe(false);
    await closing;
  });
});

describe('metrics', () => {
  it("collector() registers the pool's metrics with a prom-client Registry, read live at each scrape", async () => {
    const { Registry, Counter } = await import('prom-client');
    const registry = new Registry();
    new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [registry] }).inc(3);
    const pool = createPool({ concurrency: 1, maxQueue: 0 });
    pool.collector().register(registry);
    await pool.transcode(tone03s, SPEECH);
    const a = pool.transcode(tone03s, SPEECH);
    await rejection(pool.transcode(tone03s, SPEECH));
    await a;
    const text = await registry.metrics();
    expect(text).toMatch(/^app_requests_total 3$/m);
    expect(text).toMatch(/^ttsav_pool_jobs_succeeded_total 2$/m);
    expect(text).toMatch(/^ttsav_pool_jobs_failed_total\{code="ERR_TTSAV_BUSY"\} 1$/m);
    // Every sample line of metricsText() is in the registry's output, the same.
    const samples = (t: string) => t.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    const registryLines = new Set(samples(text));
    for (const line of samples(pool.metricsText())) expect(registryLines.has(line), line).toBe(true);
    const json = await registry.getMetricsAsJSON();
    expect(json.find((m) => m.name === 'ttsav_pool_queue_wait_seconds')?.type).toBe('histogram');
    await pool.close();
  });

  it('importing ttsav does not load prom-client', () => {
    const code = `require('./dist/index.js'); console.log(Object.keys(require.cache).filter((k) => k.includes('prom-client')).length);`;
    const r = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, timeout: 30_000 });
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString().trim()).toBe('0');
  });

  it('metricsText is valid Prometheus text exposition with consistent histograms', async () => {
    const pool = createPool({ concurrency: 2, metricsPrefix: 'voice' });
    const results = await collect(pool.transcodeMany([tone03s, tone1s, Buffer.from('junk')], SPEECH));
    const text = pool.metricsText();
    const lines = text.trimEnd().split('\n');
    const typed = new Map<string, string>();
    const samples = new Map<string, number>();
    for (const line of lines) {
      const t = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
      if (t) {
        typed.set(t[1]!, t[2]!);
        continue;
      }
      if (line.startsWith('# HELP ')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/.exec(line);
      expect(m, line).not.toBeNull();
      samples.set(m![1]! + (m![2] ?? ''), Number(m![3]));
      const family = m![1]!.replace(/_(bucket|sum|count)$/, '');
      expect(typed.has(m![1]!) || typed.get(family) === 'histogram', `untyped ${line}`).toBe(true);
    }
    expect(samples.get('voice_jobs_succeeded_total')).toBe(2);
    expect(samples.get('voice_jobs_failed_total{code="ERR_TTSAV_INVALID_DATA"}')).toBe(1);
    expect(samples.get('voice_jobs_started_total')).toBe(3);
    expect(samples.get('voice_job_duration_seconds_count')).toBe(3);
    expect(samples.get('voice_job_duration_seconds_bucket{le="+Inf"}')).toBe(3);
    expect(samples.get('voice_stage_seconds_count{stage="encode"}')).toBe(2);
    // Buckets are cumulative.
    const buckets = lines.filter((l) => l.startsWith('voice_job_duration_seconds_bucket')).map((l) => Number(l.split(' ')[1]));
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!).toBeGreaterThanOrEqual(buckets[i - 1]!);
    expect(samples.get('voice_audio_seconds_total')).toBeCloseTo(results[0]!.result!.durationSeconds + results[1]!.result!.durationSeconds, 6);
    expect(typed.get('voice_queue_depth')).toBe('gauge');
    await pool.close();
  });
});

describe('close', () => {
  it('drains by default; cancel aborts queued and running jobs; a closed pool refuses work', async () => {
    const pool = createPool({ concurrency: 1 });
    const a = pool.transcode(tone1s, SPEECH);
    const b = pool.transcode(tone1s, SPEECH);
    await pool.close();
    expect((await a).samples).toBeGreaterThan(0);
    expect((await b).samples).toBeGreaterThan(0);
    const refused = await rejection(pool.transcode(tone03s));
    expect([refused.code, refused.reason]).toEqual(['ERR_TTSAV_BUSY', 'closed']);

    const pool2 = createPool({ concurrency: 1 });
    const long = pool2.transcode(tone60s);
    const queued = pool2.transcode(tone60s);
    await tick(50);
    const t = performance.now();
    await pool2.close({ cancel: true });
    expect(performance.now() - t).toBeLessThan(500);
    expect((await rejection(long)).code).toBe('ERR_TTSAV_ABORTED');
    expect((await rejection(queued)).code).toBe('ERR_TTSAV_ABORTED');
    expect(pool2.metrics().jobs.started).toBe(1);
  });

  it('leaves nothing that keeps the process alive (auto pool, after drain and after cancel)', () => {
    const code = `
      const { createPool } = require('./dist/index.js');
      const fs = require('fs');
      const input = fs.readFileSync(process.argv[1]);
      const long = fs.readFileSync(process.argv[2]);
      (async () => {
        const pool = createPool({ concurrency: 'auto', maxInFlightBytes: 64 * 2 ** 20, auto: { windowMs: 50 } });
        let n = 0;
        for await (const r of pool.transcodeMany(Array.from({ length: 12 }, () => input), { format: 'adts', onProgress() {} })) n += r.result ? 1 : 0;
        await pool.close();
        const pool2 = createPool({ concurrency: 2, defaults: { timeoutMs: 60000 } });
        const pending = [pool2.transcode(long), pool2.transcode(long), pool2.transcode(long)].map((p) => p.catch((e) => e.code));
        setTimeout(() => pool2.close({ cancel: true }), 200);
        const codes = await Promise.all(pending);
        console.log(n, codes.join(','));
      })();`;
    const started = performance.now();
    const r = spawnSync(process.execPath, ['-e', code, fixturePath('edge.mp3'), fixturePath('long.mp3')], { cwd: ROOT, timeout: 30_000 });
    expect(r.signal, 'the process had to be killed: something kept it alive').toBeNull();
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString().trim()).toBe('12 ERR_TTSAV_ABORTED,ERR_TTSAV_ABORTED,ERR_TTSAV_ABORTED');
    expect(performance.now() - started).toBeLessThan(25_000);
  });
});
