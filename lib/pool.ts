/**
 * The batch engine: a queue in front of transcode() that admits jobs by a concurrency cap and a memory budget,
 * honours each job's signal and timeout while it waits, keeps metrics, and runs whole batches lazily with
 * backpressure (transcodeMany).
 */
import os from 'node:os';
import { AutoConcurrency, type AutoConcurrencyOptions, type AutoDecision } from './autotune';
import { WORKING_BYTES, estimateJob } from './budget';
import { TtsavError, asTtsavError, deadlineReason, stoppedError } from './errors';
import { MetricsRecorder, promClientCollector, toPrometheus, type PoolCollector, type PoolMetrics } from './metrics';
import { normalizeOptions, type TranscodeOptions } from './options';
import { func, integer, integerAtLeast, invalidOption, iterable, metricName, object, oneOf } from './validate';
import { transcode, type TranscodeResult } from './transcode';

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

export type ItemResult<Id = unknown> =
  | { id: Id; index: number; result: TranscodeResult; error?: undefined }
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

export interface Batch<Id = unknown> extends AsyncIterableIterator<ItemResult<Id>> {
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

function threadpoolSize(): number {
  const n = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** min(available cores, libuv threadpool size). */
export function defaultConcurrency(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, threadpoolSize()));
}

let warnedThreadpool = false;
function warnThreadpool(asked: number): void {
  const size = threadpoolSize();
  if (asked <= size || warnedThreadpool) return;
  warnedThreadpool = true;
  process.emitWarning(
    `ttsav pool concurrency ${asked} exceeds the libuv threadpool size (${size}); jobs beyond ${size} wait inside ` +
      `libuv. Raise UV_THREADPOOL_SIZE before the threadpool is first used (e.g. UV_THREADPOOL_SIZE=${asked} node app.js).`,
    { code: 'TTSAV_THREADPOOL', type: 'TtsavWarning' },
  );
}

function defaultBudget(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const memory = constrained && constrained > 0 && constrained < Number.MAX_SAFE_INTEGER ? Math.min(constrained, os.totalmem()) : os.totalmem();
  return Math.floor(memory / 4);
}

/** ERR_TTSAV_ABORTED, or ERR_TTSAV_TIMEOUT when the signal's reason is a TimeoutError. */
function abortError(reason: unknown, what = 'the transcode'): TtsavError {
  return stoppedError(reason, what);
}


interface Job {
  input: Uint8Array;
  options: TranscodeOptions;
  bytes: number;
  enqueuedAt: number;
  deadline?: number;
  signals: AbortSignal[];
  controller: AbortController;
  timer?: NodeJS.Timeout;
  state: 'queued' | 'running' | 'done';
  budgetDelayed?: boolean;
  /** pool.run(): the work to do instead of a transcode. */
  task?: (signal: AbortSignal) => Promise<unknown>;
  resolve(result: TranscodeResult): void;
  reject(err: TtsavError): void;
  onAbort(): void;
}

class PoolImpl implements Pool {
  private readonly queue = new Set<Job>();
  private readonly running = new Set<Job>();
  private inFlightBytes = 0;
  private readonly fixed: number;
  private readonly maxConcurrency: number;
  private readonly auto: AutoConcurrency | undefined;
  private readonly budget: number;
  private readonly maxQueue: number;
  private readonly oversize: 'alone' | 'reject';
  private readonly defaults: TranscodeOptions;
  private readonly estimate: ((input: Uint8Array, options: TranscodeOptions) => number) | undefined;
  private readonly prefix: string;
  private readonly recorder = new MetricsRecorder();
  private closed = false;
  private closeWaiters: (() => void)[] = [];
  private spaceWaiters: (() => void)[] = [];

  constructor(options: PoolOptions = {}) {
    object('options', options);
    const { concurrency, maxConcurrency } = options;
    const positiveInt = (name: string, v: unknown): number => integer(name, v, 1, 1024);
    if (concurrency === 'auto') {
      this.maxConcurrency = maxConcurrency === undefined ? defaultConcurrency() : positiveInt('maxConcurrency', maxConcurrency);
      this.auto = new AutoConcurrency(this.maxConcurrency, options.auto);
      this.fixed = 0;
    } else {
      this.fixed = concurrency === undefined ? defaultConcurrency() : positiveInt('concurrency', concurrency);
      this.maxConcurrency = this.fixed;
    }
    warnThreadpool(this.maxConcurrency);
    const budget = options.maxInFlightBytes ?? defaultBudget();
    if (typeof budget !== 'number' || !(budget > 0)) throw invalidOption('maxInFlightBytes', 'a positive number of bytes', budget);
    this.budget = budget;
    const maxQueue = options.maxQueue ?? Infinity;
    if (typeof maxQueue !== 'number' || !(maxQueue >= 0) || (maxQueue !== Infinity && !Number.isInteger(maxQueue)))
      throw invalidOption('maxQueue', 'a non-negative integer', maxQueue);
    this.maxQueue = maxQueue;
    this.oversize = options.oversize === undefined ? 'alone' : oneOf('oversize', options.oversize, ['alone', 'reject'] as const);
    if (options.defaults?.signal) throw new TtsavError('ERR_TTSAV_OPTIONS', 'defaults cannot hold a signal; pass it per call');
    // Validate the defaults now (throws ERR_TTSAV_OPTIONS), so a typo fails at createPool, not at every job.
    normalizeOptions(options.defaults ?? {});
    this.defaults = { ...options.defaults };
    this.estimate = options.estimateBytes === undefined ? undefined : func('estimateBytes', options.estimateBytes);
    this.prefix = metricName('metricsPrefix', options.metricsPrefix ?? 'ttsav_pool');
  }

  get concurrency(): number {
    return this.auto ? this.auto.limit : this.fixed;
  }

  autoHistory(): readonly AutoDecision[] {
    return this.auto ? this.auto.history : [];
  }

  transcode(input: Buffer | Uint8Array, options?: TranscodeOptions): Promise<TranscodeResult> {
    return this.submit(input, options, undefined);
  }

  run<T>(task: (signal: AbortSignal) => Promise<T>, options: RunOptions = {}): Promise<T> {
    if (typeof task !== 'function') return Promise.reject(invalidOption('task', 'a function', task));
    const bytes = options.bytes ?? WORKING_BYTES;
    if (typeof bytes !== 'number' || !(bytes >= 0)) return Promise.reject(invalidOption('bytes', 'a non-negative number', bytes));
    const jobOptions: TranscodeOptions = {};
    try {
      if (options.signal !== undefined) jobOptions.signal = options.signal;
      if (options.timeoutMs !== undefined) jobOptions.timeoutMs = options.timeoutMs;
      normalizeOptions(jobOptions);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.submit(new Uint8Array(0), jobOptions, undefined, false, { task, bytes }) as unknown as Promise<T>;
  }

  /** Queues one job. `extra` is a batch's signal; `custom` a pool.run() task instead of a transcode. */
  submit(
    input: Buffer | Uint8Array,
    options: TranscodeOptions | undefined,
    extra: AbortSignal | undefined,
    waited = false,
    custom?: { task: (signal: AbortSignal) => Promise<unknown>; bytes: number },
  ): Promise<TranscodeResult> {
    const merged: TranscodeOptions = custom ? { ...options } : { ...this.defaults, ...options };
    if (this.closed) return this.failEarly(new TtsavError('ERR_TTSAV_BUSY', 'the pool is closed', { reason: 'closed' }));
    // transcode() owns input and option validation: hand it what it would refuse.
    if (!(input instanceof Uint8Array)) return this.count(transcode(input, merged));
    let bytes: number;
    if (custom) bytes = custom.bytes;
    else try {
      const normalized = normalizeOptions(merged);
      // A definite no (never retry) goes before a maybe-later (queue full): refuse an oversized input up front.
      if (normalized.maxInputBytes !== undefined && input.byteLength > normalized.maxInputBytes)
        throw new TtsavError('ERR_TTSAV_LIMIT', `input is ${input.byteLength} bytes, over maxInputBytes (${normalized.maxInputBytes})`, { reason: 'input-size' });
      bytes = this.estimate ? this.estimate(input, merged) : estimateJob(input.byteLength, normalized).bytes;
      if (typeof bytes !== 'number' || !(bytes >= 0)) throw new TtsavError('ERR_TTSAV_OPTIONS', `estimateBytes returned ${String(bytes)}, not a number of bytes`);
    } catch (err) {
      return this.failEarly(asTtsavError(err));
    }
    if (bytes > this.budget && this.oversize === 'reject')
      return this.failEarly(new TtsavError('ERR_TTSAV_LIMIT', `the job's estimated memory (${bytes} bytes) exceeds the pool's maxInFlightBytes (${this.budget})`, { reason: 'job-memory' }));
    const signals = [merged.signal, extra].filter((s): s is AbortSignal => s !== undefined);
    const aborted = signals.find((s) => s.aborted);
    if (aborted) return this.failEarly(abortError(aborted.reason));
    if (!waited && this.queue.size >= this.maxQueue && !this.canStart(bytes))
      return this.failEarly(new TtsavError('ERR_TTSAV_BUSY', `the pool's queue is full (maxQueue ${this.maxQueue})`, { reason: 'queue-full' }));

    this.recorder.submitted++;
    return new Promise<TranscodeResult>((resolve, reject) => {
      const now = performance.now();
      const job: Job = {
        input,
        options: merged,
        bytes,
        enqueuedAt: now,
        signals,
        controller: new AbortController(),
        state: 'queued',
        resolve,
        reject,
        ...(custom ? { task: custom.task } : {}),
        onAbort: () => {
          const reason = signals.find((s) => s.aborted)?.reason;
          if (job.state === 'queued') this.dropQueued(job, abortError(reason));
          else if (job.state === 'running') job.controller.abort(reason);
        },
      };
      for (const s of signals) s.addEventListener('abort', job.onAbort, { once: true });
      if (merged.timeoutMs !== undefined) {
        job.deadline = now + merged.timeoutMs;
        job.timer = setTimeout(() => {
          if (job.state === 'queued')
            this.dropQueued(job, new TtsavError('ERR_TTSAV_TIMEOUT', `the transcode ran past its timeout (${merged.timeoutMs} ms) while queued`));
        }, merged.timeoutMs);
        job.timer.unref();
      }
      this.queue.add(job);
      this.pump();
    });
  }

  private failEarly(err: TtsavError): Promise<never> {
    this.recorder.submitted++;
    this.recorder.fail(err.code);
    return Promise.reject(err);
  }

  private count(p: Promise<TranscodeResult>): Promise<TranscodeResult> {
    this.recorder.submitted++;
    return p.catch((err: unknown) => {
      const e = asTtsavError(err);
      this.recorder.fail(e.code);
      throw e;
    });
  }

  private detach(job: Job): void {
    for (const s of job.signals) s.removeEventListener('abort', job.onAbort);
    if (job.timer) clearTimeout(job.timer);
  }

  private dropQueued(job: Job, err: TtsavError): void {
    if (!this.queue.delete(job)) return;
    job.state = 'done';
    this.detach(job);
    this.recorder.fail(err.code);
    job.reject(err);
    this.notifySpace();
    this.checkIdle();
  }

  private canStart(bytes: number): boolean {
    if (this.running.size >= this.concurrency) return false;
    if (this.inFlightBytes + bytes <= this.budget) return true;
    return bytes > this.budget && this.running.size === 0; // an oversize job runs alone
  }

  private pump(): void {
    for (;;) {
      const head = this.queue.values().next();
      if (head.done) return;
      const job = head.value;
      if (!this.canStart(job.bytes)) {
        // A free slot, but not enough budget: count the job once as delayed by memory.
        if (this.running.size < this.concurrency && !job.budgetDelayed) {
          job.budgetDelayed = true;
          this.recorder.budgetDelayed++;
        }
        return;
      }
      this.queue.delete(job);
      this.start(job);
      this.notifySpace();
    }
  }

  private start(job: Job): void {
    const now = performance.now();
    job.state = 'running';
    this.running.add(job);
    this.inFlightBytes += job.bytes;
    const rec = this.recorder;
    rec.started++;
    if (job.bytes > this.budget) rec.oversize++;
    rec.inFlight(this.running.size, this.inFlightBytes);
    rec.queueWaitSeconds.observe((now - job.enqueuedAt) / 1000);
    const queueMs = now - job.enqueuedAt;
    if (this.auto && this.running.size === 1) this.auto.resume(now);

    if (job.task) {
      // pool.run(): the deadline reaches the task through its signal.
      if (job.deadline !== undefined) {
        if (job.timer) clearTimeout(job.timer);
        job.timer = setTimeout(() => job.controller.abort(deadlineReason(`the task ran past its timeout (${job.options.timeoutMs} ms)`)), Math.max(1, job.deadline - now));
        job.timer.unref();
      }
      let task: Promise<unknown>;
      try {
        task = job.task(job.controller.signal);
      } catch (err) {
        task = Promise.reject(err);
      }
      task.then(
        (value) => this.finish(job, now, value as TranscodeResult, undefined, true),
        (err: unknown) => this.finish(job, now, undefined, asTtsavError(err), true),
      );
      return;
    }
    const options: TranscodeOptions = { ...job.options, signal: job.controller.signal };
    if (job.deadline !== undefined) options.timeoutMs = Math.max(1, Math.ceil(job.deadline - now));
    else delete options.timeoutMs;
    let promise: Promise<TranscodeResult>;
    try {
      promise = transcode(job.input, options);
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (result) => this.finish(job, now, { ...result, queueMs }, undefined),
      (err: unknown) => this.finish(job, now, undefined, asTtsavError(err)),
    );
  }

  private finish(job: Job, startedAt: number, result: TranscodeResult | undefined, err: TtsavError | undefined, isTask = false): void {
    const now = performance.now();
    job.state = 'done';
    this.detach(job);
    this.running.delete(job);
    this.inFlightBytes -= job.bytes;
    const rec = this.recorder;
    rec.jobSeconds.observe((now - startedAt) / 1000);
    if (err) rec.fail(err.code);
    else if (isTask) rec.succeeded++;
    else rec.succeed(job.input.byteLength, result!.data.length, result!.durationSeconds, result!.timings, result!.warnings);
    if (this.auto) {
      this.auto.settled(result && !isTask ? result.durationSeconds : 0, now);
      if (this.running.size === 0 && this.queue.size === 0) this.auto.pause();
    }
    if (err) job.reject(err);
    else job.resolve(result!);
    this.pump();
    this.checkIdle();
  }

  /** Resolves once the queue has room (transcodeMany waits here instead of being refused). */
  waitForSpace(): Promise<void> {
    if (this.hasSpace()) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Room for a batch item: below maxQueue (with maxQueue 0, an empty queue: the item waits alone). */
  private hasSpace(): boolean {
    return this.closed || this.queue.size < Math.max(1, this.maxQueue);
  }

  private notifySpace(): void {
    while (this.spaceWaiters.length > 0 && this.hasSpace()) this.spaceWaiters.shift()!();
  }

  private checkIdle(): void {
    if (this.running.size > 0 || this.queue.size > 0) return;
    this.auto?.pause();
    if (!this.closed) return;
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
  }

  metrics(): PoolMetrics {
    return this.recorder.snapshot({
      queueDepth: this.queue.size,
      inFlightJobs: this.running.size,
      inFlightBytes: this.inFlightBytes,
      budgetBytes: this.budget,
      concurrency: this.concurrency,
      maxConcurrency: this.maxConcurrency,
    });
  }

  metricsText(): string {
    return toPrometheus(this.metrics(), this.prefix);
  }

  collector(): PoolCollector {
    return promClientCollector(() => this.metrics(), this.prefix);
  }

  get saturated(): boolean {
    if (this.closed || this.queue.size > 0 || this.running.size >= this.concurrency) return true;
    // A slot is free: saturated only if even a small job's estimate would not fit in what is left of the budget.
    return this.running.size > 0 && this.inFlightBytes >= this.budget;
  }

  ready(): boolean {
    if (this.closed) return false;
    return this.queue.size < this.maxQueue || this.running.size < this.concurrency;
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closed = true;
    this.notifySpace();
    if (options.cancel) {
      for (const job of [...this.queue]) this.dropQueued(job, new TtsavError('ERR_TTSAV_ABORTED', 'the transcode was aborted: the pool was closed'));
      for (const job of this.running) job.controller.abort(new Error('the pool was closed'));
    }
    if (this.running.size === 0 && this.queue.size === 0) {
      this.auto?.pause();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  transcodeMany<Id = unknown>(items: Iterable<BatchInput> | AsyncIterable<BatchInput>, options: BatchOptions = {}): Batch<Id> {
    return new BatchRun<Id>(this, items, options);
  }

  get readAheadDefault(): number {
    return Math.max(8, 2 * this.maxConcurrency);
  }
}

const BATCH_KEYS = new Set(['ordered', 'failFast', 'readAhead', 'total', 'onProgress']);

class BatchRun<Id> implements Batch<Id> {
  private started = false;
  private source: Iterator<BatchInput> | AsyncIterator<BatchInput> | undefined;
  private sourceDone = false;
  private reading = false;
  private inNext = false;
  private sourceClosed = false;
  /** Settles once the source's return() has run (or at once when there is nothing to close). */
  private sourceClosing?: Promise<void>;
  private sourceClosedResolve?: () => void;
  private pulled = 0;
  private yielded = 0;
  private pending = 0;
  private nextIndex = 0;
  private readonly ordered: boolean;
  private readonly failFast: boolean;
  private readonly readAhead: number;
  private readonly jobOptions: TranscodeOptions;
  private readonly onProgress: ((p: BatchProgress) => void) | undefined;
  private readonly ready = new Map<number, ItemResult<Id>>();
  private readonly completion: ItemResult<Id>[] = [];
  private readonly waiters: { resolve(r: IteratorResult<ItemResult<Id>>): void; reject(e: unknown): void }[] = [];
  private readonly itemControllers = new Set<AbortController>();
  private readonly userSignal: AbortSignal | undefined;
  private failure: unknown;
  private failureReported = false;
  private finished = false;
  private settleWaiters: (() => void)[] = [];
  private startedAt = 0;
  private total: number | undefined;
  private done = 0;
  private failed = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private audioSeconds = 0;

  constructor(
    private readonly pool: PoolImpl,
    private readonly items: Iterable<BatchInput> | AsyncIterable<BatchInput>,
    options: BatchOptions,
  ) {
    object('options', options);
    iterable('items', items);
    this.ordered = options.ordered ?? true;
    this.failFast = options.failFast ?? false;
    const readAhead = options.readAhead ?? pool.readAheadDefault;
    this.readAhead = integerAtLeast('readAhead', readAhead, 1);
    this.onProgress = options.onProgress === undefined ? undefined : func('onProgress', options.onProgress);
    if (options.total !== undefined) {
      this.total = integerAtLeast('total', options.total, 0);
    } else if (Array.isArray(items)) this.total = items.length;
    const jobOptions: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) if (!BATCH_KEYS.has(k) && k !== 'signal') jobOptions[k] = v;
    this.jobOptions = jobOptions as TranscodeOptions;
    // Validate the shared options once, up front (throws ERR_TTSAV_OPTIONS).
    normalizeOptions(this.jobOptions);
    this.userSignal = options.signal;
    if (this.userSignal !== undefined) normalizeOptions({ signal: this.userSignal });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  progress(): BatchProgress {
    const elapsedMs = this.started ? performance.now() - this.startedAt : 0;
    const p: BatchProgress = {
      done: this.done,
      failed: this.failed,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      audioSeconds: this.audioSeconds,
      elapsedMs,
    };
    if (this.total !== undefined) {
      p.total = this.total;
      if (this.done > 0) p.etaMs = Math.max(0, (elapsedMs / this.done) * (this.total - this.done));
    }
    return p;
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    this.startedAt = performance.now();
    if (this.userSignal) {
      if (this.userSignal.aborted) this.onUserAbort();
      else this.userSignal.addEventListener('abort', this.onUserAbort, { once: true });
    }
    if (this.failure === undefined) {
      const it = this.items as { [Symbol.asyncIterator]?: () => AsyncIterator<BatchInput>; [Symbol.iterator]?: () => Iterator<BatchInput> };
      try {
        this.source = it[Symbol.asyncIterator] ? it[Symbol.asyncIterator]!() : it[Symbol.iterator]!();
      } catch (err) {
        this.fail(err);
      }
    }
    this.fill();
  }

  private readonly onUserAbort = (): void => {
    this.fail(abortError(this.userSignal?.reason, 'the batch'));
  };

  /** Stops the batch: no more reads, pending items cancelled; next() reports `err` once. */
  private fail(err: unknown): void {
    if (this.failure !== undefined || this.finished) return;
    this.failure = err;
    this.stop();
    this.flush();
  }

  private stop(): void {
    // One controller per pending item (a shared signal would collect a listener per queued job).
    for (const c of this.itemControllers) c.abort(this.failure);
    this.itemControllers.clear();
    this.userSignal?.removeEventListener('abort', this.onUserAbort);
    if (!this.sourceDone) {
      this.sourceDone = true;
      // A source in the middle of next() is closed when that read returns (readOne); return() waits for it.
      if (!this.inNext) this.closeSource();
      else this.sourceClosing ??= new Promise<void>((resolve) => (this.sourceClosedResolve = resolve));
    }
  }

  /** Tells the source we are done with it (runs a generator's finally blocks), once. */
  private closeSource(): void {
    const done = this.sourceClosedResolve;
    this.sourceClosedResolve = undefined;
    if (this.sourceClosed) return done?.();
    this.sourceClosed = true;
    const src = this.source;
    if (!src?.return) return done?.();
    let closing: Promise<void>;
    try {
      closing = Promise.resolve(src.return()).then(() => undefined, () => undefined);
    } catch {
      // the source's own cleanup failed; there is no one to report it to
      closing = Promise.resolve();
    }
    if (done) void closing.then(done);
    else this.sourceClosing = closing;
  }

  private fill(): void {
    if (this.reading || this.sourceDone || this.failure !== undefined || !this.source) return;
    if (this.pulled - this.yielded >= this.readAhead) return;
    this.reading = true;
    void this.readOne();
  }

  private async readOne(): Promise<void> {
    let step: IteratorResult<BatchInput>;
    try {
      await this.pool.waitForSpace();
      if (this.failure !== undefined) {
        this.reading = false;
        return;
      }
      this.inNext = true;
      step = await this.source!.next();
    } catch (err) {
      this.inNext = false;
      this.reading = false;
      this.sourceClosed = true; // a source that threw is finished
      this.sourceDone = true;
      this.closeSource(); // only settles a return() waiting for this read

      this.fail(err);
      return;
    }
    this.inNext = false;
    this.reading = false;
    if (step.done) this.sourceClosed = true;
    if (this.failure !== undefined) {
      // Stopped while the source was reading: tell it now.
      this.closeSource();
      return;
    }
    if (step.done) {
      this.sourceDone = true;
      if (this.total === undefined || this.total !== this.pulled) this.total = this.pulled;
      this.flush();
      return;
    }
    this.submit(step.value, this.pulled++);
    this.fill();
  }

  private submit(item: BatchInput, index: number): void {
    let id: unknown = index;
    let input: unknown = item;
    let options: TranscodeOptions | undefined;
    if (!(item instanceof Uint8Array)) {
      if (typeof item === 'object' && item !== null && 'input' in item) {
        if (item.id !== undefined) id = item.id;
        input = item.input;
        options = item.options;
      } else input = undefined;
    }
    this.pending++;
    const settle = (result: TranscodeResult | undefined, error: TtsavError | undefined): void => {
      this.pending--;
      this.done++;
      if (result) {
        this.bytesIn += (input as Uint8Array).byteLength;
        this.bytesOut += result.data.length;
        this.audioSeconds += result.durationSeconds;
      } else {
        this.failed++;
        if (input instanceof Uint8Array) this.bytesIn += input.byteLength;
      }
      const entry = (result ? { id, index, result } : { id, index, error }) as ItemResult<Id>;
      if (this.failure === undefined) {
        if (this.ordered) this.ready.set(index, entry);
        else this.completion.push(entry);
        if (error && this.failFast) {
          this.fail(new TtsavError(error.code, `item ${String(id)} (index ${index}) failed: ${error.message}`, {
            stage: error.stage,
            averror: error.averror,
            detail: error.detail,
            reason: error.reason,
            cause: error,
          }));
        }
        if (this.failure === undefined && this.onProgress) {
          try {
            this.onProgress(this.progress());
          } catch (err) {
            this.fail(err);
          }
        }
      }
      this.flush();
      if (this.pending === 0) {
        const waiters = this.settleWaiters;
        this.settleWaiters = [];
        for (const w of waiters) w();
      }
    };
    if (!(input instanceof Uint8Array)) {
      settle(undefined, new TtsavError('ERR_TTSAV_OPTIONS', `Expected a Buffer, a Uint8Array or { id, input, options } for item ${index} but received ${item === null ? 'null' : typeof item}`));
      return;
    }
    const merged = options ? { ...this.jobOptions, ...options } : this.jobOptions;
    const controller = new AbortController();
    this.itemControllers.add(controller);
    this.pool.submit(input, merged, controller.signal, true).then(
      (r) => {
        this.itemControllers.delete(controller);
        settle(r, undefined);
      },
      (e: unknown) => {
        this.itemControllers.delete(controller);
        settle(undefined, asTtsavError(e));
      },
    );
  }

  /** Hands available results to waiting next() calls. */
  private flush(): void {
    while (this.waiters.length > 0) {
      if (this.failure !== undefined) {
        // Report the failure once the cancelled items have settled (their jobs have left the pool).
        if (this.pending > 0) return;
        const w = this.waiters.shift()!;
        if (!this.failureReported) {
          this.failureReported = true;
          this.finished = true;
          w.reject(this.failure);
        } else w.resolve({ done: true, value: undefined });
        continue;
      }
      let entry: ItemResult<Id> | undefined;
      if (this.ordered) {
        entry = this.ready.get(this.nextIndex);
        if (entry) this.ready.delete(this.nextIndex++);
      } else entry = this.completion.shift();
      if (entry) {
        this.yielded++;
        this.waiters.shift()!.resolve({ done: false, value: entry });
        this.fill();
        continue;
      }
      if (this.sourceDone && !this.reading && this.pending === 0 && this.yielded === this.pulled) {
        this.finished = true;
        this.stop();
        for (const w of this.waiters.splice(0)) w.resolve({ done: true, value: undefined });
      }
      return;
    }
  }

  next(): Promise<IteratorResult<ItemResult<Id>>> {
    if (this.finished) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.begin();
      this.flush();
    });
  }

  /** Leaving a for-await loop early: cancels what is pending and waits until it has settled. */
  async return(): Promise<IteratorResult<ItemResult<Id>>> {
    if (!this.finished) {
      this.finished = true;
      if (this.failure === undefined) this.failure = new TtsavError('ERR_TTSAV_ABORTED', 'the batch was closed');
      this.failureReported = true;
      this.stop();
      for (const w of this.waiters.splice(0)) w.resolve({ done: true, value: undefined });
    }
    if (this.pending > 0) await new Promise<void>((resolve) => this.settleWaiters.push(resolve));
    // A generator source has run its finally blocks when the for-await loop that broke out moves on.
    if (this.sourceClosing) await this.sourceClosing;
    return { done: true, value: undefined };
  }

  async throw(err?: unknown): Promise<IteratorResult<ItemResult<Id>>> {
    await this.return();
    throw err;
  }
}

/** Creates a pool: a queue in front of transcode() with a concurrency cap and a memory budget. */
export function createPool(options?: PoolOptions): Pool {
  return new PoolImpl(options);
}
