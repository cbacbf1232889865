/**
 * The published types match the run time: `import ttsav from 'ttsav'` (default), named imports and require(), each
 * type-checked as a consumer's strict TypeScript would, then run; and @arethetypeswrong/cli finds no problem.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTempDir } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const ESM = `import ttsav, { transcode, TtsavError, createPool, type TranscodeResult, type TtsavErrorCode } from 'ttsav';
const same: boolean = ttsav.transcode === transcode && ttsav.TtsavError === TtsavError && ttsav.createPool === createPool;
const code: TtsavErrorCode = 'ERR_TTSAV_BUSY';
const pending: Promise<TranscodeResult> | undefined = undefined;
const pool = ttsav.createPool({ concurrency: 1 });
const ready: boolean = pool.ready() && !pool.saturated;
await pool.close();
console.log(JSON.stringify({ same, code, pending: pending === undefined, ready, defaultKeys: Object.keys(ttsav).length > 10 }));
`;

const CJS = `import ttsav = require('ttsav');
const { transcode } = ttsav;
console.log(JSON.stringify({ same: typeof transcode === 'function' && ttsav.transcode === transcode }));
`;

describe('types match the run time', () => {
  it('default and named imports (ESM) and require (CJS) type-check strictly and run', () => {
    withTempDir((dir) => {
      mkdirSync(path.join(dir, 'node_modules'));
      symlinkSync(ROOT, path.join(dir, 'node_modules', 'ttsav'), 'dir');
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
      writeFileSync(path.join(dir, 'esm.mts'), ESM);
      writeFileSync(path.join(dir, 'cjs.cts'), CJS);
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, outDir: 'out', skipLibCheck: false, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')] }, files: ['esm.mts', 'cjs.cts'] }),
      );
      const tsc = spawnSync(process.execPath, [TSC, '-p', dir], { cwd: dir });
      expect(tsc.status, tsc.stdout.toString() + tsc.stderr.toString()).toBe(0);
      const esm = spawnSync(process.execPath, [path.join(dir, 'out', 'esm.mjs')], { cwd: dir, timeout: 30_000 });
      expect(esm.status, esm.stderr.toString()).toBe(0);
      expect(JSON.parse(esm.stdout.toString())).toEqual({ same: true, code: 'ERR_TTSAV_BUSY', pending: true, ready: true, defaultKeys: true });
      const cjs = spawnSync(process.execPath, [path.join(dir, 'out', 'cjs.cjs')], { cwd: dir, timeout: 30_000 });
      expect(cjs.status, cjs.stderr.toString()).toBe(0);
      expect(JSON.parse(cjs.stdout.toString())).toEqual({ same: true });
    });
  });

  it('@arethetypeswrong/cli finds no problem in the packed package', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js'), '--pack', '.', '--format', 'json'], { cwd: ROOT, timeout: 120_000, maxBuffer: 1 << 26 });
    expect(r.status, r.stderr.toString()).toBe(0);
    const out = JSON.parse(r.stdout.toString()) as { problems?: unknown[] | Record<string, unknown> };
    expect(out.problems ?? {}).toEqual(Array.isArray(out.problems) ? [] : {});
  }, 180_000);
});
