/**
 * voiceover(): voice lines (and an optional music bed) put over a short video in one threadpool job, in memory.
 * The video stream is copied packet for packet; only the audio is made: mixed, ducked, loudness-normalised and
 * encoded with the same presets and audio options as transcode().
 */
import { estimateVoiceover, MIN_INPUT_BITRATE, type JobEstimate, type VoiceoverEstimateInput } from './budget';
import { TtsavError, stoppedError } from './errors';
import { runNativeJob } from './job';
import { loadNative, type NativeBinding, type NativeContainerInfo, type NativeLoudness, type NativeTranscodeOptions } from './native';
import { normalizeOptions, type AacCoder, type PresetName } from './options';
import { invalidOption, numberIn, oneOf as oneOfValues, plainObject } from './validate';
import type { SpeakResult } from './speak';
import { buildCues, type Cue, type SubtitleOptions } from './subtitles';
import type { Loudness, StageTimings } from './transcode';
import type { WordBoundary } from './tts/types';

/** Audio bytes, or a speak() result (its word boundaries can feed the subtitles). */
export type VoiceAudio = Buffer | Uint8Array | SpeakResult;

/** One voice line placed on the output's timeline. */
export interface VoiceLine {
  audio: VoiceAudio;
  /** Where the line starts, in seconds from the start of the output. Default 0. */
  at?: number;
}

export interface DuckingOptions {
  /** Where ducking starts: the voice's level relative to the loudness target, in dB (-60 to 0). Default -18. */
  thresholdDb?: number;
  /** Compression ratio of the music under the voice (1 to 20). Default 20. */
  ratio?: number;
  /** How fast the music goes down when speech starts, ms. Default 20. */
  attackMs?: number;
  /** How fast it comes back after speech, ms. Default 400. */
  releaseMs?: number;
}

/** The audio encoder settings, as for transcode() (the format follows the container). */
export interface VoiceoverAudioOptions {
  preset?: PresetName;
  bitrate?: number | string;
  sampleRate?: number | 'source';
  channels?: number | 'source';
  aacCoder?: AacCoder;
}

export interface VoiceoverOptions {
  /** The video: MP4, MOV, MKV or WebM bytes whose video codec the output container can take (copied as is). */
  video: Buffer | Uint8Array;
  /** The voice: audio bytes, a speak() result, or lines placed on the timeline. */
  voice: VoiceAudio | readonly VoiceLine[];
  /** A music bed: looped or cut to the output's length. */
  music?: Buffer | Uint8Array;
  /** The music's loudness relative to the voice's, in dB, before ducking (-60 to 20). Default -18. */
  musicGainDb?: number;
  /** Music fades, in milliseconds. */
  musicFade?: { in?: number; out?: number };
  /** Duck the music under the voice with a side-chain compressor keyed by the voice. Default true. */
  ducking?: boolean | DuckingOptions;
  /** The video's own audio: 'drop' (default), 'mix' (at originalGainDb), or 'duck' (mixed, and ducked like the
   *  music). A video without audio is fine either way (result.audio.original says). */
  originalAudio?: 'drop' | 'mix' | 'duck';
  /** The video's audio loudness relative to the voice's, in dB (-60 to 20). Default -12. */
  originalGainDb?: number;
  /** 'video' (default): the audio is cut or padded to the video. 'voice': the video is cut at the first keyframe at
   *  or after the voice's end. 'longest': the longer of the two (a shorter video holds its last frame). */
  length?: 'video' | 'voice' | 'longest';
  /** 'soft': a subtitle track (mov_text in MP4, WebVTT in WebM) from `cues`, or else from the speak() results'
   *  word boundaries. 'burn': the same cues drawn into the picture (drawtext), re-encoding the video as H.264 with
   *  a hardware encoder when `hwaccel` names a usable one, else libopenh264 (else libx264, only in a libav that is
   *  GPL already); MP4 only; ERR_TTSAV_UNSUPPORTED naming what is missing. Default none. */
  subtitles?: 'soft' | 'burn' | 'none';
  /** For subtitles: 'burn': 'cuda' | 'qsv' | 'vaapi' encodes the video on that device through a device context
   *  when this build and machine have it (see hwDevices()), falling back to software; `result.video.encoder` says
   *  which ran. Audio never uses a device. */
  hwaccel?: 'cuda' | 'qsv' | 'vaapi';
  /** Cues for the subtitles, times in ms on the output's timeline (the speak() results' words otherwise). */
  cues?: readonly Pick<Cue, 'startMs' | 'endMs' | 'text'>[];
  /** How word boundaries are grouped into cues. */
  subtitleOptions?: SubtitleOptions;
  /** Output container. Default 'mp4' (AAC, faststart); 'webm' has Opus audio and needs VP8/VP9/AV1 video. */
  format?: 'mp4' | 'webm';
  /** Audio encoder settings (as transcode()). Default the 'balanced' preset. */
  audio?: VoiceoverAudioOptions;
  /** Loudness target of the mix (EBU R128). Default -14 LUFS integrated, -1 dBTP (short-video platforms). */
  loudness?: { integrated?: number; truePeak?: number };
  /** Reject inputs larger than this (all together), before any native work. */
  maxInputBytes?: number;
  maxOutputBytes?: number;
  /** Fail (ERR_TTSAV_LIMIT) when the output would be longer than this. */
  maxDurationSeconds?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface VoiceoverResult {
  data: Buffer;
  format: 'mp4' | 'webm';
  mimeType: string;
  extension: string;
  /** The output's length: the longer of its audio and video. */
  durationSeconds: number;
  video: {
    codec: string;
    width: number;
    height: number;
    copied: boolean;
    /** With subtitles: 'burn': the H.264 encoder that re-encoded the video. */
    encoder?: string;
    packets: number;
    durationSeconds: number;
  };
  audio: {
    codec: string;
    sampleRate: number;
    channels: number;
    bitrate: number;
    /** Samples per channel fed to the encoder. */
    samples: number;
    durationSeconds: number;
    /** A music bed is in the mix. */
    music: boolean;
    /** The video's own audio is in the mix. */
    original: boolean;
  };
  /** Measured on the audio fed to the encoder. */
  loudness: Loudness;
  /** Of the voice lines as given (integrated and range; what the music is set against). */
  voiceLoudness: Pick<Loudness, 'integrated' | 'lra'>;
  /** How the mix was brought to the target: one linear gain (a dynamic normaliser would ride the music bed and
   *  undo the ducking), from what was measured on the mix. */
  normalization?: { mode: 'linear'; measured: Loudness; gainDb: number };
  /** The gain pushed peaks past the true-peak target and a look-ahead limiter held them (0.5 dB under it). */
  limited: boolean;
  /** Subtitle cues written. */
  subtitles: number;
  /** The cues, as written (ms on the output's timeline). */
  cues: Cue[];
  timings: StageTimings;
  /** From a pool: milliseconds the job waited for admission. */
  queueMs?: number;
}

interface NativeVoiceoverResult {
  data: Buffer;
  durationSeconds: number;
  video: VoiceoverResult['video'];
  audio: VoiceoverResult['audio'];
  loudness: NativeLoudness;
  voiceLoudness: NativeLoudness;
  normalization?: { mode: 'linear'; measured: NativeLoudness; gainDb: number };
  limited: boolean;
  subtitles: number;
  timings: StageTimings;
}

const KNOWN = [
  'video', 'voice', 'music', 'musicGainDb', 'musicFade', 'ducking', 'originalAudio', 'originalGainDb', 'length',
  'subtitles', 'cues', 'subtitleOptions', 'format', 'audio', 'loudness', 'maxInputBytes', 'maxOutputBytes',
  'maxDurationSeconds', 'timeoutMs', 'signal', 'hwaccel',
];

function bytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidOption(name, 'a Buffer or Uint8Array', value);
  if (value.byteLength === 0) throw new TtsavError('ERR_TTSAV_INVALID_DATA', `${name} is empty`);
  return value;
}

function isSpeakResult(v: unknown): v is SpeakResult {
  return typeof v === 'object' && v !== null && (v as SpeakResult).audio instanceof Uint8Array && typeof (v as SpeakResult).tts === 'object';
}

function number(name: string, value: unknown, min: number, max: number, fallback: number): number {
  return value === undefined ? fallback : numberIn(name, value, min, max);
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  return value === undefined ? fallback : oneOfValues(name, value, allowed);
}

const object = plainObject;

interface Line {
  audio: Uint8Array;
  at: number;
  words?: readonly WordBoundary[];
}

function lines(voice: unknown): Line[] {
  const one = (v: unknown, name: string, at: number): Line => {
    if (isSpeakResult(v)) return { audio: bytes(`${name}.audio`, v.audio), at, words: v.subtitles?.words ?? v.tts.words };
    return { audio: bytes(name, v), at };
  };
  if (Array.isArray(voice)) {
    if (voice.length === 0 || voice.length > 1000) throw invalidOption('voice', 'an array of 1 to 1000 lines', voice);
    return voice.map((l: unknown, i) => {
      const o = object(`voice[${i}]`, l, ['audio', 'at']);
      return one(o.audio, `voice[${i}].audio`, number(`voice[${i}].at`, o.at, 0, 1e7, 0));
    });
  }
  if (voice === undefined) throw new TtsavError('ERR_TTSAV_OPTIONS', 'voiceover() needs a voice');
  return [one(voice, 'voice', 0)];
}

/** Cues from the given ones, or from the lines' word boundaries shifted to where the lines start. */
function makeCues(o: VoiceoverOptions, list: Line[]): Cue[] {
  if (o.cues !== undefined) {
    if (!Array.isArray(o.cues)) throw invalidOption('cues', 'an array of { startMs, endMs, text }', o.cues);
    return o.cues.map((c: unknown, i) => {
      const x = object(`cues[${i}]`, c, ['index', 'startMs', 'endMs', 'text']);
      const startMs = number(`cues[${i}].startMs`, x.startMs, 0, 1e10, NaN);
      const endMs = number(`cues[${i}].endMs`, x.endMs, startMs, 1e10, NaN);
      if (Number.isNaN(startMs) || Number.isNaN(endMs)) throw invalidOption(`cues[${i}]`, 'startMs and endMs', c);
      if (typeof x.text !== 'string') throw invalidOption(`cues[${i}].text`, 'a string', x.text);
      return { index: i + 1, startMs, endMs, text: x.text };
    });
  }
  const words = list.flatMap((l) => (l.words ?? []).map((w) => ({ ...w, offsetMs: w.offsetMs + l.at * 1000 })));
  if (words.length === 0)
    throw new TtsavError('ERR_TTSAV_OPTIONS', "subtitles need cues, or a voice given as speak() results (their word boundaries)");
  words.sort((a, b) => a.offsetMs - b.offsetMs);
  return buildCues(words, o.subtitleOptions);
}

/** Why 'burn' subtitles cannot run with this libav (what is missing: an H.264 encoder, the drawtext filter), or
 *  undefined when they can. The addon decides, with the same rules it encodes by. */
export function burnSupport(native: Pick<NativeBinding, 'burnUnsupported'>, hwaccel?: string): string | undefined {
  return native.burnUnsupported(hwaccel ?? '') || undefined;
}

/** What the addon is given: the inputs in order (video, music, lines) and the options it reads. */
export interface PreparedVoiceover {
  inputs: Uint8Array[];
  native: Record<string, unknown>;
  format: 'mp4' | 'webm';
  cues: Cue[];
  bytes: number;
  maxInputBytes?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Validates voiceover() options (ERR_TTSAV_OPTIONS) and builds what the addon reads. */
export function prepareVoiceover(options: VoiceoverOptions): PreparedVoiceover {
  const o = object('options', options, KNOWN) as unknown as VoiceoverOptions;
  const video = bytes('video', o.video);
  const list = lines(o.voice);
  const music = o.music === undefined ? undefined : bytes('music', o.music);
  const format = oneOf('format', o.format, ['mp4', 'webm'] as const, 'mp4');
  const subtitles = oneOf('subtitles', o.subtitles, ['soft', 'burn', 'none'] as const, 'none');
  const loud = o.loudness === undefined ? {} : object('loudness', o.loudness, ['integrated', 'truePeak']);
  const audio = o.audio === undefined ? {} : object('audio', o.audio, ['preset', 'bitrate', 'sampleRate', 'channels', 'aacCoder']);
  // One option spec for the audio: transcode()'s, with the loudness filter as the mix's target.
  const job = normalizeOptions({
    ...audio,
    format,
    filters: { loudness: { integrated: number('loudness.integrated', loud.integrated, -70, -5, -14), truePeak: number('loudness.truePeak', loud.truePeak, -9, 0, -1) } },
    maxOutputBytes: o.maxOutputBytes,
    maxDurationSeconds: o.maxDurationSeconds,
    maxInputBytes: o.maxInputBytes,
    timeoutMs: o.timeoutMs,
    signal: o.signal,
  });
  let ducking: Record<string, unknown> = { enabled: true };
  if (o.ducking === false) ducking = { enabled: false };
  else if (o.ducking !== undefined && o.ducking !== true) {
    const d = object('ducking', o.ducking, ['thresholdDb', 'ratio', 'attackMs', 'releaseMs']);
    ducking = {
      enabled: true,
      thresholdDb: number('ducking.thresholdDb', d.thresholdDb, -60, 0, -18),
      ratio: number('ducking.ratio', d.ratio, 1, 20, 20),
      attackMs: number('ducking.attackMs', d.attackMs, 0.01, 2000, 20),
      releaseMs: number('ducking.releaseMs', d.releaseMs, 0.01, 9000, 400),
    };
  }
  const fade = o.musicFade === undefined ? {} : object('musicFade', o.musicFade, ['in', 'out']);
  const hwaccel = o.hwaccel === undefined ? undefined : oneOfValues('hwaccel', o.hwaccel, ['cuda', 'qsv', 'vaapi'] as const);
  if (subtitles === 'burn') {
    const missing = burnSupport(loadNative(), hwaccel);
    if (missing) throw new TtsavError('ERR_TTSAV_UNSUPPORTED', missing);
  }
  const cues = subtitles === 'none' ? [] : makeCues(o, list);
  const native: Record<string, unknown> = {
    audio: job.native,
    music: music !== undefined,
    voiceAt: list.map((l) => l.at),
    length: oneOf('length', o.length, ['video', 'voice', 'longest'] as const, 'video'),
    originalAudio: oneOf('originalAudio', o.originalAudio, ['drop', 'mix', 'duck'] as const, 'drop'),
    musicGainDb: number('musicGainDb', o.musicGainDb, -60, 20, -18),
    originalGainDb: number('originalGainDb', o.originalGainDb, -60, 20, -12),
    musicFadeInMs: number('musicFade.in', fade.in, 0, 3_600_000, 0),
    musicFadeOutMs: number('musicFade.out', fade.out, 0, 3_600_000, 0),
    ducking,
    cues: cues.map((c) => ({ start: c.startMs / 1000, end: c.endMs / 1000, text: c.text })),
    burn: subtitles === 'burn',
    ...(hwaccel !== undefined ? { hwaccel } : {}),
  };
  if (job.timeoutMs !== undefined) native.timeoutMs = job.timeoutMs;
  const inputs = [video, ...(music ? [music] : []), ...list.map((l) => l.audio)];
  const prepared: PreparedVoiceover = { inputs, native, format, cues, bytes: inputs.reduce((n, b) => n + b.byteLength, 0) };
  if (job.maxInputBytes !== undefined) prepared.maxInputBytes = job.maxInputBytes;
  if (job.timeoutMs !== undefined) prepared.timeoutMs = job.timeoutMs;
  if (job.signal !== undefined) prepared.signal = job.signal;
  return prepared;
}

/**
 * What a prepared voice-over is charged against a pool's memory budget (see estimateVoiceover): the video's and the
 * voice lines' durations are read from their containers' headers in one short threadpool job (no decoding), so the
 * estimate follows the output's length rather than the video's bytes.
 */
export async function estimatePreparedVoiceover(p: PreparedVoiceover): Promise<JobEstimate> {
  const audio = p.native.audio as NativeTranscodeOptions;
  const at = p.native.voiceAt as number[];
  const first = p.native.music === true ? 2 : 1;
  const video = p.inputs[0]!;
  const lines = p.inputs.slice(first);
  const native = loadNative();
  // Only the headers are read, with the job's probing bounds. A read stopped by the signal or the deadline leaves
  // the byte bounds (the job that follows is refused for the same reason, and counted by the pool).
  const headers = await runNativeJob(
    'voice-over probe',
    (callback) => native.probeContainers([video, ...lines], audio, callback),
    (r: (NativeContainerInfo | null)[]) => r,
    p.signal,
    p.timeoutMs,
  ).catch((): (NativeContainerInfo | null)[] => []);
  const job: VoiceoverEstimateInput = { videoBytes: video.byteLength, audioBytes: p.bytes - video.byteLength, bitrate: audio.bitrate };
  if (audio.maxDurationSeconds !== undefined) job.maxDurationSeconds = audio.maxDurationSeconds;
  const v = headers[0];
  const stream = v?.streams.find((s) => s.type === 'video' && !s.attachedPicture);
  const videoSeconds = stream?.durationSeconds ?? v?.durationSeconds;
  if (videoSeconds !== undefined) job.videoSeconds = videoSeconds;
  // Each line's end: its start plus its declared duration, else its bytes at the lowest audio bitrate.
  job.voiceEndSeconds = Math.max(0, ...lines.map((l, i) => at[i]! + (headers[i + 1]?.durationSeconds ?? (l.byteLength * 8) / MIN_INPUT_BITRATE)));
  return estimateVoiceover(job);
}

/** Runs a prepared voice-over on the threadpool. */
export async function runVoiceover(p: PreparedVoiceover): Promise<VoiceoverResult> {
  if (p.maxInputBytes !== undefined && p.bytes > p.maxInputBytes)
    throw new TtsavError('ERR_TTSAV_LIMIT', `inputs are ${p.bytes} bytes, over maxInputBytes (${p.maxInputBytes})`, { reason: 'input-size' });
  if (p.signal?.aborted) throw stoppedError(p.signal.reason, 'the voice-over');
  const native = loadNative();
  return runNativeJob(
    'voice-over',
    (callback) => native.voiceover(p.inputs, p.native, callback as (err: unknown, result?: unknown) => void),
    (r: NativeVoiceoverResult): VoiceoverResult => {
      const round = (l: NativeLoudness): Loudness => ({ integrated: l.integrated, truePeak: l.truePeak, lra: l.lra });
      const result: VoiceoverResult = {
        data: r.data,
        format: p.format,
        mimeType: p.format === 'mp4' ? 'video/mp4' : 'video/webm',
        extension: p.format,
        durationSeconds: r.durationSeconds,
        video: r.video,
        audio: r.audio,
        loudness: round(r.loudness),
        voiceLoudness: { integrated: r.voiceLoudness.integrated, lra: r.voiceLoudness.lra },
        limited: r.limited,
        subtitles: r.subtitles,
        cues: p.cues,
        timings: r.timings,
      };
      if (r.normalization) result.normalization = { mode: 'linear', measured: round(r.normalization.measured), gainDb: r.normalization.gainDb };
      return result;
    },
    p.signal,
    p.timeoutMs,
  );
}

/**
 * Puts a voice (and optionally a ducked music bed and subtitles) over a short video, all in memory, in one job
 * on the libuv threadpool. The video stream is copied packet for packet; the audio is mixed, normalised to the
 * loudness target and encoded with transcode()'s presets. The inputs are read in place: do not modify them
 * until the promise settles.
 */
export async function voiceover(options: VoiceoverOptions): Promise<VoiceoverResult> {
  return runVoiceover(prepareVoiceover(options));
}
