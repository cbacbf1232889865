/**
 * The API reference in docs/api/ is generated from lib/'s TSDoc (`npm run docs`); this fails when a change to an
 * exported type or its documentation was committed without regenerating it, naming the stale pages.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');

describe('docs/api', () => {
  it('matches what typedoc generates from lib/ now (npm run docs:check)', () => {
    const r = spawnSync(process.execPath, ['scripts/docs.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/docs\/api\/ is up to date \(\d+ files\)/);
  }, 120_000); // ~7 s on an idle machine; more when the suite shares the cores
});
