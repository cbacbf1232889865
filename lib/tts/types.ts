/** The engine interface every text-to-speech source implements. */

/** What an engine's audio is, declared up front so the transcoder can skip probing (`inputFormat`). */
export interface TtsAudioFormat {
  /** Demuxer name the transcoder reads it with: 'mp3' (EdgeTTS) or 'wav' (espeak-ng). */
  container: 'mp3' | 'wav';
  /** Codec inside: 'mp3' or 'pcm_s16le'. */
  codec: 'mp3' | 'pcm_s16le';
  sampleRate: number;
  channels: number;
}

/** One spoken word and where it falls in the synthesized audio. */
export interface WordBoundary {
  /** The word as the engine spoke it. */
  text: string;
  /** Start, in milliseconds from the start of the audio. */
  offsetMs: number;
  /** How long the word lasts, in milliseconds. */
  durationMs: number;
  /** True when the engine gave no timing and ttsav estimated it (espeak-ng: proportional to characters). */
  estimated?: boolean;
}

/** Prosody and voice for one synthesis. Strings in the EdgeTTS style: rate '+10%', pitch '-5Hz', volume '+0%'. */
export interface SynthesizeOptions {
  voice?: string;
  /** Speaking rate relative to normal, '-50%' … '+100%'. */
  rate?: string;
  /** Pitch shift: '+10Hz' / '-20Hz' (EdgeTTS), or '+10%' / '-10%'. */
  pitch?: string;
  /** Volume relative to the voice's default, '-100%' … '+100%'. */
  volume?: string;
  /** Cancels the synthesis (EdgeTTS: closes the socket at once). */
  signal?: AbortSignal;
  /** Called with each piece of audio as it arrives, before synthesize() resolves (EdgeTTS: every binary audio
   *  frame; engines that make their audio in one go call it once). Once audio has been handed out, a dropped
   *  connection is not retried (the audio would repeat): it fails with ERR_TTSAV_TTS. */
  onAudio?: (chunk: Buffer) => void;
}

/** The synthesized audio: chunks in order (join them with Buffer.concat), word boundaries, the format. */
export interface Synthesis {
  chunks: Buffer[];
  /** Sum of chunk lengths. */
  bytes: number;
  words: WordBoundary[];
  format: TtsAudioFormat;
  /** Length of the audio in seconds, counted from its frames/samples (not estimated). */
  durationSeconds: number;
  /** The voice actually used. */
  voice: string;
  /** Engine requests made, retries included (EdgeTTS); 1 for espeak-ng. */
  requests: number;
}

/** A voice an engine offers. */
export interface TtsVoice {
  /** The name to pass as `voice` ('en-US-AriaNeural', 'en-us', 'cmn'). */
  name: string;
  /** BCP-47-ish locale ('en-US', 'zh-CN'), when known. */
  locale?: string;
  gender?: string;
  /** The engine's own description. */
  description?: string;
}

export interface TtsEngine {
  /** 'edge' or 'espeak'. */
  readonly name: string;
  /** The format every synthesis of this engine produces. */
  readonly format: TtsAudioFormat;
  /** Synthesizes text. Rejects with TtsavError (ERR_TTSAV_OPTIONS, ERR_TTSAV_TTS, ERR_TTSAV_TTS_TIMEOUT,
   *  ERR_TTSAV_ABORTED). */
  synthesize(text: string, options?: SynthesizeOptions): Promise<Synthesis>;
  /** The voices the engine offers (cached after the first successful call). */
  voices(options?: { signal?: AbortSignal; refresh?: boolean }): Promise<TtsVoice[]>;
  /** Checks voice/rate/pitch/volume without synthesizing; throws ERR_TTSAV_OPTIONS. */
  validate(options: SynthesizeOptions): void;
  /** Releases what the engine holds (worker threads); it can still be used afterwards. */
  close?(): Promise<void>;
}
