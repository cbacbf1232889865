/** createQueue(): the producer side. Jobs are checked, then added under an id derived from their output. */
import type { JobsOptions, Queue } from 'bullmq';
import { invalidOption, object } from '../validate';
import { bullmq } from './deps';
import { checkJob, connectionOptions, isEdgeJob, jobIdFor, queueNames, type Connection, type QueueJob } from './jobs';

export interface QueueOptions {
  /** Redis: 'redis://host:port/db' or connection options ({ host, port, password, … }). */
  connection: Connection;
  /** Queue name (default 'ttsav'); EdgeTTS jobs go to '<name>-edge'. */
  name?: string;
  /** BullMQ job options applied to every job (default: 5 attempts, exponential backoff from 1 s, completed jobs
   *  kept 7 days so that re-adding a finished output stays one job). */
  defaultJobOptions?: JobsOptions;
}

export interface AddedJob {
  /** BullMQ job id (derived from the output key unless opts.jobId). */
  id: string;
  output: string;
  /** The BullMQ queue it went to. */
  queue: string;
}

export type JobCounts = Record<'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized', number>;

export interface TtsavQueue {
  /** Checks and adds one job (ERR_TTSAV_OPTIONS before anything reaches Redis). The same output twice is one job. */
  add(job: QueueJob, opts?: JobsOptions): Promise<AddedJob>;
  /** Checks every job first, then adds them in one round trip per queue. */
  addBulk(jobs: readonly QueueJob[], opts?: JobsOptions): Promise<AddedJob[]>;
  /** Job counts of the offline and EdgeTTS queues together. */
  counts(): Promise<JobCounts>;
  /** Completed and failed jobs per minute over the last `minutes` (workers record them), newest first. */
  rates(minutes?: number): Promise<{ completed: number[]; failed: number[] }>;
  /** The BullMQ queues, for anything else (events, pause, clean). */
  readonly queues: { main: Queue; edge: Queue };
  close(): Promise<void>;
}

export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

const COUNT_TYPES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'] as const;

export async function countsOf(queues: readonly Queue[]): Promise<JobCounts> {
  const total = Object.fromEntries(COUNT_TYPES.map((t) => [t, 0])) as JobCounts;
  for (const q of queues) {
    const c = await q.getJobCounts(...COUNT_TYPES);
    for (const t of COUNT_TYPES) total[t] += c[t] ?? 0;
  }
  return total;
}

export function createQueue(options: QueueOptions): TtsavQueue {
  object('options', options, 'an object { connection, name? }');
  const { Queue } = bullmq();
  const names = queueNames(options.name ?? 'ttsav');
  const connection = connectionOptions(options.connection, false);
  const defaultJobOptions = { ...DEFAULT_JOB_OPTIONS, ...options.defaultJobOptions };
  const main = new Queue(names.main, { connection, defaultJobOptions });
  const edge = new Queue(names.edge, { connection, defaultJobOptions });
  // Errors (a Redis restart) are retried by the client; without a listener they would be unhandled events.
  for (const q of [main, edge]) q.on('error', () => undefined);

  const prepared = (job: QueueJob, opts?: JobsOptions): { q: Queue; name: string; data: QueueJob; opts: JobsOptions } => {
    const data = checkJob(job);
    return { q: isEdgeJob(data) ? edge : main, name: 'text' in data ? 'speak' : 'transcode', data, opts: { jobId: jobIdFor(data.output), ...opts } };
  };
  const added = (q: Queue, id: string | undefined, output: string): AddedJob => ({ id: id ?? '', output, queue: q.name });

  return {
    queues: { main, edge },
    async add(job, opts) {
      const p = prepared(job, opts);
      const j = await p.q.add(p.name, p.data, p.opts);
      return added(p.q, j.id, p.data.output);
    },
    async addBulk(jobs, opts) {
      if (!Array.isArray(jobs)) throw invalidOption('jobs', 'an array of jobs', jobs);
      const all = jobs.map((j) => prepared(j, opts));
      const out: AddedJob[] = new Array(all.length);
      for (const q of [main, edge]) {
        const idx = all.flatMap((p, i) => (p.q === q ? [i] : []));
        if (idx.length === 0) continue;
        const res = await q.addBulk(idx.map((i) => ({ name: all[i]!.name, data: all[i]!.data, opts: all[i]!.opts })));
        idx.forEach((i, k) => (out[i] = added(q, res[k]?.id, all[i]!.data.output)));
      }
      return out;
    },
    counts: () => countsOf([main, edge]),
    async rates(minutes = 5) {
      const sum = async (type: 'completed' | 'failed'): Promise<number[]> => {
        const [a, b] = await Promise.all([main.getMetrics(type, 0, minutes - 1), edge.getMetrics(type, 0, minutes - 1)]);
        return Array.from({ length: minutes }, (_, i) => (a.data[i] ?? 0) + (b.data[i] ?? 0));
      };
      return { completed: await sum('completed'), failed: await sum('failed') };
    },
    async close() {
      await Promise.all([main.close(), edge.close()]);
    },
  };
}
