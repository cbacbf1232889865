/**
 * The addon in a real host: worker threads (context-aware; a terminated worker must not take the process down),
 * load errors that name what to install, and external memory accounting for output buffers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturePath } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');

function node(code: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['-e', code, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('worker threads', () => {
  it('loads and transcodes in several workers at once', () => {
    const r = node(`
      const { Worker } = require('node:worker_threads');
      const code = "const { parentPort, workerData } = require('node:worker_threads');" +
        "require('./dist/index.js').transcode(require('fs').readFileSync(workerData)).then(r => parentPort.postMessage(r.samples), e => parentPort.postMessage(e.code));";
      Promise.all([0, 1, 2].map(() => new Promise((resolve) => {
        const w = new Worker(code, { eval: true, workerData: process.argv[1] });
        w.once('message', (m) => { resolve(m); w.terminate(); });
      }))).then((all) => console.log(JSON.stringify(all)));`, [fixturePath('edge.mp3')]);
    expect(r.status, r.stderr).toBe(0);
    const samples = JSON.parse(r.stdout) as number[];
    expect(samples).toHaveLength(3);
    expect(new Set(samples).size).toBe(1);
    expect(samples[0]).toBeGreaterThan(0);
  });

  it('terminating a worker in the middle of a transcode does not crash the process', () => {
    const r = node(`
      const { Worker } = require('node:worker_threads');
      const fs = require('fs');
      const code = "const { parentPort, workerData } = require('node:worker_threads');" +
        "parentPort.postMessage('started');" +
        "require('./dist/index.js').transcode(require('fs').readFileSync(workerData)).then(() => parentPort.postMessage('done'));";
      (async () => {
        const workers = [0, 1].map(() => new Worker(code, { eval: true, workerData: process.argv[1] }));
        await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
        await new Promise((r) => setTimeout(r, 500));
        await Promise.all(workers.map((w) => w.terminate()));
        const { transcode } = require('./dist/index.js');
        const after = await transcode(fs.readFileSync(process.argv[2]), { format: 'adts' });
        console.log('alive', after.samples > 0);
      })();`, [fixturePath('long.mp3'), fixturePath('edge.mp3')]);
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('alive true');
  });
});

describe('load errors', () => {
  it('a missing or broken libav library gives ERR_TTSAV_LOAD naming the packages (system build); the bundled build has none to miss', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-fake-lib-'));
    try {
      for (const v of ['59', '61']) writeFileSync(path.join(dir, `libavformat.so.${v}`), 'not a library');
      const code = "try { console.log(JSON.stringify(require('./dist/index.js').versions().build)); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }";
      // The system-libav build (npm test's pretest builds it with cmake-js) links libavformat.so dynamically.
      const r = node(code, [], { LD_LIBRARY_PATH: dir, TTSAV_ADDON: 'build-cmake/Release/ttsav.node' });
      const err = JSON.parse(r.stdout) as { code: string; message: string };
      expect(err.code).toBe('ERR_TTSAV_LOAD');
      expect(err.message).toMatch(/libavformat/);
      expect(err.message).toMatch(/apt-get install -y libavformat-dev libavcodec-dev/);
      // The default (bundled) build carries its libav inside: the broken library on the path is never opened.
      const bundled = node(code, [], { LD_LIBRARY_PATH: dir, TTSAV_ADDON: 'prebuilds/linux-x64/ttsav.node' });
      expect(JSON.parse(bundled.stdout)).toBe('bundled');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing addon build gives ERR_TTSAV_LOAD', () => {
    const r = node(
      "require('./dist/index.js').transcode(Buffer.alloc(1)).catch((e) => console.log(e.code, /npm rebuild/.test(e.message)));",
      [],
      { TTSAV_ADDON: 'build/nowhere/ttsav.node' },
    );
    expect(r.stdout.trim()).toBe('ERR_TTSAV_LOAD true');
  });

  it('a load failure is remembered: later calls reject with the same error without trying again', () => {
    const r = node(
      `const t = require('./dist/index.js');
      (async () => {
        const errors = [];
        for (let i = 0; i < 3; i++) await t.transcode(Buffer.alloc(1)).catch((e) => errors.push(e));
        const start = performance.now();
        for (let i = 0; i < 100; i++) await t.transcode(Buffer.alloc(1)).catch((e) => errors.push(e));
        console.log(errors.length, new Set(errors).size, errors[0].code, performance.now() - start < 1000);
      })();`,
      [],
      { TTSAV_ADDON: 'build/nowhere/ttsav.node' },
    );
    expect(r.stdout.trim()).toBe('103 1 ERR_TTSAV_LOAD true');
  });
});

describe('lazy dependencies', () => {
  it('loading ttsav and transcoding does not load the websocket client (only an EdgeTTS request does)', () => {
    const r = node(
      `const t = require('./dist/index.js');
      const loaded = () => Object.keys(require.cache).some((f) => /node_modules[\\/]ws[\\/]/.test(f));
      t.transcode(require('fs').readFileSync(process.argv[1]), { format: 'adts' }).then(() => {
        const before = loaded();
        return t.edge({ endpoint: 'ws://127.0.0.1:9', maxRetries: 0, timeoutMs: 2000 }).synthesize('hi').catch(() => {}).then(() => console.log(before, loaded()));
      });`,
      [fixturePath('edge.mp3')],
    );
    expect(r.stdout.trim(), r.stderr).toBe('false true');
  });

  it('without the espeak-ng package (it is GPL-3.0), speak() rejects with ERR_TTSAV_LOAD naming it; transcode() works', () => {
    const r = node(
      `const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'espeak-ng' || request.startsWith('espeak-ng/')) throw Object.assign(new Error("Cannot find module 'espeak-ng'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const t = require('./dist/index.js');
      t.speak('hello').then(() => console.log('resolved'), (e) => {
        console.log(e.code, /npm install espeak-ng/.test(e.message));
        return t.transcode(require('fs').readFileSync(process.argv[1]), { format: 'adts' }).then((res) => console.log(res.samples > 0));
      });`,
      [fixturePath('edge.mp3')],
    );
    expect(r.stdout.trim(), r.stderr).toBe('ERR_TTSAV_LOAD true\ntrue');
  });
});

describe('memory', () => {
  it('output buffers are reported as external memory and released when collected', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', `
      const { transcode } = require('./dist/index.js');
      const input = require('fs').readFileSync(process.argv[1]);
      (async () => {
        await transcode(input);
        gc();
        const before = process.memoryUsage().external;
        let results = await Promise.all(Array.from({ length: 20 }, () => transcode(input)));
        const bytes = results.reduce((n, r) => n + r.data.length, 0);
        const during = process.memoryUsage().external - before;
        results = null;
        for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
        const after = process.memoryUsage().external - before;
        console.log(JSON.stringify({ bytes, during, after }));
      })();`, fixturePath('edge.mp3')], { cwd: ROOT });
    expect(r.status, r.stderr.toString()).toBe(0);
    const m = JSON.parse(r.stdout.toString()) as { bytes: number; during: number; after: number };
    expect(m.during).toBeGreaterThanOrEqual(m.bytes * 0.9);
    expect(m.after).toBeLessThan(m.bytes * 0.1);
  });
});
