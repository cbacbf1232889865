/**
 * createWorker(): the consumer side. One BullMQ Worker per queue (offline jobs, EdgeTTS jobs) feeding one
 * createPool(); each job synthesizes or reads its input, transcodes, and writes its output to the storage whole.
 *
 * Exactly-once outputs on an at-least-once queue: an output is written only whole (Storage.put), and a job whose
 * output already exists returns { skipped: true } without doing the work again (a retry after a worker died
 * between the write and BullMQ's acknowledgement, or a job re-added after its output was made).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Job, Queue, Worker, WorkerOptions as BullWorkerOptions } from 'bullmq';
import { TtsavError, asTtsavError, type TtsavErrorCode } from '../errors';
import { integerOr, invalidOption, object, withMethods } from '../validate';
import { createPool, defaultConcurrency, type Pool, type PoolOptions } from '../pool';
import type { Loudness, StageTimings } from '../transcode';
import { edge } from '../tts/edge';
import { espeak } from '../tts/espeak';
import type { SynthesizeOptions, TtsEngine } from '../tts/types';
import { bullmq } from './deps';
import { checkJob, connectionOptions, queueNames, transcodeOptionsOf, type Connection, type QueueJob } from './jobs';
import { countsOf } from './queue';
import type { Storage } from './storage';

export interface WorkerOptions {
  connection: Connection;
  /** Queue name (default 'ttsav'); the EdgeTTS jobs are taken from '<name>-edge'. */
  name?: string;
  /** Where inputs are read and outputs written. */
  storage: Storage;
  /** Offline jobs at once, and the pool's transcode concurrency: a number, or 'auto' (the pool adapts; BullMQ
   *  keeps twice the default concurrency of jobs in hand so that the pool always has the next one). Default: the
   *  pool's default (min(cores, UV_THREADPOOL_SIZE or 4)). */
  concurrency?: number | 'auto';
  /** Offline jobs BullMQ hands this worker beyond `concurrency` (default 1): they are fetched, checked against
   *  the storage and have their input read while the jobs before them are worked, so the next transcode starts
   *  as soon as one ends, while the previous output is still being flushed (fsync) and acknowledged. Such a job
   *  has not started its work when the worker closes: it goes back to the queue for another worker. 0: strictly
   *  `concurrency` jobs in hand. */
  prefetch?: number;
  /** EdgeTTS jobs at once on this worker (they wait on the network, not the CPU). Default 4. */
  ttsConcurrency?: number;
  /** BullMQ limiter of the EdgeTTS queue, shared by every worker: at most `max` jobs start per `duration` ms.
   *  Default { max: 4, duration: 1000 }. After an HTTP 429 the whole EdgeTTS queue pauses for rateLimitMs. */
  limiter?: { max: number; duration: number };
  /** Pause of the EdgeTTS queue (all workers) after the service answered 429. Default 30000 ms. */
  rateLimitMs?: number;
  /** Engines for 'espeak' and 'edge' jobs (default: espeak() and edge() owned and closed by the worker). */
  engines?: { espeak?: TtsEngine; edge?: TtsEngine };
  /** The pool's other options (budget, limits, defaults, metricsPrefix). */
  pool?: Omit<PoolOptions, 'concurrency'>;
  /** Passed to both BullMQ Workers (lockDuration, stalledInterval, maxStalledCount, …). */
  bullmq?: Partial<Omit<BullWorkerOptions, 'connection' | 'concurrency' | 'limiter' | 'autorun'>>;
  /** Close gracefully on SIGTERM and SIGINT (default false; the CLI's worker sets it). */
  handleSignals?: boolean;
}

/** What a job returns (BullMQ keeps it as the job's returnvalue). */
export type JobOutcome =
  | { output: string; skipped: true; reason: 'exists'; worker: string }
  | {
      output: string;
      skipped: false;
      bytes: number;
      durationSeconds: number;
      format: string;
      mimeType: string;
      sampleRate: number;
      channels: number;
      loudness?: Loudness;
      /** ms: queued → started, waiting for a work slot (a prefetched job), synthesis, transcode (the native
       *  stages in `stages`), storage put, whole job (from this worker's start on it, slot wait included). */
      timings: { queued: number; slot: number; tts: number; transcode: number; put: number; total: number; stages: StageTimings };
      tts?: { engine: string; voice: string; requests: number; durationSeconds: number };
      worker: string;
    };

export interface QueueWorkerMetrics {
  completed: number;
  skipped: number;
  failedPermanent: number;
  failedTransient: number;
  rateLimited: number;
  inFlight: number;
  /** Sum of whole-job times of completed (not skipped) jobs, ms. */
  processingMsSum: number;
}

export interface TtsavWorker {
  /** The BullMQ Workers (offline queue, EdgeTTS queue). */
  readonly workers: { main: Worker; edge: Worker };
  readonly pool: Pool;
  metrics(): QueueWorkerMetrics;
  /** The pool's Prometheus text plus ttsav_queue_* (this worker's counters and the queues' job counts). */
  metricsText(): Promise<string>;
  /** Resolves once both BullMQ Workers are connected and taking jobs. */
  ready(): Promise<void>;
  /** Stops taking jobs, lets the jobs in flight finish (and their outputs be written), then releases the pool,
   *  engines and connections. Jobs not started stay queued for other workers. Idempotent. */
  close(): Promise<void>;
}

/** Errors that the same job would hit again: failed at once (BullMQ UnrecoverableError), never retried. */
export const PERMANENT_CODES: ReadonlySet<TtsavErrorCode> = new Set<TtsavErrorCode>([
  'ERR_TTSAV_INVALID_DATA',
  'ERR_TTSAV_OPTIONS',
  'ERR_TTSAV_UNSUPPORTED',
  'ERR_TTSAV_LIMIT',
]);


const positiveInt = (name: string, v: unknown, fallback: number): number => integerOr(name, v, fallback, 1, 10_000);

export function createWorker(options: WorkerOptions): TtsavWorker {
  object('options', options, 'an object { connection, storage, … }');
  const storage = withMethods<Storage>('storage', options.storage, ['get', 'put', 'exists'], 'a Storage { get, put, exists } (fileStorage(dir), s3Storage({ bucket, client }))');
  const conc = options.concurrency;
  if (conc !== undefined && conc !== 'auto') positiveInt('concurrency', conc, 1);
  const prefetch = integerOr('prefetch', options.prefetch, 1, 0, 10_000);
  const ttsConcurrency = positiveInt('ttsConcurrency', options.ttsConcurrency, 4);
  const limiter = options.limiter ?? { max: 4, duration: 1000 };
  if (typeof limiter !== 'object' || limiter === null || !(limiter.max >= 1) || !(limiter.duration >= 1)) throw invalidOption('limiter', '{ max >= 1, duration >= 1 ms }', limiter);
  const rateLimitMs = positiveInt('rateLimitMs', options.rateLimitMs, 30_000);
  const names = queueNames(options.name ?? 'ttsav');
  const connection = connectionOptions(options.connection, true);
  const { Worker: BullWorker, Queue: BullQueue, UnrecoverableError } = bullmq();

  const pool = createPool({ ...options.pool, concurrency: conc ?? defaultConcurrency() });
  const mainConcurrency = conc === 'auto' ? Math.max(2, 2 * defaultConcurrency()) : (conc ?? defaultConcurrency());
  const owned: TtsEngine[] = [];
  const engines: { espeak?: TtsEngine; edge?: TtsEngine } = { ...options.engines };
  const engineFor = (name: 'espeak' | 'edge'): TtsEngine => {
    let e = engines[name];
    if (!e) {
      e = name === 'edge' ? edge() : espeak({ workers: Math.max(1, Math.min(2, mainConcurrency)) });
      engines[name] = e;
      owned.push(e);
    }
    return e;
  };
  const whoami = `${os.hostname()}:${process.pid}`;
  const m: QueueWorkerMetrics = { completed: 0, skipped: 0, failedPermanent: 0, failedTransient: 0, rateLimited: 0, inFlight: 0, processingMsSum: 0 };
  let edgeQueue: Queue | undefined;

  // Work slots of the offline queue: `mainConcurrency` jobs synthesize and transcode at once; BullMQ holds
  // `prefetch` more, which wait here with their input read. A slot is given back when the transcode ends, so the
  // next job's work overlaps the previous job's put and acknowledgement.
  let freeSlots = mainConcurrency;
  const slotWaiters: (() => void)[] = [];
  const takeSlot = (): Promise<void> | undefined => {
    if (freeSlots > 0) {
      freeSlots--;
      return undefined;
    }
    return new Promise((resolve) => slotWaiters.push(resolve));
  };
  const giveSlot = (): void => {
    const next = slotWaiters.shift();
    if (next) next();
    else freeSlots++;
  };
  /** Thrown by a job that had not started when its worker began closing: BullMQ puts it back in the queue. */
  class NotStarted extends Error {}

  async function run(job: Job<QueueJob>): Promise<JobOutcome> {
    const t0 = performance.now();
    const data = checkJob(job.data);
    // The output's existence and the stored input are asked for at once (one round trip less on S3); the input
    // is dropped when the output exists.
    const [exists, got] = await Promise.all([
      storage.exists(data.output),
      'input' in data ? storage.get(data.input).then((b) => ({ b }), (err: unknown) => ({ err })) : undefined,
    ]);
    if (exists) {
      m.skipped++;
      return { output: data.output, skipped: true, reason: 'exists', worker: whoami };
    }
    const slotted = job.queueName === names.main;
    const ts = performance.now();
    if (slotted) {
      const wait = takeSlot();
      if (wait) await wait;
      if (closing !== undefined || main.closing !== undefined) {
        giveSlot();
        throw new NotStarted();
      }
    }
    m.inFlight++;
    try {
      return await work(job, data, got, t0, performance.now() - ts);
    } finally {
      m.inFlight--;
      if (slotted) releaseIfHeld(job);
    }
  }

  // A job gives its slot back once its transcode is over (or on its way out, whichever comes first).
  const holding = new Set<Job>();
  const releaseIfHeld = (job: Job): void => {
    if (holding.delete(job)) giveSlot();
  };

  async function work(job: Job<QueueJob>, data: QueueJob, got: { b?: Buffer; err?: unknown } | undefined, t0: number, slot: number): Promise<JobOutcome> {
    if (job.queueName === names.main) holding.add(job);
    const opts: Record<string, unknown> = { ...transcodeOptionsOf(data) };
    let input: Buffer;
    let tts: { engine: string; voice: string; requests: number; durationSeconds: number } | undefined;
    const t1 = performance.now();
    if ('text' in data) {
      const engine = engineFor(data.engine ?? 'espeak');
      const synth: SynthesizeOptions = {};
      for (const k of ['voice', 'rate', 'pitch', 'volume'] as const) if (data[k] !== undefined) synth[k] = data[k];
      engine.validate(synth);
      const s = await engine.synthesize(data.text, synth);
      if (s.bytes === 0) throw new TtsavError('ERR_TTSAV_TTS', `${engine.name} produced no audio`);
      input = s.chunks.length === 1 ? s.chunks[0]! : Buffer.concat(s.chunks, s.bytes);
      opts.inputFormat ??= engine.format.container;
      tts = { engine: engine.name, voice: s.voice, requests: s.requests, durationSeconds: s.durationSeconds };
    } else {
      if (got?.err !== undefined) throw got.err;
      if (got?.b === undefined) throw new TtsavError('ERR_TTSAV_INVALID_DATA', `input ${data.input} is not in ${storage.url}`);
      input = got.b;
    }
    const t2 = performance.now();
    const r = await pool.transcode(input, opts);
    releaseIfHeld(job);
    const t3 = performance.now();
    await storage.put(data.output, r.data, { contentType: r.mimeType, metadata: { 'duration-seconds': String(r.durationSeconds) } });
    const t4 = performance.now();
    const outcome: JobOutcome = {
      output: data.output,
      skipped: false,
      bytes: r.data.length,
      durationSeconds: r.durationSeconds,
      format: r.format,
      mimeType: r.mimeType,
      sampleRate: r.sampleRate,
      channels: r.channels,
      timings: {
        queued: Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp),
        slot,
        tts: t2 - t1,
        transcode: t3 - t2,
        put: t4 - t3,
        total: t4 - t0,
        stages: r.timings,
      },
      worker: whoami,
    };
    if (r.loudness) outcome.loudness = r.loudness;
    if (tts) outcome.tts = tts;
    m.completed++;
    m.processingMsSum += t4 - t0;
    return outcome;
  }

  async function processor(job: Job<QueueJob>): Promise<JobOutcome> {
    try {
      return await run(job);
    } catch (raw) {
      // Not started before the worker began closing: back to waiting, no attempt spent, for another worker.
      if (raw instanceof NotStarted) throw BullWorker.RateLimitError();
      const err = asTtsavError(raw);
      const reason = `${err.code}: ${err.message}`;
      if (PERMANENT_CODES.has(err.code)) {
        m.failedPermanent++;
        throw new UnrecoverableError(reason);
      }
      if (job.queueName === names.edge && err.code === 'ERR_TTSAV_TTS' && err.detail === 'HTTP 429') {
        // The service's budget is shared by every worker: pause the whole EdgeTTS queue, and put this job back
        // without spending one of its attempts.
        m.rateLimited++;
        edgeQueue ??= new BullQueue(names.edge, { connection: connectionOptions(options.connection, false) });
        await edgeQueue.rateLimit(rateLimitMs);
        throw BullWorker.RateLimitError();
      }
      m.failedTransient++;
      const e = new Error(reason);
      (e as Error & { code?: string }).code = err.code;
      throw e;
    }
  }

  const common = { connection, metrics: { maxDataPoints: 60 * 24 }, ...options.bullmq };
  const main = new BullWorker<QueueJob, JobOutcome>(names.main, processor, { ...common, concurrency: mainConcurrency + prefetch });
  const edgeWorker = new BullWorker<QueueJob, JobOutcome>(names.edge, processor, { ...common, concurrency: ttsConcurrency, limiter });
  // Connection errors (Redis restarting) are retried by BullMQ; a listener keeps them from being unhandled.
  for (const w of [main, edgeWorker]) w.on('error', () => undefined);

  let closing: Promise<void> | undefined;
  const onSignal = (): void => void close();
  if (options.handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  function close(): Promise<void> {
    closing ??= (async () => {
      if (options.handleSignals) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
      await Promise.all([main.close(), edgeWorker.close()]);
      await pool.close();
      await edgeQueue?.close();
      await Promise.all(owned.map((e) => e.close?.()));
    })();
    return closing;
  }

  let statusQueues: Queue[] | undefined;
  return {
    workers: { main, edge: edgeWorker },
    pool,
    metrics: () => ({ ...m }),
    async ready() {
      await Promise.all([main.waitUntilReady(), edgeWorker.waitUntilReady()]);
    },
    async metricsText() {
      statusQueues ??= [new BullQueue(names.main, { connection: connectionOptions(options.connection, false) }), new BullQueue(names.edge, { connection: connectionOptions(options.connection, false) })];
      const lines = [pool.metricsText().trimEnd()];
      lines.push('# HELP ttsav_queue_jobs_total Jobs this worker finished, by outcome.', '# TYPE ttsav_queue_jobs_total counter');
      for (const [outcome, v] of [['completed', m.completed], ['skipped', m.skipped], ['failed_permanent', m.failedPermanent], ['failed_transient', m.failedTransient], ['rate_limited', m.rateLimited]] as const)
        lines.push(`ttsav_queue_jobs_total{outcome="${outcome}"} ${v}`);
      lines.push('# HELP ttsav_queue_in_flight Jobs this worker is running now.', '# TYPE ttsav_queue_in_flight gauge', `ttsav_queue_in_flight ${m.inFlight}`);
      lines.push('# HELP ttsav_queue_processing_seconds_sum Time spent on completed jobs.', '# TYPE ttsav_queue_processing_seconds_sum counter', `ttsav_queue_processing_seconds_sum ${(m.processingMsSum / 1000).toFixed(6)}`);
      try {
        const c = await countsOf(statusQueues);
        lines.push('# HELP ttsav_queue_depth Jobs in the queue (offline and EdgeTTS together), by state.', '# TYPE ttsav_queue_depth gauge');
        for (const [state, v] of Object.entries(c)) lines.push(`ttsav_queue_depth{queue="${names.main}",state="${state}"} ${v}`);
      } catch {
        // Redis unreachable: the worker's own counters are still worth reporting.
      }
      return lines.join('\n') + '\n';
    },
    close: async () => {
      await close();
      await Promise.all((statusQueues ?? []).map((q) => q.close()));
    },
  };
}
