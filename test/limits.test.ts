/** Per-job limits, abort and timeout. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TtsavError, createTranscodeStream, transcode } from '../lib/index';
import { loadNative, type NativeTranscodeOptions } from '../lib/native';
import { ffmpeg, fixture, tone } from './helpers/media';

/** CBR MP3 without a Xing header: only decoding tells how long it is. */
const CBR_NO_XING = ['-c:a', 'libmp3lame', '-b:a', '32k', '-write_xing', '0', '-f', 'mp3'];
import { spyOnNativeTranscode } from './helpers/native-spy';
import { rejection } from './helpers/rejection';


/** Calls the addon directly (no TypeScript timers) and reports what its callback got and when. */
function nativeJob(input: Buffer, options: Partial<NativeTranscodeOptions>) {
  const native = loadNative();
  const started = performance.now();
  let handle: ReturnType<typeof native.transcode> | undefined;
  const done = new Promise<{ err: { code?: string; stage?: string } | null; ms: number }>((resolve) => {
    handle = native.transcode(
      input,
      { container: 'mp4', codec: 'aac', bitrate: 192000, sampleRate: 44100, fallbackSampleRate: 44100, channels: 2, maxChannels: 8, faststart: true, ...options },
      (err) => resolve({ err: (err as { code?: string }) ?? null, ms: performance.now() - started }),
    );
  });
  return { done, cancel: () => native.cancel(handle!, 'abort') };
}

let spy: ReturnType<typeof spyOnNativeTranscode> | undefined;
afterEach(() => {
  spy?.restore();
  spy = undefined;
});

describe('limits', () => {
  it('maxInputBytes rejects before any native work', async () => {
    spy = spyOnNativeTranscode();
    const input = fixture('edge.mp3');
    const err = await rejection(transcode(input, { maxInputBytes: input.length - 1 }));
    expect([err.code, err.reason]).toEqual(['ERR_TTSAV_LIMIT', 'input-size']);
    expect(err.message).toMatch(/maxInputBytes/);
    expect(spy.calls()).toBe(0);
    await transcode(input, { maxInputBytes: input.length, format: 'adts' });
    expect(spy.calls()).toBe(1);
  });

  it('three hours of silent FLAC that declares its length stop at maxDurationSeconds at once', async () => {
    const bomb = fixture('bomb.flac');
    expect(bomb.length).toBeLessThan(4 * 1024 * 1024);
    const started = performance.now();
    const err = await rejection(transcode(bomb, { maxDurationSeconds: 60 }));
    const ms = performance.now() - started;
    expect([err.code, err.reason, err.detail]).toEqual(['ERR_TTSAV_LIMIT', 'duration', undefined]);
    expect(err.message).toMatch(/maxDurationSeconds/);
    // Decoding three hours and encoding them would take minutes; the cap acts within the probe.
    expect(ms).toBeLessThan(1000);
  });

  it('three hours of silent FLAC that hides its length stop at maxDurationSeconds while decoding', async () => {
    const bomb = fixture('bomb-undeclared.flac');
    const started = performance.now();
    const err = await rejection(transcode(bomb, { maxDurationSeconds: 10 }));
    const ms = performance.now() - started;
    expect([err.code, err.reason]).toEqual(['ERR_TTSAV_LIMIT', 'duration']);
    expect(err.stage).toBe('decode');
    expect(ms).toBeLessThan(1000);
    const rss = process.memoryUsage().rss;
    expect(rss).toBeLessThan(1024 * 1024 * 1024);
  });

  it('a CBR MP3 without a Xing header (length known only from size and bitrate) is refused after 10 s of audio', async () => {
    // 300 s at 32 kbit/s, no Xing/Info header: libav can only estimate its length from the bitrate.
    const cbr = tone(300, { encode: CBR_NO_XING });
    const err = await rejection(transcode(cbr, { maxDurationSeconds: 60, format: 'adts' }));
    expect([err.code, err.reason, err.stage]).toEqual(['ERR_TTSAV_LIMIT', 'duration', 'decode']);
    // The early check, not the decoding cap (which says "decoded audio exceeds" after 60 s of audio).
    expect(err.message).toMatch(/holds about 300\.\d+ s of constant-bitrate audio/);
    // Within the margin (cap × 1.1 + 1 s) the input is decoded, and the decoding cap still holds.
    const cbr30 = tone(30, { encode: CBR_NO_XING });
    const near = await rejection(transcode(cbr30, { maxDurationSeconds: 28, format: 'adts' }));
    expect(near.message).toMatch(/decoded audio exceeds maxDurationSeconds/);
  });

  it('a variable-bitrate MP3 without a header is never refused early below its real length', async () => {
    // Quiet then loud: the bitrate of the first seconds says little about the rest.
    const vbr = ffmpeg([
      '-f', 'lavfi', '-i', 'anoisesrc=d=40:c=pink:r=24000:a=0.002', '-f', 'lavfi', '-i', 'anoisesrc=d=40:c=white:r=24000:a=0.5',
      '-filter_complex', '[0][1]concat=n=2:v=0:a=1', '-c:a', 'libmp3lame', '-q:a', '2', '-write_xing', '0', '-f', 'mp3', 'pipe:1',
    ]);
    const r = await transcode(vbr, { maxDurationSeconds: 81, format: 'adts' });
    expect(r.durationSeconds).toBeGreaterThan(79);
  });

  it('maxDurationSeconds lets shorter audio through', async () => {
    const result = await transcode(fixture('edge.mp3'), { maxDurationSeconds: 60 });
    expect(result.durationSeconds).toBeGreaterThan(5);
  });

  it('maxOutputBytes holds: over the limit fails, at the exact size succeeds', async () => {
    const input = fixture('edge.mp3');
    const full = await transcode(input);
    const err = await rejection(transcode(input, { maxOutputBytes: Math.floor(full.data.length / 2) }));
    expect([err.code, err.reason, err.detail]).toEqual(['ERR_TTSAV_LIMIT', 'output-size', undefined]);
    expect(err.stage).toBe('mux');
    expect(err.message).toMatch(/maxOutputBytes/);
    // faststart moves data after it is written: the limit covers that too.
    const err2 = await rejection(transcode(input, { maxOutputBytes: full.data.length - 1 }));
    expect(err2.code).toBe('ERR_TTSAV_LIMIT');
    const exact = await transcode(input, { maxOutputBytes: full.data.length });
    expect(Buffer.compare(exact.data, full.data)).toBe(0);
  });
});

describe('declared sizes', () => {
  it('a 70-byte WAV whose LIST chunk declares 2.4 GB is refused without taking gigabytes of memory', () => {
    // Fuzzer finding: libav's WAV demuxer allocated (and zeroed) what the tag declared; one such job took 2 GB of
    // RSS for two seconds. ttsav caps a single libav allocation at 128 MiB (native/av/init.h).
    const wav = 'UklGRgYEAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgATElTVBoAAJRJTkZPSVNGVA4Aenl4eHl6e31/gYOFhoeIiA==';
    const r = spawnSync(process.execPath, ['-e', `
      const t = require('./dist/index.js');
      const input = Buffer.from(process.argv[1], 'base64');
      const before = process.resourceUsage().maxRSS;
      Promise.allSettled([t.transcode(input), t.transcode(input, { format: 'adts' }), t.probe(input)]).then((all) => {
        console.log(JSON.stringify({ codes: all.map((a) => a.reason && a.reason.code), grewKB: process.resourceUsage().maxRSS - before }));
      });`, wav], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8', timeout: 60_000 });
    const out = JSON.parse(r.stdout) as { codes: string[]; grewKB: number };
    expect(out.codes).toEqual(['ERR_TTSAV_INVALID_DATA', 'ERR_TTSAV_INVALID_DATA', 'ERR_TTSAV_INVALID_DATA']);
    // The addon itself loads ~40 MB of libraries; three jobs that each allocated the declared size would add 2+ GB.
    expect(out.grewKB).toBeLessThan(300 * 1024);
  });
});

describe('abort and timeout', () => {
  it('an already-aborted signal never starts native work', async () => {
    spy = spyOnNativeTranscode();
    const controller = new AbortController();
    controller.abort();
    const err = await rejection(transcode(fixture('edge.mp3'), { signal: controller.signal }));
    expect(err.code).toBe('ERR_TTSAV_ABORTED');
    expect(spy.calls()).toBe(0);
  });

  it('aborting a long transcode rejects promptly', async () => {
    const controller = new AbortController();
    const promise = transcode(fixture('long.mp3'), { signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const started = performance.now();
    const err = await rejection(promise);
    expect(err.code).toBe('ERR_TTSAV_ABORTED');
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('the native job itself stops at the cancel flag (a full pool of long jobs frees at once)', async () => {
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const jobs = Array.from({ length: poolSize }, () => nativeJob(fixture('long.mp3'), {}));
    await new Promise((r) => setTimeout(r, 300));
    const cancelledAt = performance.now();
    for (const job of jobs) job.cancel();
    const results = await Promise.all(jobs.map((j) => j.done));
    for (const r of results) expect(r.err?.code).toBe('ERR_TTSAV_ABORTED');
    // Each of these jobs needs ~15 s of CPU; after the cancel they must all be gone within moments.
    expect(performance.now() - cancelledAt).toBeLessThan(1500);
    // And the pool serves again.
    const after = await transcode(fixture('edge.mp3'), { format: 'adts' });
    expect(after.samples).toBeGreaterThan(0);
  });

  it('timeoutMs rejects with ERR_TTSAV_TIMEOUT', async () => {
    const started = performance.now();
    const err = await rejection(transcode(fixture('long.mp3'), { timeoutMs: 300 }));
    expect(err.code).toBe('ERR_TTSAV_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('a signal aborted with a TimeoutError (AbortSignal.timeout) is ERR_TTSAV_TIMEOUT, the reason its cause', async () => {
    const err = await rejection(transcode(fixture('long.mp3'), { signal: AbortSignal.timeout(200) }));
    expect(err.code).toBe('ERR_TTSAV_TIMEOUT');
    expect((err.cause as Error).name).toBe('TimeoutError');
    expect(err.detail).toBeUndefined();
    // Already fired before the call: the same code, no native work.
    const signal = AbortSignal.timeout(1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await rejection(transcode(fixture('edge.mp3'), { signal }))).code).toBe('ERR_TTSAV_TIMEOUT');
  });

  it('a stream whose signal times out errors with ERR_TTSAV_TIMEOUT', async () => {
    const stream = createTranscodeStream({ signal: AbortSignal.timeout(50), inputFormat: 'mp3', format: 'adts' });
    stream.resume();
    stream.write(fixture('edge.mp3').subarray(0, 4096));
    const err = await new Promise<unknown>((resolve) => stream.once('error', resolve));
    expect(err).toBeInstanceOf(TtsavError);
    expect((err as TtsavError).code).toBe('ERR_TTSAV_TIMEOUT');
  });

  it('the native deadline fires on its own, without the TypeScript timer', async () => {
    const r = await nativeJob(fixture('long.mp3'), { timeoutMs: 300 }).done;
    expect(r.err?.code).toBe('ERR_TTSAV_TIMEOUT');
    expect(r.ms).toBeLessThan(1500);
  });

  it('a short job finishes well inside a generous timeout', async () => {
    const result = await transcode(fixture('edge.mp3'), { timeoutMs: 60_000, signal: new AbortController().signal });
    expect(result.samples).toBeGreaterThan(0);
  });
});
