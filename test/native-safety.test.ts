/**
 * The pure C++ core under AddressSanitizer + UndefinedBehaviorSanitizer with leak checking, over whole, cut,
 * corrupted and hostile inputs, limits, cancellation and timeouts (scripts/check-native.sh). Any report fails.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('native memory safety', () => {
  it('no sanitizer report over the core driver runs', () => {
    const r = spawnSync('bash', [path.resolve(__dirname, '..', 'scripts', 'check-native.sh')], {
      encoding: 'utf8',
      timeout: 15 * 60_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out.slice(-4000)).toBe(0);
    const m = /check-native: (\d+) runs, (\d+) sanitizer failures/.exec(out);
    expect(m, out.slice(-2000)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(100);
    expect(Number(m![2])).toBe(0);
  }, 16 * 60_000);
});
