// Live soak: publish a feed (clips + silence, a looped H.264 video) to a local nginx-rtmp for a long time, stopping
// the server for a few seconds at a fixed period. Reports RSS over time, reconnects and how fast each one came
// after the server's return, audio dropped, and A/V drift measured from what the server recorded (one FLV per
// session; timestamps run on the feed's clock across sessions, so the last session's end shows the drift since
// the start).
// Usage: npm run build:ts && node --expose-gc scripts/live-soak.mjs [--minutes 60] [--restart-every 300] [--down 5]
// SOAK_TRACE=1 prints a sample every 10 s to stderr. RSS climbs in steps while each thread's malloc arena reaches its
// high-water mark (with or without restarts); the malloc heap in use is what a leak would move.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { createLiveFeed, publish } = require('../dist/index.js');
const { loadNative } = require('../dist/native.js');

const { values } = parseArgs({ options: { minutes: { type: 'string' }, 'restart-every': { type: 'string' }, down: { type: 'string' } } });
const minutes = Number(values.minutes ?? 60);
const every = Number(values['restart-every'] ?? 300) * 1000;
const downMs = Number(values.down ?? 5) * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-live-soak-'));
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
fs.writeFileSync(path.join(dir, 'nginx.conf'), `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:${port}; chunk_size 4096;
  application live { live on; record all; record_path ${dir}; record_unique on; } } }
`);
let nginx;
const waitPort = async () => {
  for (;;) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => (c.destroy(), r(false)));
    });
    if (ok) return;
    await sleep(20);
  }
};
const startNginx = async () => {
  nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  await waitPort();
};
const stopNginx = () => new Promise((r) => (nginx.once('exit', r), nginx.kill('SIGTERM')));

const loop = path.join(dir, 'bg.mp4');
execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '7.3', '-c:v', 'libx264',
  '-preset', 'veryfast', '-g', '60', '-bf', '2', '-pix_fmt', 'yuv420p', loop]);
const tone = execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:d=4', '-f', 'mp3', '-']);

await startNginx();
const feed = createLiveFeed({ sampleRate: 48000, channels: 2, bitrate: 160000, gapMs: 500 });
const b = publish(feed, { url: `rtmp://127.0.0.1:${port}/live/soak`, video: { loop } });
let back = 0;
const resumeMs = [];
b.on('connected', () => back && (resumeMs.push(Math.round(performance.now() - back)), (back = 0)));
b.on('error', (e) => console.error('error', e.code, e.message));
const clips = setInterval(() => feed.queued < 3 && feed.enqueue(tone).catch(() => {}), 15_000);

const rss = [];
const nativeMem = []; // RSS minus the V8 heap: what native code (and the allocator) holds
const heap = [];
const inUse = []; // malloc heap in use (allocated, not freed): the leak measure; RSS also moves with the allocator
const start = performance.now();
let nextRestart = start + every;
while (performance.now() - start < minutes * 60_000) {
  await sleep(10_000);
  globalThis.gc?.();
  const mem = process.memoryUsage();
  rss.push(Math.round(mem.rss / 1e6));
  nativeMem.push(Math.round((mem.rss - mem.heapTotal) / 1e6));
  heap.push(Math.round(mem.heapUsed / 1e6));
  inUse.push(Math.round((loadNative().mallocInUse() ?? NaN) / 1e5) / 10);
  if (process.env.SOAK_TRACE) console.error(JSON.stringify({ t: Math.round((performance.now() - start) / 1000), rss: mem.rss / 1e6, native: (mem.rss - mem.heapTotal) / 1e6, heapUsed: mem.heapUsed / 1e6, external: mem.external / 1e6, mallocInUse: (loadNative().mallocInUse() ?? NaN) / 1e6, reconnects: b.stats().reconnects }));
  if (performance.now() >= nextRestart) {
    await stopNginx();
    await sleep(downMs);
    await startNginx();
    back = performance.now();
    nextRestart += every;
  }
}
clearInterval(clips);
const closed = new Promise((r) => b.once('close', r));
await feed.close();
await closed;
await sleep(500);
await stopNginx();

// Drift from the server's recordings: per session, where video and audio end on the stream's clock.
const sessions = fs.readdirSync(dir).filter((f) => f.endsWith('.flv')).sort();
const drift = sessions.map((f) => {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time,duration_time', '-of', 'csv=p=0', path.join(dir, f)],
    { encoding: 'utf8', maxBuffer: 256 << 20 });
  let aEnd = 0;
  let vEnd = 0;
  for (const line of out.trim().split('\n')) {
    const [type, pts, dur] = line.split(',');
    const end = Number(pts) + Number(dur);
    if (type === 'audio') aEnd = Math.max(aEnd, end);
    else if (type === 'video') vEnd = Math.max(vEnd, end);
  }
  return Math.round((vEnd - aEnd) * 1000);
});
const s = b.stats();
const warm = rss.slice(Math.min(3, rss.length - 1));
console.log(JSON.stringify({
  minutes, restartEverySeconds: every / 1000, downSeconds: downMs / 1000,
  reconnects: s.reconnects, resumeAfterServerReturnMs: resumeMs, droppedMs: s.droppedMs, sentAudioMs: s.sentAudioMs,
  sessionsRecorded: sessions.length, videoMinusAudioEndMsPerSession: drift,
  rssMB: { first: rss[0], afterWarmup: warm[0], last: rss[rss.length - 1], max: Math.max(...rss) },
  nativeMB: { first: nativeMem[0], afterWarmup: nativeMem[Math.min(3, nativeMem.length - 1)], last: nativeMem[nativeMem.length - 1] },
  heapUsedMB: { first: heap[0], last: heap[heap.length - 1] },
  mallocInUseMB: { first: inUse[0], afterWarmup: inUse[Math.min(3, inUse.length - 1)], last: inUse[inUse.length - 1], max: Math.max(...inUse) },
}, null, 2));
fs.rmSync(dir, { recursive: true, force: true });
