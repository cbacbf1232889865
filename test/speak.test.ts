/** speak() and speakMany(): text → engine → transcode() in memory, two stages with their own limits. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TtsavError } from '../lib/errors';
import { createPool } from '../lib/pool';
import { estimateJob } from '../lib/budget';
import { normalizeOptions } from '../lib/options';
import { speakStream } from '../lib/speak-stream';
import { espeak, ESPEAK_FORMAT } from '../lib/tts/espeak';
import { abortedError } from '../lib/tts/prosody';
import type { Synthesis, TtsEngine } from '../lib/tts/types';
import { speak, speakMany, type SpeakOutcome, type SpeakProgress } from '../lib/speak';
import { transcode } from '../lib/transcode';
import { edge } from '../lib/tts/edge';
import { startFakeEdgeServer, type FakeEdgeServer } from './helpers/fake-edge-server';
import { decodedSamples, ffprobe } from './helpers/media';

let server: FakeEdgeServer;
beforeAll(async () => {
  server = await startFakeEdgeServer();
});
afterAll(() => server.close());

const speech = { format: 'adts' as const, channels: 1, sampleRate: 24000, bitrate: '32k', aacCoder: 'fast' as const };

describe('speak', () => {
  it('hands the engine audio to transcode() with its format named, and times subtitles to the output', async () => {
    const engine = edge({ endpoint: server.url });
    const text = 'Padding and tempo move the subtitles.';
    const plain = await speak(text, { engine, ...speech, subtitles: true });
    const padded = await speak(text, { engine, ...speech, subtitles: true, filters: { pad: { before: 500 }, tempo: 2 } });
    expect(plain.transcode.input.format).toBe('mp3');
    // Output duration: tempo halves the audio, padding adds 0.5 s.
    expect(padded.durationSeconds).toBeCloseTo(plain.durationSeconds / 2 + 0.5, 1);
    const a = plain.subtitles!.cues[0]!;
    const b = padded.subtitles!.cues[0]!;
    expect(b.startMs).toBeCloseTo(500 + a.startMs / 2, 0);
    expect(b.endMs).toBeCloseTo(500 + a.endMs / 2, 0);
    expect(padded.subtitles!.cues.at(-1)!.endMs).toBeLessThanOrEqual(padded.durationSeconds * 1000);
  });

  it('rejects bad transcode options before synthesizing anything', async () => {
    const engine = edge({ endpoint: server.url });
    const upgrades = server.stats.upgrades;
    const err = await speak('Never synthesized.', { engine, sampleRate: 7 }).catch((e: unknown) => e as TtsavError);
    expect(err).toBeInstanceOf(TtsavError);
    expect((err as TtsavError).code).toBe('ERR_TTSAV_OPTIONS');
    const engineErr = await speak('x', { engine: 'nope' as never }).catch((e: unknown) => e as TtsavError);
    expect((engineErr as TtsavError).message).toMatch(/for engine but received "nope"/);
    expect(server.stats.upgrades).toBe(upgrades);
  });
});

describe('speakMany', () => {
  it('100 requests: ttsConcurrency caps the sockets on the server, transcodeConcurrency caps the transcodes', async () => {
    const engine = edge({ endpoint: server.url });
    server.messageDelayMs = 2; // keep each turn open a while so concurrency shows
    server.stats.maxOpenSockets = server.stats.openSockets;
    server.stats.maxActiveSessions = server.stats.activeSessions;
    let transcoding = 0;
    let maxTranscoding = 0;
    const pool = {
      async transcode(input: Uint8Array, options?: Parameters<typeof transcode>[1]) {
        transcoding++;
        maxTranscoding = Math.max(maxTranscoding, transcoding);
        try {
          return await transcode(input, options);
        } finally {
          transcoding--;
        }
      },
    };
    const items = Array.from({ length: 100 }, (_, i) => ({ id: `line-${i}`, text: `Line number ${i} of the batch.` }));
    const outcomes: SpeakOutcome[] = [];
    for await (const o of speakMany(items, { engine, ...speech, ttsConcurrency: 8, transcodeConcurrency: 2, pool })) outcomes.push(o);
    server.messageDelayMs = 0;
    expect(outcomes.length).toBe(100);
    expect(outcomes.filter((o) => 'error' in o)).toEqual([]);
    expect(new Set(outcomes.map((o) => o.index)).size).toBe(100);
    for (const o of outcomes) expect(o.id).toBe(`line-${o.index}`);
    // Sessions on the server (upgrade → turn over) never exceed the limit; the client resolves a request only
    // once its socket is closed, so TCP sockets do not either, give or take one event-loop turn of the server.
    expect(server.stats.maxActiveSessions).toBeLessThanOrEqual(8);
    expect(server.stats.maxActiveSessions).toBeGreaterThanOrEqual(4); // it did run in parallel
    expect(server.stats.maxOpenSockets).toBeLessThanOrEqual(9);
    expect(maxTranscoding).toBeLessThanOrEqual(2);
    expect(maxTranscoding).toBe(2);
    const first = outcomes.find((o) => o.index === 0)!;
    if (!('result' in first)) throw new Error('unreachable');
    expect(ffprobe(first.result.audio).codec).toBe('aac');
    const exp = server.expected('Line number 0 of the batch.');
    expect(first.result.transcode.samples).toBe(exp.frames * 576);
    // ADTS carries no edit list: a decoder also outputs the encoder's 1024 priming samples and the last frame's padding.
    const extra = decodedSamples(first.result.audio, 1) - exp.frames * 576;
    expect(extra).toBeGreaterThanOrEqual(1024);
    expect(extra).toBeLessThan(2048);
    console.log(`100 items: at most ${server.stats.maxActiveSessions} sessions and ${server.stats.maxOpenSockets} TCP sockets open on the server, ${maxTranscoding} transcodes at once`);
  });

  it('200 lines mixed with failing ones: per-item outcomes, at most maxInFlight items held, memory bounded', async () => {
    const engine = edge({ endpoint: server.url, maxRetries: 1, retryDelayMs: 5, maxRetryDelayMs: 20 });
    server.rule = (text) => (text.startsWith('FAIL') ? { status: 500 } : undefined);
    const kinds: ('ok' | 'server' | 'voice' | 'empty')[] = [];
    async function* lines() {
      for (let i = 0; i < 200; i++) {
        const kind = i % 10 === 3 ? 'server' : i % 10 === 7 ? 'voice' : i % 50 === 0 ? 'empty' : 'ok';
        kinds.push(kind);
        if (kind === 'server') yield { text: `FAIL line ${i}` };
        else if (kind === 'voice') yield { text: `Line ${i}`, voice: 'not a voice' };
        else if (kind === 'empty') yield '   ';
        else yield `Line ${i} speaks a few words of text.`;
      }
    }
    const maxInFlight = 6;
    let maxHeld = 0;
    let started = 0;
    const onProgress = (p: SpeakProgress): void => {
      started = p.started;
      maxHeld = Math.max(maxHeld, p.synthesizing + p.waitingForTranscode + p.transcoding + p.waitingForConsumer);
    };
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const outcomes: SpeakOutcome[] = [];
    for await (const o of speakMany(lines(), { engine, ...speech, ttsConcurrency: 4, transcodeConcurrency: 2, maxInFlight, onProgress })) {
      outcomes.push(o);
      // A slow consumer: the source is not drained ahead of it.
      expect(started - outcomes.length).toBeLessThanOrEqual(maxInFlight);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      await new Promise((r) => setTimeout(r, 1));
    }
    server.rule = undefined;
    expect(outcomes.length).toBe(200);
    expect(maxHeld).toBeLessThanOrEqual(maxInFlight);
    for (const o of outcomes) {
      const kind = kinds[o.index];
      if (kind === 'ok') {
        expect('result' in o, `item ${o.index}: ${'error' in o ? o.error.message : ''}`).toBe(true);
        if ('result' in o) expect(o.result.audio.length).toBeGreaterThan(100);
      } else {
        expect('error' in o).toBe(true);
        if ('error' in o) expect(o.error.code).toBe(kind === 'server' ? 'ERR_TTSAV_TTS' : 'ERR_TTSAV_OPTIONS');
      }
    }
    expect(outcomes.filter((o) => 'result' in o).length).toBe(kinds.filter((k) => k === 'ok').length);
    console.log(`200 items: ${outcomes.filter((o) => 'error' in o).length} failed as planned; at most ${maxHeld} held; ` +
      `arrayBuffers peak +${((peak - baseline) / 1048576).toFixed(1)} MiB over baseline`);
    expect(peak - baseline).toBeLessThan(64 * 1048576);
  });

  it('abort cancels what runs (sockets closed) and the iteration throws ERR_TTSAV_ABORTED', async () => {
    const engine = edge({ endpoint: server.url });
    server.messageDelayMs = 5;
    const controller = new AbortController();
    const got: SpeakOutcome[] = [];
    let error: unknown;
    try {
      for await (const o of speakMany(Array.from({ length: 50 }, (_, i) => `Item ${i} of many.`), { engine, ...speech, ttsConcurrency: 4, signal: controller.signal })) {
        got.push(o);
        if (got.length === 3) controller.abort();
      }
    } catch (err) {
      error = err;
    }
    server.messageDelayMs = 0;
    expect(error).toBeInstanceOf(TtsavError);
    expect((error as TtsavError).code).toBe('ERR_TTSAV_ABORTED');
    expect(got.length).toBe(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.stats.openSockets).toBe(0);
  });

  it('runs the transcodes on a batch pool (createPool) when given one', async () => {
    const { createPool } = await import('../lib/pool');
    const pool = createPool({ concurrency: 2 });
    const engine = edge({ endpoint: server.url });
    const outcomes: SpeakOutcome[] = [];
    for await (const o of speakMany(['One.', 'Two.', 'Three.'], { engine, ...speech, pool })) outcomes.push(o);
    await pool.close();
    expect(outcomes.map((o) => ('result' in o ? ffprobe(o.result.audio).codec : o.error.message))).toEqual(['aac', 'aac', 'aac']);
  });

  it('leaving the loop early stops taking items', async () => {
    const engine = edge({ endpoint: server.url });
    let pulled = 0;
    function* items() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield `Item ${i}.`;
      }
    }
    let n = 0;
    for await (const o of speakMany(items(), { engine, ...speech, ttsConcurrency: 2, transcodeConcurrency: 1, maxInFlight: 4 })) {
      expect('result' in o).toBe(true);
      if (++n === 5) break;
    }
    const after = pulled;
    await new Promise((r) => setTimeout(r, 100));
    expect(pulled).toBe(after);
    expect(pulled).toBeLessThanOrEqual(5 + 4);
  });
});

describe('speak for services', () => {
  const ROOT = path.resolve(__dirname, '..');

  /** An engine whose synthesis takes `ms` unless its signal stops it first; it records the abort reason. */
  function slowEngine(ms: number): TtsEngine & { reasons: unknown[] } {
    const reasons: unknown[] = [];
    return {
      name: 'slow',
      format: ESPEAK_FORMAT,
      reasons,
      validate: () => undefined,
      voices: () => Promise.resolve([]),
      synthesize: (_text, options = {}) =>
        new Promise<Synthesis>((resolve, reject) => {
          const timer = setTimeout(() => resolve({ chunks: [], bytes: 0, words: [], format: ESPEAK_FORMAT, durationSeconds: 0, voice: 'x', requests: 1 }), ms);
          options.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reasons.push(options.signal!.reason);
            reject(abortedError(options.signal!));
          });
        }),
    };
  }

  it('timeoutMs bounds the whole call, synthesis included: ERR_TTSAV_TIMEOUT', async () => {
    const engine = slowEngine(30_000);
    const err = await speak('Hello.', { engine, ...speech, timeoutMs: 50 }).catch((e: unknown) => e as TtsavError);
    expect(err).toBeInstanceOf(TtsavError);
    expect((err as TtsavError).code).toBe('ERR_TTSAV_TIMEOUT');
    expect(engine.reasons).toHaveLength(1); // the synthesis itself was stopped
    expect((engine.reasons[0] as Error).name).toBe('TimeoutError');
    // A signal aborted by AbortSignal.timeout() is a timeout too.
    const err2 = await speak('Hello.', { engine, ...speech, signal: AbortSignal.timeout(50) }).catch((e: unknown) => e as TtsavError);
    expect((err2 as TtsavError).code).toBe('ERR_TTSAV_TIMEOUT');
    // A plain abort stays ERR_TTSAV_ABORTED.
    const c = new AbortController();
    const p = speak('Hello.', { engine, ...speech, signal: c.signal }).catch((e: unknown) => e as TtsavError);
    c.abort();
    expect((await p as TtsavError).code).toBe('ERR_TTSAV_ABORTED');
  });

  it('speakMany: timeoutMs bounds each whole item, synthesis included, and an item that fits still succeeds', async () => {
    const slow = slowEngine(30_000);
    const outcomes: SpeakOutcome[] = [];
    for await (const o of speakMany(['One.', 'Two.'], { engine: slow, ...speech, timeoutMs: 50 })) outcomes.push(o);
    expect(outcomes.map((o) => ('error' in o ? o.error.code : 'ok'))).toEqual(['ERR_TTSAV_TIMEOUT', 'ERR_TTSAV_TIMEOUT']);
    expect(slow.reasons.map((r) => (r as Error).name)).toEqual(['TimeoutError', 'TimeoutError']); // the syntheses were stopped
    const fine: SpeakOutcome[] = [];
    for await (const o of speakMany(['Fits in time.'], { engine: edge({ endpoint: server.url }), ...speech, timeoutMs: 20_000 })) fine.push(o);
    expect(fine.length).toBe(1);
    expect('result' in fine[0]! && ffprobe(fine[0].result.audio).codec).toBe('aac');
  });

  it('speak({ pool }) runs its transcode on the pool: admission, queueMs and metrics', async () => {
    const pool = createPool({ concurrency: 1 });
    const engine = edge({ endpoint: server.url });
    const r = await speak('Through the pool.', { engine, ...speech, pool });
    expect(typeof r.transcode.queueMs).toBe('number');
    expect(pool.metrics().jobs.succeeded).toBe(1);
    await pool.close();
    const refused = await speak('Closed pool.', { engine, ...speech, pool }).catch((e: unknown) => e as TtsavError);
    expect([(refused as TtsavError).code, (refused as TtsavError).reason]).toEqual(['ERR_TTSAV_BUSY', 'closed']);
  });

  it('speakStream({ pool }) waits for and holds a pool slot; a full pool refuses it with ERR_TTSAV_BUSY', async () => {
    const pool = createPool({ concurrency: 1, maxQueue: 0 });
    const engine = edge({ endpoint: server.url });
    const first = speakStream('The first stream holds the slot.', { engine, pool });
    await new Promise((r) => setImmediate(r));
    expect(pool.metrics().inFlightJobs).toBe(1);
    const second = speakStream('No room for this one.', { engine, pool });
    const refused = await new Promise<unknown>((resolve) => second.once('error', resolve));
    expect([(refused as TtsavError).code, (refused as TtsavError).reason]).toEqual(['ERR_TTSAV_BUSY', 'queue-full']);
    const chunks: Buffer[] = [];
    for await (const c of first) chunks.push(c as Buffer);
    expect(ffprobe(Buffer.concat(chunks)).codec).toBe('aac');
    await new Promise((r) => setImmediate(r));
    expect(pool.metrics().jobs).toMatchObject({ succeeded: 1, failedByCode: { ERR_TTSAV_BUSY: 1 } });
    expect(pool.metrics().inFlightJobs).toBe(0);
    // pool.run() is the same admission for any work.
    expect(await pool.run(async (signal) => (signal.aborted ? 'aborted' : 'ran'))).toBe('ran');
    await pool.close();
  });

  it("the espeak engine's queue is bounded (ERR_TTSAV_BUSY, tts-queue-full) and idle workers are released", async () => {
    const engine = espeak({ workers: 1, maxQueue: 1, idleTimeoutMs: 100 });
    const runs = [engine.synthesize('One.'), engine.synthesize('Two.'), engine.synthesize('Three.')].map((p) => p.catch((e: unknown) => e));
    const [a, b, c] = await Promise.all(runs);
    expect((a as Synthesis).bytes).toBeGreaterThan(0);
    expect((b as Synthesis).bytes).toBeGreaterThan(0);
    expect(c).toBeInstanceOf(TtsavError);
    expect([(c as TtsavError).code, (c as TtsavError).reason]).toEqual(['ERR_TTSAV_BUSY', 'tts-queue-full']);
    expect(engine.workerStats()).toMatchObject({ workers: 1, running: 0, queued: 0, rejected: 1 });
    for (let i = 0; i < 100 && engine.workerStats().workers > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(engine.workerStats()).toMatchObject({ workers: 0, idleReleased: 1 });
    // And it starts a new worker when needed.
    expect((await engine.synthesize('Again.')).bytes).toBeGreaterThan(0);
    await engine.close();
  });

  it("speak() through a pool: the espeak workers count in the pool's tts gauges and memory budget while they live", async () => {
    const engine = espeak({ workers: 1, idleTimeoutMs: 60_000 });
    const input = (await engine.synthesize('Hello there.')).chunks[0]!;
    const options = { inputFormat: 'wav' as const, ...speech };
    const job = estimateJob(input.length, normalizeOptions(options)).bytes;
    // Room for the worker and one transcode, not two.
    const pool = createPool({ concurrency: 2, maxInFlightBytes: engine.workerBytes + 1.5 * job });
    expect(pool.metrics().tts).toEqual({ workers: 0, running: 0, queued: 0, reservedBytes: 0 });
    const spoken = await speak('Hello there.', { engine, pool, ...speech });
    expect(spoken.audio.length).toBeGreaterThan(0);
    expect(engine.workerStats().workers).toBe(1);
    expect(pool.metrics().tts).toEqual({ workers: 1, running: 0, queued: 0, reservedBytes: engine.workerBytes });
    const text = pool.metricsText();
    expect(text).toMatch(/^# TYPE ttsav_pool_tts_workers gauge$/m);
    expect(text).toMatch(/^ttsav_pool_tts_workers 1$/m);
    expect(text).toMatch(/^ttsav_pool_tts_queue_depth 0$/m);
    expect(text).toMatch(new RegExp(`^ttsav_pool_tts_reserved_bytes ${engine.workerBytes}$`, 'm'));
    // The idle worker's reservation leaves room for one transcode at a time: the second waits for budget.
    const before = pool.metrics().jobs.budgetDelayed;
    const both = await Promise.all([pool.transcode(input, options), pool.transcode(input, options)]);
    expect(both.map((r) => r.data.length > 0)).toEqual([true, true]);
    expect(pool.metrics().jobs.budgetDelayed - before).toBe(1);
    expect(pool.metrics().maxInFlightJobsSeen).toBe(1);
    // Once the workers are gone, so is the reservation.
    await engine.close();
    expect(pool.metrics().tts).toEqual({ workers: 0, running: 0, queued: 0, reservedBytes: 0 });
    await Promise.all([pool.transcode(input, options), pool.transcode(input, options)]);
    expect(pool.metrics().maxInFlightJobsSeen).toBe(2);
    await pool.close();
  });

  it('offline speak works in a host started with --input-type=module', () => {
    const code = `import { speak } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'index.mjs')).href)};
      const r = await speak('Hello from a module host.', { format: 'adts' });
      console.log(r.audio.length > 1000 ? 'ok' : 'short');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, timeout: 60_000 });
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString().trim()).toBe('ok');
  });
});
