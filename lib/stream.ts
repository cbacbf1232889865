/**
 * Streaming: chunks in, AAC out before the input ends. One native session per stream; each write is one job on
 * the threadpool, serialized by the Transform (the next chunk is not handed over until the last one is done).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { TtsavError, fromNative, stoppedError } from './errors';
import { loadNative, type NativeStream, type NativeStreamInput, type NativeStreamStats, type NativeTranscodeOptions } from './native';
import { FRAGMENT_MS, normalizeOptions, type TranscodeOptions } from './options';
import { integer, integerOr, invalidOption, object, oneOf } from './validate';
import type { TtsavWarning } from './warnings';

/** What is written into a stream: MP3 (as EdgeTTS sends it), ADTS AAC, or raw PCM of a declared format. */
export type StreamInputFormat =
  | 'mp3'
  | 'adts'
  | { codec: 'pcm_s16le' | 'pcm_f32le'; sampleRate: number; channels: number };

export interface TranscodeStreamOptions
  extends Omit<TranscodeOptions, 'format' | 'inputFormat' | 'faststart' | 'maxInputBytes' | 'timeoutMs' | 'measure'> {
  /** Default 'mp3'. */
  inputFormat?: StreamInputFormat;
  /** 'adts' (default): every AAC frame is emitted as soon as it is encoded. 'fmp4': an init segment, then a
   *  fragment every `fragmentMs`. */
  format?: 'adts' | 'fmp4';
  /** fmp4 fragment duration in ms (20–60000). Default 200. */
  fragmentMs?: number;
}

export interface StreamStats {
  /** Input samples per channel decoded so far. */
  inputSamples: number;
  /** Samples per channel given to the encoder so far. */
  outputSamples: number;
  sampleRate: number;
  channels: number;
  /** decodeErrors 'conceal': packets or frames skipped because they failed to decode, so far. */
  decodeErrorsConcealed: number;
}

const STREAM_ONLY_KEYS = ['inputFormat', 'format', 'fragmentMs'] as const;
const NOT_FOR_STREAMS = ['faststart', 'maxInputBytes', 'timeoutMs', 'measure'] as const;

function streamInput(value: unknown): NativeStreamInput {
  if (value === undefined || value === 'mp3') return { codec: 'mp3' };
  if (value === 'adts') return { codec: 'aac' };
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    return {
      codec: oneOf('inputFormat.codec', v.codec, ['pcm_s16le', 'pcm_f32le'] as const),
      sampleRate: integer('inputFormat.sampleRate', v.sampleRate, 1000, 768000),
      channels: integer('inputFormat.channels', v.channels, 1, 8),
    };
  }
  throw invalidOption('inputFormat', "'mp3', 'adts' or { codec: 'pcm_s16le' | 'pcm_f32le', sampleRate, channels }", value);
}

/** Validates stream options into the native options object and input declaration. */
export function normalizeStreamOptions(options: unknown): { native: NativeTranscodeOptions; input: NativeStreamInput; signal?: AbortSignal } {
  if (options === undefined || options === null) options = {};
  const o = { ...object('options', options) };
  for (const key of NOT_FOR_STREAMS)
    if (o[key] !== undefined) throw new TtsavError('ERR_TTSAV_OPTIONS', `${key} does not apply to streams`);
  const filters = o.filters as Record<string, unknown> | undefined;
  if (filters && typeof filters === 'object') {
    const trim = filters.trimSilence;
    if (filters.fadeOut !== undefined || trim === true || (typeof trim === 'object' && trim !== null && (trim as { end?: unknown }).end !== false))
      throw new TtsavError('ERR_TTSAV_OPTIONS', 'a stream cannot see its end: use trimSilence: { end: false } and no fadeOut');
  }
  const format = o.format === undefined ? 'adts' : oneOf('format', o.format, ['adts', 'fmp4'] as const);
  const input = streamInput(o.inputFormat);
  const fragmentMs = integerOr('fragmentMs', o.fragmentMs, FRAGMENT_MS.stream, FRAGMENT_MS.min, FRAGMENT_MS.max);
  for (const key of STREAM_ONLY_KEYS) delete o[key];
  const job = normalizeOptions({ ...o, format });
  job.native.fragmentMs = fragmentMs;
  const result: { native: NativeTranscodeOptions; input: NativeStreamInput; signal?: AbortSignal } = { native: job.native, input };
  if (job.signal) result.signal = job.signal;
  return result;
}

/** A Transform: write input chunks, read encoded output chunks. Errors are TtsavError 'error' events. */
export class TranscodeStream extends Transform {
  #handle: NativeStream | undefined;
  #stats: StreamStats = { inputSamples: 0, outputSamples: 0, sampleRate: 0, channels: 0, decodeErrorsConcealed: 0 };
  #firstDecodeError: string | undefined;
  #signal: AbortSignal | undefined;
  #onAbort = (): void => {
    this.destroy(stoppedError(this.#signal?.reason, 'the stream'));
  };

  constructor(options?: TranscodeStreamOptions) {
    super();
    const { native, input, signal } = normalizeStreamOptions(options);
    try {
      this.#handle = loadNative().streamCreate(native, input);
    } catch (err) {
      throw fromNative(err);
    }
    this.#signal = signal;
    if (signal?.aborted) queueMicrotask(this.#onAbort);
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Samples in and out so far, and the output's rate and channels (0 until the first audio is decoded). */
  get stats(): StreamStats {
    return { ...this.#stats };
  }

  /** What the stream noticed so far while going on: with decodeErrors 'conceal', the decode errors it skipped
   *  (DECODE_ERRORS_CONCEALED: count and first error). Empty on clean input. */
  get warnings(): TtsavWarning[] {
    const n = this.#stats.decodeErrorsConcealed;
    if (n === 0) return [];
    return [{ code: 'DECODE_ERRORS_CONCEALED', message: `${n} decode error${n === 1 ? '' : 's'} concealed; the first: ${this.#firstDecodeError ?? ''}` }];
  }

  #done(callback: TransformCallback): (err: unknown, out?: Buffer, stats?: NativeStreamStats) => void {
    return (err, out, stats) => {
      if (err) return callback(fromNative(err));
      if (stats) {
        const { firstDecodeError, ...rest } = stats;
        this.#stats = rest;
        if (firstDecodeError !== undefined) this.#firstDecodeError = firstDecodeError;
      }
      if (out && out.length > 0) this.push(out);
      callback();
    };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#handle) return callback(new TtsavError('ERR_TTSAV_ABORTED', 'the stream was destroyed'));
    if (chunk.length === 0) return callback();
    loadNative().streamPush(this.#handle, chunk, this.#done(callback));
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#handle) return callback(new TtsavError('ERR_TTSAV_ABORTED', 'the stream was destroyed'));
    loadNative().streamEnd(this.#handle, this.#done(callback));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (this.#handle) {
      loadNative().streamDestroy(this.#handle);
      this.#handle = undefined;
    }
    callback(error);
  }
}

/** Creates a streaming transcoder (see TranscodeStream). */
export function createTranscodeStream(options?: TranscodeStreamOptions): TranscodeStream {
  return new TranscodeStream(options);
}
