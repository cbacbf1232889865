/**
 * The ffmpeg CLI from the same libav is the oracle: at the seed settings (AAC-LC 192k, 44.1 kHz, stereo, MP4)
 * ttsav's output must be byte-identical to `ffmpeg -i in -c:a aac -b:a 192k -ar 44100 -ac 2 -f mp4 out`.
 */
import { describe, expect, it } from 'vitest';
import { transcode } from '../lib/index';
import { decodedSamples, ffmpegSeedRecipe, ffprobe, fixture, fixturePath, topLevelBoxes } from './helpers/media';

const INPUTS = [
  { name: 'edge.mp3', what: '24 kHz mono 48k MP3, like EdgeTTS' },
  { name: 'speech.wav', what: '22.05 kHz mono PCM WAV' },
  { name: 'stereo48k.wav', what: '48 kHz stereo PCM WAV' },
  { name: 'speech.flac', what: 'FLAC' },
  { name: 'speech.opus', what: 'Ogg/Opus' },
  { name: 'speech.m4a', what: 'AAC in M4A' },
];

describe('byte identity with the ffmpeg CLI', () => {
  for (const input of INPUTS) {
    it(`${input.name} (${input.what})`, async () => {
      const result = await transcode(fixture(input.name), { faststart: false });
      const expected = ffmpegSeedRecipe(fixturePath(input.name));
      expect(result.data.length).toBe(expected.length);
      expect(Buffer.compare(result.data, expected)).toBe(0);
    });
  }

  it('holds with the input format named (probing skipped)', async () => {
    const result = await transcode(fixture('edge.mp3'), { faststart: false, inputFormat: 'mp3' });
    expect(Buffer.compare(result.data, ffmpegSeedRecipe(fixturePath('edge.mp3')))).toBe(0);
  });
});

describe('faststart in memory', () => {
  it('puts moov before mdat by default, and ffprobe reads the right duration', async () => {
    const result = await transcode(fixture('edge.mp3'));
    expect(result.format).toBe('m4a');
    const boxes = topLevelBoxes(result.data).map((b) => b.type);
    expect(boxes[0]).toBe('ftyp');
    expect(boxes.indexOf('moov')).toBeGreaterThan(-1);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    const probe = ffprobe(result.data);
    expect(probe.codec).toBe('aac');
    expect(probe.sampleRate).toBe(44100);
    expect(probe.channels).toBe(2);
    expect(Math.abs(probe.duration - result.durationSeconds)).toBeLessThan(0.01);
  });

  it('holds the same audio as the file without faststart', async () => {
    const [fast, plain] = await Promise.all([
      transcode(fixture('speech.flac')),
      transcode(fixture('speech.flac'), { faststart: false }),
    ]);
    const plainBoxes = topLevelBoxes(plain.data).map((b) => b.type);
    expect(plainBoxes.indexOf('mdat')).toBeLessThan(plainBoxes.indexOf('moov'));
    expect(fast.data.length).toBe(plain.data.length);
    expect(decodedSamples(fast.data, 2)).toBe(decodedSamples(plain.data, 2));
  });
});

describe('decoded sample counts', () => {
  const settings = [
    { label: 'seed settings', options: {} as const, channels: 2, rate: 44100 },
    { label: 'mono 24 kHz adts', options: { format: 'adts', channels: 1, sampleRate: 24000, bitrate: '64k' } as const, channels: 1, rate: 24000 },
    { label: 'stereo 48 kHz mp4 fast coder', options: { format: 'mp4', sampleRate: 48000, aacCoder: 'fast' } as const, channels: 2, rate: 48000 },
  ];
  for (const input of INPUTS) {
    for (const s of settings) {
      it(`${input.name}, ${s.label}: output samples match the input's, scaled by the rate ratio`, async () => {
        const data = fixture(input.name);
        const result = await transcode(data, s.options);
        expect(result.sampleRate).toBe(s.rate);
        expect(result.channels).toBe(s.channels);
        // What the input decodes to, counted by the CLI.
        const inputSamples = decodedSamples(data, result.input.channels);
        expect(result.input.samples).toBe(inputSamples);
        const expected = (inputSamples * s.rate) / result.input.sampleRate;
        // What the output decodes to (priming dropped by the edit list for MP4; ADTS keeps its 1024 samples).
        const outputSamples = decodedSamples(result.data, s.channels);
        expect(Math.abs(outputSamples - expected)).toBeLessThanOrEqual(1024 + (s.options.format === 'adts' ? 1024 : 0));
        expect(Math.abs(result.samples - expected)).toBeLessThanOrEqual(1);
        expect(result.durationSeconds).toBeCloseTo(result.samples / s.rate, 9);
      });
    }
  }
});
