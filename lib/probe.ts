/** probe(): what an input is, from its headers and a bounded look at its first packets — no full decode. */
import { TtsavError } from './errors';
import { runNativeJob } from './job';
import { loadNative, type NativeProbeResult } from './native';
import { normalizeOptions } from './options';
import { object } from './validate';

export interface ProbeOptions {
  /** Demuxer name to skip format detection (as for transcode). */
  inputFormat?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ProbeResult {
  /** Demuxer that recognized the input ('mp3', 'wav', 'ogg', 'mov,mp4,m4a,3gp,3g2,mj2', …). */
  container: string;
  /** Audio codec ('mp3', 'aac', 'opus', 'flac', 'pcm_s16le', …). */
  codec: string;
  sampleRate: number;
  channels: number;
  /** Channel layout ('mono', 'stereo', '5.1', …). */
  layout: string;
  /** Bit/s (stream's, else the container's), 0 when unknown. */
  bitrate: number;
  /** The container's duration, or undefined when it does not say. For MP3 with an encoder tag it includes the
   *  encoder delay and padding (tens of ms more than what decodes). */
  durationSeconds?: number;
  /** True when the duration was guessed from the bitrate and file size rather than read from the file. */
  durationEstimated: boolean;
  /** Container tags, then the audio stream's (title, artist, encoder, …). */
  tags: Record<string, string>;
}

export async function probe(input: Buffer | Uint8Array, options: ProbeOptions = {}): Promise<ProbeResult> {
  if (!(input instanceof Uint8Array))
    throw new TtsavError('ERR_TTSAV_OPTIONS', `Expected a Buffer or Uint8Array for input but received ${input === null ? 'null' : typeof input}`);
  object('options', options);
  const { signal, timeoutMs, ...rest } = options;
  for (const key of Object.keys(rest))
    if (key !== 'inputFormat') throw new TtsavError('ERR_TTSAV_OPTIONS', `Unknown option '${key}'; known options: inputFormat, signal, timeoutMs`);
  const native = loadNative();
  const job = normalizeOptions({ inputFormat: options.inputFormat, signal, timeoutMs }, native.demuxers.bind(native));
  return runNativeJob(
    'probe',
    (callback) => native.probe(input, job.native, callback),
    (r: NativeProbeResult): ProbeResult => {
      const result: ProbeResult = {
        container: r.container,
        codec: r.codec,
        sampleRate: r.sampleRate,
        channels: r.channels,
        layout: r.layout,
        bitrate: r.bitrate,
        durationEstimated: r.durationEstimated,
        tags: r.tags,
      };
      if (r.durationSeconds !== undefined) result.durationSeconds = r.durationSeconds;
      return result;
    },
    job.signal,
    job.timeoutMs,
  );
}
