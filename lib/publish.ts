/**
 * publish(feed, options): sends a live feed to an RTMP(S) server as FLV (H.264 video looped by copy + the feed's
 * AAC), or records it as FLV/MPEG-TS bytes. The muxing and every network write run on the publisher's own native
 * thread; this side only hands over the feed's ADTS chunks and schedules reconnects (backoff 0.5 s doubling to 8 s,
 * with jitter). While disconnected the feed keeps its clock: what would have been sent is dropped and counted.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { TtsavError, fromNative } from './errors';
import { LiveFeed } from './live';
import { loadNative, type NativePublishEvent, type NativePublisher } from './native';
import { metricName } from './validate';
import { normalizePublish, type PublishOptions, type ReconnectOptions } from './publish-options';

export type { PublishOptions, PublishVideo, ReconnectOptions } from './publish-options';

export interface BroadcastVideo {
  source: 'loop' | 'image';
  width: number;
  height: number;
  encoder?: string;
  fallback?: string;
}

export type BroadcastState = 'connecting' | 'connected' | 'reconnecting' | 'closing' | 'closed';

export interface BroadcastStats {
  state: BroadcastState;
  /** Time spent connected, all sessions, in ms. */
  connectedMs: number;
  /** Sessions opened again after a lost one (attempts are the 'reconnecting' events). */
  reconnects: number;
  sentBytes: number;
  sentAudioMs: number;
  sentVideoMs: number;
  /** Audio the feed produced while no session could take it. */
  droppedMs: number;
  /** End of the last audio frame sent minus end of the last video frame sent (our side of the wire). */
  avDriftMs: number;
  /** Passes of the loop video started. */
  loops: number;
}

export interface BroadcastEvents {
  connected: [];
  disconnected: [cause: TtsavError];
  reconnecting: [info: { attempt: number; delayMs: number }];
  error: [err: TtsavError];
  close: [];
}

/** Publish-wide counters for the Prometheus text (ttsav_publish_*). */
export const publishTotals = { broadcasts: 0, active: 0, connects: 0, reconnects: 0, sentBytes: 0, droppedMs: 0 };

export class Broadcast extends EventEmitter<BroadcastEvents> {
  #handle: NativePublisher;
  #feed: LiveFeed;
  #state: BroadcastState = 'connecting';
  #isServer: boolean;
  #reconnect: Required<ReconnectOptions> | undefined;
  #attempt = 0;
  #resolveFailures = 0;
  #reconnects = 0;
  #connectedAt = 0;
  #isConnected = false;
  #everConnected = false;
  #connectedMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #sink: Writable | undefined;
  #ownsSink = false;
  #closed: Promise<void>;
  #resolveClosed!: () => void;
  #onData: (chunk: Buffer) => void;
  #onEnd: () => void;
  #onAbort: (() => void) | undefined;
  #signal: AbortSignal | undefined;
  #tmpCa: string | undefined;
  #lastSentBytes = 0;
  #lastDroppedMs = 0;

  /**
   * The video sent: 'loop' (stream-copied) or 'image' (encoded once: `encoder` names the H.264 encoder that ran,
   * `fallback` why a requested hardware encoder was not used); undefined for audio-only outputs.
   */
  readonly video: BroadcastVideo | undefined;

  /** @internal use publish() */
  constructor(feed: LiveFeed, options: PublishOptions) {
    super();
    const o = normalizePublish(feed, options);
    this.#feed = feed;
    this.#isServer = o.url !== undefined;
    this.#reconnect = o.reconnect;
    this.#signal = options.signal;
    const native = loadNative();
    let caFile: string | undefined;
    if (o.ca !== undefined) {
      if (typeof o.ca === 'string' && !o.ca.includes('-----BEGIN')) caFile = o.ca;
      else {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-ca-'));
        caFile = path.join(dir, 'ca.pem');
        fs.writeFileSync(caFile, o.ca);
        this.#tmpCa = dir;
      }
    }
    let created: ReturnType<typeof native.publishCreate>;
    try {
      created = native.publishCreate(
      {
        ...(o.url !== undefined ? { url: o.url } : {}),
        container: o.container,
        ...(caFile !== undefined ? { caFile } : {}),
        tlsVerify: o.tlsVerify,
        maxQueueMs: o.maxQueueMs,
        connectTimeoutMs: o.connectTimeoutMs,
        ioTimeoutMs: o.ioTimeoutMs,
      },
      o.loop ?? null,
      (ev) => this.#onEvent(ev),
      );
    } catch (err) {
      if (this.#tmpCa) fs.rmSync(this.#tmpCa, { recursive: true, force: true });
      throw fromNative(err);
    }
    this.#handle = created.handle;
    this.video = o.still
      ? { source: 'image', ...o.still }
      : o.loop !== undefined
        ? { source: 'loop', width: created.width ?? 0, height: created.height ?? 0 }
        : undefined;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    if (o.output !== undefined) {
      if (typeof o.output === 'string') {
        this.#sink = fs.createWriteStream(o.output);
        this.#ownsSink = true;
      } else this.#sink = o.output;
      this.#sink.on('error', (err) => this.#fail(new TtsavError('ERR_TTSAV_OPTIONS', `cannot write the output: ${err.message}`, { cause: err })));
    }
    this.#onData = (chunk) => {
      if (this.#state === 'closed') return;
      try {
        native.publishPush(this.#handle, chunk);
      } catch (err) {
        this.#fail(fromNative(err));
      }
    };
    this.#onEnd = () => void this.close();
    feed.on('data', this.#onData);
    feed.once('end', this.#onEnd);
    if (this.#signal) {
      this.#onAbort = () => void this.close();
      if (this.#signal.aborted) queueMicrotask(this.#onAbort);
      else this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    publishTotals.broadcasts++;
    publishTotals.active++;
    native.publishConnect(this.#handle);
  }

  get state(): BroadcastState {
    return this.#state;
  }

  stats(): BroadcastStats {
    const s = loadNative().publishStats(this.#handle);
    const connectedMs = this.#connectedMs + (this.#isConnected ? performance.now() - this.#connectedAt : 0);
    return {
      state: this.#state,
      connectedMs: Math.round(connectedMs),
      reconnects: this.#reconnects,
      sentBytes: s.sentBytes,
      sentAudioMs: s.sentAudioMs,
      sentVideoMs: s.sentVideoMs,
      droppedMs: s.droppedMs,
      avDriftMs: s.sentVideoMs > 0 ? s.audioEndMs - s.videoEndMs : 0,
      loops: s.loops,
    };
  }

  /** Sends what is queued, ends the stream (FLV trailer / RTMP deleteStream) and resolves once it is closed. */
  close(): Promise<void> {
    if (this.#state !== 'closing' && this.#state !== 'closed') {
      this.#state = 'closing';
      if (this.#timer) clearTimeout(this.#timer);
      this.#detach();
      loadNative().publishClose(this.#handle);
    }
    return this.#closed;
  }

  #detach(): void {
    this.#feed.off('data', this.#onData);
    this.#feed.off('end', this.#onEnd);
    if (this.#signal && this.#onAbort) this.#signal.removeEventListener('abort', this.#onAbort);
  }

  #fail(err: TtsavError): void {
    if (this.#state === 'closed') return;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    void this.close();
  }

  #countTotals(): void {
    const s = loadNative().publishStats(this.#handle);
    publishTotals.sentBytes += s.sentBytes - this.#lastSentBytes;
    publishTotals.droppedMs += s.droppedMs - this.#lastDroppedMs;
    this.#lastSentBytes = s.sentBytes;
    this.#lastDroppedMs = s.droppedMs;
  }

  #onEvent(ev: NativePublishEvent): void {
    switch (ev.type) {
      case 'data':
        this.#sink?.write(ev.bytes);
        this.#countTotals();
        return;
      case 'connected':
        this.#attempt = 0;
        this.#resolveFailures = 0;
        this.#connectedAt = performance.now();
        this.#isConnected = true;
        publishTotals.connects++;
        if (this.#everConnected) {
          this.#reconnects++;
          publishTotals.reconnects++;
        }
        this.#everConnected = true;
        if (this.#state === 'closing' || this.#state === 'closed') return;
        this.#state = 'connected';
        this.emit('connected');
        return;
      case 'disconnected': {
        const cause = fromNative(ev.error);
        if (this.#isConnected) this.#connectedMs += performance.now() - this.#connectedAt;
        this.#isConnected = false;
        this.#countTotals();
        if (this.#state === 'closing' || this.#state === 'closed') return;
        this.emit('disconnected', cause);
        const fatal = this.#fatal(cause);
        if (fatal || !this.#isServer || !this.#reconnect) {
          this.#fail(fatal ?? cause);
          return;
        }
        const r = this.#reconnect;
        const base = Math.min(r.maxDelayMs, r.initialDelayMs * 2 ** this.#attempt);
        // Jitter downward only (up to -25%): many publishers do not retry in step, and a server back after N
        // seconds is found no later than the plain doubling schedule would find it.
        const delayMs = Math.round(base * (1 - 0.25 * Math.random()));
        this.#attempt++;
        this.#state = 'reconnecting';
        this.emit('reconnecting', { attempt: this.#attempt, delayMs });
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          if (this.#state !== 'reconnecting') return;
          this.#state = 'connecting';
          loadNative().publishConnect(this.#handle);
        }, delayMs);
        return;
      }
      case 'closed':
        if (this.#isConnected) this.#connectedMs += performance.now() - this.#connectedAt;
        this.#isConnected = false;
        this.#countTotals();
        this.#state = 'closed';
        if (this.#timer) clearTimeout(this.#timer);
        this.#detach();
        publishTotals.active--;
        if (this.#tmpCa) fs.rmSync(this.#tmpCa, { recursive: true, force: true });
        const done = () => {
          this.emit('close');
          this.#resolveClosed();
        };
        if (this.#sink && this.#ownsSink) this.#sink.end(done);
        else done();
        return;
    }
  }

  /** A failure no retry can fix: a name that does not resolve (N times in a row), or a TLS verification failure. */
  #fatal(cause: TtsavError): TtsavError | undefined {
    const text = `${cause.message} ${cause.detail ?? ''}`;
    if (/resolve|Name or service not known|getaddrinfo/i.test(text)) {
      this.#resolveFailures++;
      if (this.#resolveFailures >= (this.#reconnect?.maxResolveFailures ?? 1))
        return new TtsavError('ERR_TTSAV_NETWORK', `cannot resolve the server's name (${this.#resolveFailures} tries): ${cause.message}`, { cause });
      return undefined;
    }
    this.#resolveFailures = 0;
    // The addon tells a certificate failure by the TLS layer's own lines: the text here names the URL (tls://…)
    // and RTMP's handshake for a server that is merely down, which must be retried.
    if (cause.reason === 'tls-verify')
      return new TtsavError('ERR_TTSAV_NETWORK', `TLS failure (not retried): ${cause.message}`, { cause, reason: 'tls-verify' });
    return undefined;
  }
}

/**
 * Publish-wide counters in Prometheus' text format (names `ttsav_publish_*`), to serve beside
 * pool.metricsText(): broadcasts started and active, sessions opened, reconnects, bytes sent, audio dropped.
 */
export function publishMetricsText(prefix = 'ttsav_publish'): string {
  metricName('prefix', prefix);
  const rows: [string, 'counter' | 'gauge', string, number][] = [
    ['broadcasts_total', 'counter', 'Broadcasts started.', publishTotals.broadcasts],
    ['active', 'gauge', 'Broadcasts not yet closed.', publishTotals.active],
    ['connects_total', 'counter', 'Sessions opened (first connections and reconnections).', publishTotals.connects],
    ['reconnects_total', 'counter', 'Sessions opened again after a lost one.', publishTotals.reconnects],
    ['sent_bytes_total', 'counter', 'Bytes written to servers and outputs.', publishTotals.sentBytes],
    ['dropped_seconds_total', 'counter', 'Audio produced while no session could take it.', publishTotals.droppedMs / 1000],
  ];
  return rows.map(([name, type, help, value]) => `# HELP ${prefix}_${name} ${help}\n# TYPE ${prefix}_${name} ${type}\n${prefix}_${name} ${value}\n`).join('');
}

/** Publishes a live feed: to an RTMP(S) server (with reconnects), or to a file/stream as FLV or MPEG-TS. */
export function publish(feed: LiveFeed, options: PublishOptions): Broadcast {
  return new Broadcast(feed, options);
}
