// Live soak: publish a feed (clips + silence, a looped H.264 video) to a local nginx-rtmp for a long time, stopping
// the server for a few seconds at a fixed period. Reports RSS over time, reconnects and how fast each one came
// after the server's return, audio dropped, and per recorded session where video and audio end (cut points only:
// that says nothing about drift).
// --markers measures A/V drift from the content received (scripts/av-markers.mjs): the loop's first frame is white,
// the feed plays click clips exactly one loop long back to back, and per session both the server's recording
// (nginx `record all`) and a viewer (the ffmpeg CLI pulling the stream, one FLV per track, arrival times logged)
// are decoded: offset = marker pts - click pts, drift = its largest change within a session; plus the received
// media time against the wall clock (rate error) and how far audio and video pts stood apart as tags arrived.
// The run's folder is kept (--dir, else a temp folder; printed) and can be analysed again: --analyze DIR.
// Usage: npm run build:ts && node --expose-gc scripts/live-soak.mjs [--minutes 60] [--restart-every 300 (0: never)]
//   [--down 5] [--markers [--loop-format mp4|flv|mkv] [--frames 219 (at 30 fps)]] [--dir DIR]
//   [--ffmpeg PATH (CLI for fixtures and decoding)] | --analyze DIR
// SOAK_TRACE=1 prints a sample every 10 s to stderr. RSS climbs in steps while each thread's malloc arena reaches its
// high-water mark (with or without restarts); the malloc heap in use is what a leak would move.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { arrivalStats, keepFed, makeClickClip, makeMarkerLoop, measureFile, pullReceiver } from './av-markers.mjs';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' }, 'restart-every': { type: 'string' }, down: { type: 'string' }, markers: { type: 'boolean' },
    dir: { type: 'string' }, analyze: { type: 'string' }, ffmpeg: { type: 'string' }, 'loop-format': { type: 'string' },
    frames: { type: 'string' },
  },
});
const ffmpeg = values.ffmpeg ?? 'ffmpeg';
const ffprobe = values.ffmpeg ? path.join(path.dirname(values.ffmpeg), 'ffprobe') : 'ffprobe';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (values.analyze) {
  console.log(JSON.stringify(await analyzeMarkers(values.analyze), null, 2));
  process.exit(0);
}

const require = createRequire(import.meta.url);
const { createLiveFeed, publish } = require('../dist/index.js');
const { loadNative } = require('../dist/native.js');

const minutes = Number(values.minutes ?? 60);
const every = Number(values['restart-every'] ?? 300) * 1000;
const downMs = Number(values.down ?? 5) * 1000;
const markers = values.markers === true;

const dir = values.dir ? (fs.mkdirSync(values.dir, { recursive: true }), values.dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-live-soak-'));
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
fs.mkdirSync(path.join(dir, 'rec'), { recursive: true });
fs.writeFileSync(path.join(dir, 'nginx.conf'), `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:${port}; chunk_size 4096;
  application live { live on; record all; record_path ${dir}/rec; record_unique on; } } }
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

const sampleRate = 48000;
const url = `rtmp://127.0.0.1:${port}/live/soak`;
// What an analysis needs, kept up to date in DIR/run.json (wall times: Date.now()).
const run = { sampleRate, url, markers, minutes, restartEverySeconds: every / 1000, downSeconds: downMs / 1000, startedAt: Date.now(), restarts: [], sessions: [] };
const saveRun = () => fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run, null, 1));

const loop = path.join(dir, `bg.${markers ? (values['loop-format'] ?? 'mp4') : 'mp4'}`);
let clip;
if (markers) {
  const m = makeMarkerLoop(loop, { ffmpeg, frames: Number(values.frames ?? 219), fps: 30 });
  run.spanSeconds = m.spanSeconds;
  run.loop = path.basename(loop);
  const samples = m.spanSeconds * sampleRate;
  if (!Number.isInteger(samples)) throw new Error(`--frames: ${m.frames} frames at 30 fps is not a whole number of samples at ${sampleRate} Hz`);
  clip = makeClickClip({ sampleRate, channels: 2, samples });
} else {
  execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '7.3', '-c:v', 'libx264',
    '-preset', 'veryfast', '-g', '60', '-bf', '2', '-pix_fmt', 'yuv420p', loop]);
  clip = execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=440:d=4', '-f', 'mp3', '-']);
}
saveRun();

await startNginx();
const feed = createLiveFeed({ sampleRate, channels: 2, bitrate: 160000, gapMs: markers ? 0 : 500 });
const b = publish(feed, { url, video: { loop } });
let back = 0;
const resumeMs = [];
let receiver;
b.on('connected', () => {
  if (back) resumeMs.push(Math.round(performance.now() - back)), (back = 0);
  const session = { connectedAt: Date.now() };
  if (markers) {
    // A viewer of this session (it ends when the server goes away).
    session.receiver = `recv-${run.sessions.length}`;
    receiver = pullReceiver(url, path.join(dir, session.receiver), { ffmpeg });
    const r = receiver;
    r.done.then(({ errors }) => {
      session.receiverEndedAt = Date.now();
      if (errors.trim()) session.receiverErrors = errors.slice(-2000);
      saveRun();
    });
  }
  run.sessions.push(session);
  saveRun();
});
b.on('disconnected', (e) => (run.sessions.at(-1) && (run.sessions.at(-1).disconnectedAt = Date.now()), saveRun()));
b.on('error', (e) => console.error('error', e.code, e.message));
const stopFeeding = markers
  ? keepFed(feed, clip)
  : ((t) => () => clearInterval(t))(setInterval(() => feed.queued < 3 && feed.enqueue(clip).catch(() => {}), 15_000));

const rss = [];
const nativeMem = []; // RSS minus the V8 heap: what native code (and the allocator) holds
const heap = [];
const inUse = []; // malloc heap in use (allocated, not freed): the leak measure; RSS also moves with the allocator
const start = performance.now();
let nextRestart = every > 0 ? start + every : Infinity;
while (performance.now() - start < minutes * 60_000) {
  await sleep(Math.min(10_000, Math.max(10, start + minutes * 60_000 - performance.now())));
  globalThis.gc?.();
  const mem = process.memoryUsage();
  rss.push(Math.round(mem.rss / 1e6));
  nativeMem.push(Math.round((mem.rss - mem.heapTotal) / 1e6));
  heap.push(Math.round(mem.heapUsed / 1e6));
  inUse.push(Math.round((loadNative().mallocInUse() ?? NaN) / 1e5) / 10);
  if (process.env.SOAK_TRACE) console.error(JSON.stringify({ t: Math.round((performance.now() - start) / 1000), rss: mem.rss / 1e6, native: (mem.rss - mem.heapTotal) / 1e6, heapUsed: mem.heapUsed / 1e6, external: mem.external / 1e6, mallocInUse: (loadNative().mallocInUse() ?? NaN) / 1e6, reconnects: b.stats().reconnects }));
  if (performance.now() >= nextRestart) {
    const r = { stoppedAt: Date.now() };
    await stopNginx();
    await sleep(downMs);
    await startNginx();
    r.startedAt = Date.now();
    run.restarts.push(r);
    saveRun();
    back = performance.now();
    nextRestart += every;
  }
}
stopFeeding();
const closed = new Promise((r) => b.once('close', r));
await feed.close();
await closed;
await sleep(1000);
receiver?.stop(); // nginx keeps a viewer waiting for the next publisher
await receiver?.done;
await stopNginx();
run.endedAt = Date.now();
saveRun();

// Per session: where video and audio end on the stream's clock (cut points; not a drift measure).
const sessions = fs.readdirSync(path.join(dir, 'rec')).filter((f) => f.endsWith('.flv')).sort();
const ends = sessions.map((f) => {
  const out = execFileSync(ffprobe, ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time,duration_time', '-of', 'csv=p=0', path.join(dir, 'rec', f)],
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
const summary = {
  minutes, restartEverySeconds: every / 1000, downSeconds: downMs / 1000,
  reconnects: s.reconnects, resumeAfterServerReturnMs: resumeMs, droppedMs: s.droppedMs, sentAudioMs: s.sentAudioMs,
  sessionsRecorded: sessions.length, videoMinusAudioEndMsPerSession: ends,
  rssMB: { first: rss[0], afterWarmup: warm[0], last: rss[rss.length - 1], max: Math.max(...rss) },
  nativeMB: { first: nativeMem[0], afterWarmup: nativeMem[Math.min(3, nativeMem.length - 1)], last: nativeMem[nativeMem.length - 1] },
  heapUsedMB: { first: heap[0], last: heap[heap.length - 1] },
  mallocInUseMB: { first: inUse[0], afterWarmup: inUse[Math.min(3, inUse.length - 1)], last: inUse[inUse.length - 1], max: Math.max(...inUse) },
};
if (markers) {
  summary.dir = dir;
  summary.drift = await analyzeMarkers(dir);
} else fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(summary, null, 2));

/** The content-based drift figures of a --markers run's folder (per session; rate and interleave per viewer). */
async function analyzeMarkers(runDir) {
  const info = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  const opts = { spanSeconds: info.spanSeconds, sampleRate: info.sampleRate, ffmpeg, ffprobe };
  const recDir = path.join(runDir, 'rec');
  const recorded = [];
  for (const f of fs.readdirSync(recDir).filter((x) => x.endsWith('.flv')).sort()) {
    recorded.push({ file: f, ...(await measureFile(path.join(recDir, f), opts)) });
  }
  const viewed = [];
  let firstA;
  let lastA;
  for (const [i, sess] of info.sessions.entries()) {
    if (!sess.receiver) continue;
    const prefix = path.join(runDir, sess.receiver);
    if (!fs.existsSync(`${prefix}-v.flv`) || fs.statSync(`${prefix}-v.flv`).size < 1000) continue;
    const arrival = arrivalStats(`${prefix}.csv`);
    if (arrival.firstTag) {
      firstA ??= arrival.firstTag;
      lastA = arrival.lastTag;
    }
    let content;
    try {
      content = await measureFile(`${prefix}-v.flv`, { ...opts, audioFile: `${prefix}-a.flv` });
    } catch (err) {
      content = { error: String(err.message ?? err).slice(0, 300) };
    }
    viewed.push({ session: i, ...content, arrival, ...(sess.receiverErrors ? { receiverErrors: sess.receiverErrors.slice(0, 300) } : {}) });
  }
  const worst = (list) => Math.max(...list.filter((x) => x.pairs > 1).map((x) => x.driftMs));
  return {
    spanSeconds: info.spanSeconds,
    sessions: info.sessions.length,
    restarts: info.restarts.length,
    maxDriftMsRecorded: worst(recorded),
    maxDriftMsViewed: worst(viewed),
    // Audio pts advance against arrival wall time from the first viewer's first settled tag to the last one's last
    // tag (the feed keeps its clock across reconnects, so this spans the whole run).
    wholeRun: firstA && lastA ? { wallSeconds: Math.round((lastA[0] - firstA[0]) / 100) / 10, mediaMinusWallMs: (lastA[3] - firstA[3]) - (lastA[0] - firstA[0]) } : undefined,
    recorded,
    viewed,
  };
}
