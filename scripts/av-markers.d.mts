// Types of scripts/av-markers.mjs (used by test/publish-drift.test.ts).
import type { EventEmitter } from 'node:events';

export interface MarkerLoop {
  file: string;
  frames: number;
  fps: number;
  spanSeconds: number;
}
export function makeMarkerLoop(file: string, options?: { frames?: number; fps?: number; ffmpeg?: string; encoder?: string }): MarkerLoop;
export function clickTemplate(sampleRate: number): Float32Array;
export function makeClickClip(options: { sampleRate: number; channels: number; samples: number }): Buffer;
export function keepFed(
  feed: { queued: number; enqueue(clip: Buffer): Promise<void> } & Pick<EventEmitter, 'on'>,
  clip: Buffer,
  options?: { count?: number; everyMs?: number },
): () => void;
export function findClicks(
  file: string,
  options: { sampleRate: number; ffmpeg?: string; ffprobe?: string; minGap?: number },
): Promise<{ clicks: number[]; samples: number; packets: number; runs: number }>;
export function findMarkers(file: string, options?: { ffmpeg?: string; ffprobe?: string; tmpDir?: string }): { markers: number[]; frames: number };

export interface OffsetSummary {
  pairs: number;
  markers: number;
  clicks: number;
  firstOffsetMs?: number;
  offsetRangeMs?: [number, number];
  driftMs?: number;
  slopeMsPerHour?: number;
  lastOffsetMs?: number;
  coveredSeconds?: number;
  clickSpacingErrorMs?: number[];
}
export function pairOffsets(markers: number[], clicks: number[], spanSeconds: number): OffsetSummary;
export function measureFile(
  file: string,
  options: { spanSeconds: number; sampleRate: number; audioFile?: string; ffmpeg?: string; ffprobe?: string },
): Promise<OffsetSummary & { videoFrames: number; audioPackets: number; audioRuns: number } & Partial<Interleave>>;
export interface Interleave {
  maxInterleaveDtsMs: number;
  maxInterleavePtsMs: number;
}
export function interleave(file: string, options?: { ffprobe?: string }): Interleave;

export interface Receiver {
  done: Promise<{ code: number | null; errors: string }>;
  stop(): void;
  audio: string;
  video: string;
  log: string;
}
export function pullReceiver(url: string, prefix: string, options?: { ffmpeg?: string }): Receiver;

export interface ArrivalStats {
  audioTags: number;
  videoTags?: number;
  wallSeconds?: number;
  mediaMinusWallMs?: number;
  rateErrorPpm?: number;
  lagSpreadMs?: number[];
  /** [wall ms, 'a', dts ms, pts ms] of the first settled and the last audio tag. */
  firstTag?: [number, string, number, number];
  lastTag?: [number, string, number, number];
}
export function arrivalStats(csvFile: string, options?: { settleS?: number }): ArrivalStats;
