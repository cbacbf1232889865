/**
 * The package as users get it: both addon builds (node-gyp and cmake-js) from the one source list, the CJS and
 * ESM entry points with types, the CLI, and libav's log kept off stderr.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ffmpegSeedRecipe, ffprobe, fixturePath, withTempDir } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');

function node(args: string[], env: Record<string, string> = {}, input?: Buffer) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, input, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const SMOKE = `
const { transcode, versions } = require('./dist/index.js');
const fs = require('fs');
(async () => {
  const r = await transcode(fs.readFileSync(process.argv[1]), { faststart: false });
  process.stdout.write(r.data);
  process.stderr.write(JSON.stringify({ samples: r.samples, ffmpeg: versions().ffmpeg, build: versions().build }));
})();`;

// node-gyp builds the default (the bundled FFmpeg, unless TTSAV_FFMPEG=system chose otherwise), and what the library
// loads is node-gyp-build's pick: build/Release/, or prebuilds/linux-x64/ once `npm run prebuilds` (npm test's
// pretest) has moved it there. The pretest also builds the cmake-js addon against the system FFmpeg
// (TTSAV_FFMPEG=system), which keeps that build compiling and passing. Each is compared with the CLI of the libav it
// reports (versions().build).
describe('both builds', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = (): string => path.relative(ROOT, (require('node-gyp-build') as { resolve(dir: string): string }).resolve(ROOT));
  const builds = [
    { name: 'node-gyp', file: loaded, build: undefined },
    { name: 'cmake-js', file: () => 'build-cmake/Release/ttsav.node', build: 'system' },
  ] as const;
  for (const b of builds) {
    it(`${b.name} addon passes the smoke test: byte-identical to its libav's CLI`, () => {
      const file = b.file();
      expect(existsSync(path.join(ROOT, file)), `${file} missing: npm run build:native / build:cmake`).toBe(true);
      const r = node(['-e', SMOKE, fixturePath('edge.mp3')], { TTSAV_ADDON: file });
      expect(r.status, r.stderr).toBe(0);
      const reported = JSON.parse(r.stderr) as { ffmpeg: string; build: 'bundled' | 'system' };
      expect(reported.ffmpeg).toMatch(/^\d/);
      if (b.build) expect(reported.build).toBe(b.build);
      expect(Buffer.compare(r.stdout, ffmpegSeedRecipe(fixturePath('edge.mp3'), reported.build))).toBe(0);
    });
  }
});

describe('entry points', () => {
  it("require('ttsav') works, with types", () => {
    const r = node(['-e', "const t = require('ttsav'); console.log(typeof t.transcode, typeof t.TtsavError, typeof t.versions)"]);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString().trim()).toBe('function function function');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(existsSync(path.join(ROOT, pkg.exports['.'].require.types))).toBe(true);
    expect(existsSync(path.join(ROOT, pkg.exports['.'].import.types))).toBe(true);
  });

  it("import from 'ttsav' works and shares the CommonJS implementation", () => {
    const code = `import { transcode, TtsavError } from 'ttsav'; import { createRequire } from 'node:module';
      const cjs = createRequire(import.meta.url)('ttsav');
      const r = await transcode(Buffer.alloc(0)).catch((e) => e);
      console.log(r instanceof TtsavError, r instanceof cjs.TtsavError, r.code, transcode === cjs.transcode);`;
    const r = node(['--input-type=module', '-e', code]);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString().trim()).toBe('true true ERR_TTSAV_INVALID_DATA true');
  });

  it('prints nothing on stderr, even for inputs libav complains about', () => {
    const code = `const { transcode } = require('ttsav');
      const bad = Buffer.from(require('fs').readFileSync(process.argv[1]));
      for (let k = 0; k < 50; k++) bad[(k * 104729 + 31) % bad.length] ^= 0xff;
      transcode(bad).catch((e) => console.log(e.code, Boolean(e.detail)));`;
    const r = node(['-e', code, fixturePath('edge.mp3')]);
    expect(r.stdout.toString().trim()).toBe('ERR_TTSAV_INVALID_DATA true');
    expect(r.stderr).toBe('');
  });
});

describe('cli', () => {
  it('transcodes the README sample', () => {
    withTempDir((dir) => {
      const out = path.join(dir, 'hello.m4a');
      const r = node(['dist/cli.js', 'transcode', 'samples/hello.mp3', '-o', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/samples\/hello\.mp3 -> .*hello\.m4a: [\d.]+ s AAC 192 kb\/s 44100 Hz stereo/);
      const probe = ffprobe(readFileSync(out));
      expect(probe).toMatchObject({ codec: 'aac', sampleRate: 44100, channels: 2 });
    });
  });

  it('reads stdin and writes stdout, with options', () => {
    const r = node(['dist/cli.js', 'transcode', '-', '-f', 'adts', '-c', '1', '-b', '64k', '-r', '24000', '-q'], {}, readFileSync(path.join(ROOT, 'samples/hello.mp3')));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(ffprobe(r.stdout)).toMatchObject({ codec: 'aac', sampleRate: 24000, channels: 1, formatName: 'aac' });
  });

  it('fails with the error code and leaves no partial file', () => {
    withTempDir((dir) => {
      const out = path.join(dir, 'cut.m4a');
      const r = node(['dist/cli.js', 'transcode', fixturePath('cut37.mp3'), '-o', out]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^ttsav: ERR_TTSAV_INVALID_DATA \[decode\]: input is truncated/);
      expect(existsSync(out)).toBe(false);
    });
  });

  it('rejects bad usage with exit code 2', () => {
    expect(node(['dist/cli.js', 'transcode']).status).toBe(2);
    expect(node(['dist/cli.js', 'frobnicate']).status).toBe(2);
    expect(node(['dist/cli.js', 'transcode', 'x.mp3', '--bogus']).status).toBe(2);
    const r = node(['dist/cli.js', 'transcode', 'samples/hello.mp3', '-r', 'abc']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--sample-rate takes a number/);
  });

  it('reports versions', () => {
    const r = node(['dist/cli.js', 'versions']);
    expect(r.status).toBe(0);
    const v = JSON.parse(r.stdout.toString());
    expect(v.libraries.avcodec.compatible).toBe(true);
    expect(v.ttsav).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });
});
