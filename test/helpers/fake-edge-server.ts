/**
 * A fake EdgeTTS service on 127.0.0.1 that speaks the real protocol: the websocket upgrade at the protocol's path
 * with TrustedClientToken, Sec-MS-GEC (checked against the server's own clock), Sec-MS-GEC-Version and
 * ConnectionId; speech.config + SSML in; turn.start, response, audio.metadata word boundaries, binary audio frames
 * ([uint16 BE header length][headers … Path:audio][MP3 bytes]) and turn.end out; the voices list over HTTP.
 * The audio is real MP3 (espeak-ng speech encoded by the ffmpeg CLI without bit reservoir, so frames can be cut
 * and joined anywhere): each word gets a run of frames, so durations and word offsets are known exactly.
 * It misbehaves on command (HTTP errors, stalls, drops, turns without audio).
 *
 * Strict like the service (edge-tts 7.2.7 era, 2026): it refuses with HTTP 403 a client older than
 * `minClientVersion`, a User-Agent or Sec-CH-UA that disagrees with Sec-MS-GEC-Version, a missing or malformed
 * `muid` cookie, a wrong Origin, and a Sec-MS-GEC that is not the token of its clock's 5-minute window — computed
 * here with its own code, not the client's function, and pinned to a published-style test vector in the tests.
 * WordBoundary text goes out XML-escaped, as the service sends it.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { TRUSTED_CLIENT_TOKEN, SYNTHESIZE_PATH, VOICES_PATH } from '../../lib/tts/edge-protocol';
import { mp3Frames } from '../../lib/tts/mp3';

export type Behaviour =
  | 'ok'
  /** Accept the websocket, read the request, send nothing. */
  | 'stall'
  /** Send turn.start, response and part of the audio, then nothing. */
  | 'stall-mid-audio'
  /** Never answer the HTTP upgrade. */
  | 'hang-upgrade'
  /** Send part of the audio, then destroy the socket. */
  | 'drop-mid-audio'
  /** turn.start, response, turn.end: no audio. */
  | 'no-audio'
  /** Answer the upgrade with this HTTP status. */
  | { status: number; date?: string; retryAfter?: number };

export interface RequestLog {
  connectionId: string;
  text: string;
  voice: string;
  rate: string;
  pitch: string;
  volume: string;
  /** Words and their frames as sent (ticks of 100 ns). */
  words: { text: string; offset: number; duration: number }[];
  /** Audio frames sent for a complete turn, and their duration in seconds. */
  frames: number;
  durationSeconds: number;
  behaviour: string;
}

export interface FakeEdgeServer {
  /** ws://127.0.0.1:port */
  url: string;
  port: number;
  /** Behaviours for the next connections, in order; then 'ok' (or `rule`). */
  plan(...behaviours: Behaviour[]): void;
  /** Forgets planned behaviours not yet used. */
  clearPlan(): void;
  /** Per-request behaviour by text, applied when the plan is empty (e.g. text containing FAIL → 400). */
  rule?: (text: string) => Behaviour | undefined;
  /** Server clock minus real clock; Sec-MS-GEC is checked against the server clock (403 with its Date if wrong). */
  clockOffsetMs: number;
  /** Delay between messages of a turn (keeps sockets open so concurrency can be observed). */
  messageDelayMs: number;
  /** Audio frames per binary message. */
  framesPerMessage: number;
  /** Upgrade requests seen, completed turns, HTTP rejections, sockets open now and at most. */
  stats: {
    upgrades: number;
    turns: number;
    rejected: number[];
    /** TCP sockets open now and at most (a finished socket may linger for its closing handshake). */
    openSockets: number;
    maxOpenSockets: number;
    /** Websocket sessions whose turn is not over (from the upgrade until turn.end is sent or the socket closes). */
    activeSessions: number;
    maxActiveSessions: number;
    voicesHits: number;
    /** Why each 403 was sent ('version', 'user-agent', 'sec-ch-ua', 'muid', 'origin', 'gec', …), in order. */
    refusals: string[];
    /** muid cookies seen, in order (websocket upgrades and voice lists). */
    muids: string[];
    /** Request headers of the last upgrade and the last voice list. */
    lastUpgradeHeaders?: http.IncomingHttpHeaders;
    lastUpgradeUrl?: string;
    lastVoicesUrl?: string;
    lastVoicesHeaders?: http.IncomingHttpHeaders;
  };
  /** Oldest Edge version accepted (default '143.0.3650.75'); older ones get 403, like the service since 2026-01. */
  minClientVersion: string;
  requests: RequestLog[];
  /** Resolves with performance.now() when the next TCP socket closes. */
  nextSocketClose(): Promise<number>;
  /** Resolves when the next websocket has received its SSML. */
  nextRequest(): Promise<RequestLog>;
  /** The turn the server would send for this text, computed without a connection (for expected values). */
  expected(text: string): { words: { text: string; offset: number; duration: number }[]; frames: number; durationSeconds: number; audio: Buffer };
  close(): Promise<void>;
}

const TICKS_PER_FRAME = (576 / 24000) * 1e7; // 240000
const LEAD_FRAMES = 4;
const TAIL_FRAMES = 4;

let speechFrames: Buffer[] | undefined;
/** MP3 frames (24 kHz mono 48k, no bit reservoir, no Xing/ID3) of espeak-ng speech, made once per process. */
function frames(): Buffer[] {
  if (speechFrames) return speechFrames;
  const wav = execFileSync('espeak-ng', ['--stdout', 'The fake edge server speaks real words, encoded as real MP3 frames.']);
  const mp3 = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'wav', '-i', 'pipe:0', '-ar', '24000', '-ac', '1',
    '-c:a', 'libmp3lame', '-b:a', '48k', '-reservoir', '0', '-write_xing', '0', '-id3v2_version', '0', '-f', 'mp3', 'pipe:1'], { input: wav });
  speechFrames = mp3Frames(mp3).map((f) => mp3.subarray(f.offset, f.offset + f.size));
  if (speechFrames.length < 50) throw new Error('fake edge server: too few MP3 frames');
  return speechFrames;
}

/**
 * Sec-MS-GEC as the service checks it, written independently of lib/: 100 ns ticks since 1601-01-01 of the start of
 * the 5-minute window containing `unixMs`, then the trusted client token, SHA-256, uppercase hex.
 */
export function serviceGec(unixMs: number): string {
  const windowStartUnix = BigInt(Math.floor(unixMs / 300_000)) * 300n; // 1601→1970 is a whole number of windows
  const ticks = (windowStartUnix + 11_644_473_600n) * 10_000_000n;
  return createHash('sha256').update(ticks.toString() + TRUSTED_CLIENT_TOKEN).digest('hex').toUpperCase();
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 4; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/**
 * Why the service would refuse this client, or undefined: version, browser headers, muid cookie, Sec-MS-GEC.
 * `kind` is 'ws' for the websocket upgrade (Origin required) or 'voices' (Sec-CH-UA and fetch headers required).
 */
function refusal(server: FakeEdgeServer, url: URL, headers: http.IncomingHttpHeaders, kind: 'ws' | 'voices', serverNow: number): string | undefined {
  const m = /^1-(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(url.searchParams.get('Sec-MS-GEC-Version') ?? '');
  if (!m) return 'version';
  const version = m.slice(1).join('.');
  if (!versionAtLeast(version, server.minClientVersion)) return 'version';
  const major = m[1]!;
  const ua = headers['user-agent'] ?? '';
  if (!ua.includes(`Chrome/${major}.0.0.0`) || !ua.endsWith(`Edg/${major}.0.0.0`)) return 'user-agent';
  const cookie = /(?:^|;\s*)muid=([^;]*)/.exec(headers.cookie ?? '');
  if (!cookie || !/^[0-9A-F]{32}$/.test(cookie[1]!)) return 'muid';
  server.stats.muids.push(cookie[1]!);
  if (kind === 'ws' && headers.origin !== 'chrome-extension://jdiccldimpdaibmpdkjnbmckianbfold') return 'origin';
  if (kind === 'voices') {
    if (headers['sec-ch-ua'] !== `" Not;A Brand";v="99", "Microsoft Edge";v="${major}", "Chromium";v="${major}"`) return 'sec-ch-ua';
    if (headers['sec-ch-ua-mobile'] !== '?0' || headers['sec-fetch-site'] !== 'none' || headers['sec-fetch-mode'] !== 'cors' || headers['sec-fetch-dest'] !== 'empty') return 'fetch-headers';
  }
  // The token of the server's current 5-minute window (or the previous one, at a boundary).
  const gec = url.searchParams.get('Sec-MS-GEC');
  if (gec !== serviceGec(serverNow) && gec !== serviceGec(serverNow - 300_000)) return 'gec';
  return undefined;
}

function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!);
}

/** The turn for a text: LEAD silence-ish frames, then per word 4 + 2 × characters frames, then TAIL frames. */
function turnFor(text: string): { words: { text: string; offset: number; duration: number }[]; frameList: Buffer[] } {
  const all = frames();
  const words: { text: string; offset: number; duration: number }[] = [];
  const frameList: Buffer[] = [];
  let n = 0;
  const push = (count: number): void => {
    for (let i = 0; i < count; i++) frameList.push(all[n++ % all.length]!);
  };
  push(LEAD_FRAMES);
  for (const token of text.split(/\s+/)) {
    const word = token.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
    if (word === '') continue;
    const count = 4 + 2 * Math.min(20, Array.from(word).length);
    words.push({ text: word, offset: frameList.length * TICKS_PER_FRAME, duration: (count - 1) * TICKS_PER_FRAME });
    push(count);
  }
  push(TAIL_FRAMES);
  return { words, frameList };
}

const VOICES = [
  { Name: 'Microsoft Server Speech Text to Speech Voice (en-US, AriaNeural)', ShortName: 'en-US-AriaNeural', Gender: 'Female', Locale: 'en-US', FriendlyName: 'Microsoft Aria Online (Natural) - English (United States)' },
  { Name: 'Microsoft Server Speech Text to Speech Voice (zh-CN, XiaoxiaoNeural)', ShortName: 'zh-CN-XiaoxiaoNeural', Gender: 'Female', Locale: 'zh-CN', FriendlyName: 'Microsoft Xiaoxiao Online (Natural) - Chinese (Mainland)' },
];

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export async function startFakeEdgeServer(): Promise<FakeEdgeServer> {
  frames();
  const http1 = http.createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const queue: Behaviour[] = [];
  const sockets = new Set<Socket>();
  const closeWaiters: ((t: number) => void)[] = [];
  const requestWaiters: ((r: RequestLog) => void)[] = [];

  const server: FakeEdgeServer = {
    url: '',
    port: 0,
    plan: (...b) => void queue.push(...b),
    clearPlan: () => void queue.splice(0),
    clockOffsetMs: 0,
    messageDelayMs: 0,
    framesPerMessage: 3,
    stats: { upgrades: 0, turns: 0, rejected: [], openSockets: 0, maxOpenSockets: 0, activeSessions: 0, maxActiveSessions: 0, voicesHits: 0, refusals: [], muids: [] },
    minClientVersion: '143.0.3650.75',
    requests: [],
    nextSocketClose: () => new Promise((resolve) => closeWaiters.push(resolve)),
    nextRequest: () => new Promise((resolve) => requestWaiters.push(resolve)),
    expected(text) {
      const t = turnFor(text);
      return { words: t.words, frames: t.frameList.length, durationSeconds: (t.frameList.length * 576) / 24000, audio: Buffer.concat(t.frameList) };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        wss.close();
        http1.close(() => resolve());
      }),
  };

  http1.on('connection', (socket: Socket) => {
    sockets.add(socket);
    server.stats.openSockets++;
    server.stats.maxOpenSockets = Math.max(server.stats.maxOpenSockets, server.stats.openSockets);
    socket.on('close', () => {
      sockets.delete(socket);
      server.stats.openSockets--;
      const t = performance.now();
      for (const w of closeWaiters.splice(0)) w(t);
    });
  });

  http1.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === VOICES_PATH && url.searchParams.get('trustedclienttoken') === TRUSTED_CLIENT_TOKEN) {
      server.stats.voicesHits++;
      server.stats.lastVoicesHeaders = req.headers;
      server.stats.lastVoicesUrl = req.url;
      const serverNow = Date.now() + server.clockOffsetMs;
      const why = refusal(server, url, req.headers, 'voices', serverNow);
      if (why) {
        server.stats.refusals.push(why);
        server.stats.rejected.push(403);
        res.writeHead(403, { Date: httpDate(serverNow), 'Content-Length': 0 }).end();
        return;
      }
      // Compressed as the service does when offered: br, else gzip.
      const body = Buffer.from(JSON.stringify(VOICES));
      const accept = req.headers['accept-encoding'] ?? '';
      const encoding = /\bbr\b/.test(accept) ? 'br' : /\bgzip\b/.test(accept) ? 'gzip' : 'identity';
      const out = encoding === 'br' ? zlib.brotliCompressSync(body) : encoding === 'gzip' ? zlib.gzipSync(body) : body;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': encoding, Date: httpDate(serverNow) });
      res.end(out);
      return;
    }
    res.writeHead(404).end();
  });

  const reject = (socket: Socket, status: number, headers: Record<string, string>): void => {
    server.stats.rejected.push(status);
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n${lines}Connection: close\r\nContent-Length: 0\r\n\r\n`);
  };

  http1.on('upgrade', (req, socket: Socket, head) => {
    server.stats.upgrades++;
    server.stats.lastUpgradeHeaders = req.headers;
    server.stats.lastUpgradeUrl = req.url;
    const url = new URL(req.url ?? '/', 'http://x');
    const serverNow = Date.now() + server.clockOffsetMs;
    const date = httpDate(serverNow);
    let behaviour: Behaviour | undefined = queue.shift();
    if (url.pathname !== SYNTHESIZE_PATH || url.searchParams.get('TrustedClientToken') !== TRUSTED_CLIENT_TOKEN ||
      !/^1-\d+\.\d+\.\d+\.\d+$/.test(url.searchParams.get('Sec-MS-GEC-Version') ?? '') ||
      !/^[0-9a-f]{32}$/.test(url.searchParams.get('ConnectionId') ?? ''))
      return reject(socket, 400, { Date: date });
    const why = refusal(server, url, req.headers, 'ws', serverNow);
    if (why) {
      server.stats.refusals.push(why);
      return reject(socket, 403, { Date: date });
    }
    if (behaviour !== undefined && typeof behaviour === 'object') {
      const h: Record<string, string> = { Date: behaviour.date ?? date };
      if (behaviour.retryAfter !== undefined) h['Retry-After'] = String(behaviour.retryAfter);
      return reject(socket, behaviour.status, h);
    }
    if (behaviour === 'hang-upgrade') return;
    wss.handleUpgrade(req, socket, head, (ws) => session(ws, url.searchParams.get('ConnectionId')!, behaviour));
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

  function session(ws: WebSocket, connectionId: string, planned: Behaviour | undefined): void {
    let config = false;
    let active = true;
    server.stats.activeSessions++;
    server.stats.maxActiveSessions = Math.max(server.stats.maxActiveSessions, server.stats.activeSessions);
    const end = (): void => {
      if (active) server.stats.activeSessions--;
      active = false;
    };
    ws.on('close', end);
    ws.on('message', async (data: Buffer, isBinary: boolean) => {
      if (isBinary) return ws.close(1008, 'unexpected binary message');
      const msg = data.toString('utf8');
      const [head, body = ''] = msg.split('\r\n\r\n');
      const headers = Object.fromEntries(head!.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
      if (headers.Path === 'speech.config') {
        if (!headers['X-Timestamp'] || !body.includes('"outputFormat":"audio-24khz-48kbitrate-mono-mp3"') || !body.includes('"wordBoundaryEnabled":"true"'))
          return ws.close(1008, 'bad speech.config');
        config = true;
        return;
      }
      if (headers.Path !== 'ssml' || !config || !headers['X-RequestId'] || headers['Content-Type'] !== 'application/ssml+xml')
        return ws.close(1008, 'expected speech.config then ssml');
      const m = /^<speak version='1\.0' xmlns='http:\/\/www\.w3\.org\/2001\/10\/synthesis' xml:lang='en-US'><voice name='Microsoft Server Speech Text to Speech Voice \(([^,]+), ([^)]+)\)'><prosody pitch='([^']+)' rate='([^']+)' volume='([^']+)'>([^<]*)<\/prosody><\/voice><\/speak>$/.exec(body);
      if (!m) return ws.close(1007, 'malformed SSML');
      const text = unescapeXml(m[6]!);
      if (/[<>]/.test(m[6]!) || Buffer.byteLength(m[6]!) > 4096) return ws.close(1007, 'SSML text too long or unescaped');
      const behaviour = planned ?? server.rule?.(text) ?? 'ok';
      if (typeof behaviour === 'object') return ws.close(1011, `rule status ${behaviour.status}`);
      const turn = turnFor(text);
      const log: RequestLog = {
        connectionId, text, voice: `${m[1]}-${m[2]}`, pitch: m[3]!, rate: m[4]!, volume: m[5]!, words: turn.words,
        frames: turn.frameList.length, durationSeconds: (turn.frameList.length * 576) / 24000, behaviour: String(behaviour),
      };
      server.requests.push(log);
      for (const w of requestWaiters.splice(0)) w(log);
      await play(ws, headers['X-RequestId']!, turn, behaviour, end);
    });
  }

  async function play(ws: WebSocket, requestId: string, turn: ReturnType<typeof turnFor>, behaviour: Behaviour, end: () => void): Promise<void> {
    if (behaviour === 'stall') return;
    const text = (path: string, body: string): string => `X-RequestId:${requestId}\r\nContent-Type:application/json; charset=utf-8\r\nPath:${path}\r\n\r\n${body}`;
    const send = async (data: string | Buffer): Promise<boolean> => {
      if (ws.readyState !== ws.OPEN) return false;
      ws.send(data);
      await sleep(server.messageDelayMs);
      return ws.readyState === ws.OPEN;
    };
    if (!(await send(text('turn.start', '{"context":{"serviceTag":"fake"}}')))) return;
    if (!(await send(text('response', '{"context":{"serviceTag":"fake"},"audio":{"type":"inline","streamId":"fake"}}')))) return;
    if (behaviour !== 'no-audio') {
      const header = Buffer.from(`X-RequestId:${requestId}\r\nContent-Type:audio/mpeg\r\nX-StreamId:fake\r\nPath:audio\r\n`);
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(header.length);
      const half = Math.floor(turn.frameList.length / 2);
      let nextWord = 0;
      for (let i = 0; i < turn.frameList.length; i += server.framesPerMessage) {
        if (i >= half && (behaviour === 'drop-mid-audio' || behaviour === 'stall-mid-audio')) {
          if (behaviour === 'drop-mid-audio') ws.terminate();
          return;
        }
        // Word boundaries go out just ahead of their audio, as the service does.
        const boundary = (i + server.framesPerMessage) * TICKS_PER_FRAME;
        const due: typeof turn.words = [];
        while (nextWord < turn.words.length && turn.words[nextWord]!.offset < boundary) due.push(turn.words[nextWord++]!);
        if (due.length > 0) {
          const metadata = { Metadata: due.map((w) => ({ Type: 'WordBoundary', Data: { Offset: w.offset, Duration: w.duration, text: { Text: escapeXml(w.text), Length: w.text.length, BoundaryType: 'WordBoundary' } } })) };
          if (!(await send(text('audio.metadata', JSON.stringify(metadata))))) return;
        }
        if (!(await send(Buffer.concat([prefix, header, ...turn.frameList.slice(i, i + server.framesPerMessage)])))) return;
      }
      if (!(await send(text('audio.metadata', '{"Metadata":[{"Type":"SessionEnd","Data":{"Offset":0}}]}')))) return;
    }
    if (ws.readyState !== ws.OPEN) return;
    end();
    server.stats.turns++;
    await send(text('turn.end', '{}'));
  }

  await new Promise<void>((resolve) => http1.listen(0, '127.0.0.1', resolve));
  server.port = (http1.address() as AddressInfo).port;
  server.url = `ws://127.0.0.1:${server.port}`;
  return server;
}

/** A port on 127.0.0.1 where nothing listens. */
export async function refusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
