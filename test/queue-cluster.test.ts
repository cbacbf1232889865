/**
 * ttsav/queue across processes: `ttsav worker` processes on one redis-server. One of three workers is SIGKILLed
 * in the middle of a batch and every output still exists exactly once, whole (byte-identical to the in-process
 * result, which decodes to the right length), BullMQ's stalled-job recovery handing the dead worker's job to
 * another; Redis restarted mid-run (append-only file) and
 * the workers and the producer reconnect and finish; SIGTERM lets the job in flight finish and leaves the rest
 * queued. Jobs: TTSAV_QUEUE_JOBS (default 200). Outputs are compared byte for byte with the same text spoken
 * in-process (the encoder is deterministic), whose decoded length is checked with the ffmpeg CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speak } from '../lib/index';
import { createQueue, type QueueJob } from '../lib/queue/index';
import { decodedSamples } from './helpers/media';
import { startRedis, type RedisServer } from './helpers/redis';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const JOBS = Number(process.env.TTSAV_QUEUE_JOBS ?? 200);
const PHRASES = [
  'The next train leaves from platform two.',
  'Thank you for watching, see you tomorrow.',
  'Please subscribe.',
  'Breaking news: the river is rising slowly tonight.',
  'One, two, three, four, five.',
  'Weather for the weekend looks dry and warm across the region.',
  'Goodbye.',
  'This is line number eight of the batch.',
];
const OPTS = { preset: 'speech' } as const;

let tmp: string;
const children: ChildProcess[] = [];
const servers: RedisServer[] = [];
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-cluster-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of servers) await s.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface WorkerProc {
  child: ChildProcess;
  done: string[];
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(redis: RedisServer, queue: string, store: string, extra: string[] = ['-q']): WorkerProc {
  const child = spawn(process.execPath, [CLI, 'worker', '--redis', redis.url, '--queue', queue, '--store', `file://${store}`, '-j', '1', '--lock-duration', '3000', '--stalled-interval', '1000', '--json', ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const w: WorkerProc = { child, done: [], stderr: '', exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const j = JSON.parse(line) as { status: string; output: string };
      if (j.status === 'completed') w.done.push(j.output);
    }
  });
  child.stderr!.on('data', (d) => (w.stderr += d.toString()));
  return w;
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Final-name files under dir (a killed writer may leave a hidden .partial file; it is never under a key). */
function outputs(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.partial'))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** The same text spoken in-process: the encoder is deterministic, so every queued output must equal it byte for byte. */
const reference = new Map<string, Buffer>();
async function referenceFor(text: string): Promise<Buffer> {
  if (!reference.has(text)) {
    const r = await speak(text, OPTS);
    // The reference itself decodes (ffmpeg CLI) to the length the transcode reported.
    expect(Math.abs(decodedSamples(r.audio, 1) / 22050 - r.durationSeconds)).toBeLessThan(0.05);
    expect(r.durationSeconds).toBeGreaterThan(0.3);
    reference.set(text, r.audio);
  }
  return reference.get(text)!;
}

function batch(prefix: string, n: number, from = 0): QueueJob[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { text: PHRASES[i % PHRASES.length]!, output: `${prefix}/${String(i).padStart(5, '0')}.m4a`, ...OPTS };
  });
}

/** Every job's output exists once under its key and is the whole of what the same job makes in-process. */
async function checkOutputs(dir: string, jobs: QueueJob[]): Promise<void> {
  expect(outputs(dir)).toEqual(jobs.map((j) => j.output).sort());
  for (const j of jobs) {
    const data = readFileSync(path.join(dir, j.output));
    const ref = await referenceFor((j as { text: string }).text);
    expect(data.length, j.output).toBe(ref.length);
    expect(data.equals(ref), j.output).toBe(true);
  }
}

describe('ttsav worker processes on one redis-server', () => {
  it(`${JOBS} jobs, 3 workers, one SIGKILLed mid-run: every output exactly once, whole, the right length`, async () => {
    const redis = await startRedis();
    servers.push(redis);
    const dir = path.join(tmp, 'kill');
    const q = createQueue({ connection: redis.url, name: 'kill' });
    const jobs = batch('k', JOBS);
    for (let i = 0; i < jobs.length; i += 500) await q.addBulk(jobs.slice(i, i + 500));
    const ws = [0, 1, 2].map(() => startWorker(redis, 'kill', dir));
    await until('the victim to finish a few jobs', () => ws[0]!.done.length >= 5, 120_000);
    ws[0]!.child.kill('SIGKILL'); // at concurrency 1 with work queued, it is in the middle of a job
    const victim = await ws[0]!.exited;
    expect(victim.signal).toBe('SIGKILL');
    await until('all jobs finished', async () => {
      const c = await q.counts();
      return c.completed + c.failed === JOBS;
    }, 60_000 + JOBS * 1000);
    const c = await q.counts();
    expect(c).toMatchObject({ completed: JOBS, failed: 0, active: 0, waiting: 0, delayed: 0 });
    // The survivors took over the job the victim held (stalled-job recovery): all of it is accounted for.
    const reported = new Set([...ws[0]!.done, ...ws[1]!.done, ...ws[2]!.done]);
    expect(reported.size).toBe(JOBS);
    expect(ws[1]!.done.length + ws[2]!.done.length).toBeGreaterThan(0);
    for (const w of ws.slice(1)) w.child.kill('SIGTERM');
    for (const w of ws.slice(1)) expect((await w.exited).code, w.stderr).toBe(0);
    await q.close();
    await checkOutputs(dir, jobs);
  }, 300_000 + JOBS * 2000);

  it('Redis restarted mid-run: workers and the producer reconnect and every job completes', async () => {
    const redis = await startRedis({ persist: true });
    servers.push(redis);
    const dir = path.join(tmp, 'restart');
    const q = createQueue({ connection: redis.url, name: 'restart' });
    const first = batch('r', 40);
    await q.addBulk(first);
    const ws = [0, 1].map(() => startWorker(redis, 'restart', dir));
    await until('10 done', () => ws[0]!.done.length + ws[1]!.done.length >= 10, 120_000);
    await redis.restart(1000);
    // The producer made before the restart adds more work through its reconnected client.
    const second = batch('r', 20, 40);
    await q.addBulk(second);
    await until('all 60 completed', async () => (await q.counts()).completed === 60, 180_000);
    expect(await q.counts()).toMatchObject({ completed: 60, failed: 0, active: 0, waiting: 0 });
    for (const w of ws) w.child.kill('SIGTERM');
    for (const w of ws) expect((await w.exited).code, w.stderr).toBe(0);
    await q.close();
    await checkOutputs(dir, [...first, ...second]);
  }, 600_000);

  it('SIGTERM: the job in flight completes, the process exits 0, the rest stay queued', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const dir = path.join(tmp, 'term');
    const q = createQueue({ connection: redis.url, name: 'term' });
    const jobs = batch('t', 12);
    await q.addBulk(jobs);
    const w = startWorker(redis, 'term', dir, []);
    await until('a first job done', () => w.done.length >= 1, 120_000);
    w.child.kill('SIGTERM');
    expect((await w.exited).code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/SIGTERM: finishing 1 job\(s\) in flight/);
    const c = await q.counts();
    expect(c.active).toBe(0);
    expect(c.failed).toBe(0);
    expect(c.completed).toBe(w.done.length);
    expect(c.waiting).toBe(12 - w.done.length);
    expect(c.waiting).toBeGreaterThan(0);
    expect(outputs(dir)).toEqual([...w.done].sort());
    await q.close();
  }, 300_000);
});
