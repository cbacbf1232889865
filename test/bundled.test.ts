/**
 * The bundled FFmpeg (TTSAV_FFMPEG=bundled, the default): scripts/build-ffmpeg.sh's static LGPL build linked into
 * the addon with its symbols hidden. Checks the prebuilt addon that ships (prebuilds/linux-x64/, made by npm test's
 * pretest through `npm run prebuilds`) and the same build made with cmake-js into build-bundled/ (the FFmpeg build
 * itself is cached under .ffmpeg/, made by .ci/run before the tests): what they link, what they export, what they
 * report, and that their output is byte-identical to the same build's ffmpeg CLI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ffmpegSeedRecipe, fixturePath, oracleCli } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const ADDON = path.join(ROOT, 'build-bundled/Release/ttsav.node');
const PREBUILD = path.join(ROOT, 'prebuilds/linux-x64/ttsav.node');
let prefix: string;

beforeAll(() => {
  prefix = execFileSync('bash', ['scripts/build-ffmpeg.sh'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  execFileSync('npx', ['cmake-js', 'compile', '--out', 'build-bundled'], { cwd: ROOT, env: { ...process.env, TTSAV_FFMPEG: 'bundled' }, stdio: ['ignore', 'ignore', 'inherit'] });
}, 1_800_000);

function withAddon(code: string, args: string[] = [], addon = ADDON) {
  const r = spawnSync(process.execPath, ['-e', code, ...args], { cwd: ROOT, env: { ...process.env, TTSAV_ADDON: addon }, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Links only the C/C++ runtime (no libav, lame or opus .so) and exports no av*, sw*, lame or opus symbol. */
function expectSelfContained(addon: string) {
  const ldd = execFileSync('ldd', [addon], { encoding: 'utf8' });
  const needed = ldd.split('\n').map((l) => l.trim().split(/\s/)[0]!).filter(Boolean);
  expect(needed.filter((n) => !/^(linux-vdso\.so|\/lib64\/ld-linux|lib(c|m|dl|pthread|stdc\+\+|gcc_s)\.so)/.test(n)), ldd).toEqual([]);
  const dyn = execFileSync('nm', ['-D', '--defined-only', addon], { encoding: 'utf8' });
  const exported = dyn.split('\n').map((l) => l.split(' ').pop()!).filter((s) => /^(av|avcodec|avformat|avfilter|swr|sws|lame|opus)_/.test(s));
  expect(exported).toEqual([]);
}

describe('the default build', () => {
  it('is the bundled FFmpeg when TTSAV_FFMPEG is unset', () => {
    const env = { ...process.env };
    delete env.TTSAV_FFMPEG;
    expect(execFileSync(process.execPath, ['scripts/ffmpeg-flags.js', 'mode'], { cwd: ROOT, env, encoding: 'utf8' })).toBe('bundled');
  });

  it(`the prebuilt addon (${path.relative(ROOT, PREBUILD)}) is stripped, at most 8 MB, self-contained and bundled`, () => {
    expect(existsSync(PREBUILD), 'no prebuilt addon: npm run prebuilds (npm test\'s pretest runs it)').toBe(true);
    expect(statSync(PREBUILD).size).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(spawnSync('nm', [PREBUILD], { encoding: 'utf8' }).stderr).toMatch(/no symbols/);
    expectSelfContained(PREBUILD);
    const r = withAddon("console.log(require('./dist/index.js').versions().build)", [], PREBUILD);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.toString().trim()).toBe('bundled');
  });
});

describe('the bundled FFmpeg build', () => {
  it('links no libav dynamically and exports no av* symbol', () => {
    expect(existsSync(ADDON)).toBe(true);
    expectSelfContained(ADDON);
  });

  it('reports itself: bundled, FFmpeg 7.1, LGPL, no --enable-gpl/nonfree', () => {
    const r = withAddon("const v = require('./dist/index.js').versions(); console.log(JSON.stringify(v))");
    expect(r.status, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout.toString()) as { build: string; ffmpeg: string; license: string; configuration: string };
    expect(v.build).toBe('bundled');
    expect(v.ffmpeg).toMatch(/^7\.1/);
    expect(v.license).toMatch(/^LGPL version 2\.1 or later$/);
    expect(v.configuration).toMatch(/--disable-everything/);
    expect(v.configuration).not.toMatch(/--enable-(gpl|nonfree)/);
  });

  it.each([
    ['cmake-js', ADDON],
    ['prebuilt', PREBUILD],
  ])('%s: transcodes byte-identically to the same build’s ffmpeg CLI (seed recipe), and encodes Opus and MP3', (_name, addon) => {
    expect(oracleCli('bundled')).toBe(path.join(prefix, 'bin/ffmpeg'));
    const expected = ffmpegSeedRecipe(fixturePath('edge.mp3'), 'bundled');
    const code = `const { transcode } = require('./dist/index.js');
      const input = require('fs').readFileSync(process.argv[1]);
      (async () => {
        const m4a = await transcode(input, { faststart: false });
        const ogg = await transcode(input, { format: 'ogg' });
        const mp3 = await transcode(input, { format: 'mp3' });
        process.stderr.write(JSON.stringify([ogg.codec, ogg.samples > 0, mp3.codec, mp3.samples > 0]));
        process.stdout.write(m4a.data);
      })();`;
    const r = withAddon(code, [fixturePath('edge.mp3')], addon);
    expect(r.status, r.stderr).toBe(0);
    expect(Buffer.compare(r.stdout, expected)).toBe(0);
    expect(JSON.parse(r.stderr)).toEqual(['opus', true, 'mp3', true]);
  });
});
