/**
 * `ttsav worker`, `ttsav enqueue` and `ttsav queue-status`: ttsav/queue from the command line. ttsav/queue (and
 * with it bullmq and ioredis) is loaded only when one of these commands runs.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { FORMATS, presets } from '../options';
import type { QueueJob, Storage, TtsavWorker } from '../queue/index';
import { UsageError, readStdin } from './common';

type QueueModule = typeof import('../queue/index');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (): QueueModule => require('../queue/index') as QueueModule;

/** file:///dir, a plain directory path, or s3://bucket[/prefix] (endpoint and credentials from the AWS environment). */
export async function storageFor(spec: string, mod: QueueModule, s3Endpoint?: string): Promise<Storage> {
  if (spec.startsWith('s3://')) {
    const rest = spec.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1);
    if (bucket === '') throw new UsageError(`--store s3://bucket[/prefix], not '${spec}'`);
    return mod.s3Storage({ bucket, prefix, client: await mod.s3Client(s3Endpoint) });
  }
  if (spec.startsWith('file://')) return mod.fileStorage(fileURLToPath(spec));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) throw new UsageError(`--store takes file:///dir or s3://bucket, not '${spec}'`);
  return mod.fileStorage(spec);
}

function int(flag: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${flag} takes an integer >= ${min}, not '${v}'`);
  return Number(v);
}

interface WorkerFlags {
  redis: string;
  queue: string;
  store: string;
  concurrency?: string;
  ttsConcurrency?: string;
  prefetch?: string;
  rateLimit?: string;
  metricsPort?: string;
  lockDuration?: string;
  stalledInterval?: string;
  s3Endpoint?: string;
  quiet?: boolean;
  json?: boolean;
}

async function runWorker(f: WorkerFlags): Promise<number> {
  const mod = load();
  const concurrency = f.concurrency === undefined || f.concurrency === 'auto' ? f.concurrency : int('concurrency', f.concurrency);
  let limiter: { max: number; duration: number } | undefined;
  if (f.rateLimit !== undefined) {
    const m = /^(\d+)\/(\d+)ms$|^(\d+)\/s$/.exec(f.rateLimit);
    if (!m) throw new UsageError(`--rate-limit takes N/s or N/MSms (e.g. 4/s, 10/2000ms), not '${f.rateLimit}'`);
    limiter = m[3] !== undefined ? { max: Number(m[3]), duration: 1000 } : { max: Number(m[1]), duration: Number(m[2]) };
  }
  const bull: Record<string, number> = {};
  const lock = int('lock-duration', f.lockDuration);
  const stalled = int('stalled-interval', f.stalledInterval);
  if (lock !== undefined) bull.lockDuration = lock;
  if (stalled !== undefined) bull.stalledInterval = stalled;
  const worker: TtsavWorker = mod.createWorker({
    connection: f.redis,
    name: f.queue,
    storage: await storageFor(f.store, mod, f.s3Endpoint),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(f.prefetch !== undefined ? { prefetch: int('prefetch', f.prefetch, 0)! } : {}),
    ...(f.ttsConcurrency !== undefined ? { ttsConcurrency: int('tts-concurrency', f.ttsConcurrency)! } : {}),
    ...(limiter ? { limiter } : {}),
    bullmq: bull,
  });
  const log = (line: string): void => {
    if (!f.quiet) process.stderr.write(line + '\n');
  };
  for (const w of [worker.workers.main, worker.workers.edge]) {
    w.on('completed', (job, rv) => {
      if (f.json) process.stdout.write(JSON.stringify({ id: job.id, status: 'completed', ...rv }) + '\n');
      else if (rv.skipped) log(`skipped ${rv.output} (exists)`);
      else log(`done ${rv.output} ${rv.durationSeconds.toFixed(2)} s ${rv.bytes} B in ${rv.timings.total.toFixed(0)} ms`);
    });
    w.on('failed', (job, err) => {
      if (!job) return;
      const output = (job.data as QueueJob).output;
      const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (f.json) process.stdout.write(JSON.stringify({ id: job.id, status: final ? 'failed' : 'retrying', output, reason: err.message, attempts: job.attemptsMade }) + '\n');
      else process.stderr.write(`${final ? 'failed' : 'will retry'} ${output}: ${err.message}\n`);
    });
  }
  let server: http.Server | undefined;
  if (f.metricsPort !== undefined) {
    const port = int('metrics-port', f.metricsPort, 0)!;
    server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      worker.metricsText().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    log(`metrics on http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`);
  }
  await worker.ready();
  log(`worker ${process.pid} on queue ${f.queue} (${f.redis}), storage ${f.store}, concurrency ${concurrency ?? 'default'}`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      log(`${sig}: finishing ${worker.metrics().inFlight} job(s) in flight; the rest stay queued`);
      resolve();
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  await worker.close();
  server?.close();
  const m = worker.metrics();
  log(`stopped: ${m.completed} completed, ${m.skipped} skipped, ${m.failedPermanent + m.failedTransient} failed`);
  return 0;
}

interface EnqueueFlags {
  redis: string;
  queue: string;
  file: string;
  outPrefix: string;
  engine?: 'espeak' | 'edge';
  voice?: string;
  preset?: string;
  format?: string;
  attempts?: string;
  json?: boolean;
}

async function runEnqueue(f: EnqueueFlags): Promise<number> {
  const mod = load();
  const text = f.file === '-' ? (await readStdin()).toString('utf8') : await readFile(f.file, 'utf8');
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const ext = FORMATS[(f.format ?? 'm4a') as keyof typeof FORMATS].extension;
  const width = Math.max(5, String(lines.length).length);
  const jobs: QueueJob[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    const job: Record<string, unknown> = { text: line, output: `${f.outPrefix}${String(i + 1).padStart(width, '0')}.${ext}` };
    if (f.engine) job.engine = f.engine;
    if (f.voice) job.voice = f.voice;
    if (f.preset) job.preset = f.preset;
    if (f.format) job.format = f.format;
    jobs.push(job as unknown as QueueJob);
  });
  const attempts = int('attempts', f.attempts);
  const q = mod.createQueue({ connection: f.redis, name: f.queue, ...(attempts ? { defaultJobOptions: { attempts } } : {}) });
  try {
    for (let i = 0; i < jobs.length; i += 500) await q.addBulk(jobs.slice(i, i + 500));
  } finally {
    await q.close();
  }
  if (f.json) process.stdout.write(JSON.stringify({ enqueued: jobs.length, outputs: jobs.map((j) => j.output) }) + '\n');
  else process.stderr.write(`enqueued ${jobs.length} job(s) on ${f.queue} (an output already queued or finished stays one job)\n`);
  return 0;
}

async function runStatus(f: { redis: string; queue: string; json?: boolean }): Promise<number> {
  const mod = load();
  const q = mod.createQueue({ connection: f.redis, name: f.queue });
  try {
    const counts = await q.counts();
    const rates = await q.rates(5);
    const perMin = { completedLastMinute: rates.completed[0] ?? 0, failedLastMinute: rates.failed[0] ?? 0, completedPerMinute5: rates.completed.reduce((a, b) => a + b, 0) / 5, failedPerMinute5: rates.failed.reduce((a, b) => a + b, 0) / 5 };
    if (f.json) process.stdout.write(JSON.stringify({ queue: f.queue, ...counts, rates: perMin }) + '\n');
    else
      process.stdout.write(
        `queue ${f.queue}: ${counts.waiting} waiting, ${counts.active} active, ${counts.delayed} delayed, ${counts.completed} completed, ${counts.failed} failed\n` +
          `rates: ${perMin.completedLastMinute} completed / ${perMin.failedLastMinute} failed in the last minute; ${perMin.completedPerMinute5.toFixed(1)} completed/min over 5 min\n`,
      );
    return 0;
  } finally {
    await q.close();
  }
}

const redisOption = (): Option => new Option('--redis <url>', 'Redis URL').env('TTSAV_REDIS').makeOptionMandatory();
const queueOption = (): Option => new Option('--queue <name>', 'queue name').default('ttsav');

/** Adds worker, enqueue and queue-status to the program. */
export function addQueueCommands(cmd: Command, setCode: (code: number) => void): void {
  cmd
    .command('worker')
    .summary('take speak/transcode jobs from a BullMQ queue on Redis and write the outputs to a store')
    .description(
      'Runs a ttsav/queue worker until SIGTERM or SIGINT, then finishes the jobs in flight and exits (the rest stay ' +
        'queued). Needs the optional packages bullmq and ioredis (and @aws-sdk/client-s3 for s3://).',
    )
    .addOption(redisOption())
    .addOption(queueOption())
    .requiredOption('--store <url>', 'file:///dir (or a directory) or s3://bucket[/prefix]')
    .option('-j, --concurrency <n|auto>', 'offline jobs (and transcodes) at once')
    .option('--prefetch <n>', 'offline jobs held beyond --concurrency, input read, ready to start (default 1; 0: none)')
    .option('--tts-concurrency <n>', 'EdgeTTS jobs at once on this worker (default 4)')
    .option('--rate-limit <n/s>', 'EdgeTTS jobs started per second across all workers (default 4/s; or N/MSms)')
    .option('--metrics-port <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics')
    .option('--lock-duration <ms>', 'BullMQ job lock (a dead worker\'s jobs are taken over after about this long)')
    .option('--stalled-interval <ms>', 'how often BullMQ looks for stalled jobs')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (path-style), e.g. http://127.0.0.1:9000')
    .option('--json', 'one JSON line per finished job on stdout')
    .option('-q, --quiet', 'print only failures')
    .action(async (flags: WorkerFlags) => setCode(await runWorker(flags)));

  cmd
    .command('enqueue')
    .summary('enqueue one speak job per line of a text file')
    .addOption(redisOption())
    .addOption(queueOption())
    .requiredOption('--file <path>', 'text file, one line per job (- for stdin); empty lines are skipped')
    .requiredOption('--out-prefix <prefix>', 'output keys are <prefix><line number>.<ext>, e.g. lines/ → lines/00001.m4a')
    .addOption(new Option('--engine <name>', 'text-to-speech engine (default espeak)').choices(['espeak', 'edge']))
    .option('--voice <name>', 'voice')
    .addOption(new Option('-p, --preset <name>', 'encoder settings').choices(Object.keys(presets)))
    .addOption(new Option('-f, --format <format>', 'output format (default m4a)').choices(Object.keys(FORMATS)))
    .option('--attempts <n>', 'tries per job for transient errors (default 5)')
    .option('--json', 'print the enqueued outputs as JSON')
    .action(async (flags: EnqueueFlags) => setCode(await runEnqueue(flags)));

  cmd
    .command('queue-status')
    .summary('jobs waiting, active, completed and failed, and rates')
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--json', 'print JSON')
    .action(async (flags: { redis: string; queue: string; json?: boolean }) => setCode(await runStatus(flags)));
}


