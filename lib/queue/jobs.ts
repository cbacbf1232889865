/** What a queue job is, how it is checked before it is enqueued, and the job id derived from its output. */
import { createHash } from 'node:crypto';
import { TtsavError } from '../errors';
import { normalizeOptions, type TranscodeOptions } from '../options';
import { invalidOption, object } from '../validate';
import { checkKey } from './storage';

type JobTranscodeOptions = Omit<TranscodeOptions, 'signal'>;

/** Text to speech: synthesized by `engine` (espeak-ng offline by default), transcoded, stored under `output`. */
export interface SpeakJob extends JobTranscodeOptions {
  text: string;
  engine?: 'espeak' | 'edge';
  voice?: string;
  rate?: string;
  pitch?: string;
  volume?: string;
  /** Storage key the result is written to; also the job's identity (one job per output). */
  output: string;
}

/** A stored input transcoded to `output`. */
export interface TranscodeJob extends JobTranscodeOptions {
  /** Storage key of the input bytes. */
  input: string;
  output: string;
}

export type QueueJob = SpeakJob | TranscodeJob;

export const SPEECH_KEYS = ['text', 'engine', 'voice', 'rate', 'pitch', 'volume'] as const;

/** The job's transcode options (everything that is not speech, input or output). */
export function transcodeOptionsOf(job: QueueJob): JobTranscodeOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(job)) {
    if (k === 'input' || k === 'output' || (SPEECH_KEYS as readonly string[]).includes(k) || v === undefined) continue;
    out[k] = v;
  }
  return out as JobTranscodeOptions;
}

/** Checks a job before it is enqueued (ERR_TTSAV_OPTIONS), so that mistakes fail at the producer, not N retries later. */
export function checkJob(job: unknown): QueueJob {
  object('job', job, 'an object { text | input, output, … }');
  const j = job as Record<string, unknown>;
  checkKey(j.output, 'output');
  const hasText = j.text !== undefined;
  const hasInput = j.input !== undefined;
  if (hasText === hasInput) throw new TtsavError('ERR_TTSAV_OPTIONS', 'A queue job needs exactly one of text (speak) or input (transcode a stored object)');
  if (hasText) {
    if (typeof j.text !== 'string' || j.text.trim() === '') throw invalidOption('text', 'a non-empty string', j.text);
    if (j.engine !== undefined && j.engine !== 'espeak' && j.engine !== 'edge') throw invalidOption('engine', "'espeak' or 'edge' (engines are set up on the worker)", j.engine);
    for (const k of ['voice', 'rate', 'pitch', 'volume'] as const) if (j[k] !== undefined && typeof j[k] !== 'string') throw invalidOption(k, 'a string', j[k]);
  } else {
    checkKey(j.input, 'input');
  }
  if ((j as { signal?: unknown }).signal !== undefined) throw new TtsavError('ERR_TTSAV_OPTIONS', 'A queue job cannot carry an AbortSignal (it is sent to Redis as JSON)');
  normalizeOptions(transcodeOptionsOf(j as unknown as QueueJob));
  return j as unknown as QueueJob;
}

/** The BullMQ job id of an output key: the same output is always the same job (BullMQ ignores a second add). */
export function jobIdFor(output: string): string {
  return 'out-' + createHash('sha256').update(output).digest('base64url').slice(0, 32);
}

/** 'edge' jobs go to their own BullMQ queue so its limiter spaces EdgeTTS requests across all workers. */
export function isEdgeJob(job: QueueJob): boolean {
  return 'text' in job && job.engine === 'edge';
}

/** Queue names: `name` for offline work, `name-edge` for EdgeTTS jobs. */
export function queueNames(name: string): { main: string; edge: string } {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw invalidOption('name', "a queue name of letters, digits, '_', '.' or '-' (1–100)", name);
  return { main: name, edge: `${name}-edge` };
}

/** `redis://…` or ioredis-style options: what BullMQ gets (a URL becomes { url }). */
export type Connection = string | ({ url?: string; host?: string; port?: number } & Record<string, unknown>);

export function connectionOptions(c: unknown, worker: boolean): Record<string, unknown> {
  let o: Record<string, unknown>;
  if (typeof c === 'string') {
    if (!/^rediss?:\/\//.test(c)) throw invalidOption('connection', "a redis:// or rediss:// URL or connection options", c);
    o = { url: c };
  } else if (typeof c === 'object' && c !== null && !Array.isArray(c)) o = { ...(c as Record<string, unknown>) };
  else throw invalidOption('connection', "a redis:// or rediss:// URL or connection options", c);
  // Workers block on Redis and must keep retrying through a restart instead of failing commands.
  if (worker) o.maxRetriesPerRequest = null;
  return o;
}
