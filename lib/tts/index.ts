export { edge, EdgeEngine, EDGE_FORMAT } from './edge';
export type { EdgeOptions, EdgeStats } from './edge';
export { EDGE_CLIENT_VERSION } from './edge-protocol';
export { espeak, EspeakEngine, ESPEAK_FORMAT, espeakStats } from './espeak';
export type { EspeakOptions, EspeakStats, EspeakWorkerStats } from './espeak';
export type { TtsEngine, TtsAudioFormat, WordBoundary, SynthesizeOptions, Synthesis, TtsVoice } from './types';
