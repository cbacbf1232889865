/** Bad input rejects with a TtsavError and a fitting code; nothing crashes or hangs, and work goes on after. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TtsavError, createPool, transcode } from '../lib/index';
import { ERROR_CODES, ERROR_REASONS, ERROR_STAGES, TIMING_STAGES, fromNative } from '../lib/errors';
import { loadNative } from '../lib/native';
import { decodedSamples, fixture, wavHeader } from './helpers/media';
import { rejection } from './helpers/rejection';


async function goodTranscodeStillWorks(): Promise<void> {
  const result = await transcode(fixture('edge.mp3'), { format: 'adts', channels: 1, bitrate: '64k' });
  expect(decodedSamples(result.data, 1)).toBeGreaterThan(result.samples - 2048);
}

describe('bad input', () => {
  const cases: { name: string; input: () => Buffer; code: string; stage?: string }[] = [
    { name: 'empty', input: () => Buffer.alloc(0), code: 'ERR_TTSAV_INVALID_DATA', stage: 'probe' },
    { name: 'random bytes', input: () => randomBytes(64 * 1024), code: 'ERR_TTSAV_INVALID_DATA' },
    { name: 'an MP3 cut at 37%', input: () => fixture('cut37.mp3'), code: 'ERR_TTSAV_INVALID_DATA', stage: 'decode' },
    { name: 'a PNG', input: () => fixture('image.png'), code: 'ERR_TTSAV_UNSUPPORTED', stage: 'probe' },
    { name: 'a file with no audio stream', input: () => fixture('video-only.mp4'), code: 'ERR_TTSAV_UNSUPPORTED', stage: 'probe' },
  ];
  for (const c of cases) {
    it(`${c.name} rejects with ${c.code}`, async () => {
      const err = await rejection(transcode(c.input()));
      expect(err.code).toBe(c.code);
      if (c.stage) expect(err.stage).toBe(c.stage);
      expect(err.message.length).toBeGreaterThan(0);
      await goodTranscodeStillWorks();
    });
  }

  it('reports why a truncated file was refused', async () => {
    const err = await rejection(transcode(fixture('cut37.mp3')));
    expect(err.message).toMatch(/truncated: decoded [\d.]+ s of the [\d.]+ s/);
  });

  it('says which codec has no audio stream or decoder', async () => {
    const err = await rejection(transcode(fixture('video-only.mp4')));
    expect(err.message).toMatch(/no audio stream/);
    expect(err.averror).toBeLessThan(0);
  });

  it('carries the libav log line of the failing job as detail', async () => {
    // Bytes that are not MP3, read as MP3: the demuxer logs why it gave up.
    const err = await rejection(transcode(randomBytes(5000), { inputFormat: 'mp3' }));
    expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
    expect(err.detail).toMatch(/^\[mp3\] \S/);
    // A corrupt frame in an otherwise fine MP3: the decoder says what it found.
    const mp3 = Buffer.from(fixture('edge.mp3'));
    for (let k = 0; k < 50; k++) mp3[(k * 104729 + 31) % mp3.length]! ^= 0xff;
    const decodeErr = await rejection(transcode(mp3));
    expect(decodeErr.stage).toBe('decode');
    expect(decodeErr.detail).toMatch(/^\[mp3float\] /);
  });

  it('detail is never an info or warning line, and absent where libav did not cause the failure', async () => {
    // EdgeTTS-style MP3s (no Xing header) make libav warn "Estimating duration from bitrate": not an explanation.
    const edge = fixture('edge.mp3');
    const limit = await rejection(transcode(edge, { maxDurationSeconds: 1 }));
    expect([limit.code, limit.detail]).toEqual(['ERR_TTSAV_LIMIT', undefined]);
    const timeout = await rejection(transcode(fixture('long.mp3'), { timeoutMs: 100 }));
    expect([timeout.code, timeout.detail]).toEqual(['ERR_TTSAV_TIMEOUT', undefined]);
    const cut = await rejection(transcode(fixture('cut37.mp3')));
    expect(cut.code).toBe('ERR_TTSAV_INVALID_DATA');
    expect(cut.detail ?? '').not.toMatch(/Estimating duration/);
  });

  it('survives 200 random and mangled inputs in parallel', async () => {
    const base = fixture('edge.mp3');
    const inputs: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 2 === 0) {
        inputs.push(randomBytes(1 + ((i * 7919) % 20000)));
      } else {
        const b = Buffer.from(base.subarray(0, Math.max(1, (base.length * i) / 200)));
        for (let k = 0; k < 20; k++) b[(k * 104729 + i) % b.length]! ^= 0xff; // flip some bytes
        inputs.push(b);
      }
    }
    const settled = await Promise.allSettled(inputs.map((input) => transcode(input, { format: 'adts' })));
    for (const s of settled) {
      if (s.status === 'rejected') {
        expect(s.reason).toBeInstanceOf(TtsavError);
        expect(['ERR_TTSAV_INVALID_DATA', 'ERR_TTSAV_UNSUPPORTED']).toContain((s.reason as TtsavError).code);
      }
    }
    await goodTranscodeStillWorks();
  });

  it('rejects a non-buffer input with ERR_TTSAV_OPTIONS', async () => {
    const err = await rejection(transcode('hello.mp3' as unknown as Buffer));
    expect(err.code).toBe('ERR_TTSAV_OPTIONS');
  });
});

describe('float audio encoders would choke on', () => {
  /** A 32-bit float WAV (format 3) of `samples`, mono 22050 Hz. */
  function floatWav(samples: Float32Array): Buffer {
    const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    return Buffer.concat([wavHeader({ format: 3, sampleRate: 22050, dataBytes: data.length }), data]);
  }
  const tone = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));

  // libmp3lame asserts, aborting the process, on NaN or huge samples (found by the fuzzer): they must never reach it.
  for (const format of ['mp3', 'm4a', 'ogg'] as const) {
    it(`NaN and infinite samples are INVALID_DATA for ${format}, not a crash`, async () => {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const wav = floatWav(tone(22050, (i) => (i === 5000 ? bad : 0.3 * Math.sin(i / 10))));
        const err = await rejection(transcode(wav, { format }));
        expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
      }
    });
  }

  it('absurdly large samples are clamped, and the result decodes', async () => {
    const wav = floatWav(tone(22050, (i) => (i % 100 === 0 ? 1e30 : 0.3 * Math.sin(i / 10))));
    const r = await transcode(wav, { format: 'mp3' });
    expect(decodedSamples(r.data, 2)).toBeGreaterThan(20000);
  });
});

describe('one list of codes and stages', () => {
  it('every code and stage the addon can raise is in lib/errors.ts, and the codes only TypeScript raises are known', () => {
    const native = loadNative().errorNames();
    expect(native.codes.length).toBeGreaterThan(5);
    for (const code of native.codes) expect(ERROR_CODES).toContain(code);
    // What the addon never raises is raised in lib/ (and the binding's load failure): a new native code that
    // lib/errors.ts lacks, or a code in neither list, fails here.
    const tsOnly = ERROR_CODES.filter((c) => !native.codes.includes(c));
    expect(tsOnly.sort()).toEqual(['ERR_TTSAV_HW_UNAVAILABLE', 'ERR_TTSAV_LOAD', 'ERR_TTSAV_STORAGE', 'ERR_TTSAV_TTS', 'ERR_TTSAV_TTS_TIMEOUT']);
    expect(native.stages).toEqual([...ERROR_STAGES]);
  });

  it('a transcode reports exactly the timing stages lib/errors.ts lists, and the pool meters each', async () => {
    const result = await transcode(fixture('edge.mp3'), { format: 'adts', channels: 1, bitrate: '64k' });
    expect(Object.keys(result.timings)).toEqual([...TIMING_STAGES]);
    expect(result.timings.total).toBeGreaterThanOrEqual(result.timings.encode);
    const pool = createPool({ concurrency: 1 });
    await pool.transcode(fixture('edge.mp3'), { format: 'adts' });
    expect(Object.keys(pool.metrics().stageSeconds)).toEqual([...TIMING_STAGES]);
    for (const s of TIMING_STAGES) expect(pool.metricsText()).toContain(`stage="${s}"`);
    await pool.close();
  });

  it('fromNative keeps a known code, stage and reason and maps anything else to INTERNAL', () => {
    for (const code of ERROR_CODES) expect(fromNative({ code, message: 'm' }).code).toBe(code);
    const e = fromNative({ code: 'ERR_SOMETHING_ELSE', message: 'm', stage: 'nowhere', reason: 'why-not' });
    expect(e.code).toBe('ERR_TTSAV_INTERNAL');
    expect(e.stage).toBeUndefined();
    expect(e.reason).toBeUndefined();
    for (const stage of ERROR_STAGES) expect(fromNative({ code: 'ERR_TTSAV_LIMIT', message: 'm', stage }).stage).toBe(stage);
    for (const reason of ERROR_REASONS) expect(fromNative({ code: 'ERR_TTSAV_LIMIT', message: 'm', reason }).reason).toBe(reason);
  });
});
