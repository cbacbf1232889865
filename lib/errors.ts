/**
 * Every code a TtsavError can carry, in one list (TtsavErrorCode, derived from it, says what each means). The codes
 * the addon raises (native/av/error.h) are a subset; test/errors.test.ts checks that they agree.
 */
export const ERROR_CODES = [
  'ERR_TTSAV_OPTIONS',
  'ERR_TTSAV_INVALID_DATA',
  'ERR_TTSAV_UNSUPPORTED',
  'ERR_TTSAV_LIMIT',
  'ERR_TTSAV_BUSY',
  'ERR_TTSAV_ABORTED',
  'ERR_TTSAV_TIMEOUT',
  'ERR_TTSAV_NO_MEMORY',
  'ERR_TTSAV_LOAD',
  'ERR_TTSAV_TTS',
  'ERR_TTSAV_TTS_TIMEOUT',
  'ERR_TTSAV_HW_UNAVAILABLE',
  'ERR_TTSAV_NETWORK',
  'ERR_TTSAV_STORAGE',
  'ERR_TTSAV_INTERNAL',
] as const;

/**
 * Every failure ttsav reports is a TtsavError; `code` says what kind:
 * - `ERR_TTSAV_OPTIONS`: an option is malformed or out of range (caught before any native work)
 * - `ERR_TTSAV_INVALID_DATA`: input is corrupt, truncated, empty, or not media at all
 * - `ERR_TTSAV_UNSUPPORTED`: valid media ttsav cannot use: no audio stream, no decoder for its codec
 * - `ERR_TTSAV_LIMIT`: this input is over a per-job limit (maxInputBytes, maxOutputBytes, maxDurationSeconds, job memory): do not retry
 * - `ERR_TTSAV_BUSY`: not admitted now (a pool's or engine's queue is full, the pool is closed): retry later or elsewhere
 * - `ERR_TTSAV_ABORTED`: the caller's AbortSignal fired (with any reason but a TimeoutError)
 * - `ERR_TTSAV_TIMEOUT`: the job ran past timeoutMs, or its signal was aborted with a TimeoutError (AbortSignal.timeout())
 * - `ERR_TTSAV_NO_MEMORY`: an allocation failed while filtering, encoding or muxing (input declaring absurd sizes is INVALID_DATA)
 * - `ERR_TTSAV_LOAD`: the native addon or the libav libraries it needs could not be loaded
 * - `ERR_TTSAV_TTS`: a text-to-speech engine failed (HTTP status or close reason in message and detail)
 * - `ERR_TTSAV_TTS_TIMEOUT`: a text-to-speech request ran past a deadline (connect, idle or total)
 * - `ERR_TTSAV_HW_UNAVAILABLE`: a hardware device type asked for cannot be opened here (no audio path uses one)
 * - `ERR_TTSAV_NETWORK`: publish(): the server cannot be reached or kept (refused, dropped, name or TLS failure)
 * - `ERR_TTSAV_STORAGE`: a queue storage (files, S3) failed to read or write an object
 * - `ERR_TTSAV_INTERNAL`: libav failed in a way no input should cause: please report it
 */
export type TtsavErrorCode = (typeof ERROR_CODES)[number];

/**
 * Why, where one code covers several causes (stable, machine-readable):
 * - ERR_TTSAV_LIMIT: 'input-size' (maxInputBytes), 'duration' (maxDurationSeconds), 'output-size' (maxOutputBytes),
 *   'job-memory' (a pool's oversize: 'reject');
 * - ERR_TTSAV_BUSY: 'queue-full' (a pool's maxQueue, a live feed's maxQueue), 'closed' (the pool is closed),
 *   'tts-queue-full' (the espeak engine's maxQueue);
 * - ERR_TTSAV_TTS: 'client-refused' (EdgeTTS answered 401/403 after the clock correction: update clientVersion);
 * - ERR_TTSAV_NETWORK: 'tls-verify' (publish(): the RTMPS server's certificate failed verification, or the trust
 *   setup is unusable; not retried).
 */
export const ERROR_REASONS = ['input-size', 'duration', 'output-size', 'job-memory', 'queue-full', 'closed', 'tts-queue-full', 'client-refused', 'tls-verify'] as const;
export type TtsavErrorReason = (typeof ERROR_REASONS)[number];

/** The pipeline stages a failure can happen in (native/av/error.h's Stage, None aside). */
export const ERROR_STAGES = ['probe', 'decode', 'filter', 'encode', 'mux'] as const;
/** The pipeline stage a failure happened in, when it happened in one: 'probe', 'decode', 'filter', 'encode' or
 *  'mux'. */
export type TtsavStage = (typeof ERROR_STAGES)[number];

/** The stage timings a transcode reports (result.timings, the pool's stage metrics), in the addon's order. */
export const TIMING_STAGES = ['probe', 'analyze', 'decode', 'filter', 'encode', 'mux', 'total'] as const;
export type TimingStage = (typeof TIMING_STAGES)[number];

export interface TtsavErrorInfo {
  stage?: TtsavStage;
  /** The libav error number (negative), when libav reported the failure. */
  averror?: number;
  /** The libav log line (error level) that explains the failure; absent when libav logged none, and on limits,
   *  timeouts, aborts and BUSY, which are not libav's. */
  detail?: string;
  /** See TtsavErrorReason. */
  reason?: TtsavErrorReason;
  cause?: unknown;
}

export class TtsavError extends Error {
  readonly code: TtsavErrorCode;
  declare readonly stage?: TtsavStage;
  declare readonly averror?: number;
  declare readonly detail?: string;
  declare readonly reason?: TtsavErrorReason;

  constructor(code: TtsavErrorCode, message: string, info: TtsavErrorInfo = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'TtsavError';
    this.code = code;
    if (info.stage !== undefined) this.stage = info.stage;
    if (info.averror !== undefined) this.averror = info.averror;
    if (info.detail !== undefined) this.detail = info.detail;
    if (info.reason !== undefined) this.reason = info.reason;
  }
}

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);
const REASONS: ReadonlySet<string> = new Set(ERROR_REASONS);
const STAGES: ReadonlySet<string> = new Set(ERROR_STAGES);

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
  if (typeof o.reason === 'string' && REASONS.has(o.reason)) info.reason = o.reason as TtsavErrorReason;
  if (raw instanceof Error) info.cause = raw;
  return new TtsavError(code, message, info);
}

/** A TtsavError as is; anything else thrown (a bug, a user callback's error) as ERR_TTSAV_INTERNAL with it as cause. */
export function asTtsavError(err: unknown): TtsavError {
  if (err instanceof TtsavError) return err;
  return new TtsavError('ERR_TTSAV_INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
}

/** True for an abort reason that means "out of time": AbortSignal.timeout()'s TimeoutError, or a ttsav timeout. */
export function isTimeoutReason(reason: unknown): boolean {
  if (reason instanceof TtsavError) return reason.code === 'ERR_TTSAV_TIMEOUT';
  return typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError';
}

/**
 * The error for work stopped by an AbortSignal: ERR_TTSAV_TIMEOUT when the signal's reason is a TimeoutError
 * (AbortSignal.timeout(), a ttsav deadline), ERR_TTSAV_ABORTED otherwise. The reason is the error's cause.
 * `what` names the work ('the transcode').
 */
export function stoppedError(reason: unknown, what: string): TtsavError {
  if (isTimeoutReason(reason)) return new TtsavError('ERR_TTSAV_TIMEOUT', `${what} ran past its deadline`, { cause: reason });
  return new TtsavError('ERR_TTSAV_ABORTED', `${what} was aborted`, { cause: reason });
}

/** An abort reason that stoppedError() reads as a timeout (what a ttsav deadline aborts its signal with). */
export function deadlineReason(message: string): Error {
  const e = new Error(message);
  e.name = 'TimeoutError';
  return e;
}
