export { transcode } from './transcode';
export type { TranscodeResult, StageTimings, InputInfo } from './transcode';
export { AAC_CHANNELS, AAC_SAMPLE_RATES, DEFAULTS } from './options';
export type { TranscodeOptions, OutputFormat, AacCoder } from './options';
export { TtsavError } from './errors';
export type { TtsavErrorCode, TtsavStage } from './errors';
export { versions } from './versions';
export type { Versions, LibraryVersion } from './versions';
