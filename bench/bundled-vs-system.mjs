// The bundled FFmpeg (scripts/build-ffmpeg.sh, static, the default build) against the system's libav, side by side
// in one run:
//   1. AAC encode cost: the C++ codec floor (bench/floor.cc) built twice with cmake, TTSAV_FFMPEG=bundled and
//      TTSAV_FFMPEG=system (build-bench-bundled/, build-bench-system/), encoding the same 44.1 kHz stereo WAV files
//      with the seed settings (AAC-LC twoloop 192k, mp4), one thread; CPU ms (user+sys) per second of audio.
//      Rounds alternate the order; the median of each side is reported with their ratio.
//   2. Cold start: a fresh node process from `require('ttsav')` to its first transcode() finished (a 3.7 s MP3),
//      with TTSAV_ADDON pointing at the prebuilt bundled addon (prebuilds/linux-x64/) and at the system-libav
//      cmake-js addon (build-cmake/, npm test's pretest builds it). Alternating, median of N.
//
//   node bench/bundled-vs-system.mjs [--rounds 5] [--seconds 30] [--files 6] [--starts 15]
// Needs dist/ (npm run build:ts), the bundled FFmpeg (bash scripts/build-ffmpeg.sh), espeak-ng and the ffmpeg CLI
// (to make the corpus), and both addons for part 2. Prints one JSON object.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const rounds = arg('rounds', 5);
const seconds = arg('seconds', 30);
const nFiles = arg('files', 6);
const starts = arg('starts', 15);
const log = (s) => process.stderr.write(`${s}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Corpus: espeak-ng speech (different text per file) made 44.1 kHz stereo WAV, `seconds` long each.
const dir = path.join(root, '.tmp', 'bench-bundled');
mkdirSync(dir, { recursive: true });
const files = [];
for (let i = 0; i < nFiles; i++) {
  const wav = path.join(dir, `speech${i}-${seconds}s.wav`);
  if (!existsSync(wav)) {
    const text = `Line ${i}. ` + 'The quick brown fox jumps over the lazy dog, and the bundled encoder is measured against the system one. '.repeat(8);
    const voice = path.join(dir, `voice${i}.wav`);
    execFileSync('espeak-ng', ['-w', voice, '-s', String(150 + i * 10), text]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '-1', '-i', voice, '-t', String(seconds), '-ar', '44100', '-ac', '2', '-c:a', 'pcm_s16le', wav]);
  }
  files.push(wav);
}
const list = path.join(dir, 'list.txt');
writeFileSync(list, files.join('\n') + '\n');
const audioSeconds = nFiles * seconds;

function floor(mode) {
  const build = path.join(root, `build-bench-${mode}`);
  const bin = path.join(build, 'ttsav-bench-floor');
  log(`building the ${mode} floor in ${path.relative(root, build)}/`);
  const env = { ...process.env, TTSAV_FFMPEG: mode };
  execFileSync('cmake', ['-S', root, '-B', build, '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'ignore', env });
  execFileSync('cmake', ['--build', build, '--target', 'ttsav-bench-floor', '-j2'], { stdio: 'ignore', env });
  return bin;
}
const bins = { bundled: floor('bundled'), system: floor('system') };
const SEED = ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'];

const cpu = { bundled: [], system: [] };
for (let r = 0; r < rounds; r++) {
  for (const mode of r % 2 === 0 ? ['bundled', 'system'] : ['system', 'bundled']) {
    const out = JSON.parse(execFileSync(bins[mode], ['--list', list, '--threads', '1', ...SEED], { encoding: 'utf8' }));
    if (out.errors) throw new Error(`${mode} floor: ${out.errors} errors`);
    cpu[mode].push(out.cpuMs / audioSeconds);
    log(`encode round ${r + 1}/${rounds} ${mode.padEnd(7)} ${(out.cpuMs / audioSeconds).toFixed(2)} CPU ms per audio second (load ${os.loadavg()[0].toFixed(1)})`);
  }
}

// Cold start: require → first transcode finished, in a fresh process each time.
const addons = { bundled: path.join(root, 'prebuilds/linux-x64/ttsav.node'), system: path.join(root, 'build-cmake/Release/ttsav.node') };
const COLD = `const t0 = process.hrtime.bigint();
  const t = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
  t.transcode(require('fs').readFileSync(${JSON.stringify(path.join(root, 'samples/hello.mp3'))})).then((r) => {
    process.stdout.write(JSON.stringify({ ms: Number(process.hrtime.bigint() - t0) / 1e6, build: t.versions().build }));
  });`;
const cold = { bundled: [], system: [] };
for (let i = 0; i < starts; i++) {
  for (const mode of i % 2 === 0 ? ['bundled', 'system'] : ['system', 'bundled']) {
    if (!existsSync(addons[mode])) throw new Error(`${addons[mode]} is missing`);
    const r = spawnSync(process.execPath, ['-e', COLD], { env: { ...process.env, TTSAV_ADDON: addons[mode] }, encoding: 'utf8' });
    const out = JSON.parse(r.stdout);
    if (out.build !== mode) throw new Error(`${addons[mode]} reports ${out.build}`);
    cold[mode].push(out.ms);
  }
}

const v = (mode) => JSON.parse(execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(path.join(root, 'dist/index.js'))}).versions().ffmpeg))`], { env: { ...process.env, TTSAV_ADDON: addons[mode] }, encoding: 'utf8' }));
const result = {
  machine: `${os.cpus()[0].model}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)} at the end`,
  ffmpeg: { bundled: v('bundled'), system: v('system') },
  aacEncode: {
    settings: 'AAC-LC twoloop 192k 44.1 kHz stereo mp4, 1 thread, C++ floor',
    audioSeconds,
    rounds,
    cpuMsPerAudioSecond: { bundled: median(cpu.bundled), system: median(cpu.system), all: cpu },
    bundledOverSystem: median(cpu.bundled) / median(cpu.system),
  },
  coldStart: {
    what: "fresh node: require('ttsav') → first transcode() of samples/hello.mp3 finished, ms",
    starts,
    medianMs: { bundled: median(cold.bundled), system: median(cold.system) },
    bundledOverSystem: median(cold.bundled) / median(cold.system),
  },
};
console.log(JSON.stringify(result, null, 2));
