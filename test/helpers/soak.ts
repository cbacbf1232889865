/** Runs scripts/soak.mjs (soak or --storm) in a child process with GC exposed and returns its JSON summary. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');

export interface Sample { jobs: number; rss: number; native: number; heapUsed: number; external: number }
export interface SoakSummary {
  jobs: number;
  counts: Record<string, number>;
  stillServes: boolean;
  poolInFlightAfter: number;
  growth: { rss: number; native: number; heapUsed: number; external: number };
  samples: Sample[];
}

export function runSoak(args: string[]): SoakSummary {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(ROOT, 'scripts', 'soak.mjs'), ...args, '--json'], {
    cwd: ROOT,
    // Two malloc arenas: glibc's default (8 per core) makes RSS climb in steps while each libuv pool thread's
    // arena reaches its high-water mark, which would hide a leak in a short run (see the README's numbers).
    env: { ...process.env, MALLOC_ARENA_MAX: '2' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  expect(r.signal, r.stderr.slice(-3000)).toBeNull();
  expect(r.status, r.stderr.slice(-3000)).toBe(0);
  return JSON.parse(r.stdout) as SoakSummary;
}
