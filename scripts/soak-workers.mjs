#!/usr/bin/env node
/**
 * Worker-termination storm against the built library (dist/): round after round, several worker_threads load
 * the addon, start transcodes (a 30 s clip that is still running, and short ones; and four short ones through a pool
 * of 2, so that its native job queue holds running jobs and jobs ahead) and are terminated at a random
 * point — while loading, while their jobs are queued, or mid-transcode. Afterwards the main thread and a fresh
 * worker must still transcode, with the same output as before the storm.
 *
 *   node --expose-gc scripts/soak-workers.mjs [--rounds 60] [--workers 3] [--sample 10] [--json]
 *
 * Prints RSS (and RSS outside V8's heap) every --sample rounds and the growth after the first sample.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const a = process.argv.slice(2);
const num = (name, def) => (a.includes(name) ? Number(a[a.indexOf(name) + 1]) : def);
const ROUNDS = num('--rounds', 60);
const WORKERS = num('--workers', 3);
const SAMPLE = num('--sample', 10);
const JSON_OUT = a.includes('--json');

const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-workers-'));
const clip = (name, seconds) => {
  const file = path.join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i',
    `sine=frequency=200:sample_rate=24000:duration=${seconds}`, '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '48k', file]);
  return file;
};
const longFile = clip('long.mp3', 30);
const shortFile = clip('short.mp3', 1);

// The worker: loads the library, reports, then runs one long and two short transcodes, reporting each.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { transcode, createPool } = require(workerData.lib);
parentPort.postMessage('loaded');
const long = fs.readFileSync(workerData.long), short = fs.readFileSync(workerData.short);
transcode(long, { preset: 'balanced' }).then(() => parentPort.postMessage('long done'), () => {});
for (let i = 0; i < 2; i++) transcode(short, { preset: 'speech' }).then((r) => parentPort.postMessage(r.samples), () => {});
const pool = createPool({ concurrency: 2 });
for (let i = 0; i < 4; i++) pool.transcode(short, { preset: 'balanced' }).then((r) => parentPort.postMessage(r.samples), () => {});
`;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function memory() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, native: m.rss - m.heapTotal };
}

async function main() {
  const lib = path.join(ROOT, 'dist', 'index.js');
  const { transcode, createPool } = require(lib);
  const reference = await transcode(readFileSync(shortFile), { preset: 'speech' });
  const r = rng(7);
  const samples = [];
  const when = { whileLoading: 0, afterLoad: 0, midTranscode: 0 };
  let shortDone = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const workers = Array.from({ length: WORKERS }, () => new Worker(WORKER, {
      eval: true, workerData: { lib, long: longFile, short: shortFile },
    }));
    await Promise.all(workers.map(async (w) => {
      const pick = r();
      w.on('message', (m) => { if (typeof m === 'number') shortDone++; });
      w.on('error', () => {});
      if (pick < 0.15) {
        when.whileLoading++; // terminated before (or while) the addon loads
      } else {
        await new Promise((res) => w.once('message', res)); // 'loaded'
        if (pick < 0.3) when.afterLoad++;
        else {
          when.midTranscode++;
          await new Promise((res) => setTimeout(res, Math.floor(r() * 60)));
        }
      }
      await w.terminate();
    }));
    if (round % SAMPLE === 0) samples.push({ round, ...(await memory()) });
  }
  // Native jobs of terminated workers stop at their next packet; give them a moment, then check service.
  await new Promise((res) => setTimeout(res, 200));
  const after = await transcode(readFileSync(shortFile), { preset: 'speech' });
  const pool = createPool({ concurrency: 2 });
  const afterPool = await Promise.all([0, 1, 2, 3].map(() => pool.transcode(readFileSync(shortFile), { preset: 'speech' })));
  await pool.close();
  const fresh = await new Promise((resolve, reject) => {
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      require(workerData.lib).transcode(require('fs').readFileSync(workerData.short), { preset: 'speech' })
        .then((r) => parentPort.postMessage(Buffer.from(r.data)), (e) => parentPort.postMessage(String(e)));`,
    { eval: true, workerData: { lib, short: shortFile } });
    w.once('message', (m) => { w.terminate(); resolve(m); });
    w.once('error', reject);
  });
  // postMessage hands the worker's Buffer over as a Uint8Array (a string if the worker failed).
  const freshOk = fresh instanceof Uint8Array &&
    Buffer.compare(Buffer.from(fresh.buffer, fresh.byteOffset, fresh.byteLength), reference.data) === 0;
  const stillServes = Buffer.compare(after.data, reference.data) === 0 && freshOk &&
    afterPool.every((p) => Buffer.compare(p.data, reference.data) === 0);
  const base = samples[0];
  const last = samples[samples.length - 1];
  const summary = {
    rounds: ROUNDS, workers: ROUNDS * WORKERS, terminated: when, shortTranscodesFinished: shortDone, stillServes,
    growth: { rss: last.rss - base.rss, native: last.native - base.native }, samples,
  };
  if (JSON_OUT) console.log(JSON.stringify(summary));
  else {
    console.log(`workers: ${summary.workers} terminated (${JSON.stringify(when)}), ${shortDone} short transcodes finished in them`);
    for (const s of samples) console.log(`round ${String(s.round).padStart(4)}: RSS ${(s.rss / 1048576).toFixed(1)} MB, outside V8's heap ${(s.native / 1048576).toFixed(1)} MB`);
    console.log(`growth from round ${base.round} to ${last.round}: RSS ${(summary.growth.rss / 1048576).toFixed(1)} MB, outside V8's heap ${(summary.growth.native / 1048576).toFixed(1)} MB`);
    console.log(`after the storm: main thread and a fresh worker ${stillServes ? 'still serve identical output' : 'DO NOT serve identical output'}`);
  }
  if (!stillServes) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
}).finally(() => rmSync(dir, { recursive: true, force: true }));
