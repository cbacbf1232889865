/**
 * createLiveFeed(): one endless ADTS or fMP4 output for an unattended live stream. Clips are queued and played
 * back to back (with optional gaps); while the queue is empty the feed plays silence. Output is paced by a clock:
 * real time by default, or one the caller supplies (tests do).
 */
import { Readable } from 'node:stream';
import { TtsavError } from './errors';
import { runNativeJob } from './job';
import { loadNative, type NativeTranscodeResult } from './native';
import { func, integerAtLeast, invalidOption, numberIn } from './validate';
import { pcmDecodeOptions } from './options';
import { TranscodeStream, normalizeStreamOptions, type TranscodeStreamOptions } from './stream';

export interface LiveFeedOptions extends Omit<TranscodeStreamOptions, 'inputFormat' | 'signal'> {
  /** Silence after each clip, in ms. Default 0. */
  gapMs?: number;
  /** Milliseconds from some fixed origin. Default: performance.now. */
  clock?: () => number;
  /** Produce audio on a timer every `tickMs` (default true). Off: call pump() yourself. */
  autoPump?: boolean;
  /** Timer period in ms when autoPump is on. Default 100. */
  tickMs?: number;
  /** Most clips waiting to play; enqueue() rejects beyond (ERR_TTSAV_LIMIT). Default 100. */
  maxQueue?: number;
}

/** A clip as bytes of any audio format, or a speak()-like result. */
export type LiveClip = Buffer | Uint8Array | { audio: Buffer | Uint8Array };

export class LiveFeed extends Readable {
  readonly sampleRate: number;
  readonly channels: number;
  /** The output's framing: 'adts' (what publish() takes) or 'fmp4'. */
  readonly format: 'adts' | 'fmp4';
  #encoder: TranscodeStream;
  #clock: () => number;
  #origin: number;
  #produced = 0; // samples per channel handed to the encoder
  #queue: Float32Array[] = [];
  #current: Float32Array | undefined;
  #currentAt = 0; // interleaved samples of #current already played
  #gapLeft = 0; // samples per channel of gap still to play
  #gapSamples: number;
  #maxQueue: number;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #playedClips = 0;
  #conceal: boolean;

  constructor(options: LiveFeedOptions = {}) {
    super();
    const { gapMs = 0, clock, autoPump = true, tickMs = 100, maxQueue = 100, ...streamOptions } = options;
    numberIn('gapMs', gapMs, 0, 3_600_000);
    numberIn('tickMs', tickMs, 10, 10_000);
    integerAtLeast('maxQueue', maxQueue, 1);
    if (clock !== undefined) func('clock', clock, 'a function returning milliseconds');
    const { native } = normalizeStreamOptions(streamOptions);
    // decodeErrors applies to decoding the clips (the encoder's own input is the feed's PCM).
    this.#conceal = native.concealDecodeErrors === true;
    this.sampleRate = native.sampleRate || native.fallbackSampleRate;
    this.channels = native.channels || 1;
    this.format = streamOptions.format === 'fmp4' ? 'fmp4' : 'adts';
    this.#encoder = new TranscodeStream({
      ...streamOptions,
      sampleRate: this.sampleRate,
      channels: this.channels,
      inputFormat: { codec: 'pcm_f32le', sampleRate: this.sampleRate, channels: this.channels },
    });
    this.#encoder.on('data', (chunk: Buffer) => this.push(chunk));
    this.#encoder.on('error', (err) => this.destroy(err));
    this.#encoder.on('end', () => this.push(null));
    this.#gapSamples = Math.round((gapMs * this.sampleRate) / 1000);
    this.#maxQueue = maxQueue;
    this.#clock = clock ?? (() => performance.now());
    this.#origin = this.#clock();
    if (autoPump) {
      this.#timer = setInterval(() => void this.pump().catch((err) => this.destroy(err as Error)), tickMs);
      this.#timer.unref();
    }
  }

  /** Clips waiting to play (the one playing excluded). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Clips played to their end so far. */
  get played(): number {
    return this.#playedClips;
  }

  /** Samples per channel produced so far (clips, gaps and silence). */
  get producedSamples(): number {
    return this.#produced;
  }

  /** Decodes a clip (on the threadpool) and queues it to play after the ones before it. */
  async enqueue(clip: LiveClip): Promise<void> {
    if (this.#closed) throw new TtsavError('ERR_TTSAV_OPTIONS', 'the live feed is closed');
    const bytes = clip instanceof Uint8Array ? clip : clip?.audio;
    if (!(bytes instanceof Uint8Array)) throw invalidOption('clip', 'a Buffer, a Uint8Array or { audio: Buffer }', clip);
    if (this.#queue.length >= this.#maxQueue)
      throw new TtsavError('ERR_TTSAV_LIMIT', `the live feed already holds ${this.#queue.length} clips (maxQueue)`);
    const native = loadNative();
    const pcm = await runNativeJob(
      'clip decode',
      (cb) =>
        native.transcode(bytes, pcmDecodeOptions(this.sampleRate, this.channels, this.#conceal), cb),
      (r: NativeTranscodeResult) => new Float32Array(r.data.buffer, r.data.byteOffset, Math.floor(r.data.length / 4)),
    );
    if (this.#closed) throw new TtsavError('ERR_TTSAV_OPTIONS', 'the live feed is closed');
    this.#queue.push(pcm);
  }

  /** Produces audio up to the clock's present. Calls are serialized. */
  pump(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#pumpNow());
    return this.#chain;
  }

  async #pumpNow(): Promise<void> {
    if (this.#closed || this.destroyed) return;
    const target = Math.floor(((this.#clock() - this.#origin) * this.sampleRate) / 1000);
    let need = target - this.#produced;
    while (need > 0) {
      const n = Math.min(need, this.sampleRate); // at most a second per write
      await this.#write(this.#fill(n));
      this.#produced += n;
      need -= n;
    }
  }

  /** n samples per channel of programme: the current clip, then its gap, then the next clip, else silence. */
  #fill(n: number): Float32Array {
    const ch = this.channels;
    const out = new Float32Array(n * ch); // zero: silence
    let at = 0;
    while (at < n) {
      if (this.#gapLeft > 0) {
        const k = Math.min(this.#gapLeft, n - at);
        this.#gapLeft -= k;
        at += k;
        continue;
      }
      if (!this.#current) {
        this.#current = this.#queue.shift();
        this.#currentAt = 0;
        if (!this.#current) break; // idle: the rest stays silent
      }
      const left = (this.#current.length - this.#currentAt) / ch;
      const k = Math.min(left, n - at);
      out.set(this.#current.subarray(this.#currentAt, this.#currentAt + k * ch), at * ch);
      this.#currentAt += k * ch;
      at += k;
      if (this.#currentAt >= this.#current.length) {
        this.#current = undefined;
        this.#playedClips++;
        this.#gapLeft = this.#gapSamples;
      }
    }
    return out;
  }

  #write(samples: Float32Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#encoder.write(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  override _read(): void {
    // Output is paced by the clock, not by the reader.
  }

  /** Stops the feed: produces audio up to now, flushes the encoder and ends the output. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.pump();
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await new Promise<void>((resolve) => this.#encoder.end(resolve));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#encoder.destroy();
    callback(error);
  }
}

export function createLiveFeed(options?: LiveFeedOptions): LiveFeed {
  return new LiveFeed(options);
}
