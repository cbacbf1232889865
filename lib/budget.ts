/**
 * The memory a transcode job holds while it runs, estimated before it starts: what the pool's admission budget
 * (`maxInFlightBytes`) counts.
 *
 *   estimate = inputBytes + 2 × outputBytes + WORKING_BYTES
 *   seconds  = min(maxDurationSeconds ?? ∞, inputBytes × 8 / MIN_INPUT_BITRATE)
 *   outputBytes = seconds × bitrate / 8 × 1.05 + 64 KiB
 *
 * - The input Buffer is held (read in place) for the whole job.
 * - The output grows in one memory block that doubles when full (io.cc), so its allocation peaks at up to twice the
 *   bytes written; 5% covers container overhead (ADTS headers, the MP4 sample tables) and 64 KiB is the first
 *   block.
 * - The length of the audio is unknown until it is decoded. It is bounded from the input size by assuming no
 *   input is below MIN_INPUT_BITRATE (16 kbit/s: lower than EdgeTTS's 48 kbit/s MP3 and than speech Opus); PCM and
 *   lossless inputs have far higher bitrates, so their estimate is generous. Inputs that pack more audio per byte
 *   (very low-bitrate Opus, compressed silence) can exceed it: set `maxDurationSeconds`, which both caps the job and
 *   tightens the estimate, or pass your own `estimateBytes` to the pool.
 * - WORKING_BYTES covers the demuxer, decoder, filter graph, encoder and muxer contexts and their frames, plus the
 *   worker thread's malloc arena. Measured (RSS while K long jobs run, minus the baseline, minus their outputs,
 *   divided by K; FFmpeg 5.1, glibc): 3.1–4.4 MiB per job; 6 MiB keeps a margin.
 */
import type { NormalizedOptions } from './options';

/** The lowest input bitrate the duration estimate assumes (bit/s). */
export const MIN_INPUT_BITRATE = 16_000;
/** libav contexts, frames and the thread's allocator arena of one running job (bytes). */
export const WORKING_BYTES = 6 * 1024 * 1024;
/** The output block's first allocation (bytes). */
const FIRST_BLOCK = 64 * 1024;

export interface JobEstimate {
  /** Estimated seconds of audio (the bound used for the output). */
  seconds: number;
  inputBytes: number;
  /** Estimated bytes of the encoded output. */
  outputBytes: number;
  /** What the job is charged against the budget: input + 2 × output + working memory. */
  bytes: number;
}

/** Estimates the memory one job holds while it runs, from its input size and (validated) options. */
export function estimateJob(inputBytes: number, options: Pick<NormalizedOptions, 'native'>): JobEstimate {
  const byInput = (inputBytes * 8) / MIN_INPUT_BITRATE;
  const cap = options.native.maxDurationSeconds;
  const seconds = cap === undefined ? byInput : Math.min(cap, byInput);
  const outputBytes = Math.ceil((seconds * options.native.bitrate) / 8 * 1.05) + FIRST_BLOCK;
  return { seconds, inputBytes, outputBytes, bytes: inputBytes + 2 * outputBytes + WORKING_BYTES };
}

/** The least video bitrate the voice-over's length estimate assumes when the video's container declares no
 *  duration (bit/s): lower than any usable short video. */
export const MIN_VIDEO_BITRATE = 100_000;

/** What estimateVoiceover() reads. */
export interface VoiceoverEstimateInput {
  videoBytes: number;
  /** The audio inputs' bytes together (voice lines and music). */
  audioBytes: number;
  /** The audio encoder's bitrate (bit/s). */
  bitrate: number;
  maxDurationSeconds?: number;
  /** The video's duration as its container declares it (pool.voiceover() reads it from the header). Without it
   *  the length is bounded from videoBytes at MIN_VIDEO_BITRATE. */
  videoSeconds?: number;
  /** Where the last voice line ends (its start plus its declared duration). Without it the voice's length is
   *  bounded from audioBytes at MIN_INPUT_BITRATE. */
  voiceEndSeconds?: number;
}

/**
 * The memory a voice-over job holds while it runs (what a pool charges it):
 *
 *   estimate = inputs + 3 × videoBytes + 2 × audioOut + pcm + WORKING_BYTES
 *   seconds  = min(maxDurationSeconds ?? ∞, max(video, voice))
 *     video  = videoSeconds ?? videoBytes × 8 / MIN_VIDEO_BITRATE
 *     voice  = voiceEndSeconds ?? audioBytes × 8 / MIN_INPUT_BITRATE
 *   pcm      = seconds × 48000 × 2 channels × 4 bytes × 3 (voice, music or original audio, mix)
 *
 * The inputs are held (read in place); the video's packets are read whole before muxing (one more copy of the
 * video) and the output holds the video again in a block that doubles when full (up to twice); the decoded voice,
 * music and the mix are planar float in memory for the job (measured before they are encoded). The output lasts
 * the video (length 'video'), at most the longer of video and voice ('voice', 'longest'), so `seconds` bounds it.
 *
 * The durations come from the containers' headers (MP4's moov, Matroska's segment info, WAV's data size): a
 * video's bytes say little about its length (a 30 s 1080p clip is ~60 MB, a 30 s 480p one ~5 MB), and bounding it
 * from the bytes charged a 30 s 1080p clip over 5 GiB. A header that declares nothing (WebM from MediaRecorder,
 * MP3 without a Xing/Info header) falls back to the byte bounds. A container that declares less than it holds is
 * undercharged: set maxDurationSeconds to cap such jobs.
 */
export function estimateVoiceover(job: VoiceoverEstimateInput): JobEstimate {
  const known = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x) && x >= 0;
  const video = known(job.videoSeconds) ? job.videoSeconds : (job.videoBytes * 8) / MIN_VIDEO_BITRATE;
  const voice = known(job.voiceEndSeconds) ? job.voiceEndSeconds : (job.audioBytes * 8) / MIN_INPUT_BITRATE;
  const bound = Math.max(video, voice);
  const seconds = job.maxDurationSeconds === undefined ? bound : Math.min(job.maxDurationSeconds, bound);
  const audioOut = Math.ceil((seconds * job.bitrate) / 8 * 1.05) + FIRST_BLOCK;
  const outputBytes = job.videoBytes + audioOut;
  const pcm = seconds * 48000 * 2 * 4 * 3;
  const inputBytes = job.videoBytes + job.audioBytes;
  return { seconds, inputBytes, outputBytes, bytes: Math.ceil(inputBytes + job.videoBytes + 2 * outputBytes + pcm + WORKING_BYTES) };
}
