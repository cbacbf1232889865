// The benchmark runner (`npm run bench`): ttsav against spawning ffmpeg per file (the seed's approach), against the
// codec floor (native/av driven from C++ with no Node: bench/floor.cc), and against node-av, on one generated corpus,
// with the same settings, in one run, contenders interleaved round by round (order reversed every other round) so
// drift and other load hit all of them alike. Every cell runs in a fresh process. See bench/README.md.
//
//   node bench/run.mjs [--rounds N] [--phases check,percall,throughput,rss,encode] [--quick] [--write-results]
//                      [--kinds ttsav,floor,nodeav-sync,nodeav] [--conc 2]   (only these cells in the throughput table)
//                      [--rss-from .tmp/bench/results-<date>.json]   (quote an earlier run's memory phase)
//   node bench/run.mjs --report-from .tmp/bench/results-<date>.json [--write-results]   (report a saved run again)
//
// --write-results replaces the generated part of bench/RESULTS.md (between the results markers); the full report
// and the raw JSON always go to .tmp/bench/.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureCorpus, summarize } from './corpus.mjs';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const work = path.join(root, '.tmp', 'bench');
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------------------- args
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name, fallback) => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  return args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
};
const quick = flag('quick'); // a smoke run: 10 files a set, 1 round
const rounds = Number(option('rounds', quick ? 1 : 2));
const phases = new Set(String(option('phases', 'check,percall,throughput,rss,encode')).split(','));
const kinds = option('kinds') ? new Set(String(option('kinds')).split(',')) : undefined;
const concs = option('conc') ? new Set(String(option('conc')).split(',')) : undefined; // e.g. --conc 2
const log = (...m) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...m);

// ----------------------------------------------------------------------------------------------- prerequisites
function ensureBuilt() {
  if (!existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  if (!existsSync(path.join(here, 'node_modules', 'benchmark'))) {
    log('installing the bench package (benchmark, node-av) with npm ci in bench/');
    // --ignore-scripts: node-av's postinstall only downloads an ffmpeg CLI binary (not used here, and it needs the
    // internet); its addon and FFmpeg come in the per-platform package @seydx/node-av-<platform>-<arch>.
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: here, stdio: 'inherit' });
  }
  log('building the codec floor (cmake target ttsav-bench-floor in build-bench/)');
  execFileSync('cmake', ['-S', root, '-B', path.join(root, 'build-bench'), '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'ignore' });
  execFileSync('cmake', ['--build', path.join(root, 'build-bench'), '--target', 'ttsav-bench-floor', '-j2'], { stdio: 'ignore' });
}

// Others may rebuild dist/ or the addon while this runs: cells load a private snapshot of both.
function snapshot() {
  const snap = path.join(work, 'snap');
  rmSync(snap, { recursive: true, force: true });
  mkdirSync(snap, { recursive: true });
  cpSync(path.join(root, 'dist'), path.join(snap, 'dist'), { recursive: true });
  cpSync(path.join(root, 'package.json'), path.join(snap, 'package.json'));
  const addon = require('node-gyp-build').resolve(root);
  cpSync(addon, path.join(snap, 'ttsav.node'));
  return { ttsav: path.join(snap, 'dist', 'index.js'), addon: path.join(snap, 'ttsav.node'), addonFrom: addon };
}

// ------------------------------------------------------------------------------------------------------ cells
const cellEnv = (snap) => ({ ...process.env, TTSAV_ADDON: snap.addon });
const floorBin = path.join(root, 'build-bench', 'ttsav-bench-floor');
const FLOOR_SETTINGS = {
  seed: ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'],
  speech: ['container=mp4', 'bitrate=64000', 'rate=0', 'channels=1', 'coder=fast', 'faststart=1'],
};

async function runCell(cell, ctx) {
  const load = os.loadavg()[0];
  let out;
  if (cell.kind === 'floor') {
    const a = ['--list', ctx.lists[cell.set], '--threads', String(cell.conc), '--repeat', String(cell.repeat ?? 1), ...FLOOR_SETTINGS[cell.settings]];
    out = JSON.parse((await execFileP(floorBin, a, { maxBuffer: 1 << 20 })).stdout);
    out.childCpuMs = 0;
  } else {
    const config = { kind: cell.kind, settings: cell.settings, conc: cell.conc, list: ctx.lists[cell.set], repeat: cell.repeat,
      outDir: ctx.shm, ttsav: ctx.snap.ttsav, sampleMs: cell.sampleMs ?? 0 };
    const { stdout } = await execFileP(process.execPath, [path.join(here, 'cell.mjs'), JSON.stringify(config)],
      { env: cellEnv(ctx.snap), maxBuffer: 1 << 20 });
    out = JSON.parse(stdout.trim().split('\n').pop());
  }
  return { ...cell, ...out, load1: load };
}

const label = (c) => {
  const who = { spawn: 'spawn ffmpeg', ttsav: 'ttsav transcode()', pool: 'ttsav createPool', floor: 'C++ floor',
    'nodeav-sync': 'node-av (sync, worker_threads)', nodeav: 'node-av async API' }[c.kind];
  return `${who}${c.settings === 'speech' ? " 'speech'" : ''} ×${c.conc}`;
};
const key = (c) => `${c.set}/${c.kind}/${c.settings}/${c.conc}`;

/** The matrix: which contenders run on which set (the long set and phrases skip the slowest redundant cells). */
function matrix() {
  const seed = (set, kinds) => kinds.map(([kind, conc]) => ({ set, kind, conc, settings: 'seed' }));
  const speech = (set, kinds) => kinds.map(([kind, conc]) => ({ set, kind, conc, settings: 'speech' }));
  return {
    clips: [
      ...seed('clips', [['spawn', 1], ['spawn', 2], ['spawn', 8], ['ttsav', 1], ['ttsav', 2], ['floor', 1], ['floor', 2],
        ['pool', 1], ['pool', 2], ['pool', 'auto'], ['nodeav-sync', 2], ['nodeav', 2]]),
      ...speech('clips', [['ttsav', 2], ['floor', 2], ['spawn', 2], ['nodeav-sync', 2]]),
    ],
    phrases: [
      ...seed('phrases', [['spawn', 1], ['spawn', 2], ['spawn', 8], ['ttsav', 1], ['ttsav', 2], ['floor', 2], ['pool', 2], ['nodeav-sync', 2], ['nodeav', 2]]),
      ...speech('phrases', [['ttsav', 2], ['floor', 2]]),
    ],
    long: [
      ...seed('long', [['spawn', 2], ['ttsav', 2], ['floor', 2], ['pool', 2], ['nodeav-sync', 2], ['nodeav', 2]]),
      ...speech('long', [['ttsav', 2]]),
    ],
  };
}

// ------------------------------------------------------------------------------------------------------ helpers
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const peakKB = (c) => Math.max(c.peakRssKB, c.sampledPeakRssKB ?? 0);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratioText = (xs) => (xs.length ? `${fmt(mean(xs), 2)}×${xs.length > 1 ? ` (${xs.map((x) => fmt(x, 2)).join(', ')})` : ''}` : '–');

function git(...a) {
  try {
    return execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

function environment(snap) {
  const ttsav = require(snap.ttsav);
  process.env.TTSAV_ADDON = snap.addon;
  const v = ttsav.versions();
  const nav = JSON.parse(spawnSync(process.execPath, ['-e',
    "import('./nodeav.mjs').then((m) => console.log(JSON.stringify({ version: m.nodeAvFFmpeg(), libraries: m.nodeAvLibraries() })))"],
  { cwd: here, encoding: 'utf8' }).stdout.trim());
  const libs = (l) => ['avcodec', 'avformat', 'avfilter', 'swresample', 'avutil'].map((k) => `${k} ${l[k]?.runtime ?? l[k]}`).join(', ');
  const navVersion = JSON.parse(readFileSync(path.join(here, 'node_modules', 'node-av', 'package.json'), 'utf8')).version;
  const cli = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
  const dirty = git('status', '--porcelain', '--', 'native', 'lib', 'binding.gyp', 'CMakeLists.txt') ? ' (working tree has uncommitted changes under native/ or lib/)' : '';
  return {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? '?'}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}`,
    node: process.version,
    ttsav: `${v.ttsav}, git ${git('rev-parse', '--short', 'HEAD')}${dirty}`,
    ffmpeg: `${v.ffmpeg} (ttsav and the C++ floor link the system's libav: ${libs(v.libraries)})`,
    ffmpegCli: cli,
    nodeav: `${navVersion}, its bundled FFmpeg ${nav.version} (${libs(nav.libraries)}), statically linked into its addon`,
    threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    defaultConcurrency: ttsav.defaultConcurrency(),
    loadStart: os.loadavg(),
  };
}

// ------------------------------------------------------------------------------------------------------ phases
/** Same job? ttsav vs the CLI (bytes), the floor vs ttsav (bytes), node-av vs the CLI (decoded sample count). */
async function checkSameJob(ctx) {
  const clip = ctx.pick.typical;
  const dir = path.join(ctx.shm, 'check');
  mkdirSync(dir, { recursive: true });
  const cliOut = path.join(dir, 'cli.m4a');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-c:a', 'aac', '-b:a', '192k', '-ar', '44100', '-ac', '2', '-f', 'mp4', cliOut]);
  const list = path.join(dir, 'list.txt');
  writeFileSync(list, clip + '\n');
  execFileSync(floorBin, ['--list', list, '--write', dir, ...FLOOR_SETTINGS.seed]);
  const script = `
    const { readFileSync, writeFileSync } = require('node:fs');
    const ttsav = require(${JSON.stringify(ctx.snap.ttsav)});
    ttsav.transcode(readFileSync(${JSON.stringify(clip)}), { faststart: false }).then(async (r) => {
      writeFileSync(${JSON.stringify(path.join(dir, 'ttsav.m4a'))}, r.data);
      const { nodeAvTranscode } = await import(${JSON.stringify(path.join(here, 'nodeav.mjs'))});
      writeFileSync(${JSON.stringify(path.join(dir, 'nodeav.m4a'))}, await nodeAvTranscode(readFileSync(${JSON.stringify(clip)}), { sampleRate: 44100, channels: 2, bitrate: 192000, aacCoder: 'twoloop' }));
      const { nodeAvTranscodeSync } = await import(${JSON.stringify(path.join(here, 'nodeav-sync.mjs'))});
      writeFileSync(${JSON.stringify(path.join(dir, 'nodeav-sync.m4a'))}, nodeAvTranscodeSync(readFileSync(${JSON.stringify(clip)}), { sampleRate: 44100, channels: 2, bitrate: 192000, aacCoder: 'twoloop' }));
    });`;
  execFileSync(process.execPath, ['-e', script], { cwd: here, env: cellEnv(ctx.snap) });
  const read = (f) => readFileSync(path.join(dir, f));
  const samples = (f) => execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(dir, f), '-f', 's16le', '-'], { maxBuffer: 1 << 28 }).length / 4;
  const result = {
    clip: path.basename(clip),
    ttsavEqualsCli: read('ttsav.m4a').equals(read('cli.m4a')),
    floorEqualsTtsav: read('0.m4a').equals(read('ttsav.m4a')),
    samples: { cli: samples('cli.m4a'), ttsav: samples('ttsav.m4a'), floor: samples('0.m4a'), nodeav: samples('nodeav.m4a'), nodeavSync: samples('nodeav-sync.m4a') },
  };
  log('same job:', JSON.stringify(result));
  result.nodeAvAll = await checkNodeAvEveryFile(ctx);
  return result;
}

/** Decoded samples per channel of an output (the ffmpeg CLI as the oracle) and its container duration in samples. */
async function decodedSamples(file) {
  const { stdout } = await execFileP('ffmpeg', ['-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  const probe = await execFileP('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=duration_ts', '-of', 'csv=p=0', file]);
  return { samples: stdout.length / 2, durationTs: Number(probe.stdout.trim()) };
}

/**
 * Every file of every set through ttsav and through node-av's sync contender (on its worker threads), both outputs
 * decoded by the ffmpeg CLI: node-av's must hold the same audio. node-av 6.1.1 drops the final partial AAC frame
 * (its Encoder's AudioFrameBuffer only hands out whole 1,024-sample frames, and its flush does not send the rest:
 * the last 1–1,023 samples, < 23 ms at 44.1 kHz), so its decoded count must equal ttsav's less one frame when
 * ttsav's last frame is partial, and equal it otherwise. Anything else fails the bench.
 */
async function checkNodeAvEveryFile(ctx) {
  const dir = path.join(ctx.shm, 'check-all');
  mkdirSync(dir, { recursive: true });
  const lists = Object.values(ctx.lists);
  const script = `
    const { readFileSync, writeFileSync } = require('node:fs');
    const ttsav = require(${JSON.stringify(ctx.snap.ttsav)});
    const files = ${JSON.stringify(lists)}.flatMap((l) => readFileSync(l, 'utf8').split('\\n').filter(Boolean));
    const out = (f, who) => ${JSON.stringify(dir)} + '/' + require('node:path').basename(f) + '.' + who + '.m4a';
    import(${JSON.stringify(path.join(here, 'nodeav-sync.mjs'))}).then(async ({ createNodeAvSyncWorkers }) => {
      const workers = createNodeAvSyncWorkers(2, { sampleRate: 44100, channels: 2, bitrate: 192000, aacCoder: 'twoloop' });
      let next = 0;
      const lane = async () => {
        for (let i; (i = next++) < files.length; ) {
          const input = readFileSync(files[i]);
          const [a, b] = await Promise.all([ttsav.transcode(input, { faststart: false }), workers.transcode(input)]);
          writeFileSync(out(files[i], 'ttsav'), a.data);
          writeFileSync(out(files[i], 'nodeav-sync'), b);
        }
      };
      await Promise.all([lane(), lane()]);
      await workers.close();
      console.log(JSON.stringify(files.map((f) => [f, out(f, 'ttsav'), out(f, 'nodeav-sync')])));
    });`;
  const { stdout } = await execFileP(process.execPath, ['-e', script], { cwd: here, env: cellEnv(ctx.snap), maxBuffer: 1 << 24 });
  const triples = JSON.parse(stdout.trim().split('\n').pop());
  const mismatches = [];
  let equal = 0;
  let lastFrameDropped = 0;
  let next = 0;
  const lane = async () => {
    for (let i; (i = next++) < triples.length; ) {
      const [input, a, b] = triples[i];
      const [t, n] = await Promise.all([decodedSamples(a), decodedSamples(b)]);
      const partial = t.durationTs % 1024 !== 0;
      if (n.samples === t.samples) equal++;
      else if (partial && n.samples === t.samples - 1024) lastFrameDropped++;
      else mismatches.push({ input: path.basename(input), ttsav: t, nodeavSync: n });
    }
  };
  await Promise.all([lane(), lane()]);
  rmSync(dir, { recursive: true, force: true });
  const result = { files: triples.length, equal, lastFrameDropped, mismatches };
  log('node-av sync, every file:', JSON.stringify(result));
  if (mismatches.length) throw new Error(`node-av (sync) output differs from ttsav's in decoded samples on ${mismatches.length} file(s): ${JSON.stringify(mismatches.slice(0, 5))}`);
  return result;
}

async function perCall(ctx) {
  const { stdout } = await execFileP(process.execPath, [path.join(here, 'percall.mjs'), JSON.stringify({
    ttsav: ctx.snap.ttsav, typical: ctx.pick.typical, phrase: ctx.pick.phrase, outDir: ctx.shm, quick,
  })], { env: cellEnv(ctx.snap), maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop());
}

async function throughput(ctx) {
  const m = matrix();
  if (kinds) for (const set of Object.keys(m)) m[set] = m[set].filter((c) => kinds.has(c.kind));
  if (concs) for (const set of Object.keys(m)) m[set] = m[set].filter((c) => concs.has(String(c.conc)));
  const results = [];
  for (let r = 0; r < rounds; r++) {
    for (const set of Object.keys(m)) {
      const cells = r % 2 === 0 ? m[set] : [...m[set]].reverse();
      for (const cell of cells) {
        const res = await runCell(cell, ctx);
        res.round = r;
        results.push(res);
        ctx.partial?.(results);
        log(`round ${r + 1}/${rounds} ${set.padEnd(7)} ${label(cell).padEnd(34)} ${fmt(res.wallMs / res.files, 1).padStart(7)} ms/file  cpu ${fmt((res.cpuMs + res.childCpuMs) / 1000, 2)} s  load ${fmt(res.load1, 2)}`);
      }
    }
  }
  return results;
}

/**
 * The AAC encoder's own cost in each libav version: the 10 long clips as 44.1 kHz stereo WAV (so decoding and
 * resampling are next to nothing), encoded with the seed settings one file at a time by the C++ floor and the ffmpeg
 * CLI (the system's libav) and by node-av's sync contender (its bundled FFmpeg). Reported as CPU ms per second of
 * audio; rounds alternate the order.
 */
async function encodeCost(ctx) {
  const files = readFileSync(ctx.lists.long, 'utf8').split('\n').filter(Boolean);
  const wavs = [];
  for (const f of files) {
    const to = f.replace(/\.mp3$/, '.wav');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', f, '-ar', '44100', '-ac', '2', '-c:a', 'pcm_s16le', to]);
    wavs.push(to);
  }
  ctx.lists.wav = path.join(ctx.shm, 'wav.txt');
  writeFileSync(ctx.lists.wav, wavs.join('\n') + '\n');
  const cells = [['floor', 1], ['spawn', 1], ['nodeav-sync', 1]].map(([kind, conc]) => ({ set: 'wav', kind, conc, settings: 'seed' }));
  const results = [];
  for (let r = 0; r < rounds; r++) {
    for (const cell of r % 2 === 0 ? cells : [...cells].reverse()) {
      const res = { ...(await runCell(cell, ctx)), round: r };
      results.push(res);
      log(`encode cost, round ${r + 1}/${rounds}: ${label(cell).padEnd(34)} cpu ${fmt((res.cpuMs + res.childCpuMs) / 1000, 2)} s`);
    }
  }
  return { audioSeconds: ctx.corpus.long.audioSeconds, files: wavs.length, cells: results };
}

async function rssRun(ctx) {
  const out = {};
  // 1,000 clips: the 100-clip corpus ten times through one pool at its default concurrency, seed settings.
  out.pool1000 = await runCell({ set: 'clips', kind: 'pool', conc: ctx.env.defaultConcurrency, settings: 'seed', repeat: quick ? 1 : 10, sampleMs: 50 }, ctx);
  log(`1,000-clip pool batch: peak RSS ${fmt(out.pool1000.peakRssKB / 1024, 1)} MB in ${fmt(out.pool1000.wallMs / 1000, 1)} s`);
  // What one spawned ffmpeg holds (the spawn pool holds N of them besides the parent).
  out.ffmpegChildKB = {};
  for (const [name, file] of Object.entries(ctx.pick)) {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', 'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y', '-i', file, '-c:a', 'aac', '-b:a', '192k', '-ar', '44100', '-ac', '2', '-f', 'mp4', path.join(ctx.shm, 'rss.m4a')], { encoding: 'utf8' });
    out.ffmpegChildKB[name] = Number(r.stderr.trim().split('\n').pop());
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------ report
function report(ctx, { check, percall, cells, rss, encode, quick, shm }) {
  const L = [];
  const e = ctx.env;
  const rounds = cells?.length ? Math.max(...cells.map((c) => c.round)) + 1 : 0;
  L.push(`Run ${e.date} — ${rounds} round(s) of the throughput table${quick ? ' (QUICK: 10 files a set; not for quoting)' : ''}`, '');
  L.push(`- machine: ${e.machine}; load average at start ${(e.loadStart ?? os.loadavg()).map((x) => fmt(x, 2)).join(' ')} — shared with other engineers' builds and tests`);
  L.push(`- node ${e.node}; ttsav ${e.ttsav}; FFmpeg ${e.ffmpeg}; CLI: ${e.ffmpegCli}`);
  L.push(`- node-av ${e.nodeav}`);
  L.push(`- UV_THREADPOOL_SIZE ${e.threadpool}: ttsav's default concurrency here is ${e.defaultConcurrency}`);
  const s = ctx.corpus;
  L.push(`- corpus (espeak-ng → 24 kHz mono 48k MP3, seeded): clips ${s.clips.count} × ${fmt(s.clips.min)}–${fmt(s.clips.max)} s (${fmt(s.clips.audioSeconds, 0)} s of audio); ` +
    `phrases ${s.phrases.count} × ${fmt(s.phrases.min, 2)}–${fmt(s.phrases.max, 2)} s; long ${s.long.count} × ${fmt(s.long.min, 0)}–${fmt(s.long.max, 0)} s; files on ${shm} (tmpfs)`);
  if (check) {
    L.push(`- same job (${check.clip}): ttsav output ${check.ttsavEqualsCli ? 'byte-identical to' : 'DIFFERS from'} the ffmpeg CLI's; floor output ${check.floorEqualsTtsav ? 'byte-identical to' : 'DIFFERS from'} ttsav's; ` +
      `decoded samples per channel: CLI ${check.samples.cli}, ttsav ${check.samples.ttsav}, floor ${check.samples.floor}, node-av async ${check.samples.nodeav}, node-av sync ${check.samples.nodeavSync}`);
    const all = check.nodeAvAll;
    if (all) {
      L.push(`- node-av (sync) on every file (${all.files}), decoded by the ffmpeg CLI: ${all.equal} with the same sample count as ttsav's, ` +
        `${all.lastFrameDropped} with exactly ttsav's final partial AAC frame missing (node-av 6.1.1's Encoder does not flush the last < 1,024 samples), ${all.mismatches.length} different`);
    }
  }
  L.push('');

  if (cells?.length) {
    const by = new Map();
    for (const c of cells) {
      if (!by.has(key(c))) by.set(key(c), []);
      by.get(key(c)).push(c);
    }
    const perRound = (set, r, kind, settings, conc) => cells.find((c) => c.set === set && c.round === r && c.kind === kind && c.settings === settings && c.conc === conc);
    const ratios = (a, b) => {
      const xs = [];
      for (let r = 0; r < rounds; r++) {
        const x = perRound(...a(r));
        const y = perRound(...b(r));
        if (x && y) xs.push(y.wallMs / y.files / (x.wallMs / x.files));
      }
      return xs; // throughput of a over throughput of b
    };
    // The same by CPU time per file (user+sys, children included): less sensitive to other load on the machine.
    const cpuRatios = (a, b) => {
      const xs = [];
      for (let r = 0; r < rounds; r++) {
        const x = perRound(...a(r));
        const y = perRound(...b(r));
        if (x && y) xs.push((y.cpuMs + y.childCpuMs) / y.files / ((x.cpuMs + x.childCpuMs) / x.files));
      }
      return xs;
    };
    ctx.cpuRatios = cpuRatios;
    ctx.ratios = ratios;
    ctx.perRound = perRound;
    for (const set of Object.keys(matrix())) {
      const setCells = [...by.values()].filter((g) => g[0].set === set);
      if (!setCells.length) continue;
      L.push(`### ${set} (${s[set].count} files, ${fmt(s[set].audioSeconds, 0)} s of audio)`, '');
      L.push('| contender | files/s | ms/file | CPU s (children) | CPU ms/file | peak RSS MB | × spawn pool of 2 | × floor at same concurrency |');
      L.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
      for (const g of setCells) {
        const c0 = g[0];
        const fps = mean(g.map((c) => c.files / (c.wallMs / 1000)));
        const ms = mean(g.map((c) => c.wallMs / c.files));
        const cpu = mean(g.map((c) => (c.cpuMs + c.childCpuMs) / 1000));
        const child = mean(g.map((c) => c.childCpuMs / 1000));
        const rssMB = Math.max(...g.map((c) => c.peakRssKB)) / 1024;
        const vsSpawn = ratios((r) => [set, r, c0.kind, c0.settings, c0.conc], (r) => [set, r, 'spawn', 'seed', 2]);
        const floorConc = c0.conc === 'auto' ? ctx.env.defaultConcurrency : Math.min(Number(c0.conc), 2);
        const vsFloor = c0.kind === 'spawn' ? [] : ratios((r) => [set, r, c0.kind, c0.settings, c0.conc], (r) => [set, r, 'floor', c0.settings, floorConc]);
        L.push(`| ${label(c0)} | ${fmt(fps, 2)} | ${fmt(ms, 1)} | ${fmt(cpu, 2)}${c0.kind === 'spawn' ? ` (${fmt(child, 2)})` : ''} | ${fmt((cpu * 1000) / c0.files, 1)} | ${fmt(rssMB, 0)}${c0.kind === 'spawn' ? ' + ffmpeg children' : ''} | ${ratioText(vsSpawn)} | ${ratioText(vsFloor)} |`);
      }
      L.push('');
    }
    L.push(`files/s and ms/file: wall clock of the batch (mean of ${rounds} round(s)); ratios are throughput ratios taken within each round, mean first and each round's in parentheses. ` +
      'CPU s: user+sys of the process (libuv pool included) plus its reaped ffmpeg children. Peak RSS: the cell process (VmHWM).', '');
    const loads = cells.map((c) => c.load1);
    L.push(`Noise: 1-minute load average at the start of each cell ranged ${fmt(Math.min(...loads), 2)}–${fmt(Math.max(...loads), 2)} on 2 cores (anything above ~2 means other engineers' work ran beside the cell).`, '');
  }

  if (percall) {
    L.push('### Per call (benchmark.js, one call at a time)', '');
    L.push('| clip | contender | ops/s | ± (rme) | mean ms | samples |', '| --- | --- | --- | --- | --- | --- |');
    for (const b of percall.results) L.push(`| ${b.clip} | ${b.name} | ${fmt(b.hz, 2)} | ±${fmt(b.rme, 1)}% | ${fmt(b.meanMs, 1)} | ${b.samples} |`);
    L.push('');
  }

  if (rss) {
    const p = rss.pool1000;
    L.push(`### Memory${rss.from ? ` (from the run of ${rss.from}, same machine)` : ''}`, '');
    L.push(`- ${p.files} clips through \`createPool()\` (concurrency ${p.conc}, seed settings, lazy source): peak RSS ${fmt(peakKB(p) / 1024, 1)} MB (the larger of VmHWM, ${fmt(p.peakRssKB / 1024, 1)} MB, and VmRSS sampled every 50 ms, ${fmt((p.sampledPeakRssKB ?? 0) / 1024, 1)} MB; Linux updates VmHWM lazily), ${fmt(p.wallMs / 1000, 1)} s, ${fmt(p.files / (p.wallMs / 1000), 2)} files/s.`);
    L.push(`- one spawned \`ffmpeg\` (max RSS by /usr/bin/time): ${Object.entries(rss.ffmpegChildKB).map(([k, v]) => `${k} ${fmt(v / 1024, 1)} MB`).join(', ')}; a spawn pool of N holds N of them besides its parent.`, '');
  }

  if (encode) {
    L.push('### AAC encode cost by libav version', '');
    L.push(`The ${encode.files} long clips as 44.1 kHz stereo 16-bit WAV (${fmt(encode.audioSeconds, 0)} s of audio), encoded one file at a time with the seed settings ` +
      '(AAC-LC 192k, twoloop, MP4): decoding WAV and converting s16 to float cost next to nothing, so this is the encoder of each library.', '');
    L.push('| encoder | libav | CPU ms per audio second | × the C++ floor |', '| --- | --- | --- | --- |');
    const cost = (kind) => encode.cells.filter((c) => c.kind === kind).map((c) => (c.cpuMs + c.childCpuMs) / encode.audioSeconds);
    const floor = mean(cost('floor'));
    const lib = { floor: `${ctx.env.ffmpeg.split(' (')[0]} (system)`, spawn: `${ctx.env.ffmpeg.split(' (')[0]} (system)`, 'nodeav-sync': ctx.env.nodeav.split(' (')[0].replace(/^[^,]*, its bundled FFmpeg /, '') + ' (node-av\'s, static)' };
    const what = { floor: 'C++ floor ×1', spawn: 'ffmpeg CLI ×1 (includes ~60 ms of process start per file)', 'nodeav-sync': 'node-av (sync) ×1 (includes its JS per frame)' };
    for (const kind of ['floor', 'spawn', 'nodeav-sync']) {
      const xs = cost(kind);
      L.push(`| ${what[kind]} | ${lib[kind]} | ${fmt(mean(xs), 2)}${xs.length > 1 ? ` (${xs.map((x) => fmt(x, 2)).join(', ')})` : ''} | ${fmt(mean(xs) / floor, 2)}× |`);
    }
    L.push('');
  }

  // Targets.
  if (cells?.length) {
    const r = ctx.ratios;
    const rc = ctx.cpuRatios;
    const T = [];
    const same = (set, kind, settings, conc) => (rr) => [set, rr, kind, settings, conc];
    const pct = (xs) => (xs.length ? `${fmt(mean(xs), 1)}%${xs.length > 1 ? ` (${xs.map((x) => fmt(x, 1)).join(', ')})` : ''}` : '–');
    const met = (ok) => (ok === undefined ? '–' : ok ? 'met' : '**missed**');
    const ratioRow = (name, goal, min, a, b) => {
      const w = r(a, b);
      T.push([name, goal, ratioText(w), ratioText(rc(a, b)), goal ? met(w.length ? mean(w) >= min : undefined) : '']);
    };
    const overhead = r(same('clips', 'floor', 'seed', 2), same('clips', 'ttsav', 'seed', 2)).map((x) => (x - 1) * 100);
    const cpuOver = rc(same('clips', 'floor', 'seed', 2), same('clips', 'ttsav', 'seed', 2)).map((x) => (x - 1) * 100);
    T.push(['ttsav overhead over the C++ floor, concurrency 2, clips', '≤ 3%', pct(overhead), pct(cpuOver), met(overhead.length ? mean(overhead) <= 3 : undefined)]);
    ratioRow('ttsav ×2 vs spawn pool of 2, clips, seed settings', '≥ 1.25×', 1.25, same('clips', 'ttsav', 'seed', 2), same('clips', 'spawn', 'seed', 2));
    ratioRow('ttsav ×2 vs spawn pool of 2, ~1 s phrases', '≥ 3×', 3, same('phrases', 'ttsav', 'seed', 2), same('phrases', 'spawn', 'seed', 2));
    ratioRow("'speech' preset vs the seed recipe (both ttsav ×2), clips", '≥ 3×', 3, same('clips', 'ttsav', 'speech', 2), same('clips', 'ttsav', 'seed', 2));
    ratioRow("  'speech' preset (ttsav ×2) vs the seed's spawn pool of 2, clips", '', 0, same('clips', 'ttsav', 'speech', 2), same('clips', 'spawn', 'seed', 2));
    if (rss) T.push(['peak RSS, 1,000-clip batch through the pool', '≤ 150 MB', `${fmt(peakKB(rss.pool1000) / 1024, 1)} MB${rss.pool1000.files < 1000 ? ` (only ${rss.pool1000.files} clips)` : ''}`, '', met(peakKB(rss.pool1000) / 1024 <= 150)]);
    ratioRow('ttsav ×2 vs node-av (sync, worker_threads) ×2, clips', '≥ 1.2×', 1.2, same('clips', 'ttsav', 'seed', 2), same('clips', 'nodeav-sync', 'seed', 2));
    ratioRow('  C++ floor ×2 vs node-av (sync, worker_threads) ×2, clips', '', 0, same('clips', 'floor', 'seed', 2), same('clips', 'nodeav-sync', 'seed', 2));
    ratioRow('(context) ttsav ×2 vs node-av (sync) ×2, ~1 s phrases', '', 0, same('phrases', 'ttsav', 'seed', 2), same('phrases', 'nodeav-sync', 'seed', 2));
    ratioRow('(context) ttsav ×2 vs node-av (sync) ×2, ~60 s clips', '', 0, same('long', 'ttsav', 'seed', 2), same('long', 'nodeav-sync', 'seed', 2));
    ratioRow("(context) ttsav 'speech' ×2 vs node-av (sync) 'speech' ×2, clips", '', 0, same('clips', 'ttsav', 'speech', 2), same('clips', 'nodeav-sync', 'speech', 2));
    ratioRow('(context) ttsav ×2 vs node-av async API ×2, clips', '', 0, same('clips', 'ttsav', 'seed', 2), same('clips', 'nodeav', 'seed', 2));
    ratioRow('(context) ttsav ×2 vs spawn pool of 2, ~60 s clips', '', 0, same('long', 'ttsav', 'seed', 2), same('long', 'spawn', 'seed', 2));
    ratioRow('(context) ttsav ×1 vs spawn ×1, clips', '', 0, same('clips', 'ttsav', 'seed', 1), same('clips', 'spawn', 'seed', 1));
    L.splice(0, 0, '### Targets', '', '| target | goal | measured (throughput, wall clock) | the same by CPU time per file | |', '| --- | --- | --- | --- | --- |', ...T.map((t) => `| ${t.join(' | ')} |`), '');
  }
  return L.join('\n');
}

// --------------------------------------------------------------------------------------------------------- main
async function main() {
  mkdirSync(work, { recursive: true });
  ensureBuilt();
  const manifest = await ensureCorpus(work, { log });
  const snap = snapshot();
  log(`ttsav snapshot of dist/ and ${path.relative(root, snap.addonFrom)} in ${path.relative(root, path.dirname(snap.ttsav))}/..`);
  const shm = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const shmDir = path.join(shm, `ttsav-bench-${process.pid}`);
  mkdirSync(shmDir, { recursive: true });
  process.on('exit', () => rmSync(shmDir, { recursive: true, force: true }));
  const lists = {};
  const inSets = {};
  for (const f of manifest.files) {
    (inSets[f.set] ??= []).push(f);
  }
  for (const [set, files] of Object.entries(inSets)) {
    const paths = files.map((f) => {
      const to = path.join(shmDir, f.file);
      cpSync(path.join(manifest.dir, f.file), to);
      return to;
    });
    if (quick) paths.length = 10;
    lists[set] = path.join(shmDir, `${set}.txt`);
    writeFileSync(lists[set], paths.join('\n') + '\n');
  }
  const closest = (set, secs) => [...inSets[set]].sort((a, b) => Math.abs(a.seconds - secs) - Math.abs(b.seconds - secs))[0];
  const pick = {
    typical: path.join(shmDir, closest('clips', 8.5).file),
    phrase: path.join(shmDir, closest('phrases', 1).file),
    long: path.join(shmDir, closest('long', 60).file),
  };
  const corpus = summarize({ files: quick ? Object.values(inSets).flatMap((f) => f.slice(0, 10)) : manifest.files });
  const ctx = { snap, shm: shmDir, lists, pick, corpus };
  ctx.env = environment(snap);
  log('environment', JSON.stringify(ctx.env));

  const out = { env: ctx.env, corpus, quick, shm: shmDir };
  // A run cut short still leaves its cells: node bench/run.mjs --report-from .tmp/bench/results-partial.json
  ctx.partial = (cells) => writeFileSync(path.join(work, 'results-partial.json'), JSON.stringify({ ...out, cells }, null, 1));
  if (phases.has('check')) out.check = await checkSameJob(ctx);
  if (phases.has('percall')) {
    log('per-call figures (benchmark.js)');
    out.percall = await perCall(ctx);
  }
  if (phases.has('throughput')) out.cells = await throughput(ctx);
  if (phases.has('rss')) out.rss = await rssRun(ctx);
  if (phases.has('encode')) out.encode = await encodeCost(ctx);

  finish(out);
}

/** Writes the JSON and the report, prints it, and with --write-results updates bench/RESULTS.md. */
function finish(out) {
  const ctx = { env: out.env, corpus: out.corpus };
  if (!out.rss && option('rss-from')) {
    // The memory phase of an earlier run (it is long and not sensitive to load): quoted with its date.
    const earlier = JSON.parse(readFileSync(option('rss-from'), 'utf8'));
    if (earlier.rss) out.rss = { ...earlier.rss, from: earlier.env.date };
  }
  const stamp = out.env.date.replace(/[:.]/g, '-');
  writeFileSync(path.join(work, `results-${stamp}.json`), JSON.stringify(out, null, 1));
  const md = report(ctx, out);
  writeFileSync(path.join(work, `report-${stamp}.md`), md + '\n');
  writeFileSync(path.join(work, 'report-latest.md'), md + '\n');
  console.log(md);
  if (flag('write-results')) {
    const file = path.join(here, 'RESULTS.md');
    const text = readFileSync(file, 'utf8');
    const start = '<!-- results:start -->';
    const end = '<!-- results:end -->';
    const a = text.indexOf(start);
    const b = text.indexOf(end);
    if (a < 0 || b < a) throw new Error(`bench/RESULTS.md has no ${start} … ${end} section`);
    writeFileSync(file, text.slice(0, a + start.length) + '\n' + md + '\n' + text.slice(b));
    log('bench/RESULTS.md updated');
  }
  log(`report: ${path.relative(root, path.join(work, `report-${stamp}.md`))}`);
}

const from = option('report-from');
(from ? Promise.resolve().then(() => finish(JSON.parse(readFileSync(from, 'utf8')))) : main()).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
