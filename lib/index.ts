export { transcode, concat } from './transcode';
export type { TranscodeResult, StageTimings, InputInfo, Loudness } from './transcode';
export { AAC_CHANNELS, AAC_SAMPLE_RATES, presets } from './options';
export type {
  TranscodeOptions,
  ConcatOptions,
  OutputFormat,
  OutputCodec,
  AacCoder,
  PresetName,
  Preset,
  Filters,
  LoudnessTarget,
  TrimSilence,
  HwAccel,
} from './options';
export { probe } from './probe';
export type { ProbeOptions, ProbeResult } from './probe';
export { formats, hwDevices } from './capabilities';
export { createTranscodeStream, TranscodeStream } from './stream';
export type { TranscodeStreamOptions, StreamInputFormat, StreamStats } from './stream';
export { createLiveFeed, LiveFeed } from './live';
export { publish, publishMetricsText, Broadcast } from './publish';
export type { PublishOptions, PublishVideo, ReconnectOptions, BroadcastState, BroadcastStats, BroadcastVideo, BroadcastEvents } from './publish';
export { speakStream } from './speak-stream';
export type { SpeakStreamOptions } from './speak-stream';
export type { LiveFeedOptions, LiveClip } from './live';
export type { FormatInfo, HwDevice } from './capabilities';
export { createPool, defaultConcurrency } from './pool';
export type { Pool, PoolOptions, BatchInput, BatchOptions, BatchProgress, Batch, ItemResult, CloseOptions, RunOptions } from './pool';
export type { PoolMetrics, HistogramSnapshot, PromClientMetric, MetricSample, PoolCollector } from './metrics';
export type { AutoConcurrencyOptions, AutoDecision } from './autotune';
export { estimateJob, estimateVoiceover } from './budget';
export type { JobEstimate, VoiceoverEstimateInput } from './budget';
export { TtsavError } from './errors';
export type { TtsavErrorCode, TtsavErrorReason, TtsavStage } from './errors';
export type { TtsavWarning, TtsavWarningCode, DecodeErrors } from './warnings';
export { versions } from './versions';
export type { Versions, LibraryVersion } from './versions';
export { speak, speakMany } from './speak';
export type { SpeakOptions, SpeakResult, SpeakManyOptions, SpeakItem, SpeakOutcome, SpeakProgress, TranscodePool, EngineName } from './speak';
export { edge, espeak, espeakStats, EDGE_CLIENT_VERSION } from './tts/index';
export type { EdgeOptions, EdgeStats, EspeakOptions, EspeakStats, EspeakWorkerStats, TtsEngine, TtsAudioFormat, WordBoundary, SynthesizeOptions, Synthesis, TtsVoice } from './tts/index';
export { buildCues, makeSubtitles, toSrt, toVtt } from './subtitles';
export type { SubtitleOptions, Subtitles, Cue } from './subtitles';
export { voiceover } from './voiceover';
export type { VoiceoverOptions, VoiceoverResult, VoiceLine, VoiceAudio, DuckingOptions, VoiceoverAudioOptions } from './voiceover';
