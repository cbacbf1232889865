// Compiler options of the bundled FFmpeg (LTO, -O3 variants, PGO, …) against each other and against the system
// libav: the C++ codec floor (bench/floor.cc) linked against each build encodes the same 44.1 kHz stereo speech WAVs
// with the seed settings (AAC-LC twoloop 192k, mp4) on one thread.
//   1. Bitstream: every floor's output bytes (SHA-256) per file, with the seed settings and with each preset's
//      (lib/options.ts: high_quality, high_speed, speech) on the speech files and on a tonal/noise file; builds of
//      the same FFmpeg must agree on all of them.
//   2. Instructions per audio second (valgrind --tool=callgrind) on the first file: a run with --repeat 1 and one
//      with --repeat 2; the difference is the cost of one more encode of it, so start-up and warm-up cancel. The
//      count is deterministic: other load on the machine does not change it.
//   3. CPU ms per audio second, rounds rotating the order: user+sys of the encodes as the floor reports it, and the
//      user CPU of the whole process (/usr/bin/time); min and median, and the ratio to the first floor taken round
//      by round (paired: a round's floors ran back to back, so the machine's drift cancels), min/median/max.
//   4. Cycles per audio second with `perf stat` when the kernel lets perf count them (said when not).
//
//   node bench/ffmpeg-builds.mjs name=path/to/ttsav-bench-floor [name=…] [--rounds 7] [--no-callgrind]
// The first floor is the reference for the ratios. A floor per build: `cmake -S . -B build-bench-x` with
// TTSAV_FFMPEG=bundled|system, `cmake --build build-bench-x --target ttsav-bench-floor`. Corpus: espeak-ng speech
// made 10 s WAVs with the ffmpeg CLI, kept in .tmp/bench-builds/. Prints a Markdown table.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const rounds = opt('rounds', 7);
const callgrind = !args.includes('--no-callgrind');
const floors = args.filter((a) => /^[\w.+-]+=/.test(a)).map((a) => {
  const [name, ...rest] = a.split('=');
  return { name, bin: path.resolve(rest.join('=')) };
});
if (floors.length === 0) {
  console.error('usage: node bench/ffmpeg-builds.mjs name=path/to/ttsav-bench-floor [name=…] [--rounds N] [--no-callgrind]');
  process.exit(2);
}
const log = (s) => process.stderr.write(`${s}\n`);
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];

const dir = path.join(root, '.tmp', 'bench-builds');
mkdirSync(dir, { recursive: true });
const files = [];
for (let i = 0; i < 3; i++) {
  const wav = path.join(dir, `speech${i}-10s.wav`);
  if (!existsSync(wav)) {
    const text = `Line ${i}. The quick brown fox jumps over the lazy dog, and the bundled encoder is measured against the system one. `.repeat(2);
    const voice = path.join(dir, `voice${i}.wav`);
    execFileSync('espeak-ng', ['-w', voice, '-s', String(150 + i * 10), text]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '-1', '-i', voice, '-t', '10', '-ar', '44100', '-ac', '2', '-c:a', 'pcm_s16le', wav]);
  }
  files.push(wav);
}
const list = path.join(dir, 'list.txt');
writeFileSync(list, files.join('\n') + '\n');
const audioSeconds = files.length * 10;
const SEED = ['container=mp4', 'bitrate=192000', 'rate=44100', 'channels=2', 'coder=twoloop', 'faststart=0'];
// Identity corpus: the speech files plus a tonal/noise file (sox: a tone, a sweep and pink noise), under every preset.
const tonal = path.join(dir, 'tonal-noise-10s.wav');
if (!existsSync(tonal)) {
  execFileSync('sox', ['-n', '-r', '48000', '-c', '2', '-b', '16', tonal, 'synth', '10', 'sine', '220', 'sine', '330-3300', 'pinknoise', 'remix', '1,3v0.2', '2,3v0.2', 'gain', '-6']);
}
const identityList = path.join(dir, 'identity.txt');
writeFileSync(identityList, [...files, tonal].join('\n') + '\n');
const PRESETS = {
  seed: SEED,
  high_quality: ['container=mp4', 'bitrate=256000', 'rate=48000', 'channels=2', 'coder=twoloop', 'faststart=0'],
  high_speed: ['container=mp4', 'bitrate=128000', 'rate=44100', 'channels=2', 'coder=fast', 'faststart=0'],
  speech: ['container=adts', 'bitrate=64000', 'rate=24000', 'channels=1', 'coder=fast', 'faststart=0'],
};
const userCpu = (bin, argv) => {
  // Whole-process user CPU seconds, the kernel's accounting of the finished child (/usr/bin/time).
  const t = path.join(tmp, 'time.txt');
  const out = execFileSync('/usr/bin/time', ['-f', '%U', '-o', t, bin, ...argv], { encoding: 'utf8' });
  return { user: Number(readFileSync(t, 'utf8').trim().split('\n').pop()), res: JSON.parse(out) };
};

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-builds-'));
try {
  for (const f of floors) {
    f.hashes = [];
    for (const [preset, settings] of Object.entries(PRESETS)) {
      const out = path.join(tmp, `out-${f.name}-${preset}`);
      mkdirSync(out);
      execFileSync(f.bin, ['--list', identityList, '--write', out, ...settings], { stdio: 'ignore' });
      const names = readdirSync(out).sort();
      if (names.length !== files.length + 1) throw new Error(`${f.name}: ${names.length} outputs for ${preset}`);
      f.hashes.push(...names.map((n) => `${preset}:${createHash('sha256').update(readFileSync(path.join(out, n))).digest('hex').slice(0, 16)}`));
    }
    log(`${f.name}: outputs ${f.hashes.join(' ')}`);
  }
  // perf counts cycles only where the kernel exposes hardware counters (not in most containers).
  const probe = spawnSync('perf', ['stat', '-x', ',', '-e', 'cycles', 'true'], { encoding: 'utf8' });
  const perfOk = probe.status === 0 && /^\d+,[^,]*,cycles/m.test(probe.stderr ?? '');
  const perfCycles = (f) => {
    const r = execFileSync('perf', ['stat', '-x', ',', '-e', 'cycles', f.bin, '--list', list, '--repeat', '2', '--threads', '1', ...SEED], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return Number(r.split('\n').find((l) => /,cycles/.test(l))?.split(',')[0]);
  };
  if (callgrind) {
    const one = path.join(dir, 'list1.txt');
    writeFileSync(one, `${files[0]}\n`);
    const ir = (f, repeat) => {
      const out = path.join(tmp, `${f.name}-${repeat}.cg`);
      execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, f.bin, '--list', one, '--repeat', String(repeat), ...SEED], {
        stdio: 'ignore',
      });
      return Number(/^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(out, 'utf8'))[1]);
    };
    for (const f of floors) {
      try {
        f.irPerSecond = (ir(f, 2) - ir(f, 1)) / 10;
        log(`${f.name}: ${(f.irPerSecond / 1e6).toFixed(2)} M instructions per audio second`);
      } catch (err) {
        // Valgrind 3.19 stops at instructions it does not know (Debian 12's libav pulls in libhwy, whose start-up
        // runs RDTSCP on some CPUs): said, and the other columns still measured.
        f.irNote = err.signal ?? `exit ${err.status}`;
        log(`${f.name}: callgrind failed (${f.irNote}); no instruction count`);
      }
    }
  }
  for (const f of floors) Object.assign(f, { cpu: [], user: [], cycles: [] });
  const loads = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < floors.length; k++) {
      const f = floors[(k + r) % floors.length];
      const { user, res } = userCpu(f.bin, ['--list', list, '--repeat', '2', '--threads', '1', ...SEED]);
      if (res.errors) throw new Error(`${f.name}: ${res.errors} errors`);
      f.cpu.push(res.cpuMs / (2 * audioSeconds));
      f.user.push((1000 * user) / (2 * audioSeconds));
      if (perfOk) f.cycles.push(perfCycles(f) / (2 * audioSeconds));
    }
    loads.push(os.loadavg()[0]);
    log(`round ${r + 1}/${rounds} (load ${os.loadavg()[0].toFixed(1)})`);
  }
  floors.perfOk = perfOk;
  floors.loads = loads;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const ref = floors[0];
const irRef = floors.find((f) => f.irPerSecond); // the first floor callgrind could count
const ls = sorted(floors.loads);
console.log(
  `${files.length} × 10 s speech, 44.1 kHz stereo → AAC-LC twoloop 192k mp4, one thread; ${rounds} timed rounds; ` +
    `1-min load average at the end of a round ${ls[0].toFixed(2)}–${ls[ls.length - 1].toFixed(2)} (median ${median(ls).toFixed(2)}) on ${os.cpus().length} cores; ` +
    `identity: ${files.length + 1} files × ${Object.keys(PRESETS).length} settings (${Object.keys(PRESETS).join(', ')})\n`,
);
const paired = (f, key) => {
  const r = f[key].map((x, i) => x / ref[key][i]);
  return `${median(r).toFixed(3)} (${sorted(r)[0].toFixed(3)}–${sorted(r)[r.length - 1].toFixed(3)})`;
};
console.log(`| build | output = first? | M instr / audio s | × ${irRef?.name ?? 'first'} | encode CPU ms / audio s min / median | × first, paired: median (min–max) | process user CPU ms / audio s min / median | × first, paired: median (min–max) |`);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const f of floors) {
  const same = f.hashes.join() === ref.hashes.join() ? 'yes' : `**no** (${f.hashes.filter((h, i) => h !== ref.hashes[i]).length} of ${f.hashes.length} differ)`;
  const irs = f.irPerSecond ? (f.irPerSecond / 1e6).toFixed(2) : f.irNote ? `– (valgrind: ${f.irNote})` : '–';
  const irx = f.irPerSecond && irRef ? (f.irPerSecond / irRef.irPerSecond).toFixed(4) : '–';
  console.log(
    `| ${f.name} | ${same} | ${irs} | ${irx} | ${sorted(f.cpu)[0].toFixed(2)} / ${median(f.cpu).toFixed(2)} | ${paired(f, 'cpu')} | ` +
      `${sorted(f.user)[0].toFixed(2)} / ${median(f.user).toFixed(2)} | ${paired(f, 'user')} |`,
  );
}
if (floors.length > 2) {
  // Every pair, so that a goal against another floor than the first reads off directly (same rounds, paired).
  const pair = (a, b, key) => {
    const r = a[key].map((x, i) => x / b[key][i]);
    return `${median(r).toFixed(3)} (${sorted(r)[0].toFixed(3)}–${sorted(r)[r.length - 1].toFixed(3)})`;
  };
  console.log('\n| A / B, paired by round | encode CPU: median (min–max) | process user CPU: median (min–max) | instructions |\n| --- | --- | --- | --- |');
  for (let i = 0; i < floors.length; i++)
    for (let j = 0; j < floors.length; j++) {
      if (i === j || j === 0) continue;
      const [a, b] = [floors[i], floors[j]];
      if (i === 0 || i < j) continue;
      const irr = a.irPerSecond && b.irPerSecond ? (a.irPerSecond / b.irPerSecond).toFixed(4) : '–';
      console.log(`| ${a.name} / ${b.name} | ${pair(a, b, 'cpu')} | ${pair(a, b, 'user')} | ${irr} |`);
    }
}
if (floors.perfOk) {
  console.log('\n| build | M cycles / audio s (perf stat) median | × first, paired: median (min–max) |\n| --- | --- | --- |');
  for (const f of floors) console.log(`| ${f.name} | ${(median(f.cycles) / 1e6).toFixed(2)} | ${paired(f, 'cycles')} |`);
} else console.log('\nperf stat: cycles not supported here (no hardware counters in this container); not measured.');
