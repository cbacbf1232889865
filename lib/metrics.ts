/**
 * Pool metrics: counters, gauges and histograms kept in plain numbers (no timers, no allocation per job beyond a
 * few additions), readable as an object (`pool.metrics()`) or in Prometheus' text exposition format
 * (`pool.metricsText()`).
 */
import { TIMING_STAGES, type TimingStage } from './errors';
import type { StageTimings } from './transcode';

/** Upper bounds (seconds) of the duration histograms' buckets; +Inf is implied. */
export const SECONDS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export const STAGES = TIMING_STAGES;
export type StageName = TimingStage;

export interface HistogramSnapshot {
  /** Upper bounds of the buckets (the last, +Inf, is not listed). */
  buckets: number[];
  /** Cumulative counts per bucket, one more than `buckets` (the last is +Inf, equal to `count`). */
  counts: number[];
  count: number;
  sum: number;
}

export class Histogram {
  private readonly counts: number[];
  private total = 0;
  private sum = 0;
  constructor(private readonly bounds: readonly number[] = SECONDS_BUCKETS) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.total++;
    this.sum += value;
  }
  snapshot(): HistogramSnapshot {
    let running = 0;
    const cumulative = this.counts.map((c) => (running += c));
    return { buckets: [...this.bounds], counts: cumulative, count: this.total, sum: this.sum };
  }
}

export interface PoolMetrics {
  jobs: {
    /** Calls accepted into the pool (queued or started). */
    submitted: number;
    /** Jobs handed to transcode() (admitted by concurrency and budget). */
    started: number;
    succeeded: number;
    /** Failed jobs, including those that never started (aborted or timed out while queued, queue full). */
    failed: number;
    /** Failures by TtsavError code. */
    failedByCode: Record<string, number>;
    /** Jobs that ran alone because their estimate was over the whole budget. */
    oversize: number;
    /** Jobs that found a free slot but had to wait for memory budget. */
    budgetDelayed: number;
  };
  /** Jobs waiting for a slot. */
  queueDepth: number;
  /** Jobs running now. */
  inFlightJobs: number;
  /** Sum of the running jobs' estimates (bytes). */
  inFlightBytes: number;
  /** The highest inFlightBytes seen since the pool was created. */
  maxInFlightBytesSeen: number;
  /** The highest inFlightJobs seen. */
  maxInFlightJobsSeen: number;
  /** The admission budget (bytes; Infinity when unbounded). */
  budgetBytes: number;
  /** Current concurrency limit (moves under concurrency: 'auto'). */
  concurrency: number;
  /** Upper bound of the concurrency limit. */
  maxConcurrency: number;
  /** Worker threads of TTS engines that speak through the pool (speak(text, { pool }) with the espeak engine). */
  tts: {
    /** Workers alive (running or idle), summed over the engines. */
    workers: number;
    /** Syntheses running now. */
    running: number;
    /** Syntheses waiting for a worker. */
    queued: number;
    /** The workers' estimated memory, counted in the admission budget while they live. */
    reservedBytes: number;
  };
  /** Seconds of audio produced by succeeded jobs. */
  audioSeconds: number;
  /** Input bytes of succeeded jobs. */
  bytesIn: number;
  /** Output bytes of succeeded jobs. */
  bytesOut: number;
  /** result.warnings of succeeded jobs, by warning code. */
  warningsByCode: Record<string, number>;
  /** Sum of result.timings per stage over succeeded jobs, in seconds (worker-thread time). */
  stageSeconds: Record<StageName, number>;
  histograms: {
    /** Wall time from start to settle of each started job (seconds). */
    jobSeconds: HistogramSnapshot;
    /** Time each started job waited in the queue (seconds). */
    queueWaitSeconds: HistogramSnapshot;
    /** result.timings per stage of succeeded jobs (seconds). */
    stageSeconds: Record<StageName, HistogramSnapshot>;
  };
}

/** The mutable counters behind PoolMetrics. */
/** A record with one entry per timing stage. */
function perStage<T>(make: () => T): Record<StageName, T> {
  return Object.fromEntries(STAGES.map((s) => [s, make()])) as Record<StageName, T>;
}

export class MetricsRecorder {
  submitted = 0;
  started = 0;
  succeeded = 0;
  failed = 0;
  oversize = 0;
  budgetDelayed = 0;
  readonly failedByCode = new Map<string, number>();
  readonly warningsByCode = new Map<string, number>();
  maxInFlightBytesSeen = 0;
  maxInFlightJobsSeen = 0;
  audioSeconds = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly stageSeconds = perStage(() => 0);
  readonly jobSeconds = new Histogram();
  readonly queueWaitSeconds = new Histogram();
  readonly stageHistograms = perStage(() => new Histogram());

  fail(code: string): void {
    this.failed++;
    this.failedByCode.set(code, (this.failedByCode.get(code) ?? 0) + 1);
  }

  succeed(inputBytes: number, outputBytes: number, audioSeconds: number, timings: StageTimings, warnings: readonly { code: string }[] = []): void {
    this.succeeded++;
    for (const w of warnings) this.warningsByCode.set(w.code, (this.warningsByCode.get(w.code) ?? 0) + 1);
    this.bytesIn += inputBytes;
    this.bytesOut += outputBytes;
    this.audioSeconds += audioSeconds;
    for (const stage of STAGES) {
      const ms = timings[stage];
      if (typeof ms !== 'number' || !Number.isFinite(ms)) continue;
      this.stageSeconds[stage] += ms / 1000;
      this.stageHistograms[stage].observe(ms / 1000);
    }
  }

  inFlight(jobs: number, bytes: number): void {
    if (bytes > this.maxInFlightBytesSeen) this.maxInFlightBytesSeen = bytes;
    if (jobs > this.maxInFlightJobsSeen) this.maxInFlightJobsSeen = jobs;
  }

  snapshot(live: Pick<PoolMetrics, 'queueDepth' | 'inFlightJobs' | 'inFlightBytes' | 'budgetBytes' | 'concurrency' | 'maxConcurrency' | 'tts'>): PoolMetrics {
    const stageSeconds = { ...this.stageSeconds };
    const stageHist = {} as Record<StageName, HistogramSnapshot>;
    for (const s of STAGES) stageHist[s] = this.stageHistograms[s].snapshot();
    return {
      jobs: {
        submitted: this.submitted,
        started: this.started,
        succeeded: this.succeeded,
        failed: this.failed,
        failedByCode: Object.fromEntries(this.failedByCode),
        oversize: this.oversize,
        budgetDelayed: this.budgetDelayed,
      },
      ...live,
      maxInFlightBytesSeen: this.maxInFlightBytesSeen,
      maxInFlightJobsSeen: this.maxInFlightJobsSeen,
      audioSeconds: this.audioSeconds,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      warningsByCode: Object.fromEntries(this.warningsByCode),
      stageSeconds,
      histograms: {
        jobSeconds: this.jobSeconds.snapshot(),
        queueWaitSeconds: this.queueWaitSeconds.snapshot(),
        stageSeconds: stageHist,
      },
    };
  }
}

function num(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

function labels(pairs: Record<string, string>): string {
  const entries = Object.entries(pairs);
  if (entries.length === 0) return '';
  const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${entries.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`;
}

/** One sample of a metric family: `metricName` (default the family's name) with labels. */
export interface MetricSample {
  metricName?: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: what Prometheus' text format writes under one # HELP / # TYPE pair. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: MetricSample[];
}

/** The metric families of a snapshot, names starting with `prefix` (default `ttsav_pool`). */
export function toFamilies(m: PoolMetrics, prefix = 'ttsav_pool'): MetricFamily[] {
  const out: MetricFamily[] = [];
  const family = (name: string, type: MetricFamily['type'], help: string): MetricFamily => {
    const f: MetricFamily = { name: `${prefix}_${name}`, help, type, values: [] };
    out.push(f);
    return f;
  };
  const single = (name: string, type: 'counter' | 'gauge', help: string, value: number): void => {
    family(name, type, help).values.push({ labels: {}, value });
  };
  const histogram = (f: MetricFamily, h: HistogramSnapshot, extra: Record<string, string> = {}): void => {
    h.buckets.forEach((le, i) => f.values.push({ metricName: `${f.name}_bucket`, labels: { ...extra, le: num(le) }, value: h.counts[i]! }));
    f.values.push({ metricName: `${f.name}_bucket`, labels: { ...extra, le: '+Inf' }, value: h.count });
    f.values.push({ metricName: `${f.name}_sum`, labels: { ...extra }, value: h.sum });
    f.values.push({ metricName: `${f.name}_count`, labels: { ...extra }, value: h.count });
  };

  single('jobs_submitted_total', 'counter', 'Transcode jobs accepted by the pool.', m.jobs.submitted);
  single('jobs_started_total', 'counter', 'Transcode jobs started (admitted by concurrency and memory budget).', m.jobs.started);
  single('jobs_succeeded_total', 'counter', 'Transcode jobs that succeeded.', m.jobs.succeeded);
  const failed = family('jobs_failed_total', 'counter', 'Transcode jobs that failed, by error code (including jobs that never started).');
  const codes = Object.entries(m.jobs.failedByCode);
  if (codes.length === 0) failed.values.push({ labels: {}, value: 0 });
  for (const [code, n] of codes) failed.values.push({ labels: { code }, value: n });
  single('jobs_oversize_total', 'counter', 'Jobs whose estimate exceeded the whole budget and ran alone.', m.jobs.oversize);
  single('jobs_budget_delayed_total', 'counter', 'Jobs that found a free slot but waited for memory budget.', m.jobs.budgetDelayed);
  single('queue_depth', 'gauge', 'Jobs waiting for a slot.', m.queueDepth);
  single('in_flight_jobs', 'gauge', 'Jobs running now.', m.inFlightJobs);
  single('in_flight_bytes', 'gauge', 'Estimated bytes held by the running jobs.', m.inFlightBytes);
  single('in_flight_bytes_max', 'gauge', 'Highest in_flight_bytes seen.', m.maxInFlightBytesSeen);
  single('in_flight_jobs_max', 'gauge', 'Highest in_flight_jobs seen.', m.maxInFlightJobsSeen);
  single('budget_bytes', 'gauge', 'Admission budget (maxInFlightBytes).', m.budgetBytes);
  single('concurrency_limit', 'gauge', 'Current concurrency limit.', m.concurrency);
  single('concurrency_max', 'gauge', 'Upper bound of the concurrency limit.', m.maxConcurrency);
  single('tts_workers', 'gauge', 'TTS worker threads alive (engines speaking through the pool).', m.tts.workers);
  single('tts_running', 'gauge', 'Syntheses running on TTS workers.', m.tts.running);
  single('tts_queue_depth', 'gauge', 'Syntheses waiting for a TTS worker.', m.tts.queued);
  single('tts_reserved_bytes', 'gauge', "Estimated memory of the live TTS workers, counted in the admission budget.", m.tts.reservedBytes);
  single('audio_seconds_total', 'counter', 'Seconds of audio produced.', m.audioSeconds);
  single('input_bytes_total', 'counter', 'Input bytes of succeeded jobs.', m.bytesIn);
  single('output_bytes_total', 'counter', 'Output bytes of succeeded jobs.', m.bytesOut);
  const warnings = family('warnings_total', 'counter', 'Warnings of succeeded jobs (result.warnings), by warning code.');
  const warningCodes = Object.entries(m.warningsByCode);
  if (warningCodes.length === 0) warnings.values.push({ labels: {}, value: 0 });
  for (const [code, n] of warningCodes) warnings.values.push({ labels: { code }, value: n });
  const stageTotal = family('stage_seconds_total', 'counter', 'Worker-thread time per pipeline stage, summed over succeeded jobs.');
  for (const s of STAGES) stageTotal.values.push({ labels: { stage: s }, value: m.stageSeconds[s] });
  histogram(family('job_duration_seconds', 'histogram', 'Wall time of each started job, start to settle.'), m.histograms.jobSeconds);
  histogram(family('queue_wait_seconds', 'histogram', 'Time each started job waited in the queue.'), m.histograms.queueWaitSeconds);
  const stageHist = family('stage_seconds', 'histogram', 'Worker-thread time per pipeline stage of each succeeded job.');
  for (const s of STAGES) histogram(stageHist, m.histograms.stageSeconds[s], { stage: s });
  return out;
}

/** Prometheus text exposition format (version 0.0.4) of metric families. */
export function familiesText(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const v of f.values) out.push(`${v.metricName ?? f.name}${labels(v.labels)} ${num(v.value)}`);
  }
  return out.join('\n') + '\n';
}

/**
 * Prometheus text exposition format (version 0.0.4) of a metrics snapshot. Metric names start with `prefix`
 * (default `ttsav_pool`).
 */
export function toPrometheus(m: PoolMetrics, prefix = 'ttsav_pool'): string {
  return familiesText(toFamilies(m, prefix));
}

/**
 * A metric as prom-client's Registry.registerMetric() takes it (structurally: ttsav never loads prom-client).
 * get() reads the pool's live figures at scrape time.
 */
export interface PromClientMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; aggregator: 'sum'; values: MetricSample[] }>;
  reset(): void;
}

/** What pool.collector() returns: the metrics, and a typed way to register them with a prom-client Registry. */
export interface PoolCollector {
  readonly metrics: readonly PromClientMetric[];
  /** Registers every metric with `registry` (a prom-client Registry, e.g. its default `register`). */
  register(registry: { registerMetric(metric: never): void }): void;
}

/** prom-client metrics for a source of snapshots: one per family, all read from one snapshot per scrape. */
export function promClientCollector(snapshot: () => PoolMetrics, prefix = 'ttsav_pool'): PoolCollector {
  let cached: Map<string, MetricFamily> | undefined;
  const current = (): Map<string, MetricFamily> => {
    if (!cached) {
      cached = new Map(toFamilies(snapshot(), prefix).map((f) => [f.name, f]));
      // A registry reads every metric in the same tick: one snapshot serves the whole scrape.
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };
  const metrics: PromClientMetric[] = toFamilies(snapshot(), prefix).map((f) => ({
    name: f.name,
    help: f.help,
    type: f.type,
    aggregator: 'sum' as const,
    get: () => {
      const live = current().get(f.name);
      return Promise.resolve({ name: f.name, help: f.help, type: f.type, aggregator: 'sum' as const, values: live ? live.values : [] });
    },
    reset: () => undefined, // registry.resetMetrics(): the pool's counters are its own
  }));
  return {
    metrics,
    register(registry) {
      // prom-client types registerMetric() for its own classes; it reads only name, help, type and get().
      const add = registry.registerMetric as unknown as (metric: PromClientMetric) => void;
      for (const m of metrics) add.call(registry, m);
    },
  };
}
