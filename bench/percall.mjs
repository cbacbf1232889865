// Per-call figures with benchmark.js: one call at a time (deferred benchmarks), on a typical ~8.5 s voice line and a
// ~1 s phrase, for spawn-ffmpeg, ttsav transcode() (seed settings and the 'speech' preset) and node-av.
// Started by bench/run.mjs as `node percall.mjs '<json>'` (ttsav, typical, phrase, outDir, quick); prints one JSON
// line: { results: [{ clip, name, hz, rme, meanMs, samples }] }.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Benchmark from 'benchmark';
import { nodeAvTranscode } from './nodeav.mjs';

const config = JSON.parse(process.argv[2]);
const ttsav = createRequire(import.meta.url)(config.ttsav);

function spawnFfmpeg(input, output) {
  return new Promise((resolve, reject) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', input, '-c:a', 'aac', '-b:a', '192k',
      '-ar', '44100', '-ac', '2', '-f', 'mp4', output], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

const seedNodeAv = { sampleRate: 44100, channels: 2, bitrate: 192000, aacCoder: 'twoloop' };
const results = [];

for (const [clip, file] of [['~8.5 s line', config.typical], ['~1 s phrase', config.phrase]]) {
  const data = readFileSync(file);
  const out = path.join(config.outDir, `percall-${process.pid}.m4a`);
  // Warm every contender once (addon load, node-av's module graph, the page cache for ffmpeg's libraries).
  await ttsav.transcode(data, { faststart: false });
  await nodeAvTranscode(data, seedNodeAv);
  await spawnFfmpeg(file, out);
  const opts = { defer: true, minSamples: config.quick ? 3 : 10, maxTime: config.quick ? 0.5 : 2 };
  const deferred = (fn) => ({ ...opts, fn: (d) => fn().then(() => d.resolve(), (err) => { console.error(err); process.exit(1); }) });
  const suite = new Benchmark.Suite(clip);
  suite
    .add('spawn ffmpeg (seed settings)', deferred(() => spawnFfmpeg(file, out)))
    .add('ttsav transcode() (seed settings)', deferred(() => ttsav.transcode(data, { faststart: false })))
    .add("ttsav transcode() 'speech'", deferred(() => ttsav.transcode(data, { preset: 'speech' })))
    .add('node-av async API (seed settings)', deferred(() => nodeAvTranscode(data, seedNodeAv)));
  await new Promise((resolve) => {
    suite.on('cycle', (e) => console.error(String(e.target)));
    suite.on('complete', resolve);
    suite.run({ async: true });
  });
  suite.forEach((b) => results.push({ clip, name: b.name, hz: b.hz, rme: b.stats.rme, meanMs: b.stats.mean * 1000, samples: b.stats.sample.length }));
}
process.stdout.write(JSON.stringify({ results }) + '\n');
