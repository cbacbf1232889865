/**
 * scripts/build-ffmpeg.sh's PGO switch (TTSAV_FFMPEG_PGO) and its training signals (scripts/pgo-signals.c), without
 * building FFmpeg: a bad switch or a missing generator stops the script with one line before it touches any cache,
 * the two settings are cached apart, and the generator writes the WAVs the training encodes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'build-ffmpeg.sh');
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-pgo-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(script: string, env: Record<string, string>, args: string[] = []) {
  const r = spawnSync('bash', [script, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('TTSAV_FFMPEG_PGO', () => {
  it('refuses a value other than 0 or 1 in one line, before any build', () => {
    const r = run(SCRIPT, { TTSAV_FFMPEG_PGO: 'yes' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("build-ffmpeg: TTSAV_FFMPEG_PGO must be 0 or 1, not 'yes'\n");
  });

  it('stops in one line naming the fix when the training generator is missing (a copy of the script without it)', () => {
    const scripts = path.join(tmp, 'scripts');
    mkdirSync(scripts, { recursive: true });
    copyFileSync(SCRIPT, path.join(scripts, 'build-ffmpeg.sh'));
    const r = run(path.join(scripts, 'build-ffmpeg.sh'), { TTSAV_FFMPEG_PGO: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/pgo-signals\.c is missing.*TTSAV_FFMPEG_PGO=0/);
    expect(existsSync(path.join(tmp, '.ffmpeg'))).toBe(false);
  });

  it('keys the cache by the setting: a build with PGO is never taken for one without, nor the reverse', () => {
    // --prefix names the folder it looks for when it is not built; when built, the two prefixes differ.
    const prefix = (pgo: string) => run(SCRIPT, { TTSAV_FFMPEG_PGO: pgo }, ['--prefix']);
    const on = prefix('1');
    const off = prefix('0');
    if (on.status === 0 && off.status === 0) expect(on.stdout).not.toBe(off.stdout);
    else expect([on.stderr, off.stderr].join('')).toMatch(/not built yet/);
    // The key hashes the setting (and with PGO the generator's source): the folder names come from different hashes.
    const key = (pgo: string) => {
      const script = readFileSync(SCRIPT);
      const parts = [script, Buffer.from(`pgo=${pgo}\n`)];
      if (pgo === '1') parts.push(readFileSync(path.join(ROOT, 'scripts', 'pgo-signals.c')));
      return execFileSync('sha256sum', { input: Buffer.concat(parts), encoding: 'utf8' }).slice(0, 12);
    };
    expect(key('1')).not.toBe(key('0'));
    if (on.status === 0) expect(on.stdout).toContain(`ffmpeg-7.1-${key('1')}/prefix`);
    if (off.status === 0) expect(off.stdout).toContain(`ffmpeg-7.1-${key('0')}/prefix`);
  });
});

describe('scripts/pgo-signals.c', () => {
  let bin: string;
  beforeAll(() => {
    bin = path.join(tmp, 'pgo-signals');
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, path.join(ROOT, 'scripts', 'pgo-signals.c'), '-lm']);
  });

  it.each([
    ['speech', 24000, 1],
    ['tonal', 48000, 2],
    ['noise', 44100, 2],
    ['mixed', 22050, 1],
  ])('%s at %i Hz, %i channel(s): a 16-bit PCM WAV of the asked length, not silent, not clipped flat', (kind, rate, channels) => {
    const wav = path.join(tmp, `${kind}.wav`);
    execFileSync(bin, [kind, String(rate), String(channels), '2', wav]);
    const b = readFileSync(wav);
    expect(b.subarray(0, 4).toString()).toBe('RIFF');
    expect(b.readUInt32LE(4)).toBe(b.length - 8);
    expect(b.subarray(8, 16).toString()).toBe('WAVEfmt ');
    expect(b.readUInt16LE(20)).toBe(1);
    expect(b.readUInt16LE(22)).toBe(channels);
    expect(b.readUInt32LE(24)).toBe(rate);
    expect(b.readUInt16LE(34)).toBe(16);
    expect(b.readUInt32LE(40)).toBe(2 * rate * channels * 2);
    const n = b.readUInt32LE(40) / 2;
    let sq = 0;
    let peak = 0;
    let clipped = 0;
    for (let i = 0; i < n; i++) {
      const s = b.readInt16LE(44 + 2 * i);
      sq += s * s;
      peak = Math.max(peak, Math.abs(s));
      if (Math.abs(s) >= 32767) clipped++;
    }
    const rms = Math.sqrt(sq / n) / 32768;
    expect(rms).toBeGreaterThan(0.01);
    expect(peak).toBeGreaterThan(3000);
    expect(clipped / n).toBeLessThan(0.001);
    // Deterministic: the training set is part of the cache key through this source, so it must not vary by run.
    const again = path.join(tmp, `${kind}-again.wav`);
    execFileSync(bin, [kind, String(rate), String(channels), '2', again]);
    expect(readFileSync(again).equals(b)).toBe(true);
  });

  it('rejects bad arguments with exit status 2', () => {
    expect(spawnSync(bin, ['whistle', '44100', '2', '1', path.join(tmp, 'x.wav')]).status).toBe(2);
    expect(spawnSync(bin, ['speech', '1000', '2', '1', path.join(tmp, 'x.wav')]).status).toBe(2);
    expect(spawnSync(bin, ['speech']).status).toBe(2);
  });
});
