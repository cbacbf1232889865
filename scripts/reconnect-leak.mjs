// Reconnect cycles against a local nginx-rtmp: per cycle, publish ~1 s, stop the server, wait for the disconnect,
// start it again, wait for the reconnect. Prints native memory (RSS - V8 heap total) per cycle.
// Usage: node --expose-gc scripts/reconnect-leak.mjs [--cycles 30] [--send-ms 1000] [--down-ms 300] [--tls] [--image]
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
const { values } = parseArgs({ options: { cycles: { type: 'string' }, 'send-ms': { type: 'string' }, 'down-ms': { type: 'string' }, tls: { type: 'boolean' }, image: { type: 'boolean' }, none: { type: 'boolean' } } });
const cycles = Number(values.cycles ?? 30);
const sendMs = Number(values['send-ms'] ?? 1000);
const downMs = Number(values['down-ms'] ?? 300);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-rl-'));
const freePort = () => new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const port = await freePort();
fs.writeFileSync(path.join(dir, 'nginx.conf'), `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:${port}; chunk_size 4096; application live { live on; } } }
`);
const waitPort = async (p) => { for (;;) { const ok = await new Promise((r) => { const c = net.connect(p, '127.0.0.1'); c.once('connect', () => (c.destroy(), r(true))); c.once('error', () => (c.destroy(), r(false))); }); if (ok) return; await sleep(20); } };
let nginx;
const start = async () => { nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' }); await waitPort(port); };
const stop = () => new Promise((r) => (nginx.once('exit', r), nginx.kill('SIGTERM')));
await start();
let url = `rtmp://127.0.0.1:${port}/live/leak`;
let tls;
let stunnel;
if (values.tls) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const tport = await freePort();
  fs.writeFileSync(`${dir}/st.conf`, `foreground = yes\npid =\n[rtmps]\naccept = 127.0.0.1:${tport}\nconnect = 127.0.0.1:${port}\ncert = ${dir}/cert.pem\nkey = ${dir}/key.pem\n`);
  stunnel = spawn('stunnel4', [`${dir}/st.conf`], { stdio: 'ignore' });
  await waitPort(tport);
  url = `rtmps://127.0.0.1:${tport}/live/leak`;
  tls = { ca: fs.readFileSync(`${dir}/cert.pem`) };
}
let video;
if (values.image) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360', '-frames:v', '1', `${dir}/img.png`]);
  video = { image: `${dir}/img.png` };
} else if (!values.none) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '7.3', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-bf', '2', '-pix_fmt', 'yuv420p', `${dir}/bg.mp4`]);
  video = { loop: `${dir}/bg.mp4` };
}
const feed = createLiveFeed({ sampleRate: 48000, channels: 2, gapMs: 500 });
const b = publish(feed, { url, ...(video ? { video } : {}), ...(tls ? { tls } : {}), reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
b.on('error', (e) => console.error('error', e.code, e.message));
if (process.env.RL_TRACE) for (const e of ['connected', 'disconnected', 'reconnecting', 'close']) b.on(e, (x) => console.error(e, x?.message ?? JSON.stringify(x ?? ''), x?.detail ?? ''));
const once = (e) => new Promise((r) => b.once(e, r));
const native = () => { globalThis.gc?.(); const m = process.memoryUsage(); return { heap: loadNative().heapInUse() / 1e6, native: (m.rss - m.heapTotal) / 1e6 }; };
await once('connected');
const rows = [];
for (let i = 0; i < cycles; i++) {
  await sleep(sendMs);
  const disc = once('disconnected');
  await stop();
  await disc;
  await sleep(downMs);
  const conn = once('connected');
  await start();
  await conn;
  rows.push(native());
}
const closed = once('close');
await feed.close();
await closed;
await stop();
stunnel?.kill();
// Growth per cycle: the median of per-cycle deltas after the first third (warm-up), and the slope over that span.
const summary = (key) => {
  const v = rows.map((r) => r[key]);
  const from = Math.floor(v.length / 3);
  const d = v.slice(from + 1).map((x, i) => x - v[from + i]).sort((a, b) => a - b);
  return { values: v.map((x) => Math.round(x * 100) / 100), medianDeltaMB: Math.round(d[d.length >> 1] * 1000) / 1000, slopeMB: Math.round(((v[v.length - 1] - v[from]) / (v.length - 1 - from)) * 1000) / 1000 };
};
console.log(JSON.stringify({ cycles, reconnects: b.stats().reconnects, heapInUse: summary('heap'), rssMinusV8: summary('native') }));
fs.rmSync(dir, { recursive: true, force: true });
