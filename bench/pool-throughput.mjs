// Pool throughput at fixed concurrencies and with concurrency: 'auto', on one corpus of mixed voice clips.
//
//   node bench/pool-throughput.mjs [--clips 120] [--rounds 1] [--max 4] [--levels 1,2,3,4]
//
// Needs the test fixtures (run the test suite once: they are generated into .tmp/fixtures). Prints a Markdown
// table: audio seconds produced per wall second for each setting, relative to the best fixed one, and for 'auto'
// the limits its controller chose (time-weighted) and where it ended. Contenders alternate within each round.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    clips: { type: 'string', default: '120' },
    rounds: { type: 'string', default: '1' },
    max: { type: 'string' },
    levels: { type: 'string' },
    preset: { type: 'string', default: 'balanced' },
  },
});
const cores = os.availableParallelism();
const max = Number(values.max ?? Math.max(4, 2 * cores));
// Room in libuv's threadpool for the largest setting (must be set before the pool's first use).
process.env.UV_THREADPOOL_SIZE = String(Math.max(Number(process.env.UV_THREADPOOL_SIZE ?? 4), max));

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { createPool, transcode, versions } = await import(path.join(root, 'dist', 'index.js'));
const fixtures = path.join(root, '.tmp', 'fixtures');
const names = ['edge.mp3', 'speech.flac', 'speech.opus', 'speech.m4a', 'stereo48k.wav', 'speech.wav'];
if (!names.every((n) => existsSync(path.join(fixtures, n)))) {
  console.error('missing test fixtures: run `npx vitest run test/options.test.ts` (or npm test) once first');
  process.exit(1);
}
const corpus = [...names.map((n) => readFileSync(path.join(fixtures, n))), readFileSync(path.join(root, 'samples', 'hello.mp3'))];
const clips = Number(values.clips);
const items = Array.from({ length: clips }, (_, i) => corpus[i % corpus.length]);
const options = { preset: values.preset };
const levels = (values.levels ?? [1, 2, 3, 4].filter((l) => l <= max).join(',')).split(',').map(Number);

async function run(concurrency) {
  const pool = createPool(concurrency === 'auto' ? { concurrency: 'auto', maxConcurrency: max } : { concurrency });
  const started = performance.now();
  let audio = 0;
  let failed = 0;
  // Time-weighted concurrency limit while the batch ran.
  let lastT = started;
  let lastLimit = pool.concurrency;
  const weight = new Map();
  for await (const r of pool.transcodeMany(items, options)) {
    if (r.error) failed++;
    else audio += r.result.durationSeconds;
    const now = performance.now();
    weight.set(lastLimit, (weight.get(lastLimit) ?? 0) + (now - lastT));
    lastT = now;
    lastLimit = pool.concurrency;
  }
  const wall = (performance.now() - started) / 1000;
  const history = pool.autoHistory();
  await pool.close();
  if (failed) throw new Error(`${failed} jobs failed`);
  return { throughput: audio / wall, wall, weight, history, final: pool.concurrency };
}

await transcode(corpus[0]); // load the addon
await run(1); // warm-up
const contenders = [...levels, 'auto'];
const results = new Map(contenders.map((c) => [c, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 ? [...contenders].reverse() : contenders;
  for (const c of order) {
    const r = await run(c);
    results.get(c).push(r);
    process.stderr.write(`round ${round + 1} concurrency ${c}: ${r.throughput.toFixed(1)} audio s/s (${r.wall.toFixed(1)} s)\n`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = contenders.map((c) => ({ c, tp: median(results.get(c).map((r) => r.throughput)), runs: results.get(c) }));
const bestFixed = Math.max(...summary.filter((s) => s.c !== 'auto').map((s) => s.tp));
console.log(`\n${os.cpus()[0]?.model ?? 'cpu'}, ${cores} cores, FFmpeg ${versions().ffmpeg}, Node ${process.version}; ` +
  `${clips} clips (${corpus.length} kinds, 3.8–8.5 s), preset ${values.preset}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE}, ` +
  `${values.rounds} round(s), median\n`);
console.log('| concurrency | audio s / wall s | vs best fixed | limits used (time share) |');
console.log('| --- | --- | --- | --- |');
for (const s of summary) {
  let used = '';
  if (s.c === 'auto') {
    const total = new Map();
    for (const r of s.runs) for (const [l, ms] of r.weight) total.set(l, (total.get(l) ?? 0) + ms);
    const sum = [...total.values()].reduce((a, b) => a + b, 0);
    used = [...total.entries()].sort((a, b) => a[0] - b[0]).map(([l, ms]) => `${l}: ${((100 * ms) / sum).toFixed(0)}%`).join(', ');
    used += `; ended at ${s.runs.map((r) => r.final).join(', ')}`;
  }
  console.log(`| ${s.c === 'auto' ? `auto (1–${max})` : s.c} | ${s.tp.toFixed(1)} | ${(s.tp / bestFixed).toFixed(2)}× | ${used} |`);
}
const auto = summary.find((s) => s.c === 'auto');
const MARK = { up: 'u', down: 'd', stay: '=', settle: '~', 'event-loop': 'e', memory: 'm' };
console.log(`\nauto decisions (last run): ${auto.runs.at(-1).history.map((d) => `${d.limit}${MARK[d.reason]}`).join(' ')}`);
console.log('(u up, d down, = stay, ~ settling window after a change, e event-loop brake, m memory brake)');
