/** The pool's public types: options, batch items and outcomes, progress, the Pool interface. */
import type { VoiceoverOptions, VoiceoverResult } from '../voiceover';
import type { AutoConcurrencyOptions, AutoDecision } from '../autotune';
import type { TtsavError } from '../errors';
import type { PoolCollector, PoolMetrics } from '../metrics';
import type { TranscodeOptions } from '../options';
import type { TranscodeResult } from '../transcode';

export interface PoolOptions {
  /**
   * Jobs run at once: a positive integer, or 'auto' to adapt between 1 and `maxConcurrency` from measured
   * throughput, event-loop delay and free memory. Default: min(os.availableParallelism(), UV_THREADPOOL_SIZE or 4).
   */
  concurrency?: number | 'auto';
  /** Upper bound for concurrency 'auto'. Default: the default concurrency. */
  maxConcurrency?: number;
  /** Tuning of the 'auto' controller. */
  auto?: AutoConcurrencyOptions;
  /**
   * Admission budget: the sum of the running jobs' estimated memory (input + 2 × output + working memory; see
   * estimateJob) never exceeds this, except for a single job larger than the whole budget, which runs alone.
   * Default: a quarter of the memory available to the process (process.constrainedMemory() or os.totalmem()).
   */
  maxInFlightBytes?: number;
  /** Jobs that may wait; pool.transcode() beyond it rejects with ERR_TTSAV_BUSY, reason 'queue-full' (transcodeMany
   *  waits). Default unbounded. */
  maxQueue?: number;
  /** A job whose estimate exceeds maxInFlightBytes: 'alone' (default) runs it when nothing else runs; 'reject' fails it with ERR_TTSAV_LIMIT, reason 'job-memory'. */
  oversize?: 'alone' | 'reject';
  /** Transcode options applied to every job (a job's own options override them). */
  defaults?: TranscodeOptions;
  /** Replaces the built-in estimate of a job's memory (bytes). */
  estimateBytes?: (input: Uint8Array, options: TranscodeOptions) => number;
  /** Prefix of the Prometheus metric names. Default 'ttsav_pool'. */
  metricsPrefix?: string;
}

export type BatchInput = Buffer | Uint8Array | { id?: unknown; input: Buffer | Uint8Array; options?: TranscodeOptions };

/** One item's outcome: its result, or its own error (one item's failure does not stop the batch). `R` is what an
 *  item produces (speakMany's items yield SpeakResult). */
export type ItemResult<Id = unknown, R = TranscodeResult> =
  | { id: Id; index: number; result: R; error?: undefined }
  | { id: Id; index: number; error: TtsavError; result?: undefined };

export interface BatchProgress {
  /** Items finished (succeeded or failed). */
  done: number;
  /** Items that failed. */
  failed: number;
  /** Items in the batch, when known (an array's length, `total`, or once the source is exhausted). */
  total?: number;
  /** Input bytes of finished items. */
  bytesIn: number;
  /** Output bytes of succeeded items. */
  bytesOut: number;
  /** Seconds of audio produced. */
  audioSeconds: number;
  elapsedMs: number;
  /** Estimated time left (from the pace of items so far), when total is known. */
  etaMs?: number;
}

export interface BatchOptions extends TranscodeOptions {
  /** Yield results in input order (default) or, with false, as they complete. */
  ordered?: boolean;
  /** Stop at the first failure: pending items are cancelled and the iterator throws that item's error. */
  failFast?: boolean;
  /** Items read from the source but not yet yielded, at most. Default max(8, 2 × max concurrency). */
  readAhead?: number;
  /** The number of items, if the source cannot tell (for progress and etaMs). */
  total?: number;
  /** Called after each item finishes. */
  onProgress?: (progress: BatchProgress) => void;
}

export interface Batch<Id = unknown, R = TranscodeResult> extends AsyncIterableIterator<ItemResult<Id, R>> {
  /** The progress so far. */
  progress(): BatchProgress;
}

export interface RunOptions {
  /** What the task is charged against maxInFlightBytes. Default 6 MiB (a transcode's working memory). */
  bytes?: number;
  signal?: AbortSignal;
  /** Deadline from the call: while queued it rejects with ERR_TTSAV_TIMEOUT; once running it aborts the task's
   *  signal with a TimeoutError. */
  timeoutMs?: number;
}

export interface CloseOptions {
  /** Cancel queued and running jobs (they reject with ERR_TTSAV_ABORTED) instead of letting them finish. */
  cancel?: boolean;
}

export interface Pool {
  /** Same contract as transcode(), but queued: admitted by concurrency and memory budget. */
  transcode(input: Buffer | Uint8Array, options?: TranscodeOptions): Promise<TranscodeResult>;
  /**
   * Runs other work (a streaming transcode, a synthesis) under the same admission: it waits for a slot and `bytes`
   * of budget (default 6 MiB), is refused like a transcode (ERR_TTSAV_BUSY), and its signal and timeoutMs act
   * while it waits and, through the signal handed to `task`, while it runs. Resolves with what `task` resolves.
   */
  run<T>(task: (signal: AbortSignal) => Promise<T>, options?: RunOptions): Promise<T>;
  /** Same contract as voiceover(), but queued: charged the video's bytes (and the rest; see estimateVoiceover). */
  voiceover(options: VoiceoverOptions): Promise<VoiceoverResult>;
  /** Transcodes a batch lazily; see BatchOptions. */
  transcodeMany<Id = unknown>(
    items: Iterable<BatchInput> | AsyncIterable<BatchInput>,
    options?: BatchOptions,
  ): Batch<Id>;
  /** Counters, gauges and histograms. */
  metrics(): PoolMetrics;
  /** metrics() in Prometheus text exposition format. */
  metricsText(): string;
  /**
   * The same metrics for prom-client, read live at each scrape: `pool.collector().register(promClient.register)`
   * (prom-client 14 or later; ttsav never loads it). metricsText() stays for a plain /metrics.
   */
  collector(): PoolCollector;
  /** True when a job submitted now would wait: every slot is busy, jobs are queued, or the memory budget is spent. */
  readonly saturated: boolean;
  /** For a readiness probe: false once the pool is closed or its queue is full (pool.transcode() would be refused
   *  with ERR_TTSAV_BUSY), true otherwise. */
  ready(): boolean;
  /** The current concurrency limit. */
  readonly concurrency: number;
  /** The 'auto' controller's recent decisions (empty for a fixed concurrency). */
  autoHistory(): readonly AutoDecision[];
  /** Stops accepting jobs; resolves once every job has settled. With cancel, queued and running jobs are aborted. */
  close(options?: CloseOptions): Promise<void>;
}
