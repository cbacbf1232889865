/** Presets map to real encoder settings; every output format decodes; streamable formats cut cleanly. */
import { describe, expect, it } from 'vitest';
import { TtsavError, formats, presets, transcode, type OutputFormat } from '../lib/index';
import { decodeCheck, ffprobeStream, fixture, topLevelBoxes } from './helpers/media';

describe('presets', () => {
  // Full-band content, so that the average-bitrate encoder has to spend what it is given.
  const cases = [
    { preset: 'balanced', rate: 44100, channels: 2, bitrate: 192000 },
    { preset: 'high_quality', rate: 48000, channels: 2, bitrate: 256000 },
    { preset: 'high_speed', rate: 44100, channels: 2, bitrate: 128000 },
    // speech keeps the source's rate when AAC has it (48 kHz here, 24 kHz for EdgeTTS-like MP3 below)
    { preset: 'speech', rate: 48000, channels: 1, bitrate: 64000 },
  ] as const;
  for (const c of cases) {
    it(`${c.preset}: ffprobe shows AAC ${c.rate} Hz, ${c.channels} ch, ${c.bitrate / 1000}k ±10%`, async () => {
      const r = await transcode(fixture('wideband.flac'), { preset: c.preset });
      const s = ffprobeStream(r.data);
      expect(s).toMatchObject({ codec: 'aac', sampleRate: c.rate, channels: c.channels });
      expect(Math.abs(s.bitrate - c.bitrate) / c.bitrate).toBeLessThan(0.1);
      expect(r.bitrate).toBe(c.bitrate);
      expect(Math.abs(r.averageBitrate - s.bitrate) / s.bitrate).toBeLessThan(0.02);
    });
  }

  it('speech on EdgeTTS-like MP3: mono at its 24 kHz', async () => {
    const r = await transcode(fixture('edge.mp3'), { preset: 'speech' });
    expect(ffprobeStream(r.data)).toMatchObject({ codec: 'aac', sampleRate: 24000, channels: 1 });
  });

  it('speech keeps a valid source rate (22.05 kHz WAV) and explicit options override a preset', async () => {
    const wav = await transcode(fixture('speech.wav'), { preset: 'speech' });
    expect(wav.sampleRate).toBe(22050);
    const over = await transcode(fixture('edge.mp3'), { preset: 'speech', sampleRate: 44100, bitrate: '96k' });
    expect(ffprobeStream(over.data)).toMatchObject({ sampleRate: 44100, channels: 1 });
    expect(over.bitrate).toBe(96000);
  });

  it('balanced is the default and exported presets list their fields', () => {
    expect(presets.high_quality.sampleRate).toBe(48000);
    expect(presets.balanced).toEqual({ bitrate: 192000, sampleRate: 44100, channels: 2, aacCoder: 'twoloop', profile: 'aac_low' });
    expect(Object.keys(presets).sort()).toEqual(['balanced', 'high_quality', 'high_speed', 'speech']);
    expect(Object.isFrozen(presets.speech)).toBe(true);
  });

  it('an unknown preset is an option error naming the presets', async () => {
    const err = (await transcode(fixture('edge.mp3'), { preset: 'ultrafast' as never }).catch((e) => e)) as TtsavError;
    expect(err.code).toBe('ERR_TTSAV_OPTIONS');
    expect(err.message).toMatch(/'balanced', 'high_quality', 'high_speed', 'speech' for preset but received "ultrafast"/);
  });
});

describe('output formats', () => {
  const expected: Record<OutputFormat, { codec: string; rate: number }> = {
    m4a: { codec: 'aac', rate: 44100 },
    mp4: { codec: 'aac', rate: 44100 },
    adts: { codec: 'aac', rate: 44100 },
    fmp4: { codec: 'aac', rate: 44100 },
    ogg: { codec: 'opus', rate: 48000 },
    webm: { codec: 'opus', rate: 48000 },
    mp3: { codec: 'mp3', rate: 44100 },
  };

  it('formats() reports every format available in this libav', () => {
    const list = formats();
    expect(list.map((f) => f.format).sort()).toEqual(Object.keys(expected).sort());
    for (const f of list) expect(f.available).toBe(true);
  });

  for (const format of Object.keys(expected) as OutputFormat[]) {
    it(`${format}: decodes with ffmpeg, whole, at the promised codec and rate`, async () => {
      const r = await transcode(fixture('edge.mp3'), { format });
      expect(r.codec).toBe(expected[format].codec);
      const s = ffprobeStream(r.data);
      expect(s.codec).toBe(expected[format].codec);
      expect(s.sampleRate).toBe(expected[format].rate);
      const d = decodeCheck(r.data, 2);
      expect(d.errors).toBe('');
      // Decoded length matches what was encoded (ADTS and MP3 without a gapless tag may keep the encoder delay).
      expect(Math.abs(d.samples - r.samples)).toBeLessThanOrEqual(2 * 1152);
    });
  }

  it('opus resamples to 48 kHz without being asked, and rejects a rate it cannot take', async () => {
    const r = await transcode(fixture('speech.wav'), { format: 'ogg' });
    expect(r.sampleRate).toBe(48000);
    const err = (await transcode(fixture('speech.wav'), { format: 'ogg', sampleRate: 44100 }).catch((e) => e)) as TtsavError;
    expect(err.code).toBe('ERR_TTSAV_OPTIONS');
    expect(err.message).toMatch(/OPUS rates 48000, 24000, 16000, 12000, 8000/);
  });

  it('fmp4 is playable when cut after any fragment', async () => {
    const r = await transcode(fixture('long.mp3'), { format: 'fmp4', maxDurationSeconds: 900, filters: { filter: 'atrim=end=5' } });
    const boxes = topLevelBoxes(r.data);
    expect(boxes.slice(0, 2).map((b) => b.type)).toEqual(['ftyp', 'moov']);
    const moofs = boxes.filter((b) => b.type === 'moof');
    expect(moofs.length).toBeGreaterThanOrEqual(4); // about one fragment per second
    let previous = 0;
    for (let i = 0; i < boxes.length; i++) {
      if (boxes[i]!.type !== 'mdat') continue;
      const cut = r.data.subarray(0, boxes[i]!.offset + boxes[i]!.size);
      const d = decodeCheck(cut, 2);
      expect(d.errors).toBe('');
      expect(d.samples).toBeGreaterThan(previous);
      previous = d.samples;
    }
    // ffmpeg 5.1 ignores the edit list in fragmented files: it plays the encoder's 1024 priming samples and the
    // last frame's padding.
    expect(previous - r.samples).toBeGreaterThanOrEqual(0);
    expect(previous - r.samples).toBeLessThan(2048);
  });

  it('adts is playable when cut at any frame boundary', async () => {
    const r = await transcode(fixture('edge.mp3'), { format: 'adts' });
    const frames: number[] = [];
    for (let off = 0; off + 7 <= r.data.length; ) {
      expect(r.data.readUInt16BE(off) & 0xfff0).toBe(0xfff0);
      const len = ((r.data[off + 3]! & 0x03) << 11) | (r.data[off + 4]! << 3) | (r.data[off + 5]! >> 5);
      off += len;
      frames.push(off);
    }
    expect(frames.at(-1)).toBe(r.data.length);
    for (const end of [frames[9]!, frames[Math.floor(frames.length / 2)]!, frames.at(-2)!]) {
      const d = decodeCheck(r.data.subarray(0, end), 2);
      expect(d.errors).toBe('');
      expect(d.samples).toBeGreaterThan(0);
    }
  });

  it('aacCoder and faststart are refused where they do not apply', async () => {
    for (const options of [{ format: 'mp3', aacCoder: 'fast' }, { format: 'fmp4', faststart: true }] as const) {
      const err = (await transcode(fixture('edge.mp3'), options).catch((e) => e)) as TtsavError;
      expect(err.code).toBe('ERR_TTSAV_OPTIONS');
    }
  });
});
