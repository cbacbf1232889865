/**
 * edge(): Microsoft Edge's online "Read Aloud" voices over their websocket protocol, with a deadline on every
 * request (connect, idle, total), a cancel that closes the socket, bounded retries with backoff and jitter, clock
 * skew correction on 403, a configurable endpoint, and long text split and joined.
 */
import { TtsavError } from '../errors';
import { integerOr, knownKeys, object } from '../validate';
import {
  checkClientVersion,
  checkEdgeVoice,
  checkExtraHeaders,
  decodeBody,
  DEFAULT_ENDPOINT,
  EDGE_CLIENT_VERSION,
  escapeXml,
  parseEndpoint,
  splitText,
  voiceListHeaders,
  voicesUrl,
  type Endpoint,
} from './edge-protocol';
import { httpGet, refusedError } from './edge-http';
import { attempt, Failure, type AttemptFailure, type Client, type Piece } from './edge-socket';
import { mp3Info } from './mp3';
import { abortedError, checkSignal, checkText, formatRelative, parsePitch, parseRate, parseVolume, sleep } from './prosody';
import type { Synthesis, SynthesizeOptions, TtsAudioFormat, TtsEngine, TtsVoice, WordBoundary } from './types';

export interface EdgeOptions {
  /** Default voice. Default 'en-US-AriaNeural'. */
  voice?: string;
  /** Default rate, pitch and volume ('+0%', '+0Hz', '+0%'). */
  rate?: string;
  pitch?: string;
  volume?: string;
  /**
   * 'wss://host[:port]' or 'ws://host:port' replacing the scheme, host and port of wss://speech.platform.bing.com
   * (path and query stay the protocol's). Default: env TTSAV_EDGE_ENDPOINT (read when each request starts), else
   * the service.
   */
  endpoint?: string;
  /** Deadline for the websocket to open (TCP, TLS, HTTP upgrade), per attempt. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Longest silence between two frames from the service, per attempt. Default 10000 ms. */
  idleTimeoutMs?: number;
  /** Deadline for one request (one piece of the text), retries and backoff included. Default 60000 ms. */
  timeoutMs?: number;
  /** Retries after 429, 5xx, a dropped connection or a turn without audio. Default 3. */
  maxRetries?: number;
  /** First backoff delay; doubles each retry, with jitter (×0.5–1). Default 500 ms. */
  retryDelayMs?: number;
  /** Longest backoff delay (Retry-After included). Default 8000 ms. */
  maxRetryDelayMs?: number;
  /** Largest piece of text per request, in bytes after XML escaping. Default 4096 (the service's limit). */
  maxChunkBytes?: number;
  /** How long voices() keeps its list. Default 1 hour. */
  voicesCacheMs?: number;
  /**
   * The Edge browser version presented to the service (User-Agent, Sec-CH-UA, Sec-MS-GEC-Version), like
   * '143.0.3650.75'. The first thing to change when the service starts answering HTTP 403: it refuses versions
   * it considers too old. Default: env TTSAV_EDGE_CLIENT_VERSION (read when each request starts), else
   * EDGE_CLIENT_VERSION.
   */
  clientVersion?: string;
  /** Extra HTTP headers for the websocket upgrade and the voice list (override ours, except transport headers). */
  headers?: Record<string, string>;
}

/** What an EdgeEngine has done since it was made: requests, attempts, and how they ended. */
export interface EdgeStats {
  /** Pieces of text requested (one websocket turn each when all goes well). */
  requests: number;
  /** Websocket connections tried. */
  attempts: number;
  /** Attempts retried after 429, 5xx, a drop or a turn without audio. */
  retries: number;
  /** Requests the service refused as a client (HTTP 401/403 after the clock-skew retry): version or headers. */
  refused: number;
  /** HTTP 403s answered by correcting the clock and trying once more. */
  clockSkewRetries: number;
  /** Requests that failed for any reason (refused included). */
  failed: number;
  /** Voice-list fetches, and those refused. */
  voiceLists: number;
  voiceListsRefused: number;
  /** HTTP status counts of refused or failed attempts. */
  httpStatus: Record<string, number>;
}

const KNOWN = new Set<keyof EdgeOptions>([
  'voice', 'rate', 'pitch', 'volume', 'endpoint', 'connectTimeoutMs', 'idleTimeoutMs', 'timeoutMs', 'maxRetries',
  'retryDelayMs', 'maxRetryDelayMs', 'maxChunkBytes', 'voicesCacheMs', 'clientVersion', 'headers',
]);

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/** The service's documented pitch form is '+NHz' / '-NHz' only. */
const EDGE_PITCH = { percent: false } as const;

export const EDGE_FORMAT: TtsAudioFormat = Object.freeze({ container: 'mp3', codec: 'mp3', sampleRate: 24000, channels: 1 });

export class EdgeEngine implements TtsEngine {
  readonly name = 'edge';
  readonly format = EDGE_FORMAT;
  private readonly o: Required<Omit<EdgeOptions, 'endpoint' | 'clientVersion'>> & { endpoint?: Endpoint; clientVersion?: string };
  private readonly counters: EdgeStats = { requests: 0, attempts: 0, retries: 0, refused: 0, clockSkewRetries: 0, failed: 0, voiceLists: 0, voiceListsRefused: 0, httpStatus: {} };
  /** Server time minus local time, learned from a 403's Date header. */
  clockSkewMs = 0;
  private voicesCache?: { at: number; list: TtsVoice[] };
  private voicesPending?: Promise<TtsVoice[]>;

  constructor(options: EdgeOptions = {}) {
    knownKeys('edge()', object('options', options), KNOWN);
    this.o = {
      voice: checkEdgeVoice(options.voice ?? 'en-US-AriaNeural'),
      rate: formatRelative(parseRate(options.rate ?? '+0%')),
      pitch: formatRelative(parsePitch(options.pitch ?? '+0Hz', EDGE_PITCH)),
      volume: formatRelative(parseVolume(options.volume ?? '+0%')),
      connectTimeoutMs: integerOr('connectTimeoutMs', options.connectTimeoutMs, 10_000, 1, 600_000),
      idleTimeoutMs: integerOr('idleTimeoutMs', options.idleTimeoutMs, 10_000, 1, 600_000),
      timeoutMs: integerOr('timeoutMs', options.timeoutMs, 60_000, 1, 3_600_000),
      maxRetries: integerOr('maxRetries', options.maxRetries, 3, 0, 10),
      retryDelayMs: integerOr('retryDelayMs', options.retryDelayMs, 500, 0, 60_000),
      maxRetryDelayMs: integerOr('maxRetryDelayMs', options.maxRetryDelayMs, 8_000, 0, 300_000),
      maxChunkBytes: integerOr('maxChunkBytes', options.maxChunkBytes, 4096, 64, 4096),
      voicesCacheMs: integerOr('voicesCacheMs', options.voicesCacheMs, 3_600_000, 0, 7 * 86_400_000),
      headers: checkExtraHeaders(options.headers),
    };
    if (options.endpoint !== undefined) this.o.endpoint = parseEndpoint(options.endpoint);
    if (options.clientVersion !== undefined) this.o.clientVersion = checkClientVersion(options.clientVersion);
  }

  /** The browser version for a request starting now: the option, else env TTSAV_EDGE_CLIENT_VERSION, else ours. */
  clientVersion(): string {
    if (this.o.clientVersion) return this.o.clientVersion;
    const env = process.env.TTSAV_EDGE_CLIENT_VERSION;
    if (env !== undefined && env !== '') return checkClientVersion(env, 'TTSAV_EDGE_CLIENT_VERSION');
    return EDGE_CLIENT_VERSION;
  }

  /** Counters since this engine was made (a copy). */
  stats(): EdgeStats {
    return { ...this.counters, httpStatus: { ...this.counters.httpStatus } };
  }

  private countStatus(status: number): void {
    this.counters.httpStatus[status] = (this.counters.httpStatus[status] ?? 0) + 1;
  }

  /** The endpoint for a request starting now: the option, else env TTSAV_EDGE_ENDPOINT, else the service. */
  endpoint(): Endpoint {
    if (this.o.endpoint) return this.o.endpoint;
    const env = process.env.TTSAV_EDGE_ENDPOINT;
    if (env !== undefined && env !== '') return parseEndpoint(env, 'TTSAV_EDGE_ENDPOINT');
    return parseEndpoint(DEFAULT_ENDPOINT);
  }

  validate(options: SynthesizeOptions): void {
    this.resolve(options);
  }

  private resolve(options: SynthesizeOptions = {}): { voice: string; prosody: { rate: string; pitch: string; volume: string }; signal?: AbortSignal } {
    object('options', options);
    const r = {
      voice: options.voice === undefined ? this.o.voice : checkEdgeVoice(options.voice),
      prosody: {
        rate: options.rate === undefined ? this.o.rate : formatRelative(parseRate(options.rate)),
        pitch: options.pitch === undefined ? this.o.pitch : formatRelative(parsePitch(options.pitch, EDGE_PITCH)),
        volume: options.volume === undefined ? this.o.volume : formatRelative(parseVolume(options.volume)),
      },
    };
    const signal = checkSignal(options.signal);
    return signal ? { ...r, signal } : r;
  }

  async synthesize(text: string, options: SynthesizeOptions = {}): Promise<Synthesis> {
    checkText(text);
    const { voice, prosody, signal } = this.resolve(options);
    if (signal?.aborted) throw abortedError(signal);
    const endpoint = this.endpoint();
    const client = { version: this.clientVersion(), headers: this.o.headers };
    // The service stops one request at ~10 min of audio; 4 KB of text is ~5 min at normal speed, so slower
    // rates get proportionally smaller pieces.
    const speed = 1 + Math.min(0, parseRate(prosody.rate).value) / 100;
    const pieces = splitText(text, Math.max(64, Math.floor(this.o.maxChunkBytes * speed)));
    if (pieces.length === 0) throw new TtsavError('ERR_TTSAV_OPTIONS', 'Expected text with something to speak but received only unusable characters');
    const chunks: Buffer[] = [];
    const words: WordBoundary[] = [];
    let bytes = 0;
    let shiftMs = 0;
    let requests = 0;
    for (const piece of pieces) {
      const { result, attempts } = await this.request(endpoint, client, voice, prosody, escapeXml(piece), signal, options.onAudio);
      requests += attempts;
      const joined = Buffer.concat(result.chunks);
      const info = mp3Info(joined);
      for (const w of result.words)
        words.push({ text: w.text, offsetMs: shiftMs + w.offset / 10_000, durationMs: w.duration / 10_000 });
      chunks.push(...result.chunks);
      bytes += result.bytes;
      shiftMs += info.durationSeconds * 1000;
    }
    return { chunks, bytes, words, format: this.format, durationSeconds: shiftMs / 1000, voice, requests };
  }

  /** One piece of text: attempts with retries under one total deadline. */
  private async request(endpoint: Endpoint, client: Client, voice: string, prosody: { rate: string; pitch: string; volume: string }, escaped: string, signal?: AbortSignal, onAudio?: (chunk: Buffer) => void): Promise<{ result: Piece; attempts: number }> {
    const deadline = Date.now() + this.o.timeoutMs;
    const streamed = { any: false }; // audio of this piece already handed to onAudio
    let retries = 0;
    let skewRetried = false;
    let attempts = 0;
    this.counters.requests++;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.failed(this.timeout('total', attempts));
      attempts++;
      this.counters.attempts++;
      try {
        return { result: await attempt({
          endpoint, client, voice, prosody, escaped, totalMs: remaining, connectTimeoutMs: this.o.connectTimeoutMs,
          idleTimeoutMs: this.o.idleTimeoutMs, clockSkewMs: () => this.clockSkewMs, signal, onAudio, streamed,
        }), attempts };
      } catch (err) {
        if (!(err instanceof Failure)) throw this.failed(err);
        const f = err.info;
        if (f.kind === 'http' && f.status !== undefined) this.countStatus(f.status);
        // Streamed audio cannot be taken back: a retry would repeat it, so a failure after some is final.
        if (streamed.any)
          throw this.failed(new TtsavError('ERR_TTSAV_TTS', `EdgeTTS: ${f.message} after audio was already streamed; not retried, so that no audio repeats`, { detail: f.message }));
        if (f.kind === 'timeout') throw this.failed(this.timeout(f.which ?? 'total', attempts));
        if (f.kind === 'http' && f.status === 403 && !skewRetried && f.date) {
          const server = Date.parse(f.date);
          if (Number.isFinite(server)) {
            skewRetried = true;
            this.counters.clockSkewRetries++;
            // The Date header has 1 s resolution: aim for the middle of that second.
            this.clockSkewMs = server + 500 - Date.now();
            continue;
          }
        }
        const retryable =
          (f.kind === 'http' && f.status !== undefined && RETRYABLE_STATUS.has(f.status)) ||
          f.kind === 'dropped' || f.kind === 'no-audio' || (f.kind === 'network' && !f.message.includes('(fatal)'));
        if (f.kind === 'http' && (f.status === 401 || f.status === 403)) {
          this.counters.refused++;
          throw this.failed(refusedError('EdgeTTS', f.status, client.version, attempts));
        }
        if (!retryable || retries >= this.o.maxRetries) throw this.failed(this.final(f, attempts));
        const base = Math.min(this.o.maxRetryDelayMs, this.o.retryDelayMs * 2 ** retries);
        let delay = base * (0.5 + Math.random() * 0.5);
        if (f.retryAfterMs !== undefined) delay = Math.min(this.o.maxRetryDelayMs, Math.max(delay, f.retryAfterMs));
        retries++;
        this.counters.retries++;
        if (Date.now() + delay >= deadline) throw this.failed(this.timeout('total', attempts, f));
        await sleep(delay, signal);
      }
    }
  }

  private failed(err: unknown): unknown {
    this.counters.failed++;
    return err;
  }

  private timeout(which: 'connect' | 'idle' | 'total', attempts: number, last?: AttemptFailure): TtsavError {
    const what = which === 'connect' ? `connecting took longer than connectTimeoutMs (${this.o.connectTimeoutMs} ms)`
      : which === 'idle' ? `the service sent nothing for idleTimeoutMs (${this.o.idleTimeoutMs} ms)`
      : `the request ran past timeoutMs (${this.o.timeoutMs} ms)`;
    return new TtsavError('ERR_TTSAV_TTS_TIMEOUT', `EdgeTTS: ${what} after ${attempts} attempt(s)${last ? `; last failure: ${last.message}` : ''}`, { detail: which });
  }

  private final(f: AttemptFailure, attempts: number): TtsavError {
    return new TtsavError('ERR_TTSAV_TTS', `EdgeTTS: ${f.message} (after ${attempts} attempt(s))`, { detail: f.status !== undefined ? `HTTP ${f.status}` : f.message });
  }

  async voices(options: { signal?: AbortSignal; refresh?: boolean } = {}): Promise<TtsVoice[]> {
    const signal = checkSignal(options.signal);
    if (!options.refresh && this.voicesCache && Date.now() - this.voicesCache.at < this.o.voicesCacheMs) return this.voicesCache.list;
    if (!this.voicesPending) {
      this.voicesPending = this.fetchVoices(signal).then(
        (list) => {
          this.voicesCache = { at: Date.now(), list };
          this.voicesPending = undefined;
          return list;
        },
        (err: unknown) => {
          this.voicesPending = undefined;
          throw err;
        },
      );
    }
    return this.voicesPending;
  }

  private async fetchVoices(signal?: AbortSignal): Promise<TtsVoice[]> {
    const endpoint = this.endpoint();
    const version = this.clientVersion();
    let skewRetried = false;
    this.counters.voiceLists++;
    for (let attempt = 0; ; attempt++) {
      const res = await httpGet(voicesUrl(endpoint, Date.now() + this.clockSkewMs, version), voiceListHeaders(version, endpoint.host, this.o.headers), this.o.timeoutMs, signal);
      if (res.status !== 200) this.countStatus(res.status);
      if (res.status === 403 && !skewRetried && res.date && Number.isFinite(Date.parse(res.date))) {
        skewRetried = true;
        this.counters.clockSkewRetries++;
        this.clockSkewMs = Date.parse(res.date) + 500 - Date.now();
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        this.counters.voiceListsRefused++;
        throw refusedError('EdgeTTS voices list', res.status, version, attempt + 1);
      }
      if (RETRYABLE_STATUS.has(res.status) && attempt < this.o.maxRetries) {
        await sleep(Math.min(this.o.maxRetryDelayMs, this.o.retryDelayMs * 2 ** attempt) * (0.5 + Math.random() * 0.5), signal);
        continue;
      }
      if (res.status !== 200) throw new TtsavError('ERR_TTSAV_TTS', `EdgeTTS voices list: the service answered HTTP ${res.status}`, { detail: `HTTP ${res.status}` });
      let list: unknown;
      try {
        list = JSON.parse(decodeBody(res.body, res.encoding).toString('utf8'));
      } catch {
        throw new TtsavError('ERR_TTSAV_TTS', 'EdgeTTS voices list: the answer is not JSON');
      }
      if (!Array.isArray(list)) throw new TtsavError('ERR_TTSAV_TTS', 'EdgeTTS voices list: the answer is not a list');
      return (list as Record<string, unknown>[])
        .filter((v) => typeof v.ShortName === 'string')
        .map((v) => {
          const voice: TtsVoice = { name: v.ShortName as string };
          if (typeof v.Locale === 'string') voice.locale = v.Locale;
          if (typeof v.Gender === 'string') voice.gender = v.Gender;
          if (typeof v.FriendlyName === 'string') voice.description = v.FriendlyName;
          return voice;
        });
    }
  }

}

/** An EdgeTTS engine. Options are validated now (ERR_TTSAV_OPTIONS). */
export function edge(options?: EdgeOptions): EdgeEngine {
  return new EdgeEngine(options);
}
