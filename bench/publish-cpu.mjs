// CPU of going live, per hour of stream, measured in one run:
//   A. the live feed alone (AAC encoding of clips/silence), output discarded;
//   B. the same feed published as FLV with a looped H.264 video copied (memory output, bytes discarded);
//   C. what users run today: ffmpeg -stream_loop -1 -i bg.mp4 -f f32le -i pipe:0 -c:v copy -c:a aac -f flv,
//      fed the same PCM through a pipe (child CPU from /usr/bin/time).
// The feed runs on a fake clock, as fast as it goes: CPU seconds per stream hour = CPU / stream seconds * 3600.
// B - A is the publishing overhead; divided by 3600 it is the share of one core it costs in real time.
// Usage: node bench/publish-cpu.mjs [minutes of stream, default 10] [loop.mp4]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { createLiveFeed, publish } = require('../dist/index.js');

const minutes = Number(process.argv[2] ?? 10);
const seconds = minutes * 60;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-bench-publish-'));
const loop = process.argv[3] ?? path.join(dir, 'bg.mp4');
if (!process.argv[3]) {
  // A 1280x720 30 fps H.264 background of 10 s (fixture made with the CLI; the library never encodes video).
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-t', '10', '-c:v', 'libx264',
    '-preset', 'veryfast', '-b:v', '2500k', '-g', '60', '-pix_fmt', 'yuv420p', loop]);
}
const tone = execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=330:d=5', '-f', 'mp3', '-']);

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function runFeed(withPublish) {
  let now = 0;
  const feed = createLiveFeed({ sampleRate: 48000, channels: 2, bitrate: 160000, gapMs: 1000, clock: () => now, autoPump: false });
  let bytes = 0;
  let b;
  if (withPublish) {
    const sink = new (require('node:stream').Writable)({ write(c, _e, cb) { bytes += c.length; cb(); } });
    b = publish(feed, { output: sink, video: { loop }, maxQueueMs: 60_000 });
  } else feed.on('data', (c) => (bytes += c.length));
  const t0 = cpu();
  const w0 = performance.now();
  for (let s = 0; s < seconds; s++) {
    if (s % 30 === 0 && feed.queued < 2) await feed.enqueue(tone); // half speech, half silence
    for (let k = 0; k < 10; k++) {
      now += 100;
      await feed.pump();
    }
    if (withPublish && s % 5 === 4) {
      // Let the publisher thread keep up (its queue is bounded): wait while more than 2 s are waiting.
      while (b.stats().sentAudioMs < now - 2000) await new Promise((r) => setTimeout(r, 1));
    }
  }
  if (withPublish) {
    const closed = new Promise((r) => b.once('close', r));
    await feed.close();
    await closed;
  } else await feed.close();
  const used = cpu() - t0;
  const wall = (performance.now() - w0) / 1000;
  return { cpuS: used, wallS: wall, bytes, stats: b?.stats() };
}

async function runSpawn() {
  // The same programme as PCM (5 s tone every 30 s, silence between), piped to ffmpeg as fast as it takes it.
  const pcmTone = execFileSync('ffmpeg', ['-v', 'error', '-i', 'pipe:0', '-f', 'f32le', '-ar', '48000', '-ac', '2', '-'], { input: tone, maxBuffer: 64 << 20 });
  const silence = Buffer.alloc(48000 * 2 * 4 * 25);
  const out = path.join(dir, 'spawn.flv');
  const child = spawn('/usr/bin/time', ['-f', '%U %S', 'ffmpeg', '-v', 'error', '-y', '-stream_loop', '-1', '-i', loop,
    '-f', 'f32le', '-ar', '48000', '-ac', '2', '-i', 'pipe:0', '-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'aac', '-b:a', '160k',
    '-shortest', '-f', 'flv', out], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const write = (buf) => new Promise((r) => (child.stdin.write(buf) ? r() : child.stdin.once('drain', r)));
  const w0 = performance.now();
  for (let s = 0; s < seconds; s += 30) {
    await write(pcmTone);
    await write(silence);
  }
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  const [user, sys] = err.trim().split('\n').pop().split(' ').map(Number);
  return { cpuS: user + sys, wallS: (performance.now() - w0) / 1000, bytes: fs.statSync(out).size };
}

const perHour = (r) => (r.cpuS / seconds) * 3600;
// A and B alternate twice; the lower CPU of each is kept (the machine may be shared).
const best = (x, y) => (x.cpuS <= y.cpuS ? x : y);
const a1 = await runFeed(false);
const b1 = await runFeed(true);
const a = best(a1, await runFeed(false));
const b = best(b1, await runFeed(true));
let c;
try {
  c = await runSpawn();
} catch (e) {
  c = undefined;
  console.error('spawn baseline failed:', e.message);
}
const overheadPerHour = perHour(b) - perHour(a);
const result = {
  streamMinutes: minutes,
  feedAlone: { cpuSecondsPerStreamHour: +perHour(a).toFixed(1), cpuS: +a.cpuS.toFixed(2) },
  feedPublishedWithLoopCopy: { cpuSecondsPerStreamHour: +perHour(b).toFixed(1), cpuS: +b.cpuS.toFixed(2), droppedMs: b.stats.droppedMs, loops: b.stats.loops },
  publishingOverhead: { cpuSecondsPerStreamHour: +overheadPerHour.toFixed(1), percentOfOneCoreInRealTime: +((overheadPerHour / 3600) * 100).toFixed(2) },
  ffmpegSpawn: c && { cpuSecondsPerStreamHour: +perHour(c).toFixed(1), cpuS: +c.cpuS.toFixed(2) },
};
console.log(JSON.stringify(result, null, 2));
fs.rmSync(dir, { recursive: true, force: true });
