/**
 * Damaged and empty input: a header that holds no audio is an error everywhere (transcode, concat, the pool, the
 * CLI, streams); decodeErrors 'fail' and 'conceal' on bit-flipped, truncated-mid-frame and junk-prefixed inputs
 * (all generated here); and result.warnings, empty on clean input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TtsavError, concat, createLiveFeed, createPool, createTranscodeStream, transcode, type TranscodeStream, type TranscodeStreamOptions } from '../lib/index';
import { ffmpeg, fixture, fixturePath, sinePcm16, wavHeader } from './helpers/media';
import { rejection } from './helpers/rejection';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const TMP = mkdtempSync(path.join(os.tmpdir(), 'ttsav-damaged-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** A canonical 44-byte PCM WAV header (16 kHz mono s16) that declares `declared` data bytes and holds none. */
const headerOnlyWav = (declared = 32000): Buffer => wavHeader({ dataBytes: declared });


describe('zero audio is an error', () => {
  it('transcode() rejects a 44-byte header-only WAV with ERR_TTSAV_INVALID_DATA "no audio decoded"', async () => {
    for (const declared of [0, 32000]) {
      const wav = headerOnlyWav(declared);
      expect(wav.length).toBe(44);
      const err = await rejection(transcode(wav));
      expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
      expect(err.stage).toBe('decode');
      expect(err.message).toMatch(/no audio decoded/);
    }
  });

  it('concat() names the input that held no audio', async () => {
    const err = await rejection(concat([fixture('edge.mp3'), headerOnlyWav()]));
    expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
    expect(err.message).toMatch(/^input 1: no audio decoded/);
  });

  it('the pool fails the job and counts it by code', async () => {
    const pool = createPool({ concurrency: 1 });
    try {
      const err = await rejection(pool.transcode(headerOnlyWav()));
      expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
      expect(pool.metrics().jobs.failedByCode.ERR_TTSAV_INVALID_DATA).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a stream that ends without audio fails with the same code', async () => {
    const stream = createTranscodeStream({ inputFormat: { codec: 'pcm_s16le', sampleRate: 16000, channels: 1 } });
    const err = await new Promise<TtsavError>((resolve) => {
      stream.on('error', (e) => resolve(e as TtsavError));
      stream.resume();
      stream.end();
    });
    expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
    expect(err.message).toMatch(/no audio decoded/);
  });

  it('the CLI exits 1 and writes no output file', () => {
    const input = path.join(TMP, 'empty.wav');
    const output = path.join(TMP, 'empty.m4a');
    writeFileSync(input, headerOnlyWav());
    const r = spawnSync(process.execPath, [CLI, 'transcode', input, '-o', output], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_TTSAV_INVALID_DATA \[decode\]: no audio decoded/);
    expect(spawnSync('test', ['-e', output]).status).not.toBe(0);
  });
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` bytes inverted at random places in the middle 40% of the file (headers and the ends untouched). */
function bitFlipped(data: Buffer, count = 20, seed = 7): Buffer {
  const out = Buffer.from(data);
  const r = rng(seed);
  for (let k = 0; k < count; k++) out[Math.floor(data.length * 0.3 + r() * data.length * 0.4)]! ^= 0xff;
  return out;
}

/** `count` bytes of 7-bit junk (no MPEG sync word can start in it) before the data. */
function junkPrefixed(data: Buffer, count = 777): Buffer {
  const r = rng(3);
  const junk = Buffer.alloc(count);
  for (let i = 0; i < count; i++) junk[i] = Math.floor(r() * 128);
  return Buffer.concat([junk, data]);
}

/** A 16 kHz PCM WAV with a plain 16-byte fmt chunk (no channel mask) holding `frames` sample frames of a tone. */
function plainWav(channels: number, frames: number): Buffer {
  return Buffer.concat([wavHeader({ channels, dataBytes: frames * 2 * channels }), sinePcm16(frames, { channels, sampleRate: 16000 })]);
}

/** The FLAC with the total sample count in its STREAMINFO replaced by `total`. */
function flacDeclaring(flac: Buffer, total: number): Buffer {
  const out = Buffer.from(flac);
  expect(out.toString('latin1', 0, 4)).toBe('fLaC');
  // STREAMINFO at byte 8; its bytes 10-17: rate (20 bits), channels-1 (3), bits-1 (5), total samples (36).
  const word = out.readBigUInt64BE(18);
  out.writeBigUInt64BE((word & ~0xfffffffffn) | BigInt(total), 18);
  return out;
}

let adtsCache: Buffer | undefined;
function adts(): Buffer {
  adtsCache ??= ffmpeg(['-i', fixturePath('speech.wav'), '-c:a', 'aac', '-b:a', '64k', '-f', 'adts', '-']);
  return adtsCache;
}

const codes = (r: { warnings: { code: string }[] }): string[] => r.warnings.map((w) => w.code);

describe('result.warnings and decodeErrors', () => {
  const clean: [string, () => Buffer][] = [
    ['mp3', () => fixture('edge.mp3')],
    ['adts', adts],
    ['flac', () => fixture('speech.flac')],
    ['opus', () => fixture('speech.opus')],
    ['m4a', () => fixture('speech.m4a')],
    ['wav', () => fixture('speech.wav')],
    ['stereo wav', () => fixture('stereo48k.wav')],
  ];
  for (const [name, input] of clean) {
    it(`clean ${name}: no warnings in either mode`, async () => {
      for (const decodeErrors of ['fail', 'conceal'] as const) {
        const r = await transcode(input(), { preset: 'speech', decodeErrors });
        expect(r.warnings, decodeErrors).toEqual([]);
      }
    });
  }

  it('refuses an unknown decodeErrors value before any native work', async () => {
    const err = await rejection(transcode(fixture('edge.mp3'), { decodeErrors: 'ignore' as 'fail' }));
    expect(err.code).toBe('ERR_TTSAV_OPTIONS');
    expect(err.message).toMatch(/one of 'fail', 'conceal' for decodeErrors/);
  });

  const flipped: [string, () => Buffer][] = [
    ['adts', () => bitFlipped(adts())],
    ['m4a', () => bitFlipped(fixture('speech.m4a'))],
    ['flac', () => bitFlipped(fixture('speech.flac'))],
  ];
  for (const [name, input] of flipped) {
    it(`bit-flipped ${name}: 'fail' rejects at decode, 'conceal' decodes past the damage and counts it`, async () => {
      const err = await rejection(transcode(input(), { preset: 'speech' }));
      expect(err.code).toBe('ERR_TTSAV_INVALID_DATA');
      expect(err.stage).toBe('decode');
      const r = await transcode(input(), { preset: 'speech', decodeErrors: 'conceal' });
      // Where concealment drops whole frames (FLAC in FFmpeg 7.1) the declared duration disagrees too, and says so.
      expect(codes(r).filter((c) => c !== 'DURATION_MISMATCH')).toEqual(['DECODE_ERRORS_CONCEALED']);
      const concealed = r.warnings.find((w) => w.code === 'DECODE_ERRORS_CONCEALED')!;
      expect(concealed.message).toMatch(/^\d+ decode errors? concealed; the first: cannot decode the input: .+/);
      // Glitches, not gaps: most of the audio is there.
      expect(r.durationSeconds).toBeGreaterThan(7);
    });
  }

  it('truncated inside the last frame: both modes succeed with TRAILING_DATA', async () => {
    const flac = fixture('speech.flac');
    const wav = fixture('speech.wav');
    for (const decodeErrors of ['fail', 'conceal'] as const) {
      const f = await transcode(flac.subarray(0, flac.length - 37), { preset: 'speech', decodeErrors });
      expect(codes(f)).toEqual(['TRAILING_DATA']);
      expect(f.warnings[0]!.message).toMatch(/^the last \d+ bytes \(an incomplete or damaged final frame\) were not decoded: .*\[flac\]/);
      const w = await transcode(wav.subarray(0, wav.length - 37), { preset: 'speech', decodeErrors });
      expect(codes(w)).toEqual(['TRAILING_DATA']);
      expect(w.warnings[0]!.message).toBe('the last 1 bytes are less than a whole sample frame and were dropped');
    }
  });

  it("cut far short of its declared duration: 'fail' refuses it as truncated, 'conceal' reports it", async () => {
    const err = await rejection(transcode(fixture('cut37.mp3')));
    expect(err.message).toMatch(/^input is truncated/);
    const r = await transcode(fixture('cut37.mp3'), { decodeErrors: 'conceal' });
    expect(codes(r)).toContain('DURATION_MISMATCH');
    expect(r.warnings.find((w) => w.code === 'DURATION_MISMATCH')!.message).toMatch(/^input is truncated: decoded [\d.]+ s of the [\d.]+ s/);
  });

  it('a declared duration more than 5% off the decoded one is a warning in both modes', async () => {
    const flac = fixture('speech.flac');
    const clean = await transcode(flac, { preset: 'speech' });
    const samples = clean.input.samples;
    for (const declared of [Math.round(samples / 2), Math.round(samples * 1.07)]) {
      for (const decodeErrors of ['fail', 'conceal'] as const) {
        const r = await transcode(flacDeclaring(flac, declared), { preset: 'speech', decodeErrors });
        expect(codes(r), `${declared} ${decodeErrors}`).toEqual(['DURATION_MISMATCH']);
        expect(r.warnings[0]!.message).toMatch(/^decoded [\d.]+ s of the [\d.]+ s its container declares$/);
      }
    }
    // Within 5%: nothing to say.
    const close = await transcode(flacDeclaring(flac, Math.round(samples * 1.02)), { preset: 'speech' });
    expect(close.warnings).toEqual([]);
  });

  const junked: [string, () => Buffer][] = [
    ['mp3', () => junkPrefixed(fixture('edge.mp3'))],
    ['adts', () => junkPrefixed(adts())],
  ];
  for (const [name, input] of junked) {
    it(`junk before the first ${name} frame: both modes succeed with JUNK_SKIPPED`, async () => {
      for (const decodeErrors of ['fail', 'conceal'] as const) {
        const r = await transcode(input(), { preset: 'speech', decodeErrors });
        expect(codes(r)).toEqual(['JUNK_SKIPPED']);
        expect(r.warnings[0]!.message).toMatch(/^skipped \d+ bytes of junk before the first frame/);
        expect(r.durationSeconds).toBeGreaterThan(7);
      }
    });
  }

  it('more than two channels with no declared layout: GUESSED_LAYOUT; mono and stereo are never guessed', async () => {
    const r = await transcode(plainWav(3, 16000), { channels: 2 });
    expect(codes(r)).toEqual(['GUESSED_LAYOUT']);
    expect(r.warnings[0]!.message).toMatch(/its 3 channels .* read them as 2\.1/);
    for (const ch of [1, 2]) expect((await transcode(plainWav(ch, 16000))).warnings).toEqual([]);
  });

  it('concat names the input each warning is about', async () => {
    const r = await concat([fixture('edge.mp3'), junkPrefixed(fixture('edge.mp3'))], { preset: 'speech' });
    expect(r.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^input 1: skipped \d+ bytes of junk/)]);
  });
});

describe('warnings and decodeErrors in the pool and the CLI', () => {
  it("a pool's defaults carry decodeErrors; its metrics count warnings by code", async () => {
    const pool = createPool({ concurrency: 2, defaults: { preset: 'speech', decodeErrors: 'conceal' } });
    try {
      const [a, b, c] = await Promise.all([
        pool.transcode(bitFlipped(fixture('speech.m4a'))),
        pool.transcode(junkPrefixed(fixture('edge.mp3'))),
        pool.transcode(fixture('edge.mp3')),
      ]);
      expect(codes(a)).toEqual(['DECODE_ERRORS_CONCEALED']);
      expect(codes(b)).toEqual(['JUNK_SKIPPED']);
      expect(c.warnings).toEqual([]);
      // A job's own option overrides the default.
      expect((await rejection(pool.transcode(bitFlipped(fixture('speech.m4a')), { decodeErrors: 'fail' }))).code).toBe('ERR_TTSAV_INVALID_DATA');
      const m = pool.metrics();
      expect(m.warningsByCode).toEqual({ DECODE_ERRORS_CONCEALED: 1, JUNK_SKIPPED: 1 });
      const text = pool.metricsText();
      expect(text).toContain('# TYPE ttsav_pool_warnings_total counter');
      expect(text).toContain('ttsav_pool_warnings_total{code="DECODE_ERRORS_CONCEALED"} 1');
      expect(text).toContain('ttsav_pool_warnings_total{code="JUNK_SKIPPED"} 1');
    } finally {
      await pool.close();
    }
    const quiet = createPool({ concurrency: 1 });
    expect(quiet.metricsText()).toContain('ttsav_pool_warnings_total 0');
    await quiet.close();
  });

  it('the CLI takes --decode-errors, prints warnings, and --json carries them', () => {
    const input = path.join(TMP, 'flipped.m4a');
    writeFileSync(input, bitFlipped(fixture('speech.m4a')));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'transcode', input, '--force', '-p', 'speech', ...args], { encoding: 'utf8', timeout: 60_000 });
    const failed = run('-o', path.join(TMP, 'a.m4a'));
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/ERR_TTSAV_INVALID_DATA \[decode\]/);
    const concealed = run('-o', path.join(TMP, 'b.m4a'), '--decode-errors', 'conceal');
    expect(concealed.status, concealed.stderr).toBe(0);
    expect(concealed.stderr).toMatch(/^warning: .*flipped\.m4a: DECODE_ERRORS_CONCEALED: \d+ decode errors? concealed/m);
    const json = run('-o', path.join(TMP, 'c.m4a'), '--decode-errors', 'conceal', '--json');
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stderr) as { warnings: { code: string; message: string }[] };
    expect(report.warnings.map((w) => w.code)).toEqual(['DECODE_ERRORS_CONCEALED']);
    expect(run('-o', path.join(TMP, 'd.m4a'), '--decode-errors', 'ignore').status).toBe(2);
    // Many files: warnings per file in the listing and in the JSON report.
    const dir = path.join(TMP, 'many');
    const out = path.join(TMP, 'many-out');
    spawnSync('mkdir', ['-p', dir]);
    writeFileSync(path.join(dir, 'junk.mp3'), junkPrefixed(fixture('edge.mp3')));
    writeFileSync(path.join(dir, 'clean.mp3'), fixture('edge.mp3'));
    const many = spawnSync(process.execPath, [CLI, 'transcode', dir, '-o', out, '-p', 'speech', '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(many.status, many.stderr).toBe(0);
    const files = (JSON.parse(many.stdout) as { files: { input: string; warnings?: { code: string }[] }[] }).files;
    expect(files.find((f) => f.input.endsWith('junk.mp3'))!.warnings!.map((w) => w.code)).toEqual(['JUNK_SKIPPED']);
    expect(files.find((f) => f.input.endsWith('clean.mp3'))!.warnings).toBeUndefined();
    const listed = spawnSync(process.execPath, [CLI, 'transcode', dir, '-o', out, '-p', 'speech', '--force'], { encoding: 'utf8', timeout: 60_000 });
    expect(listed.stderr).toMatch(/^warn {2}.*junk\.mp3: JUNK_SKIPPED: skipped \d+ bytes of junk/m);
  });
});

describe('decodeErrors in streams and the live feed', () => {
  /** Writes `input` in 4 KiB chunks and collects the output, or the stream's error. */
  async function through(input: Buffer, options: TranscodeStreamOptions): Promise<{ stream: TranscodeStream; out?: Buffer; err?: TtsavError }> {
    const stream = createTranscodeStream(options);
    const chunks: Buffer[] = [];
    return new Promise((resolve) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => resolve({ stream, err: err as TtsavError }));
      stream.on('end', () => resolve({ stream, out: Buffer.concat(chunks) }));
      for (let at = 0; at < input.length; at += 4096) stream.write(input.subarray(at, at + 4096));
      stream.end();
    });
  }

  it("a damaged ADTS stream: 'fail' errors, 'conceal' goes on and reports the count", async () => {
    const damaged = bitFlipped(adts(), 40);
    const failed = await through(damaged, { inputFormat: 'adts', preset: 'speech' });
    expect(failed.err?.code).toBe('ERR_TTSAV_INVALID_DATA');
    expect(failed.err?.stage).toBe('decode');
    const clean = await through(adts(), { inputFormat: 'adts', preset: 'speech' });
    expect(clean.stream.warnings).toEqual([]);
    expect(clean.stream.stats.decodeErrorsConcealed).toBe(0);
    const concealed = await through(damaged, { inputFormat: 'adts', preset: 'speech', decodeErrors: 'conceal' });
    expect(concealed.err).toBeUndefined();
    expect(concealed.stream.stats.decodeErrorsConcealed).toBeGreaterThan(0);
    expect(concealed.stream.warnings.map((w) => w.code)).toEqual(['DECODE_ERRORS_CONCEALED']);
    expect(concealed.stream.warnings[0]!.message).toMatch(/^\d+ decode errors? concealed; the first: cannot decode the input/);
    expect(concealed.stream.stats.outputSamples).toBeGreaterThan(clean.stream.stats.outputSamples * 0.8);
  });

  it("the live feed decodes damaged clips with decodeErrors 'conceal' and refuses them by default", async () => {
    const damaged = bitFlipped(fixture('speech.m4a'));
    const strict = createLiveFeed({ preset: 'speech', sampleRate: 24000, clock: () => 0, autoPump: false });
    const lenient = createLiveFeed({ preset: 'speech', sampleRate: 24000, clock: () => 0, autoPump: false, decodeErrors: 'conceal' });
    try {
      expect((await rejection(strict.enqueue(damaged))).code).toBe('ERR_TTSAV_INVALID_DATA');
      await lenient.enqueue(damaged);
      expect(lenient.queued).toBe(1);
      expect((await rejection(lenient.enqueue(headerOnlyWav()))).message).toMatch(/no audio decoded/);
    } finally {
      strict.destroy();
      lenient.destroy();
    }
  });
});
