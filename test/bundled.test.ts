/**
 * The bundled FFmpeg (TTSAV_FFMPEG=bundled): scripts/build-ffmpeg.sh's static LGPL build linked into the addon
 * with its symbols hidden. Builds the addon that way with cmake-js into build-bundled/ (the FFmpeg build itself is
 * cached under .ffmpeg/, made by .ci/run before the tests), then checks what it links, what it exports, what it
 * reports, and that its output is byte-identical to the same build's ffmpeg CLI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, withTempDir } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const ADDON = path.join(ROOT, 'build-bundled/Release/ttsav.node');
let prefix: string;

beforeAll(() => {
  prefix = execFileSync('bash', ['scripts/build-ffmpeg.sh'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  execFileSync('npx', ['cmake-js', 'compile', '--out', 'build-bundled'], { cwd: ROOT, env: { ...process.env, TTSAV_FFMPEG: 'bundled' }, stdio: ['ignore', 'ignore', 'inherit'] });
}, 1_800_000);

function withAddon(code: string, args: string[] = []) {
  const r = spawnSync(process.execPath, ['-e', code, ...args], { cwd: ROOT, env: { ...process.env, TTSAV_ADDON: ADDON }, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('the bundled FFmpeg build', () => {
  it('links no libav dynamically and exports no av* symbol', () => {
    expect(existsSync(ADDON)).toBe(true);
    const ldd = execFileSync('ldd', [ADDON], { encoding: 'utf8' });
    expect(ldd).not.toMatch(/lib(avformat|avcodec|avfilter|avutil|swresample|swscale|mp3lame|opus|openh264|mbed\w+|cuda|nvidia-encode)\b/);
    const dyn = execFileSync('nm', ['-D', '--defined-only', ADDON], { encoding: 'utf8' });
    const exported = dyn.split('\n').map((l) => l.split(' ').pop()!).filter((s) => /^(av|avcodec|avformat|avfilter|swr|sws|lame|opus|mbedtls|Wels)_/.test(s));
    expect(exported).toEqual([]);
  });

  it('reports itself: bundled, FFmpeg 7.1, LGPL v3+ (mbedtls), no --enable-gpl/nonfree, with TLS, openh264 and NVENC', () => {
    const r = withAddon("const v = require('./dist/index.js').versions(); console.log(JSON.stringify(v))");
    expect(r.status, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout.toString()) as { build: string; ffmpeg: string; license: string; configuration: string };
    expect(v.build).toBe('bundled');
    expect(v.ffmpeg).toMatch(/^7\.1/);
    expect(v.license).toMatch(/^LGPL version 3 or later$/);
    expect(v.configuration).toMatch(/--disable-everything/);
    expect(v.configuration).not.toMatch(/--enable-(gpl|nonfree)/);
    for (const flag of ['--enable-mbedtls', '--enable-libopenh264', '--enable-nvenc', '--enable-network'])
      expect(v.configuration).toContain(flag);
  });

  it('transcodes byte-identically to the same build’s ffmpeg CLI (seed recipe), and encodes Opus and MP3', () => {
    const cli = path.join(prefix, 'bin/ffmpeg');
    const expected = withTempDir((dir) => {
      const out = path.join(dir, 'out.m4a');
      execFileSync(cli, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', fixturePath('edge.mp3'), '-c:a', 'aac', '-b:a', '192k', '-ar', '44100', '-ac', '2', '-f', 'mp4', out]);
      return readFileSync(out);
    });
    const code = `const { transcode } = require('./dist/index.js');
      const input = require('fs').readFileSync(process.argv[1]);
      (async () => {
        const m4a = await transcode(input, { faststart: false });
        const ogg = await transcode(input, { format: 'ogg' });
        const mp3 = await transcode(input, { format: 'mp3' });
        process.stderr.write(JSON.stringify([ogg.codec, ogg.samples > 0, mp3.codec, mp3.samples > 0]));
        process.stdout.write(m4a.data);
      })();`;
    const r = withAddon(code, [fixturePath('edge.mp3')]);
    expect(r.status, r.stderr).toBe(0);
    expect(Buffer.compare(r.stdout, expected)).toBe(0);
    expect(JSON.parse(r.stderr)).toEqual(['opus', true, 'mp3', true]);
  });
});
