/**
 * The pool: a queue in front of transcode() that admits jobs by a concurrency cap and a memory budget (admission.ts),
 * honours each job's signal and timeout while it waits, keeps metrics, and runs batches on the batch engine.
 */
import { AutoConcurrency, type AutoDecision } from '../autotune';
import { WORKING_BYTES, estimateJob } from '../budget';
import { TtsavError, asTtsavError, deadlineReason, stoppedError } from '../errors';
import { loadNative, type NativeQueue } from '../native';
import { TtsWorkers, type TtsWorkerSource } from './tts';
import { MetricsRecorder, promClientCollector, toPrometheus, type PoolCollector, type PoolMetrics } from '../metrics';
import { normalizeOptions, type NormalizedOptions, type TranscodeOptions } from '../options';
import { startQueuedTranscode, transcode, type TranscodeResult } from '../transcode';
import { estimatePreparedVoiceover, prepareVoiceover, runVoiceover, type PreparedVoiceover, type VoiceoverOptions, type VoiceoverResult } from '../voiceover';
import { func, integer, integerAtLeast, invalidOption, iterable, metricName, object, oneOf } from '../validate';
import { Admission } from './admission';
import { BatchRun } from './batch';
import { defaultBudget, defaultConcurrency, warnThreadpool } from './defaults';
import type { Batch, BatchInput, BatchOptions, BatchProgress, CloseOptions, Pool, PoolOptions, RunOptions } from './types';

interface Job {
  input: Uint8Array;
  options: TranscodeOptions;
  /** A transcode's options, validated and normalized once, at submit. */
  normalized?: NormalizedOptions;
  bytes: number;
  enqueuedAt: number;
  deadline?: number;
  signals: AbortSignal[];
  /** Stops the job once started (a transcode's native job, or a pool.run() task's signal); a no-op before. */
  abort(reason: unknown): void;
  timer?: NodeJS.Timeout;
  /** ahead: admitted ahead into the native queue while every slot is busy (admission.ts). */
  state: 'queued' | 'ahead' | 'running' | 'done';
  /** When it started (for job_duration_seconds). */
  startedAt?: number;
  /** It went ahead: the pool's timer, not transcode()'s, enforces its deadline. */
  wentAhead?: boolean;
  budgetDelayed?: boolean;
  /** pool.run(): the work to do instead of a transcode. */
  task?: (signal: AbortSignal) => Promise<unknown>;
  resolve(result: TranscodeResult): void;
  reject(err: TtsavError): void;
  onAbort(): void;
}

const noop = (): void => {};

/** The linked libav's demuxer names, for an inputFormat option (the addon is loaded only when one is given). */
const demuxers = (): readonly string[] => loadNative().demuxers();

/** Batch options that are not transcode options. */
const BATCH_KEYS = new Set(['ordered', 'failFast', 'readAhead', 'total', 'onProgress', 'signal']);

class PoolImpl implements Pool {
  private readonly admission: Admission<Job>;
  private readonly fixed: number;
  private readonly maxConcurrency: number;
  private readonly auto: AutoConcurrency | undefined;
  private readonly oversize: 'alone' | 'reject';
  private readonly defaults: TranscodeOptions;
  private readonly estimate: ((input: Uint8Array, options: TranscodeOptions) => number) | undefined;
  private readonly prefix: string;
  private readonly recorder = new MetricsRecorder();
  private closeWaiters: (() => void)[] = [];
  private readonly tts = new TtsWorkers();
  /** The pool's native job queue (made on the first transcode), and the limit it was last given. */
  private nativeQueue: NativeQueue | undefined;
  private nativeLimit = 0;
  /** pool.run() tasks running: while any does, no transcode goes ahead (the native queue would run it beside the
   *  task, one more than the concurrency). */
  private runningTasks = 0;
  private readonly canGoAhead = (job: Job): boolean => !job.task && this.runningTasks === 0;

  constructor(options: PoolOptions = {}) {
    object('options', options);
    const { concurrency, maxConcurrency } = options;
    if (concurrency === 'auto') {
      this.maxConcurrency = maxConcurrency === undefined ? defaultConcurrency() : integer('maxConcurrency', maxConcurrency, 1, 1024);
      this.auto = new AutoConcurrency(this.maxConcurrency, options.auto);
      this.fixed = 0;
    } else {
      this.fixed = concurrency === undefined ? defaultConcurrency() : integer('concurrency', concurrency, 1, 1024);
      this.maxConcurrency = this.fixed;
    }
    warnThreadpool(this.maxConcurrency);
    const budget = options.maxInFlightBytes ?? defaultBudget();
    if (typeof budget !== 'number' || !(budget > 0)) throw invalidOption('maxInFlightBytes', 'a positive number of bytes', budget);
    const maxQueue = options.maxQueue ?? Infinity;
    if (maxQueue !== Infinity) integerAtLeast('maxQueue', maxQueue, 0);
    this.admission = new Admission<Job>(budget, maxQueue, () => this.concurrency, () => this.recorder.budgetDelayed++, () => this.ttsStats().reservedBytes);
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

  voiceover(options: VoiceoverOptions): Promise<VoiceoverResult> {
    let p: PreparedVoiceover;
    try {
      p = prepareVoiceover(options);
    } catch (err) {
      return Promise.reject(err);
    }
    const calledAt = performance.now();
    // The memory estimate needs the durations the headers declare: read first (a short job outside admission).
    return estimatePreparedVoiceover(p).then((estimate) => {
      const run: RunOptions = { bytes: estimate.bytes };
      if (p.signal) run.signal = p.signal;
      // The pool owns the signal and the deadline (from the call, waiting and the header read included): the job
      // gets the task's signal.
      if (p.timeoutMs !== undefined) run.timeoutMs = Math.max(1, p.timeoutMs - (performance.now() - calledAt));
      const { signal: _signal, timeoutMs: _timeout, ...job } = p;
      return this.run(async (signal) => {
        const queueMs = performance.now() - calledAt;
        return { ...(await runVoiceover({ ...job, signal })), queueMs };
      }, run);
    });
  }

  /** Queues one job. `extra` is a batch item's signal; `custom` a pool.run() task instead of a transcode. */
  private submit(
    input: Buffer | Uint8Array,
    options: TranscodeOptions | undefined,
    extra: AbortSignal | undefined,
    waited = false,
    custom?: { task: (signal: AbortSignal) => Promise<unknown>; bytes: number },
  ): Promise<TranscodeResult> {
    const merged: TranscodeOptions = custom ? { ...options } : { ...this.defaults, ...options };
    const admission = this.admission;
    if (admission.closed) return this.failEarly(new TtsavError('ERR_TTSAV_BUSY', 'the pool is closed', { reason: 'closed' }));
    // transcode() owns input and option validation: hand it what it would refuse.
    if (!(input instanceof Uint8Array)) return this.count(transcode(input, merged));
    let bytes: number;
    let normalized: NormalizedOptions | undefined;
    try {
      if (custom) bytes = custom.bytes;
      else {
        normalized = normalizeOptions(merged, demuxers);
        bytes = this.estimateOf(input, merged, normalized);
      }
    } catch (err) {
      return this.failEarly(asTtsavError(err));
    }
    if (bytes > admission.budget && this.oversize === 'reject')
      return this.failEarly(new TtsavError('ERR_TTSAV_LIMIT', `the job's estimated memory (${bytes} bytes) exceeds the pool's maxInFlightBytes (${admission.budget})`, { reason: 'job-memory' }));
    const signals = [merged.signal, extra].filter((s): s is AbortSignal => s !== undefined);
    const aborted = signals.find((s) => s.aborted);
    if (aborted) return this.failEarly(stoppedError(aborted.reason, 'the transcode'));
    if (!waited && admission.full(bytes))
      return this.failEarly(new TtsavError('ERR_TTSAV_BUSY', `the pool's queue is full (maxQueue ${admission.maxQueue})`, { reason: 'queue-full' }));

    this.recorder.submitted++;
    return new Promise<TranscodeResult>((resolve, reject) => {
      const now = performance.now();
      const job: Job = {
        input,
        options: merged,
        ...(normalized ? { normalized } : {}),
        bytes,
        enqueuedAt: now,
        signals,
        abort: noop,
        state: 'queued',
        resolve,
        reject,
        ...(custom ? { task: custom.task } : {}),
        onAbort: () => {
          const reason = signals.find((s) => s.aborted)?.reason;
          if (job.state === 'queued') this.dropQueued(job, stoppedError(reason, 'the transcode'));
          else if (job.state === 'ahead') this.dropAhead(job, stoppedError(reason, 'the transcode'));
          else if (job.state === 'running') job.abort(reason);
        },
      };
      for (const s of signals) s.addEventListener('abort', job.onAbort, { once: true });
      if (merged.timeoutMs !== undefined) {
        job.deadline = now + merged.timeoutMs;
        job.timer = setTimeout(() => {
          const queued = (): TtsavError => new TtsavError('ERR_TTSAV_TIMEOUT', `the transcode ran past its timeout (${merged.timeoutMs} ms) while queued`);
          if (job.state === 'queued') this.dropQueued(job, queued());
          else if (job.state === 'ahead') this.dropAhead(job, queued());
          // A transcode that went ahead has no timer of transcode()'s own (see start()).
          else if (job.state === 'running' && job.wentAhead)
            job.abort(deadlineReason(`the transcode ran past its timeout (${merged.timeoutMs} ms)`));
        }, merged.timeoutMs);
        job.timer.unref();
      }
      admission.enqueue(job);
      this.pump();
    });
  }

  /** A transcode's memory estimate; refuses an input over maxInputBytes (a definite no goes before a queue-full
   *  maybe-later). */
  private estimateOf(input: Uint8Array, options: TranscodeOptions, normalized: NormalizedOptions): number {
    if (normalized.maxInputBytes !== undefined && input.byteLength > normalized.maxInputBytes)
      throw new TtsavError('ERR_TTSAV_LIMIT', `input is ${input.byteLength} bytes, over maxInputBytes (${normalized.maxInputBytes})`, { reason: 'input-size' });
    const bytes = this.estimate ? this.estimate(input, options) : estimateJob(input.byteLength, normalized).bytes;
    if (typeof bytes !== 'number' || !(bytes >= 0)) throw new TtsavError('ERR_TTSAV_OPTIONS', `estimateBytes returned ${String(bytes)}, not a number of bytes`);
    return bytes;
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

  /** A job that never ran (queued, or ahead in the native queue) fails with `err`. */
  private failUnrun(job: Job, err: TtsavError): void {
    job.state = 'done';
    this.detach(job);
    this.recorder.fail(err.code);
    job.reject(err);
  }

  private dropQueued(job: Job, err: TtsavError): void {
    if (!this.admission.dequeue(job)) return;
    this.failUnrun(job, err);
    this.checkIdle();
  }

  /** A job ahead that was cancelled or timed out before it ran: settled now; its native job leaves the native
   *  queue (its abort cancels it there) without running. */
  private dropAhead(job: Job, err: TtsavError): void {
    if (!this.admission.dropAhead(job)) return;
    this.failUnrun(job, err);
    job.abort(err);
    this.pump();
    this.checkIdle();
  }

  /** Jobs ahead take the free slots first (the native queue starts them in that order), then queued jobs start, then
   *  the queue's head goes ahead while every slot is busy (up to `concurrency` of them, within the budget). */
  private pump(): void {
    const a = this.admission;
    for (let job = a.promote(); job; job = a.promote()) this.began(job);
    for (let job = a.admit(); job; job = a.admit()) this.start(job, false);
    for (let job = a.admitAhead(this.concurrency, this.canGoAhead); job; job = a.admitAhead(this.concurrency, this.canGoAhead))
      this.start(job, true);
  }

  /** The pool's native job queue, its limit kept at the concurrency (which moves with 'auto'). */
  private queue(): NativeQueue {
    const limit = this.concurrency;
    if (!this.nativeQueue) this.nativeQueue = loadNative().queueCreate(limit);
    else if (limit !== this.nativeLimit) loadNative().queueSetLimit(this.nativeQueue, limit);
    this.nativeLimit = limit;
    return this.nativeQueue;
  }

  /** The job runs from now on (started directly, or promoted from ahead, where its native job has just begun). */
  private began(job: Job, now = performance.now()): void {
    job.state = 'running';
    job.startedAt = now;
    const rec = this.recorder;
    rec.started++;
    if (job.bytes > this.admission.budget) rec.oversize++;
    if (job.task) this.runningTasks++;
    rec.inFlight(this.admission.running.size, this.admission.inFlightBytes);
    rec.queueWaitSeconds.observe((now - job.enqueuedAt) / 1000);
    if (this.auto && this.admission.running.size === 1) this.auto.resume(now);
  }

  private start(job: Job, ahead: boolean): void {
    const now = performance.now();
    if (ahead) {
      job.state = 'ahead';
      job.wentAhead = true;
      this.recorder.inFlight(this.admission.running.size, this.admission.inFlightBytes);
    } else this.began(job, now);

    let work: Promise<unknown>;
    try {
      if (job.task) {
        const controller = new AbortController();
        job.abort = (reason) => controller.abort(reason);
        // pool.run(): the deadline reaches the task through its signal.
        if (job.deadline !== undefined) {
          if (job.timer) clearTimeout(job.timer);
          job.timer = setTimeout(() => job.abort(deadlineReason(`the task ran past its timeout (${job.options.timeoutMs} ms)`)), Math.max(1, job.deadline - now));
          job.timer.unref();
        }
        work = job.task(controller.signal);
      } else {
        // The transcode's own timeout is what is left of the deadline, so its native job stops on its own. One that
        // goes ahead waits in the native queue first: the pool's timer, not transcode()'s, times it out (as queued
        // while it is ahead). queueMs: the wait here plus the wait in the native queue.
        // No AbortSignal per job: the pool cancels the native job through the run's abort().
        const base = job.normalized!;
        let normalized = base;
        if (job.deadline !== undefined) {
          const timeoutMs = Math.max(1, Math.ceil(job.deadline - now));
          normalized = { ...base, timeoutMs, native: { ...base.native, timeoutMs } };
        }
        const run = startQueuedTranscode(this.queue(), job.input, normalized, !ahead, now - job.enqueuedAt);
        job.abort = run.abort;
        work = run.promise;
      }
    } catch (err) {
      work = Promise.reject(err);
    }
    work.then(
      (value) => this.finish(job, value as TranscodeResult, undefined),
      (err: unknown) => this.finish(job, undefined, asTtsavError(err)),
    );
  }

  private finish(job: Job, result: TranscodeResult | undefined, err: TtsavError | undefined): void {
    // Settled already (dropped while ahead): its native job left the queue unrun.
    if (job.state === 'done') return;
    const now = performance.now();
    // Not expected (a job ahead settles after the job before it, which promotes it), but if it does: it ran.
    if (job.state === 'ahead' && this.admission.dropAhead(job)) {
      this.admission.inFlightBytes += job.bytes;
      this.admission.running.add(job);
      this.began(job, now);
    }
    job.state = 'done';
    this.detach(job);
    this.admission.release(job);
    if (job.task) this.runningTasks--;
    const rec = this.recorder;
    rec.jobSeconds.observe((now - (job.startedAt ?? now)) / 1000);
    const transcoded = !job.task && result !== undefined;
    if (err) rec.fail(err.code);
    else if (!transcoded) rec.succeeded++;
    else rec.succeed(job.input.byteLength, result!.data.length, result!.durationSeconds, result!.timings, result!.warnings);
    if (this.auto) {
      this.auto.settled(transcoded ? result!.durationSeconds : 0, now);
      if (this.admission.idle) this.auto.pause();
      if (this.nativeQueue && this.nativeLimit !== this.concurrency) this.queue();
    }
    if (err) job.reject(err);
    else job.resolve(result!);
    this.pump();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (!this.admission.idle) return;
    this.auto?.pause();
    if (!this.admission.closed) return;
    for (const w of this.closeWaiters.splice(0)) w();
  }

  /** Counts an engine's workers in this pool from now on (while it has any). */
  trackTts(source: TtsWorkerSource): void {
    this.tts.add(source);
  }

  private ttsStats(): PoolMetrics['tts'] {
    return this.tts.stats();
  }

  metrics(): PoolMetrics {
    const a = this.admission;
    return this.recorder.snapshot({
      queueDepth: a.waiting,
      inFlightJobs: a.running.size,
      inFlightBytes: a.inFlightBytes,
      budgetBytes: a.budget,
      concurrency: this.concurrency,
      maxConcurrency: this.maxConcurrency,
      tts: this.ttsStats(),
    });
  }

  metricsText(): string {
    return toPrometheus(this.metrics(), this.prefix);
  }

  collector(): PoolCollector {
    return promClientCollector(() => this.metrics(), this.prefix);
  }

  get saturated(): boolean {
    return this.admission.saturated;
  }

  ready(): boolean {
    const a = this.admission;
    return !a.closed && (a.waiting < a.maxQueue || a.running.size < this.concurrency);
  }

  close(options: CloseOptions = {}): Promise<void> {
    const a = this.admission;
    a.closed = true;
    a.notifySpace();
    if (options.cancel) {
      for (const job of [...a.queue]) this.dropQueued(job, new TtsavError('ERR_TTSAV_ABORTED', 'the transcode was aborted: the pool was closed'));
      for (const job of [...a.ahead]) this.dropAhead(job, new TtsavError('ERR_TTSAV_ABORTED', 'the transcode was aborted: the pool was closed'));
      for (const job of a.running) job.abort(new Error('the pool was closed'));
    }
    if (a.idle) {
      this.auto?.pause();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  transcodeMany<Id = unknown>(items: Iterable<BatchInput> | AsyncIterable<BatchInput>, options: BatchOptions = {}): Batch<Id> {
    object('options', options);
    iterable('items', items);
    const jobOptions: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) if (!BATCH_KEYS.has(k)) jobOptions[k] = v;
    // Validate the shared options once, up front (throws ERR_TTSAV_OPTIONS).
    normalizeOptions(jobOptions);
    if (options.signal !== undefined) normalizeOptions({ signal: options.signal });
    const settings = {
      ordered: options.ordered ?? true,
      failFast: options.failFast ?? false,
      readAhead: integerAtLeast('readAhead', options.readAhead ?? Math.max(8, 2 * this.maxConcurrency), 1),
      ...(options.total !== undefined ? { total: integerAtLeast('total', options.total, 0) } : {}),
      ...(options.onProgress !== undefined ? { onProgress: func<(p: BatchProgress) => void>('onProgress', options.onProgress) } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    };
    return new BatchRun<BatchInput, TranscodeResult, Id>(items, {
      what: 'the batch',
      waitForSpace: () => this.admission.waitForSpace(),
      measure: (r) => ({ bytesOut: r.data.length, audioSeconds: r.durationSeconds }),
      item: (value, index) => {
        const item = value instanceof Uint8Array ? { input: value } : typeof value === 'object' && value !== null && 'input' in value ? value : undefined;
        const id = item && 'id' in item && item.id !== undefined ? item.id : index;
        const input = item?.input;
        if (!(input instanceof Uint8Array))
          return { id, bytesIn: 0, error: new TtsavError('ERR_TTSAV_OPTIONS', `Expected a Buffer, a Uint8Array or { id, input, options } for item ${index} but received ${value === null ? 'null' : typeof value}`) };
        const own = 'options' in item! ? item.options : undefined;
        const merged = own ? { ...jobOptions, ...own } : jobOptions;
        return { id, bytesIn: input.byteLength, run: (signal) => this.submit(input, merged, signal, true) };
      },
    }, settings);
  }
}

/**
 * speak() through a pool: an engine with worker threads (workerStats() and workerBytes, as the espeak engine has)
 * counts in the pool's tts metrics and memory budget. Anything else (another engine, a pool-like object) is left
 * alone.
 */
export function trackTtsWorkers(pool: unknown, engine: unknown): void {
  const e = engine as Partial<TtsWorkerSource> | null;
  if (!(pool instanceof PoolImpl) || typeof e !== 'object' || e === null) return;
  if (typeof e.workerStats === 'function' && typeof e.workerBytes === 'number') pool.trackTts(e as TtsWorkerSource);
}

/** Creates a pool: a queue in front of transcode() with a concurrency cap and a memory budget. */
export function createPool(options?: PoolOptions): Pool {
  return new PoolImpl(options);
}
