/**
 * A small transcode-and-speak HTTP service on node:http, all its work through one ttsav pool:
 *
 *   POST /transcode   body: audio bytes (Content-Type audio/* or application/octet-stream); ?format=m4a|adts|…
 *   POST /speak       body: JSON { "text": "…", "voice"?: "…", "format"?: "…" }
 *   GET  /ready       200 while the pool admits work, 503 when saturated to refusal or draining
 *   GET  /metrics     Prometheus text: the pool's metrics plus this server's request counter
 *
 * Errors map from TtsavError codes to HTTP statuses (statusFor below). A client that disconnects cancels its job:
 * the native work stops at its next packet. SIGTERM stops accepting connections, lets running jobs finish, then
 * exits.
 *
 * Run it from the repository (npm run build first): npx tsc -p examples/http-service && node .tmp/http-service/server.js
 * Settings come from the environment: PORT (default 8080; 0 picks a free one), CONCURRENCY, MAX_QUEUE,
 * MAX_INPUT_BYTES, MAX_DURATION_SECONDS, TIMEOUT_MS.
 */
import http from 'node:http';
import { createPool, speak, TtsavError, type OutputFormat, type TtsavErrorCode } from 'ttsav';

function envInt(name: string, fallback: number): number {
  const v = Number.parseInt(process.env[name] ?? '', 10);
  return Number.isFinite(v) && v >= 0 ? v : fallback;
}

const PORT = envInt('PORT', 8080);
const MAX_INPUT_BYTES = envInt('MAX_INPUT_BYTES', 20 * 1024 * 1024);
const MAX_TEXT_BYTES = 16 * 1024;
const TIMEOUT_MS = envInt('TIMEOUT_MS', 30_000);
const FORMATS: readonly OutputFormat[] = ['m4a', 'mp4', 'adts', 'fmp4', 'ogg', 'webm', 'mp3'];

const concurrency = envInt('CONCURRENCY', 0);
const pool = createPool({
  ...(concurrency > 0 ? { concurrency } : {}),
  maxQueue: envInt('MAX_QUEUE', 64),
  defaults: { maxInputBytes: MAX_INPUT_BYTES, maxDurationSeconds: envInt('MAX_DURATION_SECONDS', 600), maxOutputBytes: 64 * 1024 * 1024 },
});

let draining = false;
const requests = new Map<string, number>();
function count(route: string, status: number): void {
  const key = `route="${route}",status="${status}"`;
  requests.set(key, (requests.get(key) ?? 0) + 1);
}

/** The HTTP status for a ttsav error: the caller's fault (4xx, do not retry) vs ours or load (5xx). */
export function statusFor(code: TtsavErrorCode): number {
  switch (code) {
    case 'ERR_TTSAV_OPTIONS':
      return 400;
    case 'ERR_TTSAV_LIMIT':
      return 413; // too big or too long: retrying will not help
    case 'ERR_TTSAV_UNSUPPORTED':
      return 415; // media we cannot use (no audio stream, no decoder)
    case 'ERR_TTSAV_INVALID_DATA':
      return 422; // corrupt, truncated, not media
    case 'ERR_TTSAV_BUSY':
      return 503; // queue full or shutting down: retry later
    case 'ERR_TTSAV_TIMEOUT':
    case 'ERR_TTSAV_TTS_TIMEOUT':
      return 504;
    case 'ERR_TTSAV_TTS':
      return 502;
    case 'ERR_TTSAV_ABORTED':
      return 499; // the client went away; nobody reads this
    default:
      return 500;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads the body up to `max` bytes; a larger one is refused (413) without keeping the rest (it is drained and
 *  dropped, so the client can finish sending and read the answer; the connection then closes). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(new HttpError(413, `body of ${declared} bytes is over ${max}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        reject(new HttpError(413, `body is over ${max} bytes`));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function formatParam(url: URL, fallback: OutputFormat): OutputFormat {
  const f = url.searchParams.get('format');
  if (f === null) return fallback;
  if (!(FORMATS as readonly string[]).includes(f)) throw new HttpError(400, `format must be one of ${FORMATS.join(', ')}`);
  return f as OutputFormat;
}

function timeoutParam(url: URL): number {
  const t = Number(url.searchParams.get('timeoutMs') ?? TIMEOUT_MS);
  return Number.isInteger(t) && t > 0 ? Math.min(t, TIMEOUT_MS) : TIMEOUT_MS;
}

function sendError(res: http.ServerResponse, status: number, body: Record<string, unknown>): void {
  if (res.headersSent || res.destroyed) return;
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
  if (status === 503) headers['retry-after'] = '1';
  res.writeHead(status, headers).end(JSON.stringify(body));
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, signal: AbortSignal): Promise<number> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/ready') {
    const ok = !draining && pool.ready();
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
    return ok ? 200 : 503;
  }
  if (req.method === 'GET' && url.pathname === '/metrics') {
    const own = ['# HELP http_requests_total Requests by route and status.', '# TYPE http_requests_total counter'];
    for (const [labels, n] of requests) own.push(`http_requests_total{${labels}} ${n}`);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(pool.metricsText() + own.join('\n') + '\n');
    return 200;
  }
  if (req.method === 'POST' && url.pathname === '/transcode') {
    const type = req.headers['content-type'] ?? '';
    if (!/^(audio\/|application\/octet-stream)/.test(type)) throw new HttpError(415, 'send audio bytes (Content-Type audio/* or application/octet-stream)');
    const format = formatParam(url, 'm4a');
    const input = await readBody(req, MAX_INPUT_BYTES);
    const started = performance.now();
    const result = await pool.transcode(input, { format, signal, timeoutMs: timeoutParam(url) });
    res.writeHead(200, {
      'content-type': result.mimeType,
      'content-length': result.data.length,
      'server-timing': `queue;dur=${(result.queueMs ?? 0).toFixed(1)}, transcode;dur=${(performance.now() - started - (result.queueMs ?? 0)).toFixed(1)}`,
    });
    res.end(result.data);
    return 200;
  }
  if (req.method === 'POST' && url.pathname === '/speak') {
    if (!/^application\/json/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send JSON: { "text": "…" }');
    const body = await readBody(req, MAX_TEXT_BYTES);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpError(400, 'the body is not JSON');
    }
    const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { text?: unknown; voice?: unknown; format?: unknown };
    if (typeof o.text !== 'string') throw new HttpError(400, 'text must be a string');
    const format = typeof o.format === 'string' ? formatParam(new URL(`http://x/?format=${encodeURIComponent(o.format)}`), 'm4a') : 'm4a';
    const result = await speak(o.text, {
      pool,
      signal,
      timeoutMs: timeoutParam(url),
      format,
      ...(typeof o.voice === 'string' ? { voice: o.voice } : {}),
    });
    res.writeHead(200, { 'content-type': result.transcode.mimeType, 'content-length': result.audio.length, 'server-timing': `queue;dur=${(result.transcode.queueMs ?? 0).toFixed(1)}` });
    res.end(result.audio);
    return 200;
  }
  throw new HttpError(404, 'not found');
}

const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  const route = new URL(req.url ?? '/', 'http://localhost').pathname;
  // Cancel the job when the client goes away before the answer is written.
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client disconnected'));
  });
  handle(req, res, controller.signal).then(
    (status) => count(route, status),
    (err: unknown) => {
      let status = 500;
      let body: Record<string, unknown> = { error: 'internal error' };
      if (err instanceof HttpError) {
        status = err.status;
        body = { error: err.message };
      } else if (err instanceof TtsavError) {
        status = statusFor(err.code);
        body = { error: err.message, code: err.code, ...(err.reason ? { reason: err.reason } : {}) };
      } else console.error(err);
      count(route, status);
      if (status === 413 && !req.complete) req.resume(); // drop the unread body rather than reset the client
      sendError(res, status, body);
    },
  );
};
const server = http.createServer(onRequest);
// A client that asks first (Expect: 100-continue) is refused a body over the limit before it sends a byte of it.
server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_INPUT_BYTES) {
    count(new URL(req.url ?? '/', 'http://localhost').pathname, 413);
    res.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error: `body of ${declared} bytes is over ${MAX_INPUT_BYTES}` }));
    return;
  }
  res.writeContinue();
  onRequest(req, res);
});

process.on('SIGTERM', () => {
  draining = true;
  // No new connections; idle keep-alive ones close now, busy ones once their answer is written.
  server.close();
  server.closeIdleConnections();
  void pool.close().then(() => {
    console.log('drained');
    process.exit(0);
  });
});

server.listen(PORT, () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address ? address.port : PORT}`);
});
