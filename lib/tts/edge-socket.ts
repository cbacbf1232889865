/**
 * One EdgeTTS websocket attempt: connect, send the speech config and the SSML, collect audio and word boundaries
 * until turn.end, under connect, idle and total deadlines. Failures are classified (AttemptFailure) for the
 * engine's retry policy in edge.ts.
 */
import type WebSocketClass from 'ws';
import {
  connectionId,
  parseBinaryMessage,
  parseMetadata,
  parseTextMessage,
  speechConfigMessage,
  ssmlMessage,
  synthesizeUrl,
  websocketHeaders,
  type Endpoint,
} from './edge-protocol';
import { abortedError } from './prosody';

/** ws is loaded on the first EdgeTTS request, not when ttsav is: a transcode-only service never pays its ~7 MB. */
let wsModule: typeof WebSocketClass | undefined;
function WebSocketCtor(): typeof WebSocketClass {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (wsModule ??= require('ws') as typeof WebSocketClass);
}

export interface Client {
  version: string;
  headers: Record<string, string>;
}

/** Why one attempt failed, before deciding whether to retry. */
export interface AttemptFailure {
  kind: 'http' | 'dropped' | 'no-audio' | 'network' | 'timeout' | 'protocol';
  message: string;
  status?: number;
  date?: string;
  retryAfterMs?: number;
  which?: 'connect' | 'idle' | 'total';
}

export class Failure extends Error {
  constructor(readonly info: AttemptFailure) {
    super(info.message);
  }
}

export interface Piece {
  chunks: Buffer[];
  bytes: number;
  words: { text: string; offset: number; duration: number }[];
}

const FATAL_NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'SELF_SIGNED_CERT_IN_CHAIN']);

/** What one attempt sends and how long it may take. */
export interface AttemptRequest {
endpoint: Endpoint;
client: Client;
voice: string;
prosody: { rate: string; pitch: string; volume: string };
/** The text, XML-escaped. */
escaped: string;
totalMs: number;
connectTimeoutMs: number;
idleTimeoutMs: number;
/** Server time minus local time (ms), read when each message is stamped. */
clockSkewMs(): number;
signal?: AbortSignal;
onAudio?: (chunk: Buffer) => void;
/** Set once audio of this piece has been handed to onAudio. */
streamed?: { any: boolean };
}

/** One websocket: open, send config + SSML, collect until turn.end. Closes the socket on every path. Rejects with
 *  a Failure (for the caller's retry decision) or the abort error. */
export function attempt(r: AttemptRequest): Promise<Piece> {
  const { endpoint, client, voice, prosody, escaped, totalMs, signal, onAudio, streamed } = r;
  return new Promise<Piece>((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const now = Date.now() + r.clockSkewMs();
    const WebSocket = WebSocketCtor();
    const ws = new WebSocket(synthesizeUrl(endpoint, now, client.version, connectionId()), {
      headers: websocketHeaders(client.version, client.headers),
      perMessageDeflate: false,
      followRedirects: false,
    });
    const piece: Piece = { chunks: [], bytes: 0, words: [] };
    let settled = false;
    let opened = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      clearTimeout(idleTimer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        ws.terminate(); // destroys the socket now: the peer sees the close at once
        reject(err);
      } else {
        // Close politely and resolve once the socket is closed, so a caller's concurrency limit covers the
        // socket's whole life; a server that does not answer the close gets 500 ms.
        const force = setTimeout(() => ws.terminate(), 500);
        ws.once('close', () => {
          clearTimeout(force);
          resolve(piece);
        });
        ws.close(1000);
      }
    };
    const fail = (info: AttemptFailure): void => finish(new Failure(info));
    const onAbort = (): void => finish(abortedError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    const connectTimer = setTimeout(() => fail({ kind: 'timeout', which: 'connect', message: 'connect timeout' }), Math.min(r.connectTimeoutMs, totalMs));
    const totalTimer = setTimeout(() => fail({ kind: 'timeout', which: 'total', message: 'total timeout' }), totalMs);
    const armIdle = (): void => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => fail({ kind: 'timeout', which: 'idle', message: 'idle timeout' }), r.idleTimeoutMs);
    };

    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = res.headers['retry-after'];
      const seconds = typeof retryAfter === 'string' ? Number(retryAfter) : NaN;
      const info: AttemptFailure = { kind: 'http', status: res.statusCode ?? 0, message: `the service answered HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim() };
      if (typeof res.headers.date === 'string') info.date = res.headers.date;
      if (Number.isFinite(seconds) && seconds >= 0) info.retryAfterMs = seconds * 1000;
      res.resume();
      fail(info);
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (opened) return fail({ kind: 'dropped', message: `the connection failed mid-request: ${err.message}` });
      const code = err.code ?? '';
      fail({ kind: 'network', message: `cannot connect to ${endpoint.scheme}://${endpoint.host}: ${err.message}${FATAL_NETWORK.has(code) ? ' (fatal)' : ''}` });
    });
    ws.on('open', () => {
      opened = true;
      clearTimeout(connectTimer);
      armIdle();
      const t = Date.now() + r.clockSkewMs();
      ws.send(speechConfigMessage(t));
      ws.send(ssmlMessage(connectionId(), t, voice, prosody, escaped));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (settled) return;
      armIdle();
      try {
        if (isBinary) {
          const { headers, payload } = parseBinaryMessage(data);
          if (headers.Path === 'audio' && payload.length > 0) {
            piece.chunks.push(payload);
            piece.bytes += payload.length;
            if (onAudio) {
              if (streamed) streamed.any = true;
              onAudio(payload);
            }
          }
          return;
        }
        const { headers, body } = parseTextMessage(data.toString('utf8'));
        if (headers.Path === 'audio.metadata') piece.words.push(...parseMetadata(body));
        else if (headers.Path === 'turn.end') {
          if (piece.bytes === 0) fail({ kind: 'no-audio', message: 'the service ended the turn without audio' });
          else finish();
        }
      } catch (err) {
        fail({ kind: 'protocol', message: (err as Error).message });
      }
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (settled) return;
      const why = `code ${code}${reason.length ? ` (${reason.toString()})` : ''}`;
      fail(opened
        ? { kind: 'dropped', message: `the connection closed before the turn ended: ${why}` }
        : { kind: 'network', message: `the connection closed before opening: ${why}` });
    });
  });
}
