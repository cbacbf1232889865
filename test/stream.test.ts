/** Streaming: chunks in, AAC out before the input ends, identical to buffer mode. */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TtsavError, createTranscodeStream, transcode, type TranscodeStreamOptions } from '../lib/index';
import { decodeCheck, decodePcm, ffmpeg, fixture, fixturePath, sinePcm16, topLevelBoxes } from './helpers/media';

/** A small deterministic PRNG, so chunkings are reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function streamThrough(input: Buffer, options: TranscodeStreamOptions, sizes: () => number): Promise<{ out: Buffer; chunks: Buffer[] }> {
  const s = createTranscodeStream(options);
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(s, 'end');
  for (let off = 0; off < input.length; ) {
    const n = Math.max(1, Math.min(input.length - off, sizes()));
    if (!s.write(input.subarray(off, off + n))) await once(s, 'drain');
    off += n;
  }
  s.end();
  await ended;
  return { out: Buffer.concat(chunks), chunks };
}

describe('createTranscodeStream', () => {
  const chunkings: [string, (r: () => number) => () => number][] = [
    ['1-byte chunks', () => () => 1],
    ['random 1 B – 64 KB', (r) => () => 1 + Math.floor(r() ** 3 * 65536)],
    ['random 100 B – 2 KB', (r) => () => 100 + Math.floor(r() * 1900)],
    ['one 64 KB chunk', () => () => 65536],
  ];
  for (const [label, make] of chunkings) {
    it(`MP3 in ${label}: output identical to buffer-mode transcode(), so the decoded PCM is too`, async () => {
      const input = fixture('edge.mp3');
      const buffer = await transcode(input, { format: 'adts' });
      const { out } = await streamThrough(input, {}, make(prng(label.length)));
      expect(out.length).toBe(buffer.data.length);
      expect(Buffer.compare(out, buffer.data)).toBe(0);
      expect(Buffer.compare(ffmpeg(['-i', '-', '-f', 's16le', '-'], out), ffmpeg(['-i', '-', '-f', 's16le', '-'], buffer.data))).toBe(0);
    });
  }

  it('ADTS input and declared PCM input stream like their buffer-mode counterparts', async () => {
    const adts = (await transcode(fixture('edge.mp3'), { format: 'adts', channels: 1, sampleRate: 24000, bitrate: '64k' })).data;
    const fromAdts = await streamThrough(adts, { inputFormat: 'adts', preset: 'speech' }, () => 777);
    const bufAdts = await transcode(adts, { format: 'adts', preset: 'speech' });
    expect(Buffer.compare(fromAdts.out, bufAdts.data)).toBe(0);

    const pcm = ffmpeg(['-i', fixturePath('speech.wav'), '-f', 's16le', '-acodec', 'pcm_s16le', '-']);
    const fromPcm = await streamThrough(pcm, { inputFormat: { codec: 'pcm_s16le', sampleRate: 22050, channels: 1 } }, () => 333);
    const bufPcm = await transcode(fixture('speech.wav'), { format: 'adts' });
    expect(Buffer.compare(fromPcm.out, bufPcm.data)).toBe(0);
  });

  it('emits output before the input ends: after no more audio than the codec delays need', async () => {
    // MP3 frames arrive one by one, as from a TTS service speaking in real time.
    const input = fixture('edge.mp3');
    const s = createTranscodeStream({});
    let firstAt: { inputSamples: number; outputSamples: number } | undefined;
    s.on('data', () => {
      firstAt ??= { inputSamples: s.stats.inputSamples, outputSamples: s.stats.outputSamples };
    });
    for (let off = 0; off < input.length && !firstAt; off += 144) {
      s.write(input.subarray(off, off + 144)); // 144 bytes = one 48 kb/s 24 kHz MP3 frame (576 samples)
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(firstAt).toBeDefined();
    // The AAC encoder emits its first packet once it holds two frames (its 1024-sample priming plus one):
    // what it needed, not more. The MP3 side adds at most one frame of its own.
    expect(firstAt!.outputSamples).toBeLessThanOrEqual(2 * 1024);
    expect(firstAt!.inputSamples).toBeLessThanOrEqual(Math.ceil((2 * 1024 * 24000) / 44100) + 576);
    s.destroy();
  });

  for (const format of ['adts', 'fmp4'] as const) {
    it(`${format} output cut at any chunk boundary is playable`, async () => {
      const { chunks } = await streamThrough(fixture('edge.mp3'), { format, fragmentMs: 500 }, () => 4096);
      expect(chunks.length).toBeGreaterThan(3);
      let total = 0;
      let previous = -1;
      for (let k = 1; k <= chunks.length; k++) {
        total += chunks[k - 1]!.length;
        if (format === 'fmp4' && k === 1) continue; // the init segment alone holds no audio
        const d = decodeCheck(Buffer.concat(chunks.slice(0, k)), 2);
        expect(d.errors).toBe('');
        expect(d.samples).toBeGreaterThanOrEqual(previous);
        previous = d.samples;
      }
      if (format === 'fmp4') expect(topLevelBoxes(Buffer.concat(chunks)).slice(0, 2).map((b) => b.type)).toEqual(['ftyp', 'moov']);
      expect(total).toBeGreaterThan(0);
    });
  }

  it('filters that need no lookahead work; ones that need the end are refused', async () => {
    const plain = await streamThrough(fixture('edge.mp3'), {}, () => 1000);
    const fast = await streamThrough(fixture('edge.mp3'), { filters: { tempo: 2, fadeIn: 100, volume: -3 } }, () => 1000);
    const pa = decodePcm(plain.out, 44100).length;
    const pf = decodePcm(fast.out, 44100).length;
    expect(Math.abs(pf / pa - 0.5)).toBeLessThan(0.02);
    expect(() => createTranscodeStream({ filters: { fadeOut: 100 } })).toThrow(/cannot see its end/);
    expect(() => createTranscodeStream({ filters: { trimSilence: true } })).toThrow(/cannot see its end/);
    expect(() => createTranscodeStream({ timeoutMs: 5 } as never)).toThrow(/does not apply to streams/);
  });

  it('bad input is a TtsavError event; a stream with no audio too', async () => {
    const garbage = createTranscodeStream({});
    const failed = once(garbage, 'error');
    garbage.end(Buffer.from('this is not an mp3 stream at all, just text'));
    const [err] = (await failed) as [TtsavError];
    expect(err).toBeInstanceOf(TtsavError);
    expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
  });

  // Fuzzer findings (native/fuzz/regressions/): ADTS whose program config element declares 39 channels (no layout
  // to remix from), and one declaring LFE+BL+BR+SL+SR+LFE2 (a layout libswresample finds no remix for). Streams
  // failed building their graph and reported ERR_TTSAV_OPTIONS; both are the input's doing.
  it.each([
    ['stream-adts-39-channels-pce.bin', /39 channels/],
    // FFmpeg 5.1 decodes this PCE to a 6-channel layout it cannot remix; 7.1 to 9 channels with no layout.
    ['stream-adts-pce-layout-without-remix.bin', /cannot convert 6 channels \(LFE\+BL\+BR\+SL\+SR\+LFE2\)|9 channels with no channel layout/],
  ])('audio the converter cannot take is ERR_TTSAV_UNSUPPORTED, as in buffer mode (%s)', async (name, message) => {
    const input = readFileSync(path.join(__dirname, '..', 'native', 'fuzz', 'regressions', name)).subarray(8);
    const s = createTranscodeStream({ inputFormat: 'adts' });
    s.resume();
    const failed = once(s, 'error');
    for (let off = 0; off < input.length; off += 38) s.write(input.subarray(off, off + 38));
    s.end();
    const [err] = (await failed) as [TtsavError];
    expect(err.code, err.message).toBe('ERR_TTSAV_UNSUPPORTED');
    expect(err.message).toMatch(message);
    await expect(transcode(input, { inputFormat: 'aac', format: 'adts' })).rejects.toMatchObject({ code: 'ERR_TTSAV_UNSUPPORTED' });
  });

  it('destroy() mid-way frees the session; an AbortSignal destroys with ERR_TTSAV_ABORTED', async () => {
    const input = fixture('long.mp3');
    for (let i = 0; i < 50; i++) {
      const s = createTranscodeStream({ preset: 'speech' });
      s.on('data', () => {});
      s.write(input.subarray(0, 20000));
      s.write(input.subarray(20000, 40000));
      s.destroy();
    }
    const controller = new AbortController();
    const s = createTranscodeStream({ signal: controller.signal });
    s.on('data', () => {});
    const failed = once(s, 'error');
    s.write(input.subarray(0, 50000));
    controller.abort();
    const [err] = (await failed) as [TtsavError];
    expect(err.code).toBe('ERR_TTSAV_ABORTED');
    // The pool still serves.
    expect((await transcode(fixture('edge.mp3'), { format: 'adts' })).samples).toBeGreaterThan(0);
  });

  it('ten minutes of PCM stream through with flat memory', async () => {
    const rate = 24000;
    const second = sinePcm16(rate, { sampleRate: rate });
    const s = createTranscodeStream({ preset: 'speech', inputFormat: { codec: 'pcm_s16le', sampleRate: rate, channels: 1 } });
    let bytes = 0;
    s.on('data', (c: Buffer) => (bytes += c.length));
    const rss: number[] = [];
    for (let t = 0; t < 600; t++) {
      if (!s.write(second)) await once(s, 'drain');
      if (t % 60 === 59) rss.push(process.memoryUsage().rss);
    }
    s.end();
    await once(s, 'end');
    expect(s.stats.inputSamples).toBe(600 * rate);
    expect(Math.abs(s.stats.outputSamples - 600 * rate)).toBeLessThanOrEqual(1);
    expect(bytes).toBeGreaterThan(600 * 40000 / 8);
    // After the first minute, memory stays flat.
    expect(Math.max(...rss.slice(1)) - rss[1]!).toBeLessThan(16 * 1024 * 1024);
  });
});
