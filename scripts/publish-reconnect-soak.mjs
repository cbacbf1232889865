// Reconnect cycles against a local nginx-rtmp (plain, or behind a stunnel TLS front with --tls): per cycle, publish
// for --send-ms, stop the server, wait for the disconnect, start it again after --down-ms and wait for the
// reconnect. Samples the malloc heap in use (the addon's mallocInUse(): what was allocated and not freed, unmoved
// by the allocator's caches) and RSS minus the V8 heap after each cycle, with GC run first.
// Prints a JSON summary; exits 1 on an 'error' event or a wait that never ends.
// Usage: npm run build:ts && node --expose-gc scripts/publish-reconnect-soak.mjs [--cycles 30] [--send-ms 1000]
//        [--down-ms 300] [--tls] [--image] [--audio-only]
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

const { values } = parseArgs({
  options: { cycles: { type: 'string' }, 'send-ms': { type: 'string' }, 'down-ms': { type: 'string' }, tls: { type: 'boolean' }, image: { type: 'boolean' }, trace: { type: 'boolean' } },
});
const cycles = Number(values.cycles ?? 30);
const sendMs = Number(values['send-ms'] ?? 1000);
const downMs = Number(values['down-ms'] ?? 300);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-reconnect-'));
const children = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
const fail = (why) => {
  console.error(why);
  process.exit(1);
};

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const waitPort = async (p) => {
  for (;;) {
    const ok = await new Promise((r) => {
      const c = net.connect(p, '127.0.0.1');
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => (c.destroy(), r(false)));
    });
    if (ok) return;
    await sleep(20);
  }
};
const port = await freePort();
fs.writeFileSync(path.join(dir, 'nginx.conf'), `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:${port}; chunk_size 4096; application live { live on; } } }
`);
let nginx;
const start = async () => {
  nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  children.push(nginx);
  await waitPort(port);
};
const stop = () => new Promise((r) => (nginx.once('exit', r), nginx.kill('SIGTERM')));
await start();

let url = `rtmp://127.0.0.1:${port}/live/cycles`;
let tls;
if (values.tls) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const tport = await freePort();
  fs.writeFileSync(`${dir}/stunnel.conf`, `foreground = yes\npid =\n[rtmps]\naccept = 127.0.0.1:${tport}\nconnect = 127.0.0.1:${port}\ncert = ${dir}/cert.pem\nkey = ${dir}/key.pem\n`);
  const bin = ['/usr/bin/stunnel4', '/usr/bin/stunnel'].find((p) => fs.existsSync(p));
  children.push(spawn(bin, [`${dir}/stunnel.conf`], { stdio: 'ignore' }));
  await waitPort(tport);
  url = `rtmps://127.0.0.1:${tport}/live/cycles`;
  tls = { ca: fs.readFileSync(`${dir}/cert.pem`) };
}
let video;
if (values.image) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360', '-frames:v', '1', `${dir}/cover.png`]);
  video = { image: `${dir}/cover.png` };
} else {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '7.3', '-c:v', 'libx264',
    '-preset', 'veryfast', '-g', '60', '-bf', '2', '-pix_fmt', 'yuv420p', `${dir}/bg.mp4`]);
  video = { loop: `${dir}/bg.mp4` };
}

const feed = createLiveFeed({ sampleRate: 48000, channels: 2, gapMs: 500 });
const b = publish(feed, { url, video, ...(tls ? { tls } : {}), reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
b.on('error', (e) => fail(`error event: ${e.code} ${e.message} ${e.detail ?? ''}`));
if (values.trace) for (const e of ['connected', 'disconnected', 'reconnecting']) b.on(e, (x) => console.error(e, x?.message ?? JSON.stringify(x ?? '')));
const once = (e) => new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`no '${e}' within 20 s`)), 20_000);
  b.once(e, () => (clearTimeout(t), resolve()));
});
const sample = () => {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { heap: (loadNative().mallocInUse() ?? NaN) / 1e6, native: (m.rss - m.heapTotal) / 1e6 };
};

const rows = [];
const started = performance.now();
try {
  await once('connected');
  for (let i = 0; i < cycles; i++) {
    await sleep(sendMs);
    const disconnected = once('disconnected');
    await stop();
    await disconnected;
    await sleep(downMs);
    const connected = once('connected');
    await start();
    await connected;
    rows.push(sample());
  }
} catch (err) {
  fail(err.message);
}
const seconds = (performance.now() - started) / 1000;
const closed = once('close');
await feed.close();
await closed;
await stop();

// Growth per cycle: the median of the per-cycle deltas after the first third (warm-up: the allocator, the TLS
// library's first-use state), and the slope over the same span.
const summary = (key) => {
  const v = rows.map((r) => r[key]);
  const from = Math.floor(v.length / 3);
  const d = v.slice(from + 1).map((x, i) => x - v[from + i]).sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1000) / 1000;
  return { values: v.map(round), medianDeltaMB: round(d[d.length >> 1]), slopeMB: round((v[v.length - 1] - v[from]) / (v.length - 1 - from)) };
};
const s = b.stats();
console.log(JSON.stringify({ url: url.replace(/:\d+\//, ':PORT/'), cycles, seconds: Math.round(seconds), reconnects: s.reconnects,
  heapInUse: summary('heap'), rssMinusV8: summary('native') }));
process.exit(0); // the TLS front is still running: the exit handler ends it
