// ttsav against the C++ codec floor at concurrency 2, two builds side by side: time ratios to the floor taken within
// each round (cells interleaved, order reversed every other round), medians over the rounds. For a before/after of
// a change to the binding or the pool (issue 13: the native job queue), e.g.
//
//   node bench/floor-ratio.mjs --base /work/main --rounds 5
//
// --base DIR: another checkout whose dist/ and build/Release/ttsav.node are the "before" (copied first, so a rebuild
// there does not disturb the run). Without it only this checkout runs. Needs the corpus and the floor, as
// bench/run.mjs makes them (node bench/run.mjs --phases check --quick makes both). Cells run in fresh processes
// (bench/cell.mjs). Prints a table and writes .tmp/bench/floor-ratio-<time>.json.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const work = path.join(root, '.tmp', 'bench');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : args[i + 1];
};
const rounds = Number(option('rounds', 3));
const base = option('base');
const log = (...m) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...m);

const floorBin = path.join(root, 'build-bench', 'ttsav-bench-floor');
const FLOOR = {
  seed: ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'],
  speech: ['container=mp4', 'bitrate=64000', 'rate=0', 'channels=1', 'coder=fast', 'faststart=1'],
};

function snapshot(from, name) {
  const dir = path.join(work, `snap-${name}`);
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(from, 'dist'), path.join(dir, 'dist'), { recursive: true });
  cpSync(path.join(from, 'package.json'), path.join(dir, 'package.json'));
  cpSync(path.join(from, 'build', 'Release', 'ttsav.node'), path.join(dir, 'ttsav.node'));
  return { name, ttsav: path.join(dir, 'dist', 'index.js'), addon: path.join(dir, 'ttsav.node') };
}

const manifest = JSON.parse(readFileSync(path.join(work, 'corpus-v1', 'manifest.json'), 'utf8'));
const lists = {};
for (const set of ['phrases', 'clips']) {
  lists[set] = path.join(work, `floor-ratio-${set}.txt`);
  writeFileSync(lists[set], manifest.files.filter((f) => f.set === set).map((f) => path.join(work, 'corpus-v1', f.file)).join('\n') + '\n');
}
if (!existsSync(floorBin)) throw new Error('no floor: cmake --build build-bench --target ttsav-bench-floor');
const shm = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

const builds = [snapshot(root, 'this'), ...(base ? [snapshot(path.resolve(base), 'base')] : [])];
// [set, settings, repeat]: short jobs are repeated so that a cell lasts a second or more.
const GROUPS = [
  ['phrases', 'seed', 2],
  ['phrases', 'speech', 6],
  ['clips', 'seed', 1],
];

async function cell(c) {
  const load1 = os.loadavg()[0];
  if (c.kind === 'floor') {
    const a = ['--list', lists[c.set], '--threads', '2', '--repeat', String(c.repeat), ...FLOOR[c.settings]];
    return { ...c, ...JSON.parse((await execFileP(floorBin, a, { maxBuffer: 1 << 20 })).stdout), load1 };
  }
  const b = c.build;
  const config = { kind: c.kind, settings: c.settings, conc: 2, list: lists[c.set], repeat: c.repeat, outDir: shm, ttsav: b?.ttsav };
  const { stdout } = await execFileP(process.execPath, [path.join(here, 'cell.mjs'), JSON.stringify(config)], {
    env: { ...process.env, ...(b ? { TTSAV_ADDON: b.addon } : {}) },
    maxBuffer: 1 << 20,
  });
  return { ...c, ...JSON.parse(stdout.trim().split('\n').pop()), load1 };
}

const label = (c) => (c.kind === 'floor' ? 'C++ floor' : c.kind === 'spawn' ? 'spawn ffmpeg' : `${c.build.name} ${c.kind === 'ttsav' ? 'transcode()' : 'createPool'}`);
const results = [];
for (let r = 0; r < rounds; r++) {
  for (const [set, settings, repeat] of GROUPS) {
    const cells = [{ kind: 'floor' }];
    for (const b of builds) cells.push({ kind: 'ttsav', build: b }, { kind: 'pool', build: b });
    if (settings === 'seed' && set === 'phrases') cells.push({ kind: 'spawn', repeat: 1 });
    if (r % 2) cells.reverse();
    for (const c of cells) {
      const out = await cell({ set, settings, repeat, ...c });
      const perFile = out.wallMs / out.files;
      // busy: the share of the two threads' wall time spent inside jobs (the rest is idle between jobs).
      const busy = out.busyMs ? out.busyMs / (out.wallMs * 2) : undefined;
      results.push({ round: r, group: `${set}/${settings}`, who: label(out), perFile, wallMs: out.wallMs, files: out.files, cpuMs: out.cpuMs, busy, load1: out.load1 });
      log(`round ${r + 1} ${set}/${settings} ${label(out)}: ${perFile.toFixed(2)} ms/file (load ${out.load1.toFixed(2)})`);
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const lines = [`rounds ${rounds}; loads ${Math.min(...results.map((x) => x.load1)).toFixed(2)}–${Math.max(...results.map((x) => x.load1)).toFixed(2)} (1-min, ${os.cpus().length} cores)`, ''];
lines.push('| set | contender | ms/file (median) | × floor time (median; per round) | spawn ÷ it (median) | threads busy in jobs (median) |', '| --- | --- | --- | --- | --- | --- |');
for (const group of [...new Set(results.map((x) => x.group))]) {
  const rows = results.filter((x) => x.group === group);
  for (const who of [...new Set(rows.map((x) => x.who))]) {
    const mine = rows.filter((x) => x.who === who);
    const ratios = mine.map((x) => x.perFile / rows.find((y) => y.round === x.round && y.who === 'C++ floor').perFile);
    const spawn = mine.map((x) => rows.find((y) => y.round === x.round && y.who === 'spawn ffmpeg')?.perFile / x.perFile).filter(Number.isFinite);
    const busy = mine.map((x) => x.busy).filter((x) => x !== undefined);
    lines.push(`| ${group} | ${who} | ${median(mine.map((x) => x.perFile)).toFixed(2)} | ${median(ratios).toFixed(3)}× (${ratios.map((x) => x.toFixed(3)).join(', ')}) | ${spawn.length ? `${median(spawn).toFixed(2)}×` : '–'} | ${busy.length ? `${(median(busy) * 100).toFixed(1)}%` : '–'} |`);
  }
}
console.log(lines.join('\n'));
writeFileSync(path.join(work, `floor-ratio-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ builds: builds.map((b) => b.name), results }, null, 1));
