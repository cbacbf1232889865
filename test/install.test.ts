/**
 * The package as a dependent installs it: `npm pack` the checkout, `npm install` the tarball into a fresh app (no
 * devDependencies, no checkout on the module path), then use it from there — the library, the ESM entry, the CLI —
 * and check what the tarball holds and leaves out. The default install loads the prebuilt addon the tarball
 * carries (nothing compiled); a second app installs with TTSAV_FFMPEG=system, which builds from the shipped sources
 * against the system FFmpeg; and the install step, run with the tools missing, says in one line what is missing.
 * dist/ and prebuilds/ are the ones `npm test`'s pretest built. (scripts/check-bare-install.sh, run by CI, installs
 * the same tarball on a Debian root with no compiler and no FFmpeg at all.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegSeedRecipe, fixturePath } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const PREBUILD = 'prebuilds/linux-x64/ttsav.node';
let dir: string;
let app: string;
let appSystem: string;
let files: string[];

function npm(args: string[], cwd: string, env: Record<string, string> = {}): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error', ...env }, maxBuffer: 1 << 26 });
}

function newApp(name: string, tarball: string, env: Record<string, string> = {}): string {
  const where = path.join(dir, name);
  mkdirSync(where);
  writeFileSync(path.join(where, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  npm(['install', '--no-audit', '--no-fund', tarball], where, env);
  return where;
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, PREBUILD))) throw new Error(`${PREBUILD} is missing: npm run prebuilds (npm test's pretest runs it)`);
  dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-install-'));
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT)) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  const tarball = path.join(dir, packed[0]!.filename);
  app = newApp('app', tarball);
  appSystem = newApp('app-system', tarball, { TTSAV_FFMPEG: 'system' });
}, 900_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function inApp(args: string[], input?: Buffer, cwd = app, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, args, { cwd, input, env, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const TRANSCODE = `const t = require('ttsav');
  t.transcode(require('fs').readFileSync(process.argv[1]), { faststart: false }).then((r) => {
    process.stderr.write(JSON.stringify({ build: t.versions().build, codec: r.codec }));
    process.stdout.write(r.data);
  });`;

describe('npm install of the packed tarball', () => {
  it('ships what an install and a user need, and nothing of the test or fuzz tree', () => {
    for (const f of ['binding.gyp', 'CMakeLists.txt', 'scripts/sources.js', 'scripts/ffmpeg-flags.js', 'scripts/build-ffmpeg.sh', 'scripts/pgo-signals.c', 'scripts/install.js', PREBUILD, 'native/sources.txt', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/cli.js', 'README.md', 'samples/hello.mp3', 'docs/api/README.md', 'docs/cli.md', 'LICENSES/FFmpeg.md', 'LICENSES/LGPL-2.1.txt', 'CHANGELOG.md'])
      expect(files, f).toContain(f);
    // scripts/: only what an install runs (the install step, the source list, the FFmpeg flags, the bundled FFmpeg
    // build and its PGO training signals); prebuilds/: only addons.
    expect(files.filter((f) => /^(test|bench|native\/fuzz|scripts\/(?!(install\.js|sources\.js|ffmpeg-flags\.js|build-ffmpeg\.sh|pgo-signals\.c)$))/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('prebuilds/') && !f.endsWith('.node'))).toEqual([]);
    // Source maps work without the TypeScript tree: the sources are inlined.
    const map = JSON.parse(readFileSync(path.join(app, 'node_modules/ttsav/dist/transcode.js.map'), 'utf8')) as { sourcesContent?: string[] };
    expect(map.sourcesContent?.[0]).toMatch(/export async function transcode/);
  });

  it('loads the prebuilt addon (nothing compiled) and transcodes byte-identically to the bundled CLI (CommonJS and ESM)', () => {
    expect(existsSync(path.join(app, 'node_modules/ttsav', PREBUILD))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules/ttsav/build'))).toBe(false);
    const cjs = inApp(['-e', TRANSCODE, fixturePath('edge.mp3')]);
    expect(cjs.status, cjs.stderr).toBe(0);
    expect(JSON.parse(cjs.stderr)).toEqual({ build: 'bundled', codec: 'aac' });
    expect(Buffer.compare(cjs.stdout, ffmpegSeedRecipe(fixturePath('edge.mp3'), 'bundled'))).toBe(0);
    const esm = inApp(['--input-type=module', '-e', "import { transcode } from 'ttsav'; const r = await transcode(Buffer.alloc(0)).catch((e) => e); console.log(r.code);"]);
    expect(esm.stdout.toString().trim()).toBe('ERR_TTSAV_INVALID_DATA');
  });

  it('TTSAV_FFMPEG=system: builds from the shipped sources against the system FFmpeg', () => {
    expect(existsSync(path.join(appSystem, 'node_modules/ttsav/build/Release/ttsav.node'))).toBe(true);
    const r = inApp(['-e', TRANSCODE, fixturePath('edge.mp3')], undefined, appSystem);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stderr)).toEqual({ build: 'system', codec: 'aac' });
    expect(Buffer.compare(r.stdout, ffmpegSeedRecipe(fixturePath('edge.mp3'), 'system'))).toBe(0);
  });

  it('with no usable prebuild and the tools missing, the install step names them in one line', () => {
    // A PATH holding only some tools (links to this machine's): the install step as npm runs it, building from source.
    const step = (tools: string[]) => {
      const bin = mkdtempSync(path.join(dir, 'bin-'));
      for (const t of ['sh', ...tools]) symlinkSync(execFileSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim(), path.join(bin, t));
      const env: NodeJS.ProcessEnv = { PATH: bin, HOME: dir, npm_config_build_from_source: 'true' };
      const r = inApp(['node_modules/ttsav/scripts/install.js'], undefined, app, env);
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      return lines[0]!;
    };
    expect(step([])).toMatch(/^ttsav: cannot build the addon from source: a C\+\+ compiler, make, python3 missing \(Debian\/Ubuntu: apt-get install g\+\+ make python3/);
    expect(step(['bash', 'c++', 'cc', 'make', 'python3'])).toMatch(/^ttsav: cannot build the addon from source: the bundled FFmpeg needs nasm, pkg-config, apt-get .*; the system FFmpeg needs pkg-config\. .*apt-get install nasm/);
    expect(existsSync(path.join(app, 'node_modules/ttsav/build'))).toBe(false);
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
