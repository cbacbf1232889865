/**
 * Loads the native addon once, on first use, and types what it exports. A missing or mismatched libav is
 * reported as a TtsavError (ERR_TTSAV_LOAD) that names the packages to install.
 */
import path from 'node:path';
import { TtsavError } from './errors';

/** The options object the addon reads; built by options.ts, never by users. */
export interface NativeTranscodeOptions {
  container: 'mp4' | 'adts';
  codec: 'aac';
  bitrate: number;
  sampleRate: number;
  channels: number;
  aacCoder?: 'twoloop' | 'fast';
  faststart: boolean;
  inputFormat?: string;
  maxOutputBytes?: number;
  maxDurationSeconds?: number;
  timeoutMs?: number;
}

export interface NativeTranscodeResult {
  data: Buffer;
  codec: string;
  sampleRate: number;
  channels: number;
  bitrate: number;
  samples: number;
  durationSeconds: number;
  input: { format: string; codec: string; sampleRate: number; channels: number; samples: number; durationSeconds: number };
  timings: { probe: number; decode: number; filter: number; encode: number; mux: number; total: number };
}

export interface NativeLibraryVersion {
  compiled: string;
  runtime: string;
  compatible: boolean;
}

/** Opaque handle of one running job. */
export type NativeJob = { readonly __ttsavJob: unique symbol };

export interface NativeBinding {
  transcode(
    input: Uint8Array,
    options: NativeTranscodeOptions,
    callback: (err: unknown, result?: NativeTranscodeResult) => void,
  ): NativeJob;
  cancel(job: NativeJob, reason: 'abort' | 'timeout'): void;
  demuxers(): string[];
  versions(): { ffmpeg: string; libraries: Record<string, NativeLibraryVersion>; napi: number };
}

const INSTALL_HINT =
  'ttsav needs FFmpeg 5 or newer (libavformat, libavcodec, libavfilter, libswresample, libavutil). ' +
  'On Debian/Ubuntu: apt-get install -y libavformat-dev libavcodec-dev libavfilter-dev libswresample-dev ' +
  'libavutil-dev pkg-config, then npm rebuild ttsav.';

let binding: NativeBinding | undefined;

/** The package root (dist/.. or lib/..). */
export const packageRoot = path.resolve(__dirname, '..');

export function loadNative(): NativeBinding {
  if (binding) return binding;
  try {
    // TTSAV_ADDON points at a specific build (the CMake build's smoke test uses it).
    const explicit = process.env.TTSAV_ADDON;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = (explicit ? require(path.resolve(explicit)) : require('node-gyp-build')(packageRoot)) as NativeBinding;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_TTSAV_LOAD') throw new TtsavError('ERR_TTSAV_LOAD', e.message, { cause: err });
    const text = String(e.message ?? err);
    const missingLib = /lib(av\w+|swresample)\.so|cannot open shared object/.exec(text);
    const message = missingLib
      ? `cannot load the ttsav addon: a libav library is missing (${text.split('\n')[0]}). ${INSTALL_HINT}`
      : `cannot load the ttsav addon (${text.split('\n')[0]}). Build it with npm rebuild ttsav. ${INSTALL_HINT}`;
    throw new TtsavError('ERR_TTSAV_LOAD', message, { cause: err });
  }
  return binding;
}
