// voiceover() against the ffmpeg command a user would write for the same result (video copy, the voice and a music
// bed ducked by sidechaincompress and mixed by amix, AAC, mov_text subtitles, faststart), on a batch of clips at
// concurrency 2, alternating contenders round by round so drift hits both. Clips are generated here (libx264
// testsrc + a tone as the clip's audio, espeak-ng voice, a tone bed as MP3) on /dev/shm when it exists.
// A third contender measures the issue's second target ("with video copy, a voice-over costs ≤ 1.2× the same job's
// audio work alone"): the same pool.voiceover() calls (same voice, music, ducking, loudness, AAC) over a stand-in
// video of the same length that has almost no video (16x16 at 1 fps, a few kB), so everything but the video's
// bytes is the same work; the ratio of the two is what copying the real video costs on top of the audio.
// Usage: node bench/voiceover.mjs [clips=6] [seconds=10] [size=640x360] [rounds=2]
// The full goal in issue 16 is 20 clips × 30 s of 1080p: `node bench/voiceover.mjs 20 30 1920x1080 3`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPool } from '../dist/index.js';

const clips = Number(process.argv[2] ?? 6);
const seconds = Number(process.argv[3] ?? 10);
const size = process.argv[4] ?? '640x360';
const rounds = Number(process.argv[5] ?? 2);
const CONCURRENCY = 2;
const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const dir = mkdtempSync(path.join(base, 'ttsav-bench-vo-'));
const p = (name) => path.join(dir, name);
const ff = (...args) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);

const CUES = [
  { startMs: 500, endMs: 2500, text: 'The quick brown fox' },
  { startMs: 2600, endMs: 4500, text: 'jumps over the lazy dog.' },
];

function srt(cues) {
  const t = (ms) => new Date(ms).toISOString().slice(11, 23).replace('.', ',');
  return cues.map((c, i) => `${i + 1}\n${t(c.startMs)} --> ${t(c.endMs)}\n${c.text}\n`).join('\n');
}

// The ffmpeg command for the same job: voice at 0.5 s, music 18 dB down and ducked by the voice, cut to the video
// with -t (-shortest would stop at the end of the last subtitle).
function ffmpegArgs(video, out) {
  const graph =
    '[1:a]aresample=44100,aformat=channel_layouts=stereo,adelay=delays=500:all=1,apad,asplit=2[voice][key];' +
    '[2:a]aresample=44100,aformat=channel_layouts=stereo,volume=-18dB[music];' +
    '[music][key]sidechaincompress=threshold=0.025:ratio=20:attack=20:release=400[ducked];' +
    '[voice][ducked]amix=inputs=2:normalize=0:duration=first[a]';
  return ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-i', video, '-i', p('voice.wav'), '-stream_loop', '-1',
    '-i', p('music.mp3'), '-i', p('cues.srt'), '-filter_complex', graph, '-map', '0:v', '-map', '[a]', '-map', '3:s',
    '-c:v', 'copy', '-c:a', 'aac', '-b:a', '192k', '-ar', '44100', '-c:s', 'mov_text', '-t', String(seconds), '-movflags',
    '+faststart', '-f', 'mp4', out];
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

// CPU time of this process (all its threads) and of its waited-for children, in ms (Linux /proc).
function cpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const tick = 1000 / 100; // USER_HZ
  return { self: (Number(f[11]) + Number(f[12])) * tick, children: (Number(f[13]) + Number(f[14])) * tick };
}

async function batch(n, job) {
  let next = 0;
  const start = performance.now();
  const c0 = cpuMs();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) await job(next++);
  }));
  const c1 = cpuMs();
  return { wall: performance.now() - start, cpu: c1.self - c0.self + (c1.children - c0.children) };
}

console.log(`uptime at start: ${execFileSync('uptime').toString().trim()}`);
try {
  console.log(`making ${clips} clips of ${seconds} s at ${size} (libx264) in ${dir} …`);
  for (let i = 0; i < clips; i++)
    ff('-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=${220 + 20 * i}:duration=${seconds}`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', p(`clip${i}.mp4`));
  execFileSync('espeak-ng', ['-w', p('voice.wav'), 'The quick brown fox jumps over the lazy dog, and the music steps aside while it speaks.']);
  ff('-f', 'lavfi', '-i', 'sine=frequency=330:duration=20', '-c:a', 'libmp3lame', '-b:a', '128k', p('music.mp3'));
  writeFileSync(p('cues.srt'), srt(CUES));
  const videos = Array.from({ length: clips }, (_, i) => readFileSync(p(`clip${i}.mp4`)));
  const voice = readFileSync(p('voice.wav'));
  const music = readFileSync(p('music.mp3'));
  ff('-f', 'lavfi', '-i', `color=c=gray:size=16x16:rate=1:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', p('stub.mp4'));
  const stub = readFileSync(p('stub.mp4'));

  const pool = createPool({ concurrency: CONCURRENCY });
  const timings = [];
  const ttsav = () => batch(clips, async (i) => {
    const r = await pool.voiceover({ video: videos[i], voice: [{ audio: voice, at: 0.5 }], music, subtitles: 'soft', cues: CUES });
    timings.push(r.timings);
  });
  const spawned = () => batch(clips, (i) => run('ffmpeg', ffmpegArgs(p(`clip${i}.mp4`), p(`ff${i}.mp4`))));
  const audioOnly = () => batch(clips, async () => {
    await pool.voiceover({ video: stub, voice: [{ audio: voice, at: 0.5 }], music, subtitles: 'soft', cues: CUES });
  });
  await ttsav(); // warm-up: loads the addon, fills the page cache
  await audioOnly();
  timings.length = 0;
  const contenders = { ffmpeg: spawned, ttsav, audio: audioOnly };
  const names = Object.keys(contenders);
  const rows = [];
  for (let r = 0; r < rounds; r++) {
    const row = {};
    // Each round starts with a different contender, so drift and warm caches hit all of them.
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      row[name] = await contenders[name]();
    }
    rows.push(row);
  }
  const m = pool.metrics();
  await pool.close();
  console.log(`pool: budget ${(m.budgetBytes / 2 ** 30).toFixed(2)} GiB, most jobs in flight ${m.maxInFlightJobsSeen}, most bytes charged at once ${(m.maxInFlightBytesSeen / 2 ** 20).toFixed(0)} MiB, jobs that waited for budget ${m.jobs.budgetDelayed}`);
  const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const f = med(rows.map((r) => r.ffmpeg.wall));
  const t = med(rows.map((r) => r.ttsav.wall));
  const a = med(rows.map((r) => r.audio.wall));
  const fc = med(rows.map((r) => r.ffmpeg.cpu));
  const tc = med(rows.map((r) => r.ttsav.cpu));
  const ac = med(rows.map((r) => r.audio.cpu));
  console.log(`\n${clips} clips × ${seconds} s ${size} (${(videos.reduce((n, v) => n + v.length, 0) / clips / 1e6).toFixed(1)} MB each), concurrency ${CONCURRENCY}, ${rounds} rounds (medians per batch; load ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores)`);
  console.log('contender                                   wall (ms)   clips/s   throughput   CPU (ms)   CPU ratio');
  console.log(`ffmpeg CLI (copy + amix/sidechaincompress)  ${f.toFixed(0).padStart(9)}   ${(clips / (f / 1000)).toFixed(2).padStart(7)}   ${'1.00x'.padStart(10)}   ${fc.toFixed(0).padStart(8)}   ${'1.00x'.padStart(9)}`);
  console.log(`ttsav pool.voiceover()                      ${t.toFixed(0).padStart(9)}   ${(clips / (t / 1000)).toFixed(2).padStart(7)}   ${((f / t).toFixed(2) + 'x').padStart(10)}   ${tc.toFixed(0).padStart(8)}   ${((fc / tc).toFixed(2) + 'x').padStart(9)}`);
  console.log(`ttsav, audio work alone (16x16 stand-in)    ${a.toFixed(0).padStart(9)}   ${(clips / (a / 1000)).toFixed(2).padStart(7)}   ${((f / a).toFixed(2) + 'x').padStart(10)}   ${ac.toFixed(0).padStart(8)}   ${((fc / ac).toFixed(2) + 'x').padStart(9)}`);
  console.log(`\nvoice-over with video copy / audio work alone: wall ${(t / a).toFixed(2)}x, CPU ${(tc / ac).toFixed(2)}x (target ≤ 1.2x)`);
  console.log('per round (wall ms ffmpeg / ttsav / audio alone): ' + rows.map((r) => `${r.ffmpeg.wall.toFixed(0)}/${r.ttsav.wall.toFixed(0)}/${r.audio.wall.toFixed(0)}`).join(', '));
  const sum = (k) => timings.reduce((s, x) => s + x[k], 0) / timings.length;
  console.log(`\nttsav per-job stages (mean ms): probe+read video ${sum('probe').toFixed(1)}, decode ${sum('decode').toFixed(1)}, ` +
    `analyze ${sum('analyze').toFixed(1)}, filter ${sum('filter').toFixed(1)}, encode ${sum('encode').toFixed(1)}, mux ${sum('mux').toFixed(1)}, total ${sum('total').toFixed(1)}`);
  console.log(`video handling (probe+read+mux) is ${((100 * (sum('probe') + sum('mux'))) / sum('total')).toFixed(1)}% of a job`);
  console.log('ttsav also measures the loudness and normalises the mix (ffmpeg here does not): it does more work.');
  console.log(`uptime at end: ${execFileSync('uptime').toString().trim()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
