/**
 * Loads the native addon once, on first use, and types what it exports. A missing or mismatched libav is
 * reported as a TtsavError (ERR_TTSAV_LOAD) that names the packages to install.
 */
import path from 'node:path';
import { TtsavError } from './errors';
import type { ProbeResult } from './probe';
import type { Loudness, TranscodeResult } from './transcode';

/** The filter settings the addon reads (see FilterOptions in native/av/options.h). */
export interface NativeFilterOptions {
  trimStart?: boolean;
  trimEnd?: boolean;
  trimThresholdDb?: number;
  tempo?: number;
  volumeDb?: number;
  loudness?: boolean;
  loudnessI?: number;
  loudnessTP?: number;
  loudnessLRA?: number;
  fadeInMs?: number;
  fadeOutMs?: number;
  padBeforeMs?: number;
  padAfterMs?: number;
  raw?: string;
}

/** The options object the addon reads; built by options.ts, never by users. */
export interface NativeTranscodeOptions {
  container: 'mp4' | 'adts' | 'ogg' | 'webm' | 'mp3' | 'f32le';
  codec: string;
  bitrate: number;
  /** 0: the source's rate when the encoder takes it, else fallbackSampleRate. */
  sampleRate: number;
  fallbackSampleRate: number;
  /** 0: the source's channel count, up to maxChannels. */
  channels: number;
  maxChannels: number;
  aacCoder?: 'twoloop' | 'fast';
  faststart: boolean;
  fragmented?: boolean;
  fragmentMs?: number;
  inputFormat?: string;
  maxOutputBytes?: number;
  maxDurationSeconds?: number;
  timeoutMs?: number;
  gapMs?: number;
  filters?: NativeFilterOptions;
  measure?: boolean;
  /** decodeErrors: 'conceal'. */
  concealDecodeErrors?: boolean;
}

/** The addon's loudness figures: the public Loudness. */
export type NativeLoudness = Loudness;

/** What the addon's probe reports: the public ProbeResult plus the decoder's name. */
export type NativeProbeResult = ProbeResult & { decoder: string };

/** What the addon's transcode reports: the public result's measured fields; lib/transcode.ts adds the format's
 *  names (format, codec family, MIME type, extension) and types the warnings. */
export type NativeTranscodeResult = Pick<
  TranscodeResult,
  'data' | 'sampleRate' | 'channels' | 'bitrate' | 'averageBitrate' | 'samples' | 'durationSeconds' | 'input' | 'inputs' | 'timings' | 'loudness' | 'normalization'
> & {
  /** The encoder's name. */
  codec: string;
  warnings: { code: string; message: string }[];
};

export interface NativeLibraryVersion {
  compiled: string;
  runtime: string;
  compatible: boolean;
}

export interface NativeStreamInput {
  codec: 'mp3' | 'aac' | 'pcm_s16le' | 'pcm_f32le';
  sampleRate?: number;
  channels?: number;
}

export interface NativeStreamStats {
  inputSamples: number;
  outputSamples: number;
  sampleRate: number;
  channels: number;
  decodeErrorsConcealed: number;
  firstDecodeError?: string;
}

export type NativeStreamCallback = (err: unknown, out?: Buffer, stats?: NativeStreamStats) => void;

/** Opaque handle of one streaming session. */
export type NativeStream = { readonly __ttsavStream: unique symbol };

/** Opaque handle of one publisher (native/av/publish.h). */
export type NativePublisher = { readonly __ttsavPublisher: unique symbol };

export interface NativePublishOptions {
  url?: string;
  container: 'flv' | 'mpegts';
  caFile?: string;
  tlsVerify?: boolean;
  maxQueueMs?: number;
  connectTimeoutMs?: number;
  ioTimeoutMs?: number;
}

export type NativePublishEvent =
  | { type: 'connected' }
  | { type: 'disconnected'; error: unknown; wasConnected: boolean }
  | { type: 'data'; bytes: Buffer }
  | { type: 'closed' };

export interface NativePublishStats {
  connected: boolean;
  sentBytes: number;
  sentAudioMs: number;
  sentVideoMs: number;
  droppedMs: number;
  audioEndMs: number;
  videoEndMs: number;
  queuedMs: number;
  loops: number;
  sampleRate: number;
  channels: number;
}

/** One input's container as its header declares it (the addon's probeContainers; no decode, nothing estimated). */
export interface NativeContainerInfo {
  container: string;
  /** The container's declared duration, else its longest declared stream's; absent when none is declared. */
  durationSeconds?: number;
  streams: { type: string; codec: string; attachedPicture: boolean; durationSeconds?: number }[];
}

/** Opaque handle of one running job. */
export type NativeJob = { readonly __ttsavJob: unique symbol };

/** Opaque handle of a native job queue (native/job_queue.h): at most `limit` transcodes run at once, each runner
 *  taking the next queued job without a trip through the main thread. */
export type NativeQueue = { readonly __ttsavQueue: unique symbol };

/** A queued transcode's result as the addon delivers it: one array (native TranscodeResultToPacked(); elements cost
 *  no property lookups), unpacked by lib/transcode.ts. Warnings alternate code and message; absent when none. Last:
 *  the milliseconds the job waited in the native queue. */
export type NativeQueuedResult = [
  data: Buffer,
  codec: string,
  sampleRate: number,
  channels: number,
  bitrate: number,
  averageBitrate: number,
  samples: number,
  durationSeconds: number,
  inputFormat: string,
  inputCodec: string,
  inputSampleRate: number,
  inputChannels: number,
  inputSamples: number,
  inputs: number,
  probe: number,
  analyze: number,
  decode: number,
  filter: number,
  encode: number,
  mux: number,
  total: number,
  warnings: string[] | undefined,
  loudness: NativeLoudness | undefined,
  normalization: NativeTranscodeResult['normalization'],
  waitMs: number,
];

export interface NativeBinding {
  transcode(
    input: Uint8Array | Uint8Array[],
    options: NativeTranscodeOptions,
    callback: (err: unknown, result?: NativeTranscodeResult) => void,
  ): NativeJob;
  /** cancel() also takes a queued job out of its JobQueue (it is delivered as stopped, never run). */
  cancel(job: NativeJob, reason: 'abort' | 'timeout'): void;
  queueCreate(limit: number): NativeQueue;
  queueSubmit(
    queue: NativeQueue,
    input: Uint8Array | Uint8Array[],
    options: NativeTranscodeOptions,
    callback: (err: unknown, result?: NativeQueuedResult) => void,
  ): NativeJob;
  queueSetLimit(queue: NativeQueue, limit: number): void;
  /** inputs: the video, the music when options.music, then the voice lines (see lib/voiceover.ts). */
  voiceover(inputs: Uint8Array[], options: Record<string, unknown>, callback: (err: unknown, result?: unknown) => void): NativeJob;
  probe(input: Uint8Array, options: NativeTranscodeOptions, callback: (err: unknown, result?: NativeProbeResult) => void): NativeJob;
  /** Header-only probes of several inputs in one threadpool job; null for an input whose header cannot be read. */
  probeContainers(inputs: Uint8Array[], options: NativeTranscodeOptions, callback: (err: unknown, result?: (NativeContainerInfo | null)[]) => void): NativeJob;
  hwDevices(callback: (err: unknown, devices?: { type: string; available: boolean; reason?: string }[]) => void): void;
  streamCreate(options: NativeTranscodeOptions, input: NativeStreamInput): NativeStream;
  streamPush(stream: NativeStream, chunk: Uint8Array, callback: NativeStreamCallback): void;
  streamEnd(stream: NativeStream, callback: NativeStreamCallback): void;
  streamDestroy(stream: NativeStream): void;
  publishCreate(
    options: NativePublishOptions,
    video: Uint8Array | string | null,
    onEvent: (event: NativePublishEvent) => void,
  ): { handle: NativePublisher; width?: number; height?: number; loopMs?: number };
  publishPush(handle: NativePublisher, adts: Uint8Array): void;
  publishConnect(handle: NativePublisher): void;
  publishClose(handle: NativePublisher): void;
  publishAbort(handle: NativePublisher): void;
  publishStats(handle: NativePublisher): NativePublishStats;
  checkImage(bytes: Uint8Array): { width: number; height: number };
  encodeStill(
    bytes: Uint8Array,
    options: { width?: number; height?: number; fps?: number; seconds?: number; hwaccel?: string },
  ): { data: Buffer; width: number; height: number; frames: number; encoder: string; fallback: string };
  hasMuxer(name: string): boolean;
  hasEncoder(name: string): boolean;
  burnUnsupported(hwaccel: string): string;
  demuxers(): string[];
  /** Bytes the C allocator has handed out and not had back (glibc's mallinfo2), or null; for leak tests. */
  mallocInUse(): number | null;
  /** The error codes and stages the addon's errors can carry (checked against lib/errors.ts by a test). */
  errorNames(): { codes: string[]; stages: string[] };
  versions(): { ffmpeg: string; bundled: boolean; license: string; configuration: string; libraries: Record<string, NativeLibraryVersion>; napi: number };
  /** glibc's malloc_trim(0): true when memory went back to the system (false on other C libraries). */
  trimMemory(): boolean;
}

/** For an addon built against the system FFmpeg (TTSAV_FFMPEG=system): its shared libav libraries. */
const INSTALL_HINT =
  'ttsav needs FFmpeg 5 or newer (libavformat, libavcodec, libavfilter, libswresample, libavutil). ' +
  'On Debian/Ubuntu: apt-get install -y libavformat-dev libavcodec-dev libavfilter-dev libswresample-dev ' +
  'libavutil-dev pkg-config, then npm rebuild ttsav.';
/** For no addon at all: the install step (scripts/install.js) loads the prebuilt one or builds from source. */
const BUILD_HINT =
  'npm rebuild ttsav loads the prebuilt addon (linux-x64) or builds one from source: with nasm, pkg-config and a ' +
  'C++ toolchain against the bundled FFmpeg, or with TTSAV_FFMPEG=system against the system FFmpeg (libav*-dev).';

let binding: NativeBinding | undefined;
/** A failed load is final for this process (Node cannot unload a half-loaded addon): remembered, not retried. */
let loadFailure: TtsavError | undefined;

/** The package root (dist/.. or lib/..). */
export const packageRoot = path.resolve(__dirname, '..');

/**
 * Returns the allocator's free memory to the system (glibc's malloc_trim), if the addon is already loaded (it is
 * not loaded for this) and has the call. For moments the process has just gone idle: it costs a few ms.
 */
export function trimMemory(): boolean {
  try {
    return typeof binding?.trimMemory === 'function' ? binding.trimMemory() : false;
  } catch {
    return false;
  }
}

export function loadNative(): NativeBinding {
  if (binding) return binding;
  if (loadFailure) throw loadFailure;
  try {
    // TTSAV_ADDON points at a specific build (the CMake build's smoke test uses it).
    const explicit = process.env.TTSAV_ADDON;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = (explicit ? require(path.resolve(explicit)) : require('node-gyp-build')(packageRoot)) as NativeBinding;
  } catch (err) {
    loadFailure = loadError(err);
    throw loadFailure;
  }
  return binding;
}

function loadError(err: unknown): TtsavError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ERR_TTSAV_LOAD') return new TtsavError('ERR_TTSAV_LOAD', e.message, { cause: err });
  const text = String(e.message ?? err);
  const missingLib = /lib(av\w+|swresample)\.so|cannot open shared object/.exec(text);
  const message = missingLib
    ? `cannot load the ttsav addon: a libav library is missing (${text.split('\n')[0]}). ${INSTALL_HINT}`
    : `cannot load the ttsav addon (${text.split('\n')[0]}). ${BUILD_HINT}`;
  return new TtsavError('ERR_TTSAV_LOAD', message, { cause: err });
}
