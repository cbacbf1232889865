/** Every failure ttsav reports is a TtsavError; `code` says what kind. */
export type TtsavErrorCode =
  | 'ERR_TTSAV_OPTIONS' // an option is malformed or out of range (caught before any native work)
  | 'ERR_TTSAV_INVALID_DATA' // input is corrupt, truncated, empty, or not media at all
  | 'ERR_TTSAV_UNSUPPORTED' // valid media ttsav cannot use: no audio stream, no decoder for its codec
  | 'ERR_TTSAV_LIMIT' // a per-job limit was reached (maxInputBytes, maxOutputBytes, maxDurationSeconds)
  | 'ERR_TTSAV_ABORTED' // the caller's AbortSignal fired
  | 'ERR_TTSAV_TIMEOUT' // the job ran past timeoutMs
  | 'ERR_TTSAV_NO_MEMORY' // an allocation failed while filtering, encoding or muxing (input declaring absurd sizes is INVALID_DATA)
  | 'ERR_TTSAV_LOAD' // the native addon or the libav libraries it needs could not be loaded
  | 'ERR_TTSAV_TTS' // a text-to-speech engine failed (HTTP status or close reason in message and detail)
  | 'ERR_TTSAV_TTS_TIMEOUT' // a text-to-speech request ran past a deadline (connect, idle or total)
  | 'ERR_TTSAV_HW_UNAVAILABLE' // the hardware device type asked for (hwaccel) cannot be opened here
  | 'ERR_TTSAV_NETWORK' // publish(): the server cannot be reached or kept (refused, dropped, name or TLS failure)
  | 'ERR_TTSAV_INTERNAL'; // libav failed in a way no input should cause: please report it

/** The pipeline stage a failure happened in, when it happened in one. */
export type TtsavStage = 'probe' | 'decode' | 'filter' | 'encode' | 'mux';

export interface TtsavErrorInfo {
  stage?: TtsavStage;
  /** The libav error number (negative), when libav reported the failure. */
  averror?: number;
  /** This job's last libav log line (warning or error), when there was one. */
  detail?: string;
  cause?: unknown;
}

export class TtsavError extends Error {
  readonly code: TtsavErrorCode;
  declare readonly stage?: TtsavStage;
  declare readonly averror?: number;
  declare readonly detail?: string;

  constructor(code: TtsavErrorCode, message: string, info: TtsavErrorInfo = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'TtsavError';
    this.code = code;
    if (info.stage !== undefined) this.stage = info.stage;
    if (info.averror !== undefined) this.averror = info.averror;
    if (info.detail !== undefined) this.detail = info.detail;
  }
}

const CODES: ReadonlySet<string> = new Set<TtsavErrorCode>([
  'ERR_TTSAV_OPTIONS',
  'ERR_TTSAV_INVALID_DATA',
  'ERR_TTSAV_UNSUPPORTED',
  'ERR_TTSAV_LIMIT',
  'ERR_TTSAV_ABORTED',
  'ERR_TTSAV_TIMEOUT',
  'ERR_TTSAV_NO_MEMORY',
  'ERR_TTSAV_LOAD',
  'ERR_TTSAV_TTS',
  'ERR_TTSAV_TTS_TIMEOUT',
  'ERR_TTSAV_HW_UNAVAILABLE',
  'ERR_TTSAV_NETWORK',
  'ERR_TTSAV_INTERNAL',
]);
const STAGES: ReadonlySet<string> = new Set<TtsavStage>(['probe', 'decode', 'filter', 'encode', 'mux']);

/** Turns the plain object (or thrown Error) the addon reports into a TtsavError. */
export function fromNative(raw: unknown): TtsavError {
  if (raw instanceof TtsavError) return raw;
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const code = typeof o.code === 'string' && CODES.has(o.code) ? (o.code as TtsavErrorCode) : 'ERR_TTSAV_INTERNAL';
  const message = typeof o.message === 'string' ? o.message : String(raw);
  const info: TtsavErrorInfo = {};
  if (typeof o.stage === 'string' && STAGES.has(o.stage)) info.stage = o.stage as TtsavStage;
  if (typeof o.averror === 'number') info.averror = o.averror;
  if (typeof o.detail === 'string') info.detail = o.detail;
  if (raw instanceof Error) info.cause = raw;
  return new TtsavError(code, message, info);
}
