/** transcode(): one whole job on the libuv threadpool, buffer in, buffer out. */
import { TtsavError, fromNative } from './errors';
import { loadNative, type NativeTranscodeResult } from './native';
import { normalizeOptions, type OutputFormat, type TranscodeOptions } from './options';

export interface StageTimings {
  /** Opening the input, probing, opening the decoder (ms). */
  probe: number;
  /** Reading packets and decoding them (ms). */
  decode: number;
  /** Resampling, remixing and re-chunking in the filter graph (ms). */
  filter: number;
  /** Opening the encoder and encoding (ms). */
  encode: number;
  /** Writing the container, including faststart (ms). */
  mux: number;
  /** The whole job on its thread, from start to output (ms). */
  total: number;
}

export interface InputInfo {
  /** Demuxer that read the input ('mp3', 'wav', 'mov,mp4,m4a,3gp,3g2,mj2', …). */
  format: string;
  /** Decoder used ('mp3float', 'flac', …). */
  codec: string;
  sampleRate: number;
  channels: number;
  /** Samples per channel actually decoded. */
  samples: number;
  /** samples / sampleRate. */
  durationSeconds: number;
}

export interface TranscodeResult {
  /** The encoded file. */
  data: Buffer;
  format: OutputFormat;
  codec: 'aac';
  sampleRate: number;
  channels: number;
  /** The encoder's bitrate in bit/s. */
  bitrate: number;
  /** Samples per channel fed to the encoder (encoder priming excluded). */
  samples: number;
  /** samples / sampleRate: the playable length, from decoded samples (not a container's estimate). */
  durationSeconds: number;
  input: InputInfo;
  timings: StageTimings;
}

function toResult(format: OutputFormat, r: NativeTranscodeResult): TranscodeResult {
  return {
    data: r.data,
    format,
    codec: 'aac',
    sampleRate: r.sampleRate,
    channels: r.channels,
    bitrate: r.bitrate,
    samples: r.samples,
    durationSeconds: r.durationSeconds,
    input: r.input,
    timings: r.timings,
  };
}

function abortedError(signal: AbortSignal): TtsavError {
  return new TtsavError('ERR_TTSAV_ABORTED', 'the transcode was aborted', { cause: signal.reason });
}

/**
 * Transcodes audio bytes (MP3, WAV, FLAC, Ogg/Opus, M4A, …) to AAC in memory. The whole job runs on the libuv
 * threadpool; the input is read in place, so do not modify or transfer it until the promise settles.
 */
export async function transcode(input: Buffer | Uint8Array, options?: TranscodeOptions): Promise<TranscodeResult> {
  if (!(input instanceof Uint8Array)) throw new TtsavError('ERR_TTSAV_OPTIONS', `Expected a Buffer or Uint8Array for input but received ${input === null ? 'null' : typeof input}`);
  const native = loadNative();
  const job = normalizeOptions(options, native.demuxers.bind(native));
  if (job.maxInputBytes !== undefined && input.byteLength > job.maxInputBytes)
    throw new TtsavError('ERR_TTSAV_LIMIT', `input is ${input.byteLength} bytes, over maxInputBytes (${job.maxInputBytes})`);
  const { signal } = job;
  if (signal?.aborted) throw abortedError(signal);

  return new Promise<TranscodeResult>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const handle = native.transcode(input, job.native, (err, result) => {
      if (!finish()) return;
      if (err || !result) reject(fromNative(err));
      else resolve(toResult(job.format, result));
    });
    // Cancelling sets the native job's flag: a running job stops at its next packet, a queued one as soon as
    // it starts. The promise settles now either way.
    function onAbort(): void {
      native.cancel(handle, 'abort');
      if (finish()) reject(abortedError(signal!));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (job.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        native.cancel(handle, 'timeout');
        if (finish()) reject(new TtsavError('ERR_TTSAV_TIMEOUT', `the transcode ran past its timeout (${job.timeoutMs} ms)`));
      }, job.timeoutMs);
      timer.unref();
    }
  });
}
