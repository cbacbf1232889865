/** publish()'s options: their types, and their validation into what the native publisher takes. */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { TtsavError, fromNative } from './errors';
import { LiveFeed } from './live';
import { loadNative } from './native';
import { boolean, integerOr, invalidOption, object, oneOf } from './validate';

export type PublishVideo =
  | { loop: Buffer | Uint8Array | string }
  | { image: Buffer | Uint8Array | string; fps?: number; width?: number; height?: number };

export interface ReconnectOptions {
  /** First delay in ms. Default 500. */
  initialDelayMs?: number;
  /** Longest delay in ms. Default 8000. */
  maxDelayMs?: number;
  /** Consecutive name-resolution failures before giving up with an 'error'. Default 3. */
  maxResolveFailures?: number;
}

export interface PublishOptions {
  /** rtmp://host[:port]/app/key or rtmps://… (FLV over RTMP). */
  url?: string;
  /** Instead of url: a file path or a writable stream, with `container`. */
  output?: string | Writable;
  /** For `output`: 'flv' (default) or 'mpegts'. RTMP is always FLV. */
  container?: 'flv' | 'mpegts';
  /** The picture: an H.264 video looped by copy, or a still image. Required for url (platforms want video). */
  video?: PublishVideo;
  /** On by default. false: the first disconnection ends the broadcast with an 'error'. */
  reconnect?: boolean | ReconnectOptions;
  /** RTMPS: verify the server (default true) against `ca` (PEM) or the system's store. */
  tls?: { rejectUnauthorized?: boolean; ca?: Buffer | string };
  signal?: AbortSignal;
  /** Audio waiting for a slow network beyond this is dropped, oldest first. Default 3000 ms. */
  maxQueueMs?: number;
  /** Connect + stream start deadline. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** One stalled write longer than this counts as a dropped connection. Default 5000 ms. */
  ioTimeoutMs?: number;
}

const RTMP = /^rtmps?:\/\/[^/\s]+\/\S+$/i;

/** publish()'s options checked and resolved, in what the native publisher and Broadcast read. */
export interface Normalized {
  url?: string;
  output?: string | Writable;
  container: 'flv' | 'mpegts';
  loop?: Uint8Array | string;
  reconnect?: Required<ReconnectOptions>;
  tlsVerify: boolean;
  ca?: Buffer | string;
  maxQueueMs: number;
  connectTimeoutMs: number;
  ioTimeoutMs: number;
}

export function normalizePublish(feed: unknown, options: PublishOptions): Normalized {
  if (!(feed instanceof LiveFeed)) throw invalidOption('feed', 'a LiveFeed (createLiveFeed())', feed);
  if (feed.format !== 'adts') throw new TtsavError('ERR_TTSAV_OPTIONS', "publish() takes a live feed of format 'adts'");
  object('options', options);
  const o = options;
  const out: Normalized = {
    container: 'flv',
    tlsVerify: true,
    maxQueueMs: integerOr('maxQueueMs', o.maxQueueMs, 3000, 100, 60_000),
    connectTimeoutMs: integerOr('connectTimeoutMs', o.connectTimeoutMs, 10_000, 100, 120_000),
    ioTimeoutMs: integerOr('ioTimeoutMs', o.ioTimeoutMs, 5000, 100, 120_000),
  };
  if ((o.url === undefined) === (o.output === undefined)) throw new TtsavError('ERR_TTSAV_OPTIONS', 'publish() needs one of url or output');
  if (o.url !== undefined) {
    if (typeof o.url !== 'string' || !RTMP.test(o.url))
      throw invalidOption('url', 'an rtmp:// or rtmps:// URL with an application and a stream key', o.url);
    if (o.container !== undefined && o.container !== 'flv') throw new TtsavError('ERR_TTSAV_OPTIONS', 'RTMP carries FLV: container must be flv');
    out.url = o.url;
  } else {
    const isStream = typeof o.output === 'object' && o.output !== null && typeof (o.output as Writable).write === 'function';
    if (!(typeof o.output === 'string' && o.output.length > 0) && !isStream)
      throw invalidOption('output', 'a file path or a writable stream', o.output);
    out.output = o.output;
    out.container = o.container === undefined ? 'flv' : oneOf('container', o.container, ['flv', 'mpegts'] as const);
  }
  if (o.video !== undefined) {
    const v = o.video as Record<string, unknown>;
    object('video', v, '{ loop } or { image }');
    if (v.loop !== undefined) {
      if (!(v.loop instanceof Uint8Array) && !(typeof v.loop === 'string' && v.loop.length > 0))
        throw invalidOption('video.loop', 'a Buffer or a file path', v.loop);
      out.loop = v.loop;
    } else if (v.image !== undefined) {
      out.loop = imageLoop(v);
    } else throw invalidOption('video', '{ loop } or { image }', v);
  } else if (out.url !== undefined) {
    throw new TtsavError('ERR_TTSAV_OPTIONS', 'RTMP platforms do not take audio without video: give video: { loop } or { image }');
  }
  const r = o.reconnect ?? true;
  if (r !== false) {
    const ro: ReconnectOptions = r === true ? {} : object('reconnect', r, 'a boolean or { initialDelayMs, maxDelayMs }');
    out.reconnect = {
      initialDelayMs: integerOr('reconnect.initialDelayMs', ro.initialDelayMs, 500, 10, 60_000),
      maxDelayMs: integerOr('reconnect.maxDelayMs', ro.maxDelayMs, 8000, 10, 600_000),
      maxResolveFailures: integerOr('reconnect.maxResolveFailures', ro.maxResolveFailures, 3, 1, 1000),
    };
  }
  if (o.tls !== undefined) {
    object('tls', o.tls, '{ rejectUnauthorized?, ca? }');
    out.tlsVerify = o.tls.rejectUnauthorized === undefined || boolean('tls.rejectUnauthorized', o.tls.rejectUnauthorized);
    if (o.tls.ca !== undefined) {
      if (!Buffer.isBuffer(o.tls.ca) && typeof o.tls.ca !== 'string') throw invalidOption('tls.ca', 'a PEM Buffer or string', o.tls.ca);
      out.ca = o.tls.ca;
    }
  }
  return out;
}

/** A still image as video: checked here (a truncated picture is INVALID_DATA), then encoded by an H.264 encoder. */
function imageLoop(v: Record<string, unknown>): never {
  const native = loadNative();
  let bytes: Uint8Array;
  if (v.image instanceof Uint8Array) bytes = v.image;
  else if (typeof v.image === 'string' && v.image.length > 0) {
    try {
      bytes = fs.readFileSync(v.image);
    } catch (err) {
      throw new TtsavError('ERR_TTSAV_OPTIONS', `cannot read the image: ${(err as Error).message}`, { cause: err });
    }
  } else throw invalidOption('video.image', 'a Buffer or a file path', v.image);
  try {
    native.checkImage(bytes);
  } catch (err) {
    throw fromNative(err);
  }
  // Only LGPL-compatible encoders: libopenh264 (or a hardware one). libx264 is GPL and never used here.
  const missing = native.hasEncoder('libopenh264') ? 'still-image encoding (not built yet)' : 'libopenh264 (this FFmpeg build has no LGPL H.264 encoder)';
  throw new TtsavError(
    'ERR_TTSAV_UNSUPPORTED',
    `video: { image } needs an H.264 encoder: missing ${missing}. Give video: { loop: 'bg.mp4' } (an H.264 file, copied) instead`,
  );
}
