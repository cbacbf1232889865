/**
 * Transcode options: the one place they are defined, validated and turned into what the addon reads.
 * Mistakes are caught here, before anything native runs, with messages in the style of
 * `Expected integer between 8000 and 96000 for sampleRate but received 7 of type number`.
 */
import { TtsavError } from './errors';
import type { NativeTranscodeOptions } from './native';

export type OutputFormat = 'm4a' | 'mp4' | 'adts';
export type AacCoder = 'twoloop' | 'fast';

export interface TranscodeOptions {
  /** Container: 'm4a' (default) and 'mp4' are MPEG-4 files; 'adts' is a raw .aac stream. */
  format?: OutputFormat;
  /** Target bitrate: bits per second (192000) or a string ('192k', '96000'). Default 192k. */
  bitrate?: number | string;
  /** Output sample rate in Hz; one of the AAC rates (8000 … 96000). Default 44100. */
  sampleRate?: number;
  /** Output channels: 1–6 or 8 (standard AAC layouts). Default 2. */
  channels?: number;
  /** AAC search method: 'twoloop' (libav's default, best quality) or 'fast' (~20% less CPU). */
  aacCoder?: AacCoder;
  /** Put the index (moov) before the audio so playback can start before the download ends. Default true
   *  for m4a/mp4; not applicable to adts. */
  faststart?: boolean;
  /** Name the input's demuxer (e.g. 'mp3', 'wav', 'ogg') to skip format probing. */
  inputFormat?: string;
  /** Reject inputs larger than this, before any native work. */
  maxInputBytes?: number;
  /** Fail (ERR_TTSAV_LIMIT) rather than produce more output bytes than this. */
  maxOutputBytes?: number;
  /** Fail (ERR_TTSAV_LIMIT) once more than this many seconds of audio are decoded. */
  maxDurationSeconds?: number;
  /** Fail (ERR_TTSAV_TIMEOUT) when the job takes longer than this, counted from the call. */
  timeoutMs?: number;
  /** Abort the job (ERR_TTSAV_ABORTED); the native work stops at its next packet. */
  signal?: AbortSignal;
}

/** AAC's sampling rates. */
export const AAC_SAMPLE_RATES: readonly number[] = [
  7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
];
/** Channel counts with a standard AAC channel configuration. */
export const AAC_CHANNELS: readonly number[] = [1, 2, 3, 4, 5, 6, 8];

export const DEFAULTS = {
  format: 'm4a' as OutputFormat,
  bitrate: 192000,
  sampleRate: 44100,
  channels: 2,
} as const;

const FORMATS: Record<OutputFormat, { container: NativeTranscodeOptions['container']; seekable: boolean }> = {
  m4a: { container: 'mp4', seekable: true },
  mp4: { container: 'mp4', seekable: true },
  adts: { container: 'adts', seekable: false },
};

export interface NormalizedOptions {
  format: OutputFormat;
  native: NativeTranscodeOptions;
  maxInputBytes?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

/** ERR_TTSAV_OPTIONS error in sharp's wording. */
export function invalidOption(name: string, expected: string, value: unknown): TtsavError {
  return new TtsavError(
    'ERR_TTSAV_OPTIONS',
    `Expected ${expected} for ${name} but received ${describe(value)} of type ${value === null ? 'null' : typeof value}`,
  );
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalidOption(name, `integer between ${min} and ${max}`, value);
  return value;
}

function positiveNumber(name: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max)
    throw invalidOption(name, `number greater than 0 and at most ${max}`, value);
  return value;
}

function oneOf<T>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T))
    throw invalidOption(name, `one of ${allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a))).join(', ')}`, value);
  return value as T;
}

const MIN_BITRATE = 8000;
const MAX_BITRATE = 512000;

/** Parses 192000, '192000', '192k', '192K' or '0.5M' into bits per second. */
export function parseBitrate(value: unknown): number {
  let bits: number | undefined;
  if (typeof value === 'number') bits = value;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$/.exec(value);
    if (m) bits = Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1000 : 1000000);
  }
  if (bits === undefined || !Number.isInteger(bits) || bits < MIN_BITRATE || bits > MAX_BITRATE)
    throw invalidOption('bitrate', `integer between ${MIN_BITRATE} and ${MAX_BITRATE} or a string like '192k'`, value);
  return bits;
}

const KNOWN_KEYS: ReadonlySet<string> = new Set<keyof TranscodeOptions>([
  'format',
  'bitrate',
  'sampleRate',
  'channels',
  'aacCoder',
  'faststart',
  'inputFormat',
  'maxInputBytes',
  'maxOutputBytes',
  'maxDurationSeconds',
  'timeoutMs',
  'signal',
]);

const MAX_BYTES = Number.MAX_SAFE_INTEGER;
const MAX_TIMEOUT = 2 ** 31 - 1; // setTimeout's limit

/**
 * Validates user options and builds the native options object. `demuxers` lists the demuxer names the linked
 * libav has (for the inputFormat hint); pass undefined to skip that check.
 */
export function normalizeOptions(options: unknown, demuxers?: () => readonly string[]): NormalizedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidOption('options', 'an object', options);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN_KEYS.has(key) && o[key] !== undefined)
      throw new TtsavError('ERR_TTSAV_OPTIONS', `Unknown option '${key}'; known options: ${[...KNOWN_KEYS].join(', ')}`);
  }

  const format = o.format === undefined ? DEFAULTS.format : oneOf('format', o.format, Object.keys(FORMATS) as OutputFormat[]);
  const spec = FORMATS[format];
  const native: NativeTranscodeOptions = {
    container: spec.container,
    codec: 'aac',
    bitrate: o.bitrate === undefined ? DEFAULTS.bitrate : parseBitrate(o.bitrate),
    sampleRate: o.sampleRate === undefined ? DEFAULTS.sampleRate : integer('sampleRate', o.sampleRate, 7350, 96000),
    channels: o.channels === undefined ? DEFAULTS.channels : integer('channels', o.channels, 1, 8),
    faststart: spec.seekable,
  };
  if (!AAC_SAMPLE_RATES.includes(native.sampleRate))
    throw invalidOption('sampleRate', `one of the AAC rates ${AAC_SAMPLE_RATES.join(', ')}`, o.sampleRate);
  if (!AAC_CHANNELS.includes(native.channels))
    throw invalidOption('channels', `one of ${AAC_CHANNELS.join(', ')} (standard AAC layouts)`, o.channels);
  if (o.aacCoder !== undefined) native.aacCoder = oneOf<AacCoder>('aacCoder', o.aacCoder, ['twoloop', 'fast']);
  if (o.faststart !== undefined) {
    if (typeof o.faststart !== 'boolean') throw invalidOption('faststart', 'boolean', o.faststart);
    if (o.faststart && !spec.seekable)
      throw new TtsavError('ERR_TTSAV_OPTIONS', `faststart applies to m4a and mp4 output, not ${format}`);
    native.faststart = o.faststart;
  }
  if (o.inputFormat !== undefined) {
    if (typeof o.inputFormat !== 'string' || !/^[a-z0-9_]{1,32}$/.test(o.inputFormat))
      throw invalidOption('inputFormat', "a demuxer name such as 'mp3', 'wav' or 'ogg'", o.inputFormat);
    if (demuxers && !demuxers().includes(o.inputFormat))
      throw invalidOption('inputFormat', 'a demuxer name this libav has', o.inputFormat);
    native.inputFormat = o.inputFormat;
  }
  if (o.maxOutputBytes !== undefined) native.maxOutputBytes = integer('maxOutputBytes', o.maxOutputBytes, 1, MAX_BYTES);
  if (o.maxDurationSeconds !== undefined)
    native.maxDurationSeconds = positiveNumber('maxDurationSeconds', o.maxDurationSeconds, 1e9);

  const result: NormalizedOptions = { format, native };
  if (o.maxInputBytes !== undefined) result.maxInputBytes = integer('maxInputBytes', o.maxInputBytes, 1, MAX_BYTES);
  if (o.timeoutMs !== undefined) {
    result.timeoutMs = integer('timeoutMs', o.timeoutMs, 1, MAX_TIMEOUT);
    native.timeoutMs = result.timeoutMs;
  }
  if (o.signal !== undefined) {
    const s = o.signal as AbortSignal;
    if (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function')
      throw invalidOption('signal', 'an AbortSignal', o.signal);
    result.signal = s;
  }
  return result;
}
