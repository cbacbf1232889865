/** transcode() and concat(): one whole job on the libuv threadpool, bytes in, bytes out, through the environment's
 *  native job queue. */
import { TtsavError, stoppedError, type TimingStage } from './errors';
import { runNativeJob, startNativeJob, type NativeJobRun } from './job';
import { threadpoolSize } from './pool/defaults';
import { loadNative, type NativeQueue, type NativeQueuedResult } from './native';
import {
  FORMATS,
  normalizeOptions,
  type ConcatOptions,
  type NormalizedOptions,
  type OutputCodec,
  type OutputFormat,
  type TranscodeOptions,
} from './options';
import type { TtsavWarning, TtsavWarningCode } from './warnings';

export interface StageTimings {
  /** Opening the inputs, probing, opening the decoders (ms). */
  probe: number;
  /** The first pass over the audio (trimSilence, loudness, fadeOut need it), decode included (ms). */
  analyze: number;
  /** Reading packets and decoding them (ms). */
  decode: number;
  /** Resampling, remixing, filters and re-chunking (ms). */
  filter: number;
  /** Opening the encoder and encoding (ms). */
  encode: number;
  /** Writing the container, including faststart (ms). */
  mux: number;
  /** The whole job on its thread, from start to output (ms). */
  total: number;
}

// StageTimings documents each of TIMING_STAGES: a compile error here means the two lists drifted.
const timingKeysMatch: [keyof StageTimings] extends [TimingStage] ? ([TimingStage] extends [keyof StageTimings] ? true : false) : false = true;
void timingKeysMatch;

export interface InputInfo {
  /** Demuxer that read the (first) input ('mp3', 'wav', 'mov,mp4,m4a,3gp,3g2,mj2', …). */
  format: string;
  /** Decoder used ('mp3float', 'flac', …). */
  codec: string;
  sampleRate: number;
  channels: number;
  /** Samples per channel decoded (all inputs together for concat, at each input's own rate). */
  samples: number;
  /** samples / sampleRate (meaningful for a single input). */
  durationSeconds: number;
}

/** EBU R128 figures. */
export interface Loudness {
  /** Integrated loudness, LUFS. */
  integrated: number;
  /** True peak, dBTP. */
  truePeak: number;
  /** Loudness range, LU. */
  lra: number;
}

export interface TranscodeResult {
  /** The encoded file. */
  data: Buffer;
  format: OutputFormat;
  codec: OutputCodec;
  /** For an HTTP Content-Type. */
  mimeType: string;
  /** The usual file extension, without the dot. */
  extension: string;
  sampleRate: number;
  channels: number;
  /** The encoder's target bitrate in bit/s. */
  bitrate: number;
  /** What the encoder actually spent: encoded audio bytes × 8 / duration (container overhead excluded). libav's
   *  AAC encoder is an average-bitrate encoder: band-limited speech can land 10–20% off the target. */
  averageBitrate: number;
  /** Samples per channel fed to the encoder (encoder priming excluded). */
  samples: number;
  /** samples / sampleRate: the playable length, from decoded samples (not a container's estimate). */
  durationSeconds: number;
  input: InputInfo;
  /** How many inputs were joined (1 unless concat). */
  inputs: number;
  timings: StageTimings;
  /** With `measure: true`: the loudness of the audio fed to the encoder (what the output decodes to, within the
   *  codec's error). */
  loudness?: Loudness;
  /** With `filters.loudness`: how the level was set, and what was measured before. */
  normalization?: { mode: 'linear' | 'dynamic'; measured: Loudness; gainDb?: number };
  /** Always 'none': no libav audio encoder or filter uses a hardware device, so audio runs on the CPU.
   *  @deprecated kept so existing readers do not break; hwaccel is no longer an option (see CHANGELOG). */
  hwaccel: 'none';
  /** What the demuxer and decoder noticed while the job still succeeded (see TtsavWarningCode); empty on clean
   *  input. */
  warnings: TtsavWarning[];
  /** From a pool: milliseconds the job waited for admission (concurrency and memory budget) before it started. */
  queueMs?: number;
}

/** A queued job's packed result (see NativeQueuedResult) as a TranscodeResult, built as one literal. */
function fromPacked(format: OutputFormat, p: NativeQueuedResult): TranscodeResult {
  const spec = FORMATS[format];
  const inputSamples = p[12];
  const inputRate = p[10];
  const warnings: TtsavWarning[] = [];
  const w = p[21];
  if (w) for (let i = 0; i + 1 < w.length; i += 2) warnings.push({ code: w[i] as TtsavWarningCode, message: w[i + 1]! });
  const result: TranscodeResult = {
    data: p[0],
    format,
    codec: spec.codec,
    mimeType: spec.mimeType,
    extension: spec.extension,
    sampleRate: p[2],
    channels: p[3],
    bitrate: p[4],
    averageBitrate: p[5],
    samples: p[6],
    durationSeconds: p[7],
    input: { format: p[8], codec: p[9], sampleRate: inputRate, channels: p[11], samples: inputSamples, durationSeconds: inputRate > 0 ? inputSamples / inputRate : 0 },
    inputs: p[13],
    timings: { probe: p[14], analyze: p[15], decode: p[16], filter: p[17], encode: p[18], mux: p[19], total: p[20] },
    hwaccel: 'none',
    warnings,
  };
  const l = p[22];
  if (l) result.loudness = { integrated: l.integrated, truePeak: l.truePeak, lra: l.lra };
  const n = p[23];
  if (n) {
    result.normalization = { mode: n.mode, measured: { integrated: n.measured.integrated, truePeak: n.measured.truePeak, lra: n.measured.lra } };
    if (n.gainDb !== undefined) result.normalization.gainDb = n.gainDb;
  }
  return result;
}

function checkInput(input: unknown, name: string): Uint8Array {
  if (!(input instanceof Uint8Array))
    throw new TtsavError('ERR_TTSAV_OPTIONS', `Expected a Buffer or Uint8Array for ${name} but received ${input === null ? 'null' : typeof input}`);
  return input;
}

/** The environment's native job queue for transcode() and concat(): at most the threadpool's size (UV_THREADPOOL_SIZE,
 *  default 4) of them run at once, as many as libuv would run of one threadpool job each, and a runner that finishes
 *  one takes the next without a trip through the main thread. Made on first use; an idle queue holds no thread. */
let sharedQueue: NativeQueue | undefined;

async function run(inputs: Uint8Array | Uint8Array[], job: NormalizedOptions): Promise<TranscodeResult> {
  const native = loadNative();
  checkInputSize(inputs, job);
  if (job.signal?.aborted) throw stoppedError(job.signal.reason, 'the transcode');
  const queue = (sharedQueue ??= native.queueCreate(threadpoolSize()));
  return runNativeJob(
    'transcode',
    (callback) => native.queueSubmit(queue, inputs, job.native, callback),
    (r: NativeQueuedResult) => fromPacked(job.format, r),
    job.signal,
    job.timeoutMs,
  );
}

function checkInputSize(inputs: Uint8Array | Uint8Array[], job: NormalizedOptions): void {
  const bytes = Array.isArray(inputs) ? inputs.reduce((n, b) => n + b.byteLength, 0) : inputs.byteLength;
  if (job.maxInputBytes !== undefined && bytes > job.maxInputBytes)
    throw new TtsavError('ERR_TTSAV_LIMIT', `input is ${bytes} bytes, over maxInputBytes (${job.maxInputBytes})`, { reason: 'input-size' });
}

/**
 * transcode() through a native job queue (the pool's): the same validation, signal and result, but the job waits in
 * `queue` until one of its runners takes it. `options.timeoutMs` is the native deadline; `jsTimer: false` leaves
 * the timer to the caller (the pool times a job out itself while it waits, with its own message). Internal.
 */
export async function transcodeQueued(
  queue: NativeQueue,
  input: Uint8Array,
  options: TranscodeOptions,
  jsTimer = true,
): Promise<{ result: TranscodeResult; waitMs: number }> {
  const bytes = checkInput(input, 'input');
  const native = loadNative();
  return transcodeQueuedNormalized(queue, bytes, normalizeOptions(options, native.demuxers.bind(native)), jsTimer);
}

/** transcodeQueued() with options already normalized (the pool normalizes each job's once). Internal. */
export async function transcodeQueuedNormalized(
  queue: NativeQueue,
  input: Uint8Array,
  job: NormalizedOptions,
  jsTimer = true,
): Promise<{ result: TranscodeResult; waitMs: number }> {
  checkInputSize(input, job);
  if (job.signal?.aborted) throw stoppedError(job.signal.reason, 'the transcode');
  const native = loadNative();
  return runNativeJob(
    'transcode',
    (callback) => native.queueSubmit(queue, input, job.native, callback),
    (r: NativeQueuedResult) => queuedResult(job.format, r),
    job.signal,
    jsTimer ? job.timeoutMs : undefined,
  );
}

function queuedResult(format: OutputFormat, r: NativeQueuedResult): { result: TranscodeResult; waitMs: number } {
  return { result: fromPacked(format, r), waitMs: r[24] };
}

/**
 * The pool's transcode: as transcodeQueuedNormalized() (`job.signal` is not read), but it returns abort() in place
 * of listening to a signal, and the result carries `queueMs`: `waitedMs` plus its wait in the native queue. Throws
 * what checkInputSize() throws. Internal.
 */
export function startQueuedTranscode(
  queue: NativeQueue,
  input: Uint8Array,
  job: NormalizedOptions,
  jsTimer: boolean,
  waitedMs: number,
): NativeJobRun<TranscodeResult> {
  checkInputSize(input, job);
  const native = loadNative();
  return startNativeJob(
    'transcode',
    (callback) => native.queueSubmit(queue, input, job.native, callback),
    (r: NativeQueuedResult) => {
      const result = fromPacked(job.format, r);
      result.queueMs = waitedMs + r[24];
      return result;
    },
    jsTimer ? job.timeoutMs : undefined,
  );
}

/**
 * Transcodes audio bytes (MP3, WAV, FLAC, Ogg/Opus, M4A, …) in memory. The whole job runs on the libuv
 * threadpool; the input is read in place, so do not modify or transfer it until the promise settles.
 */
export async function transcode(input: Buffer | Uint8Array, options?: TranscodeOptions): Promise<TranscodeResult> {
  const bytes = checkInput(input, 'input');
  const native = loadNative();
  return run(bytes, normalizeOptions(options, native.demuxers.bind(native)));
}

/**
 * Joins several inputs (any formats, rates and layouts) into one output in one job, with optional silence
 * between them (`gapMs`). Filters apply to the joined audio.
 */
export async function concat(inputs: readonly (Buffer | Uint8Array)[], options?: ConcatOptions): Promise<TranscodeResult> {
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 10000)
    throw new TtsavError('ERR_TTSAV_OPTIONS', 'Expected an array of 1 to 10000 Buffers or Uint8Arrays for inputs');
  const list = inputs.map((b, i) => checkInput(b, `inputs[${i}]`));
  const native = loadNative();
  return run(list, normalizeOptions(options, native.demuxers.bind(native), true));
}
