#!/usr/bin/env node
/**
 * Soak and abort storm against the built library (dist/): many transcodes in one process, memory sampled as it
 * goes. Run with --expose-gc (npm run soak does) so that samples are taken after a full collection.
 *
 *   node --expose-gc scripts/soak.mjs [--jobs 10000] [--sample 250] [--warmup 2000] [--concurrency 4] [--json]
 *       mixed jobs: MP3 (EdgeTTS-like), WAV, FLAC, Ogg/Opus, M4A and ADTS inputs to m4a, adts, fmp4, ogg and mp3
 *       outputs with presets, limits, filters and concat; ~12% fail (damaged, not media, limits), ~15% are aborted
 *       at a random point, some probed; half go through a pool
 *   node --expose-gc scripts/soak.mjs --storm [--jobs 1000] ...
 *       every job aborted at a random point (before the call, queued, mid-job: half take a 30 s clip), half of
 *       them through a pool; then transcode() and the pool must still serve, with output identical to before
 *
 * Prints a table of samples (jobs done, RSS, RSS outside V8's heap, V8 heap used, external) and the growth from
 * the first sample after warm-up to the end; --json prints one JSON line instead.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function args() {
  const a = process.argv.slice(2);
  const num = (name, def) => {
    const i = a.indexOf(name);
    return i >= 0 ? Number(a[i + 1]) : def;
  };
  const storm = a.includes('--storm');
  const jobs = num('--jobs', storm ? 1000 : 10_000);
  return {
    storm,
    jobs,
    sample: num('--sample', storm ? 100 : 250),
    warmup: num('--warmup', Math.min(2000, Math.floor(jobs / 5))),
    concurrency: num('--concurrency', 4),
    seed: num('--seed', 1),
    json: a.includes('--json'),
  };
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Inputs made once by the ffmpeg CLI: 1-3 s clips in the formats services hand us, plus damaged ones. */
function makeInputs() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-soak-'));
  const ff = (out, seconds, ...enc) => {
    const file = path.join(dir, out);
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i',
      `sine=frequency=220:sample_rate=24000:duration=${seconds},volume=0.4`, '-f', 'lavfi', '-i',
      `anoisesrc=color=pink:amplitude=0.05:sample_rate=24000:duration=${seconds}`, '-filter_complex', 'amix=inputs=2',
      ...enc, file], { stdio: 'pipe' });
    return readFileSync(file);
  };
  try {
    const good = {
      edge: ff('edge.mp3', 2, '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '48k'),
      short: ff('short.mp3', 0.4, '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '48k'),
      wav: ff('s.wav', 1.5, '-ar', '22050', '-c:a', 'pcm_s16le'),
      flac: ff('s.flac', 1.5, '-ar', '44100', '-ac', '2', '-c:a', 'flac'),
      opus: ff('s.opus', 2, '-c:a', 'libopus', '-b:a', '32k'),
      m4a: ff('s.m4a', 2, '-c:a', 'aac', '-b:a', '64k'),
      adts: ff('s.aac', 1, '-c:a', 'aac', '-b:a', '64k', '-f', 'adts'),
    };
    const r = rng(99);
    const bad = {
      cut: good.edge.subarray(0, Math.floor(good.edge.length * 0.4)),
      header: good.m4a.subarray(0, 200),
      noise: Buffer.from(Array.from({ length: 8192 }, () => Math.floor(r() * 256))),
      text: Buffer.from('not audio at all\n'.repeat(100)),
      empty: Buffer.alloc(0),
    };
    // For the storm: long enough that an abort always lands mid-job (encoding it whole takes ~1 s of CPU).
    const long = ff('long.mp3', 30, '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '48k');
    return { good, bad, long };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function settleMemory() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 15));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, native: m.rss - m.heapTotal, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers };
}

const MB = (n) => (n / 1048576).toFixed(1);

async function main() {
  const o = args();
  if (!globalThis.gc) console.error('soak: run node with --expose-gc for meaningful samples');
  const lib = require(path.join(ROOT, 'dist', 'index.js'));
  const { transcode, concat, probe, createPool, TtsavError } = lib;
  const { good, bad, long } = makeInputs();
  const goodList = Object.entries(good);
  const badList = Object.entries(bad);
  const pool = createPool({ concurrency: o.concurrency });
  const r = rng(o.seed);
  const pick = (list) => list[Math.floor(r() * list.length)];

  // The reference answer, checked again after the run: the same job must give the same bytes.
  const refOptions = { preset: 'speech' };
  const reference = await transcode(good.edge, refOptions);

  const counts = {};
  const count = (k) => (counts[k] = (counts[k] ?? 0) + 1);
  const outcome = (p) => p.then(
    (res) => (res && res.data && res.data.length === 0 && res.samples > 0 ? count('empty output!') : count('ok')),
    (err) => count(err instanceof TtsavError ? err.code : `not a TtsavError: ${err}`),
  );

  /** One job of the mix; returns its settled promise. */
  function job(i) {
    const via = r() < 0.5 ? pool : null;
    const run = (input, options) => (via ? via.transcode(input, options) : transcode(input, options));
    const roll = r();
    if (o.storm || roll < 0.15) {
      // Aborted at a random point: before the call, while queued, or while running (clips take 5-60 ms).
      const ac = new AbortController();
      const when = r();
      if (when < 0.1) ac.abort();
      else if (when < 0.3) queueMicrotask(() => ac.abort());
      else setTimeout(() => ac.abort(), Math.floor(r() * 40));
      // In the storm half the jobs take a 30 s clip: if cancelling did not stop the native work, the storm would
      // take minutes instead of seconds.
      const input = o.storm && r() < 0.5 ? long : pick(goodList)[1];
      return outcome(run(input, { preset: pick(['speech', 'balanced', 'high_speed']), signal: ac.signal }));
    }
    if (roll < 0.22) {
      const [, input] = pick(badList);
      return outcome(run(input, {}));
    }
    if (roll < 0.25) return outcome(run(good.flac, { maxOutputBytes: 2000 })); // limit
    if (roll < 0.27) return outcome(run(good.edge, { maxDurationSeconds: 0.5 })); // limit
    if (roll < 0.30) return outcome(probe(pick(goodList)[1]));
    if (roll < 0.32) return outcome(concat([good.short, good.wav, good.short], { preset: 'speech', gapMs: 100 }));
    if (roll < 0.35) return outcome(run(good.edge, { preset: 'speech', filters: { trimSilence: true, loudness: true } }));
    const [, input] = pick(goodList);
    const format = pick(['m4a', 'm4a', 'adts', 'adts', 'fmp4', 'ogg', 'mp3']);
    const preset = pick(['speech', 'speech', 'balanced', 'high_speed']);
    return outcome(run(input, { preset, format, timeoutMs: 30_000 }));
  }

  const samples = [];
  const started = Date.now();
  let done = 0;
  let next = 0;
  const inFlight = new Set();
  const launch = () => {
    const p = job(next++).finally(() => {
      inFlight.delete(p);
      done++;
    });
    inFlight.add(p);
  };
  while (next < o.jobs || inFlight.size > 0) {
    while (inFlight.size < o.concurrency * 2 && next < o.jobs) {
      launch();
      if (next % o.sample === 0) {
        // Sample at a quiet point: every job of ours settled (an aborted job's native work stops at its next
        // packet; the pause in settleMemory lets it finish).
        await Promise.all(inFlight);
        samples.push({ jobs: done, ...(await settleMemory()) });
      }
    }
    if (inFlight.size > 0) await Promise.race(inFlight);
  }
  if (samples.length === 0 || samples[samples.length - 1].jobs !== done) samples.push({ jobs: done, ...(await settleMemory()) });

  // Still serving, and serving the same thing: transcode() and the pool give the reference bytes again.
  const after = await transcode(good.edge, refOptions);
  const afterPool = await pool.transcode(good.edge, refOptions);
  const stillServes = Buffer.compare(after.data, reference.data) === 0 && Buffer.compare(afterPool.data, reference.data) === 0;
  const metrics = pool.metrics();
  await pool.close();
  const final = await settleMemory();

  const base = samples.find((s) => s.jobs >= o.warmup) ?? samples[0];
  const last = samples[samples.length - 1];
  const growth = { rss: last.rss - base.rss, native: last.native - base.native, heapUsed: last.heapUsed - base.heapUsed, external: last.external - base.external };
  const summary = {
    mode: o.storm ? 'storm' : 'soak', jobs: done, seconds: (Date.now() - started) / 1000, counts, stillServes,
    poolInFlightAfter: metrics.inFlightJobs, warmupJobs: base.jobs, base, last, growth, final,
    maxRss: Math.max(...samples.map((s) => s.rss)), samples,
  };
  if (o.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  console.log(`${summary.mode}: ${done} jobs in ${summary.seconds.toFixed(0)} s, concurrency ${o.concurrency}; outcomes ${JSON.stringify(counts)}`);
  console.log('   jobs    rss MB  non-V8 MB  heapUsed MB  external MB');
  for (const s of samples)
    console.log(`${String(s.jobs).padStart(7)} ${MB(s.rss).padStart(9)} ${MB(s.native).padStart(10)} ${MB(s.heapUsed).padStart(12)} ${MB(s.external).padStart(12)}`);
  console.log(`growth after warm-up (from ${base.jobs} jobs to ${last.jobs}): RSS ${MB(growth.rss)} MB, outside V8's heap ${MB(growth.native)} MB, ` +
    `V8 heap used ${MB(growth.heapUsed)} MB, external ${MB(growth.external)} MB; peak RSS ${MB(summary.maxRss)} MB`);
  console.log(`after the run: transcode() and the pool ${stillServes ? 'still serve identical output' : 'DO NOT serve identical output'}`);
  if (!stillServes) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
