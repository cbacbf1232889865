/**
 * Transcode options: the one place they are defined, validated and turned into what the addon reads.
 * Mistakes are caught here, before anything native runs, with messages in the style of
 * `Expected integer between 8000 and 96000 for sampleRate but received 7 of type number`.
 */
import { TtsavError } from './errors';
import { abortSignal, boolean, integer, invalidOption, numberIn, oneOf, plainObject, positiveNumber } from './validate';
import type { NativeFilterOptions, NativeTranscodeOptions } from './native';
import type { DecodeErrors } from './warnings';

/** Output container/codec pairs. */
export type OutputFormat = 'm4a' | 'mp4' | 'adts' | 'fmp4' | 'ogg' | 'webm' | 'mp3';
/** Codec families behind the formats. */
export type OutputCodec = 'aac' | 'opus' | 'mp3';
export type AacCoder = 'twoloop' | 'fast';
export type PresetName = 'balanced' | 'high_quality' | 'high_speed' | 'speech';
/** Hardware device types (see hwDevices()). Not an audio option: no libav AAC/Opus/MP3 encoder or audio filter
 *  uses a device, so audio always runs on the CPU; device contexts belong to the video paths. */
export type HwAccel = 'none' | 'auto' | 'cuda' | 'qsv' | 'vaapi';

/** Loudness normalization targets (EBU R128). */
export interface LoudnessTarget {
  /** Integrated loudness, LUFS (-70 to -5). Default -16 (a common streaming/podcast target). */
  integrated?: number;
  /** Maximum true peak, dBTP (-9 to 0). Default -1.5. */
  truePeak?: number;
  /** Loudness range target, LU (1 to 50), used by dynamic mode. Default 11. */
  lra?: number;
}

export interface TrimSilence {
  /** Trim leading silence. Default true. */
  start?: boolean;
  /** Trim trailing silence. Default true. */
  end?: boolean;
  /** Level below which audio counts as silence, dBFS (-120 to 0). Default -50. */
  thresholdDb?: number;
}

/**
 * Filters, applied between decoding and the encoder's format conversion, in this order:
 * trimSilence → tempo → volume or loudness → fadeIn/fadeOut → pad → filter.
 */
export interface Filters {
  /** EBU R128 loudness normalization: measured first, then a linear gain, or libav's dynamic normalizer when
   *  the gain would push true peaks past the target. `true` uses the default targets. */
  loudness?: boolean | LoudnessTarget;
  /** Fixed gain in dB (-60 to 60). Not combinable with loudness. */
  volume?: number;
  /** Speed factor with pitch kept (0.5 to 4). */
  tempo?: number;
  /** Remove silence at the start and/or end. `true` trims both at -50 dBFS. */
  trimSilence?: boolean | TrimSilence;
  /** Fade in over this many milliseconds. */
  fadeIn?: number;
  /** Fade out over this many milliseconds, ending at the end of the audio. */
  fadeOut?: number;
  /** Silence to add before and after, in milliseconds. */
  pad?: { before?: number; after?: number };
  /** A raw libavfilter chain for power users (e.g. 'highpass=f=80,lowpass=f=8000'), applied last. Filters that
   *  reach outside the job (files, plugins, network: movie, amovie, ladspa, lv2, zmq, sendcmd, ametadata…) and
   *  source filters are refused. */
  filter?: string;
}

export interface TranscodeOptions {
  /** Starting point for the encoder settings; explicit options override its fields. Default 'balanced'. */
  preset?: PresetName;
  /** Container and codec. Default 'm4a'. See formats(). */
  format?: OutputFormat;
  /** Target bitrate: bits per second (192000) or a string ('192k', '96000'). */
  bitrate?: number | string;
  /** Output sample rate in Hz, or 'source' to keep the input's when the codec takes it. */
  sampleRate?: number | 'source';
  /** Output channels (AAC: 1–6 or 8; Opus and MP3: 1–2), or 'source'. */
  channels?: number | 'source';
  /** AAC search method: 'twoloop' (libav's default, best quality) or 'fast' (~20% less CPU). AAC formats only. */
  aacCoder?: AacCoder;
  /** m4a/mp4: index (moov) before the audio. Default true; not applicable to other formats. */
  faststart?: boolean;
  /** Name the input's demuxer (e.g. 'mp3', 'wav', 'ogg') to skip format probing. */
  inputFormat?: string;
  /** Reject inputs larger than this (all inputs together, for concat), before any native work. */
  maxInputBytes?: number;
  /** Fail (ERR_TTSAV_LIMIT) rather than produce more output bytes than this. */
  maxOutputBytes?: number;
  /** Fail (ERR_TTSAV_LIMIT) once more than this many seconds of audio are decoded. */
  maxDurationSeconds?: number;
  /** Fail (ERR_TTSAV_TIMEOUT) when the job takes longer than this, counted from the call. */
  timeoutMs?: number;
  /** Abort the job (ERR_TTSAV_ABORTED); the native work stops at its next packet. */
  signal?: AbortSignal;
  filters?: Filters;
  /** Report the EBU R128 loudness of the audio fed to the encoder as result.loudness. */
  measure?: boolean;
  /** A frame that fails to decode: 'fail' (default) fails the job with ERR_TTSAV_INVALID_DATA, as does a
   *  container cut well short of its declared duration; 'conceal' skips the frame and goes on as the ffmpeg CLI
   *  does (a read error ends the input), reporting the count and the first error, or the cut, in
   *  result.warnings. Either way a file cut inside its last frame succeeds with a TRAILING_DATA warning. */
  decodeErrors?: DecodeErrors;
}

export interface ConcatOptions extends TranscodeOptions {
  /** Silence between consecutive inputs, in milliseconds. */
  gapMs?: number;
}

/** The encoder settings a preset stands for. */
export interface Preset {
  bitrate: number;
  /** A number, or 'source': the input's rate when the codec takes it (else the format's default rate). */
  sampleRate: number | 'source';
  channels: number;
  /** AAC only. */
  aacCoder: AacCoder;
  /** AAC profile: AAC-LC, the one libav's native encoder makes well (HE-AAC needs libfdk, not in Debian). */
  profile: 'aac_low';
}

export const presets: Readonly<Record<PresetName, Readonly<Preset>>> = Object.freeze({
  /** The seed recipe: what `ffmpeg -c:a aac -b:a 192k -ar 44100 -ac 2` makes. */
  balanced: Object.freeze({ bitrate: 192000, sampleRate: 44100, channels: 2, aacCoder: 'twoloop', profile: 'aac_low' }),
  /** 48 kHz: at 44.1 kHz libav's twoloop coder tops out near 227k whatever the target (measured). */
  high_quality: Object.freeze({ bitrate: 256000, sampleRate: 48000, channels: 2, aacCoder: 'twoloop', profile: 'aac_low' }),
  high_speed: Object.freeze({ bitrate: 128000, sampleRate: 44100, channels: 2, aacCoder: 'fast', profile: 'aac_low' }),
  /** TTS voices are mono: mono at the source's rate and a speech bitrate, with the fast coder (measured: ~0.16x the
   *  CPU of balanced on 24 kHz TTS audio, and no worse by SNR than twoloop at this bitrate). */
  speech: Object.freeze({ bitrate: 64000, sampleRate: 'source', channels: 1, aacCoder: 'fast', profile: 'aac_low' }),
} as const);

interface CodecSpec {
  encoder: string;
  sampleRates: readonly number[];
  defaultRate: number;
  channels: readonly number[];
  minBitrate: number;
  maxBitrate: number;
}

/** AAC's sampling rates. */
export const AAC_SAMPLE_RATES: readonly number[] = [
  7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
];
/** Channel counts with a standard AAC channel configuration. */
export const AAC_CHANNELS: readonly number[] = [1, 2, 3, 4, 5, 6, 8];

const CODECS: Record<OutputCodec, CodecSpec> = {
  aac: { encoder: 'aac', sampleRates: AAC_SAMPLE_RATES, defaultRate: 44100, channels: AAC_CHANNELS, minBitrate: 8000, maxBitrate: 512000 },
  // Opus runs at 48 kHz (or 24/16/12/8): other rates are resampled without the caller asking.
  opus: { encoder: 'libopus', sampleRates: [48000, 24000, 16000, 12000, 8000], defaultRate: 48000, channels: [1, 2], minBitrate: 6000, maxBitrate: 510000 },
  mp3: { encoder: 'libmp3lame', sampleRates: [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000], defaultRate: 44100, channels: [1, 2], minBitrate: 8000, maxBitrate: 320000 },
};

export interface FormatSpec {
  container: NativeTranscodeOptions['container'];
  codec: OutputCodec;
  extension: string;
  mimeType: string;
  /** MPEG-4 file whose index can be moved first. */
  faststart: boolean;
  fragmented: boolean;
}

export const FORMATS: Readonly<Record<OutputFormat, Readonly<FormatSpec>>> = {
  m4a: { container: 'mp4', codec: 'aac', extension: 'm4a', mimeType: 'audio/mp4', faststart: true, fragmented: false },
  mp4: { container: 'mp4', codec: 'aac', extension: 'mp4', mimeType: 'audio/mp4', faststart: true, fragmented: false },
  adts: { container: 'adts', codec: 'aac', extension: 'aac', mimeType: 'audio/aac', faststart: false, fragmented: false },
  fmp4: { container: 'mp4', codec: 'aac', extension: 'mp4', mimeType: 'audio/mp4', faststart: false, fragmented: true },
  ogg: { container: 'ogg', codec: 'opus', extension: 'opus', mimeType: 'audio/ogg; codecs=opus', faststart: false, fragmented: false },
  webm: { container: 'webm', codec: 'opus', extension: 'webm', mimeType: 'audio/webm; codecs=opus', faststart: false, fragmented: false },
  mp3: { container: 'mp3', codec: 'mp3', extension: 'mp3', mimeType: 'audio/mpeg', faststart: false, fragmented: false },
};

/**
 * fMP4 fragment duration, ms: the one home of its bounds and defaults. A buffer job (format 'fmp4') writes a
 * fragment a second; a stream a fragment every 200 ms so a player gets audio soon. Both are sent to native.
 */
export const FRAGMENT_MS = Object.freeze({ min: 20, max: 60_000, buffer: 1000, stream: 200 });

/** Native options that decode any input to interleaved float PCM at a given rate and channel count (the live
 *  feed's clips). */
export function pcmDecodeOptions(sampleRate: number, channels: number, conceal: boolean): NativeTranscodeOptions {
  const native: NativeTranscodeOptions = {
    container: 'f32le', codec: 'pcm_f32le', bitrate: 1_000_000, sampleRate,
    fallbackSampleRate: sampleRate, channels, maxChannels: channels, faststart: false,
  };
  if (conceal) native.concealDecodeErrors = true;
  return native;
}

export function encoderOf(format: OutputFormat): string {
  return CODECS[FORMATS[format].codec].encoder;
}

export interface NormalizedOptions {
  format: OutputFormat;
  native: NativeTranscodeOptions;
  maxInputBytes?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Parses 192000, '192000', '192k', '192K' or '0.5M' into bits per second, within [min, max]. */
export function parseBitrate(value: unknown, min = 8000, max = 512000): number {
  let bits: number | undefined;
  if (typeof value === 'number') bits = value;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$/.exec(value);
    if (m) bits = Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1000 : 1000000);
  }
  if (bits === undefined || !Number.isInteger(bits) || bits < min || bits > max)
    throw invalidOption('bitrate', `integer between ${min} and ${max} or a string like '192k'`, value);
  return bits;
}

const KNOWN_KEYS: readonly (keyof ConcatOptions)[] = [
  'preset', 'format', 'bitrate', 'sampleRate', 'channels', 'aacCoder', 'faststart', 'inputFormat', 'maxInputBytes',
  'maxOutputBytes', 'maxDurationSeconds', 'timeoutMs', 'signal', 'filters', 'measure', 'decodeErrors', 'gapMs',
];

/** The decodeErrors values; validated here for every entry point (transcode, pool, streams, live feed, CLI). */
export const DECODE_ERRORS: readonly DecodeErrors[] = ['fail', 'conceal'];

const MAX_BYTES = Number.MAX_SAFE_INTEGER;
const MAX_TIMEOUT = 2 ** 31 - 1; // setTimeout's limit
const MAX_MS = 3_600_000;

function normalizeFilters(value: unknown): NativeFilterOptions | undefined {
  if (value === undefined) return undefined;
  const f = plainObject('filters', value, ['loudness', 'volume', 'tempo', 'trimSilence', 'fadeIn', 'fadeOut', 'pad', 'filter']);
  const out: NativeFilterOptions = {};
  if (f.loudness !== undefined && f.loudness !== false) {
    const l = f.loudness === true ? {} : plainObject('filters.loudness', f.loudness, ['integrated', 'truePeak', 'lra']);
    out.loudness = true;
    if (l.integrated !== undefined) out.loudnessI = numberIn('filters.loudness.integrated', l.integrated, -70, -5);
    if (l.truePeak !== undefined) out.loudnessTP = numberIn('filters.loudness.truePeak', l.truePeak, -9, 0);
    if (l.lra !== undefined) out.loudnessLRA = numberIn('filters.loudness.lra', l.lra, 1, 50);
  }
  if (f.volume !== undefined) {
    if (out.loudness)
      throw new TtsavError('ERR_TTSAV_OPTIONS', 'filters.volume and filters.loudness both set the level: use one of them');
    out.volumeDb = numberIn('filters.volume', f.volume, -60, 60);
  }
  if (f.tempo !== undefined) out.tempo = numberIn('filters.tempo', f.tempo, 0.5, 4);
  if (f.trimSilence !== undefined && f.trimSilence !== false) {
    const t = f.trimSilence === true ? {} : plainObject('filters.trimSilence', f.trimSilence, ['start', 'end', 'thresholdDb']);
    out.trimStart = t.start === undefined ? true : boolean('filters.trimSilence.start', t.start);
    out.trimEnd = t.end === undefined ? true : boolean('filters.trimSilence.end', t.end);
    if (t.thresholdDb !== undefined) out.trimThresholdDb = numberIn('filters.trimSilence.thresholdDb', t.thresholdDb, -120, 0);
  }
  if (f.fadeIn !== undefined) out.fadeInMs = numberIn('filters.fadeIn', f.fadeIn, 0, MAX_MS);
  if (f.fadeOut !== undefined) out.fadeOutMs = numberIn('filters.fadeOut', f.fadeOut, 0, MAX_MS);
  if (f.pad !== undefined) {
    const p = plainObject('filters.pad', f.pad, ['before', 'after']);
    if (p.before !== undefined) out.padBeforeMs = numberIn('filters.pad.before', p.before, 0, MAX_MS);
    if (p.after !== undefined) out.padAfterMs = numberIn('filters.pad.after', p.after, 0, MAX_MS);
  }
  if (f.filter !== undefined) {
    if (typeof f.filter !== 'string' || f.filter.trim() === '' || f.filter.length > 4096 || f.filter.includes('\0'))
      throw invalidOption('filters.filter', 'a libavfilter chain such as "highpass=f=80"', f.filter);
    out.raw = f.filter;
  }
  return out;
}

/**
 * Validates user options and builds the native options object. `demuxers` lists the demuxer names the linked
 * libav has (for the inputFormat hint); pass undefined to skip that check.
 */
export function normalizeOptions(options: unknown, demuxers?: () => readonly string[], concat = false): NormalizedOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidOption('options', 'an object', options);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (o[key] === undefined) continue;
    if (!(KNOWN_KEYS as readonly string[]).includes(key) || (key === 'gapMs' && !concat))
      throw new TtsavError('ERR_TTSAV_OPTIONS', `Unknown option '${key}'; known options: ${KNOWN_KEYS.filter((k) => concat || k !== 'gapMs').join(', ')}`);
  }

  const presetName = o.preset === undefined ? 'balanced' : oneOf('preset', o.preset, Object.keys(presets) as PresetName[]);
  const preset = presets[presetName];
  const format = o.format === undefined ? 'm4a' : oneOf('format', o.format, Object.keys(FORMATS) as OutputFormat[]);
  const spec = FORMATS[format];
  const codec = CODECS[spec.codec];

  const native: NativeTranscodeOptions = {
    container: spec.container,
    codec: codec.encoder,
    bitrate: 0,
    sampleRate: 0,
    fallbackSampleRate: codec.defaultRate,
    channels: 0,
    maxChannels: Math.max(...codec.channels),
    faststart: spec.faststart,
  };
  if (spec.fragmented) {
    native.fragmented = true;
    native.fragmentMs = FRAGMENT_MS.buffer;
  }

  native.bitrate = o.bitrate === undefined
    ? Math.min(Math.max(preset.bitrate, codec.minBitrate), codec.maxBitrate)
    : parseBitrate(o.bitrate, codec.minBitrate, codec.maxBitrate);

  // Sample rate: explicit values must suit the codec; a preset's is adapted (Opus resamples to 48 kHz itself).
  if (o.sampleRate === 'source') native.sampleRate = 0;
  else if (o.sampleRate !== undefined) {
    const rate = integer('sampleRate', o.sampleRate, Math.min(...codec.sampleRates), Math.max(...codec.sampleRates));
    if (!codec.sampleRates.includes(rate))
      throw invalidOption('sampleRate', `one of the ${spec.codec.toUpperCase()} rates ${codec.sampleRates.join(', ')} or 'source'`, o.sampleRate);
    native.sampleRate = rate;
  } else if (preset.sampleRate === 'source') native.sampleRate = 0;
  else native.sampleRate = codec.sampleRates.includes(preset.sampleRate) ? preset.sampleRate : codec.defaultRate;

  if (o.channels === 'source') native.channels = 0;
  else if (o.channels !== undefined) {
    const ch = integer('channels', o.channels, 1, 8);
    if (!codec.channels.includes(ch))
      throw invalidOption('channels', `one of ${codec.channels.join(', ')} for ${spec.codec.toUpperCase()}`, o.channels);
    native.channels = ch;
  } else native.channels = Math.min(preset.channels, native.maxChannels);

  if (o.aacCoder !== undefined) {
    if (spec.codec !== 'aac') throw new TtsavError('ERR_TTSAV_OPTIONS', `aacCoder applies to AAC formats, not ${format}`);
    native.aacCoder = oneOf<AacCoder>('aacCoder', o.aacCoder, ['twoloop', 'fast']);
  } else if (spec.codec === 'aac' && preset.aacCoder !== 'twoloop') {
    native.aacCoder = preset.aacCoder;
  }
  if (o.faststart !== undefined) {
    boolean('faststart', o.faststart);
    if (o.faststart && !spec.faststart)
      throw new TtsavError('ERR_TTSAV_OPTIONS', `faststart applies to m4a and mp4 output, not ${format}`);
    native.faststart = o.faststart as boolean;
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
  const filters = normalizeFilters(o.filters);
  if (filters) native.filters = filters;
  if (o.measure !== undefined && boolean('measure', o.measure)) native.measure = true;
  if (o.gapMs !== undefined) native.gapMs = numberIn('gapMs', o.gapMs, 0, MAX_MS);
  if (o.decodeErrors !== undefined && oneOf<DecodeErrors>('decodeErrors', o.decodeErrors, DECODE_ERRORS) === 'conceal')
    native.concealDecodeErrors = true;

  const result: NormalizedOptions = { format, native };
  if (o.maxInputBytes !== undefined) result.maxInputBytes = integer('maxInputBytes', o.maxInputBytes, 1, MAX_BYTES);
  if (o.timeoutMs !== undefined) {
    result.timeoutMs = integer('timeoutMs', o.timeoutMs, 1, MAX_TIMEOUT);
    native.timeoutMs = result.timeoutMs;
  }
  if (o.signal !== undefined) result.signal = abortSignal('signal', o.signal);
  return result;
}
