/** Option mistakes are caught in TypeScript, before anything native runs, with sharp-style messages. */
import { afterEach, describe, expect, it } from 'vitest';
import { TtsavError, transcode } from '../lib/index';
import { normalizeOptions, parseBitrate } from '../lib/options';
import { fixture } from './helpers/media';
import { spyOnNativeTranscode } from './helpers/native-spy';

let spy: ReturnType<typeof spyOnNativeTranscode> | undefined;
afterEach(() => {
  spy?.restore();
  spy = undefined;
});

describe('option validation', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['sampleRate 7', { sampleRate: 7 }, /^Expected integer between 7350 and 96000 for sampleRate but received 7 of type number$/],
    ['sampleRate 44000', { sampleRate: 44000 }, /Expected one of the AAC rates .* for sampleRate but received 44000 of type number/],
    ['channels 7', { channels: 7 }, /Expected one of 1, 2, 3, 4, 5, 6, 8 .* for channels but received 7/],
    ['channels "2"', { channels: '2' }, /for channels but received "2" of type string/],
    ['bitrate "fast"', { bitrate: 'fast' }, /for bitrate but received "fast" of type string/],
    ['bitrate 1e9', { bitrate: 1e9 }, /integer between 8000 and 512000/],
    ['format "wav"', { format: 'wav' }, /Expected one of 'm4a', 'mp4', 'adts', 'fmp4', 'ogg', 'webm', 'mp3' for format but received "wav"/],
    ['aacCoder "anmr"', { aacCoder: 'anmr' }, /Expected one of 'twoloop', 'fast' for aacCoder/],
    ['faststart "yes"', { faststart: 'yes' }, /Expected boolean for faststart/],
    ['faststart with adts', { format: 'adts', faststart: true }, /faststart applies to m4a and mp4/],
    ['inputFormat "mp3; rm"', { inputFormat: 'mp3; rm' }, /for inputFormat/],
    ['inputFormat unknown', { inputFormat: 'nosuchdemuxer' }, /a demuxer name this libav has/],
    ['maxInputBytes 0', { maxInputBytes: 0 }, /for maxInputBytes but received 0/],
    ['maxOutputBytes 1.5', { maxOutputBytes: 1.5 }, /for maxOutputBytes/],
    ['maxDurationSeconds -1', { maxDurationSeconds: -1 }, /for maxDurationSeconds/],
    ['timeoutMs NaN', { timeoutMs: Number.NaN }, /for timeoutMs but received NaN/],
    ['signal {}', { signal: {} }, /Expected an AbortSignal for signal/],
    ['a typo', { bitRate: 96000 }, /Unknown option 'bitRate'/],
  ];
  for (const [label, options, message] of bad) {
    it(`rejects ${label} before native work`, async () => {
      spy = spyOnNativeTranscode();
      const err = await transcode(fixture('edge.mp3'), options as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TtsavError);
      expect((err as TtsavError).code).toBe('ERR_TTSAV_OPTIONS');
      expect((err as TtsavError).message).toMatch(message);
      expect(spy.calls()).toBe(0);
    });
  }

  it('parses bitrates given as numbers and strings', () => {
    expect(parseBitrate(192000)).toBe(192000);
    expect(parseBitrate('192k')).toBe(192000);
    expect(parseBitrate('96K')).toBe(96000);
    expect(parseBitrate('64000')).toBe(64000);
    expect(parseBitrate('0.128M')).toBe(128000);
    expect(() => parseBitrate('12.5')).toThrow(TtsavError);
  });

  it('defaults to the seed recipe: m4a, AAC-LC 192k, 44.1 kHz, stereo, faststart', () => {
    const n = normalizeOptions(undefined);
    expect(n.format).toBe('m4a');
    expect(n.native).toEqual({ container: 'mp4', codec: 'aac', bitrate: 192000, sampleRate: 44100, fallbackSampleRate: 44100, channels: 2, maxChannels: 8, faststart: true });
    expect(normalizeOptions({ format: 'adts' }).native.faststart).toBe(false);
  });

  it('applies options to the output', async () => {
    const r = await transcode(fixture('edge.mp3'), { format: 'adts', bitrate: '64k', sampleRate: 24000, channels: 1, aacCoder: 'fast' });
    expect(r).toMatchObject({ format: 'adts', codec: 'aac', sampleRate: 24000, channels: 1, bitrate: 64000 });
    expect(r.data.subarray(0, 2).readUInt16BE(0) & 0xfff6).toBe(0xfff0); // ADTS sync word, layer 0
    expect(r.input).toMatchObject({ format: 'mp3', sampleRate: 24000, channels: 1 });
    // Each stage is a part of the job: no more than the whole; decoding and encoding real audio were timed.
    for (const stage of ['probe', 'analyze', 'decode', 'filter', 'encode', 'mux'] as const)
      expect(r.timings[stage]).toBeLessThanOrEqual(r.timings.total);
    expect(r.timings.decode).toBeGreaterThan(0);
    expect(r.timings.encode).toBeGreaterThan(0);
    expect(r.timings.analyze).toBe(0); // no filter here needs a first pass
  });
});
