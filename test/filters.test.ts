/** Filters, concat, loudness report, probe and hardware devices. */
import { describe, expect, it } from 'vitest';
import { TtsavError, concat, hwDevices, probe, transcode } from '../lib/index';
import { decodeCheck, decodePcm, ebur128, fixture, rms } from './helpers/media';

const FRAME = 1024; // one AAC frame, in samples

async function optionError(p: Promise<unknown>): Promise<TtsavError> {
  const err = (await p.catch((e: unknown) => e)) as TtsavError;
  expect(err).toBeInstanceOf(TtsavError);
  expect(err.code).toBe('ERR_TTSAV_OPTIONS');
  return err;
}

describe('loudness normalization', () => {
  for (const name of ['loud30.wav', 'loud10.wav']) {
    it(`${name} lands at -16 LUFS ±1 LU, true peak ≤ -1.5 + 0.5 dBTP (measured by ffmpeg ebur128)`, async () => {
      const before = ebur128(fixture(name));
      const r = await transcode(fixture(name), { filters: { loudness: { integrated: -16, truePeak: -1.5 } } });
      const after = ebur128(r.data);
      expect(Math.abs(after.integrated - -16)).toBeLessThanOrEqual(1);
      expect(after.truePeak).toBeLessThanOrEqual(-1.5 + 0.5);
      expect(r.normalization?.mode).toMatch(/^(linear|dynamic)$/);
      expect(Math.abs(r.normalization!.measured.integrated - before.integrated)).toBeLessThan(1);
    });
  }

  it('uses one linear gain when that does not clip', async () => {
    // -10 LUFS down to -20: a plain -10 dB, peaks fall with it.
    const r = await transcode(fixture('loud10.wav'), { filters: { loudness: { integrated: -20, truePeak: -1 } } });
    expect(r.normalization?.mode).toBe('linear');
    expect(r.normalization?.gainDb).toBeCloseTo(-20 - r.normalization!.measured.integrated, 6);
    expect(Math.abs(ebur128(r.data).integrated - -20)).toBeLessThanOrEqual(0.5);
  });

  it('falls back to dynamic mode where linear gain would clip', async () => {
    const r = await transcode(fixture('loud30.wav'), { filters: { loudness: true } });
    expect(r.normalization?.mode).toBe('dynamic');
  });

  it('measure: true reports the output loudness as ffmpeg measures it', async () => {
    const r = await transcode(fixture('speech.flac'), { measure: true });
    const cli = ebur128(r.data);
    expect(r.loudness).toBeDefined();
    expect(Math.abs(r.loudness!.integrated - cli.integrated)).toBeLessThan(0.5);
    expect(Math.abs(r.loudness!.truePeak - cli.truePeak)).toBeLessThan(1);
  });
});

describe('filters', () => {
  it('tempo 1.5 shortens by 1.5x ±1%', async () => {
    const plain = await transcode(fixture('speech.wav'));
    const fast = await transcode(fixture('speech.wav'), { filters: { tempo: 1.5 } });
    expect(fast.samples / plain.samples).toBeGreaterThan((1 / 1.5) * 0.99);
    expect(fast.samples / plain.samples).toBeLessThan((1 / 1.5) * 1.01);
    // Tempo beyond atempo's best range is chained: 3x
    const faster = await transcode(fixture('speech.wav'), { filters: { tempo: 3 } });
    expect(Math.abs(faster.samples / plain.samples - 1 / 3)).toBeLessThan(0.01);
  });

  it('trimSilence removes a padded second at each end', async () => {
    const plain = await transcode(fixture('speech.wav'));
    const padded = await transcode(fixture('padded.wav'));
    expect(padded.samples - plain.samples).toBeGreaterThan(2 * 44100 - FRAME);
    const trimmed = await transcode(fixture('padded.wav'), { filters: { trimSilence: true } });
    // espeak's own leading/trailing quiet goes too: at most what the unpadded speech had.
    expect(trimmed.samples).toBeLessThanOrEqual(plain.samples);
    expect(trimmed.samples).toBeGreaterThan(plain.samples - 0.5 * 44100);
    const startOnly = await transcode(fixture('padded.wav'), { filters: { trimSilence: { end: false } } });
    expect(startOnly.samples - trimmed.samples).toBeGreaterThan(44100 - FRAME);
  });

  it('pad adds exactly the asked silence; fades keep the length', async () => {
    const plain = await transcode(fixture('speech.wav'));
    const padded = await transcode(fixture('speech.wav'), { filters: { pad: { before: 500, after: 250 } } });
    expect(padded.samples - plain.samples).toBe(Math.round(0.75 * 44100));
    // A steady tone makes the fades measurable: loudness ramps up over the first 300 ms, down over the last.
    const tone = (await transcode(fixture('wideband.flac'), { filters: { fadeIn: 300, fadeOut: 300 } })).data;
    const pcm = decodePcm(tone, 44100);
    const ms = (t: number): number => Math.round((t / 1000) * 44100);
    const middle = rms(pcm, ms(3000), ms(4000));
    const end = pcm.length;
    expect(rms(pcm, 0, ms(20))).toBeLessThan(middle * 0.15);
    expect(rms(pcm, ms(140), ms(160))).toBeGreaterThan(middle * 0.3);
    expect(rms(pcm, ms(140), ms(160))).toBeLessThan(middle * 0.7);
    expect(rms(pcm, ms(400), ms(500))).toBeGreaterThan(middle * 0.9);
    expect(rms(pcm, end - ms(20), end)).toBeLessThan(middle * 0.15);
    const faded = await transcode(fixture('speech.wav'), { filters: { fadeIn: 300, fadeOut: 300 } });
    expect(faded.samples).toBe(plain.samples);
  });

  it('volume changes the level by the asked gain', async () => {
    const plain = ebur128((await transcode(fixture('speech.flac'))).data);
    const louder = ebur128((await transcode(fixture('speech.flac'), { filters: { volume: -6 } })).data);
    expect(Math.abs(louder.integrated - (plain.integrated - 6))).toBeLessThan(0.3);
  });

  it('a raw filter chain runs last', async () => {
    const r = await transcode(fixture('speech.wav'), { filters: { filter: 'highpass=f=200,atrim=end=1' } });
    expect(r.samples).toBe(44100);
  });

  it('raw filter mistakes and dangerous filters are option errors with the reason', async () => {
    const input = fixture('edge.mp3');
    expect((await optionError(transcode(input, { filters: { filter: 'nosuchfilter=1' } }))).message).toMatch(/invalid filter 'nosuchfilter=1'/);
    expect((await optionError(transcode(input, { filters: { filter: 'volume=loud' } }))).message).toMatch(/invalid filter/);
    expect((await optionError(transcode(input, { filters: { filter: 'amovie=/etc/passwd[m];[in][m]amix' } }))).message).toMatch(/'amovie' is not allowed/);
    // A source filter (no input) is refused; abuffer is one that every build has (the bundled FFmpeg has no sine).
    expect((await optionError(transcode(input, { filters: { filter: 'abuffer=sample_rate=44100:sample_fmt=flt:channel_layout=mono' } }))).message).toMatch(/source filter 'abuffer'/);
    expect((await optionError(transcode(input, { filters: { volume: 3, loudness: true } }))).message).toMatch(/use one of them/);
    expect((await optionError(transcode(input, { filters: { tempo: 5 } }))).message).toMatch(/between 0.5 and 4 for filters.tempo/);
    expect((await optionError(transcode(input, { filters: { fade: 3 } as never }))).message).toMatch(/Unknown option 'filters.fade'/);
    expect((await optionError(transcode(input, { format: 'flac' as never }))).message).toMatch(/for format but received "flac"/);
  });
});

describe('concat', () => {
  it('joins 3 clips of different rates and layouts with 300 ms gaps: durations add up ±1 frame', async () => {
    const clips = [fixture('edge.mp3'), fixture('stereo48k.wav'), fixture('speech.opus')];
    const singles = await Promise.all(clips.map((c) => transcode(c)));
    const joined = await concat(clips, { gapMs: 300 });
    const expected = singles.reduce((n, r) => n + r.samples, 0) + 2 * Math.round(0.3 * 44100);
    expect(joined.inputs).toBe(3);
    expect(Math.abs(joined.samples - expected)).toBeLessThanOrEqual(FRAME);
    const d = decodeCheck(joined.data, 2);
    expect(d.errors).toBe('');
    expect(Math.abs(d.samples - joined.samples)).toBeLessThanOrEqual(FRAME);
  });

  it('names the failing input', async () => {
    const err = (await concat([fixture('edge.mp3'), fixture('cut37.mp3')]).catch((e) => e)) as TtsavError;
    expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
    expect(err.message).toMatch(/^input 1: input is truncated/);
  });

  it('gapMs belongs to concat only', async () => {
    await optionError(transcode(fixture('edge.mp3'), { gapMs: 300 } as never));
  });
});

describe('probe', () => {
  it('describes an EdgeTTS-like MP3 without decoding it', async () => {
    const p = await probe(fixture('edge.mp3'));
    expect(p).toMatchObject({ container: 'mp3', codec: 'mp3', sampleRate: 24000, channels: 1, layout: 'mono', bitrate: 48000, durationEstimated: false });
    expect(p.durationSeconds).toBeGreaterThan(7);
    expect(p.tags.encoder).toMatch(/^Lavf/);
  });

  it('reads other containers and flags guessed durations', async () => {
    expect(await probe(fixture('speech.opus'))).toMatchObject({ container: 'ogg', codec: 'opus', channels: 1 });
    expect(await probe(fixture('stereo48k.wav'))).toMatchObject({ container: 'wav', codec: 'pcm_s16le', sampleRate: 48000, channels: 2, layout: 'stereo' });
    const adts = (await transcode(fixture('edge.mp3'), { format: 'adts' })).data;
    const p = await probe(adts);
    expect(p).toMatchObject({ container: 'aac', codec: 'aac', durationEstimated: true });
  });

  it('fails with the same codes as transcode', async () => {
    expect(((await probe(Buffer.alloc(0)).catch((e) => e)) as TtsavError).code).toBe('ERR_TTSAV_INVALID_DATA');
    expect(((await probe(fixture('video-only.mp4')).catch((e) => e)) as TtsavError).code).toBe('ERR_TTSAV_UNSUPPORTED');
    expect(((await probe(fixture('edge.mp3'), { bogus: 1 } as never).catch((e) => e)) as TtsavError).code).toBe('ERR_TTSAV_OPTIONS');
  });
});

describe('hardware devices', () => {
  it('hwDevices() lists the libav device types, each available or with a reason', async () => {
    const list = await hwDevices();
    expect(list.length).toBeGreaterThan(0);
    for (const d of list) {
      expect(typeof d.type).toBe('string');
      if (!d.available) expect(d.reason).toMatch(/cannot create a \w+ device/);
    }
    expect(list.map((d) => d.type)).toContain('cuda');
    // Cached: the same answer without trying again.
    expect(await hwDevices()).toEqual(list);
  });

  it("hwaccel is not an audio option (audio always runs on the CPU): refused as unknown; results say 'none'", async () => {
    const err = (await transcode(fixture('edge.mp3'), { hwaccel: 'cuda', format: 'adts' } as never).catch((e: unknown) => e)) as TtsavError;
    expect(err.code).toBe('ERR_TTSAV_OPTIONS');
    expect(err.message).toMatch(/Unknown option 'hwaccel'/);
    expect((await transcode(fixture('edge.mp3'), { format: 'adts' })).hwaccel).toBe('none');
  });
});
