/**
 * The package as a dependent installs it: `npm pack` the checkout, `npm install` the tarball into a fresh app (no
 * devDependencies, no checkout on the module path), then use it from there — the library, the ESM entry, the CLI —
 * and check what the tarball holds and leaves out. The install builds the addon from the shipped sources. dist/ is
 * the one `npm test`'s pretest built.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
let dir: string;
let app: string;
let files: string[];

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' }, maxBuffer: 1 << 26 });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-install-'));
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT)) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  app = path.join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  npm(['install', '--no-audit', '--no-fund', path.join(dir, packed[0]!.filename)], app);
}, 600_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function inApp(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, args, { cwd: app, input, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('npm install of the packed tarball', () => {
  it('ships what an install and a user need, and nothing of the test or fuzz tree', () => {
    for (const f of ['binding.gyp', 'CMakeLists.txt', 'scripts/sources.js', 'scripts/ffmpeg-flags.js', 'scripts/build-ffmpeg.sh', 'native/sources.txt', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/cli.js', 'README.md', 'samples/hello.mp3', 'docs/api/README.md', 'docs/cli.md', 'LICENSES/FFmpeg.md', 'LICENSES/LGPL-2.1.txt', 'CHANGELOG.md'])
      expect(files, f).toContain(f);
    // scripts/: only what a source build runs (the source list, the FFmpeg flags, the bundled FFmpeg build).
    expect(files.filter((f) => /^(test|bench|native\/fuzz|scripts\/(?!(sources\.js|ffmpeg-flags\.js|build-ffmpeg\.sh)$))/.test(f))).toEqual([]);
    // Source maps work without the TypeScript tree: the sources are inlined.
    const map = JSON.parse(readFileSync(path.join(app, 'node_modules/ttsav/dist/transcode.js.map'), 'utf8')) as { sourcesContent?: string[] };
    expect(map.sourcesContent?.[0]).toMatch(/export async function transcode/);
  });

  it('builds the addon from the shipped sources and transcodes (CommonJS and ESM)', () => {
    expect(existsSync(path.join(app, 'node_modules/ttsav/build/Release/ttsav.node'))).toBe(true);
    const cjs = inApp(['-e', "require('ttsav').transcode(require('fs').readFileSync(process.argv[1])).then((r) => console.log(r.codec, r.samples > 0))", fixturePath('edge.mp3')]);
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout.toString().trim()).toBe('aac true');
    const esm = inApp(['--input-type=module', '-e', "import { transcode } from 'ttsav'; const r = await transcode(Buffer.alloc(0)).catch((e) => e); console.log(r.code);"]);
    expect(esm.stdout.toString().trim()).toBe('ERR_TTSAV_INVALID_DATA');
  });

  it('brings no GPL code: espeak-ng is an optional peer, and the offline engine says how to get it', () => {
    expect(existsSync(path.join(app, 'node_modules/espeak-ng'))).toBe(false);
    const r = inApp(['node_modules/ttsav/dist/cli.js', 'speak', '--text', 'Hello.', '-o', 'hello.m4a']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ERR_TTSAV_LOAD: .*npm install espeak-ng/);
    const cli = inApp(['node_modules/ttsav/dist/cli.js', 'transcode', 'node_modules/ttsav/samples/hello.mp3', '-o', 'hello.m4a']);
    expect(cli.status, cli.stderr).toBe(0);
  });

  it('ttsav/queue: bullmq and ioredis are optional peers, and the subpath names them when they are missing', () => {
    for (const p of ['bullmq', 'ioredis', '@aws-sdk/client-s3']) expect(existsSync(path.join(app, 'node_modules', p)), p).toBe(false);
    const cjs = inApp(['-e', "try { require('ttsav/queue') } catch (e) { console.log(e.code, e.message) }"]);
    expect(cjs.stdout.toString()).toMatch(/^ERR_TTSAV_LOAD .*bullmq, ioredis.*npm install bullmq ioredis/);
    const esm = inApp(['--input-type=module', '-e', "try { await import('ttsav/queue') } catch (e) { console.log(e.code) }"]);
    expect(esm.stdout.toString().trim()).toBe('ERR_TTSAV_LOAD');
    const plain = inApp(['-e', "require('ttsav'); console.log(Object.keys(require.cache).some((k) => /bullmq|ioredis/.test(k)))"]);
    expect(plain.stdout.toString().trim()).toBe('false');
    const worker = inApp(['node_modules/ttsav/dist/cli.js', 'worker', '--redis', 'redis://127.0.0.1:1', '--store', 'out']);
    expect(worker.status).toBe(1);
    expect(worker.stderr).toMatch(/ERR_TTSAV_LOAD: .*npm install bullmq ioredis/);
  });
});
