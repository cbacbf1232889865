/**
 * speak() and speakMany(): text → TTS engine → transcode(), in memory. The synthesized audio goes to the addon as
 * a Buffer with its format named (no probing), never through a file.
 */
import { TtsavError, deadlineReason } from './errors';
import { normalizeOptions, type OutputFormat, type TranscodeOptions } from './options';
import { func, integerOr, invalidOption, iterable, object, withMethods } from './validate';
import { BatchRun, defaultConcurrency, trackTtsWorkers } from './pool';
import { Slots } from './pool/slots';
import { makeSubtitles, normalizeSubtitleOptions, punctuate, type SubtitleOptions, type Subtitles } from './subtitles';
import { transcode, type TranscodeResult } from './transcode';
import { edge } from './tts/edge';
import { espeak } from './tts/espeak';
import { abortedError, checkSignal } from './tts/prosody';
import type { Synthesis, SynthesizeOptions, TtsAudioFormat, TtsEngine, WordBoundary } from './tts/types';

export type EngineName = 'edge' | 'espeak';

export interface SpeakOptions extends Omit<TranscodeOptions, 'signal'> {
  /** 'espeak' (offline, the default), 'edge' (online), or an engine instance (edge({...}), espeak({...}), your own). */
  engine?: EngineName | TtsEngine;
  voice?: string;
  rate?: string;
  pitch?: string;
  volume?: string;
  /** Make SRT and WebVTT subtitles from the word boundaries (true, or cue limits). */
  subtitles?: boolean | SubtitleOptions;
  /** Cancels synthesis and transcode (aborted with a TimeoutError, e.g. AbortSignal.timeout(): ERR_TTSAV_TIMEOUT). */
  signal?: AbortSignal;
  /** speak(): a deadline for the whole call, synthesis and transcode together (ERR_TTSAV_TIMEOUT). */
  timeoutMs?: number;
  /** speak(): runs the transcode on this pool (createPool()): its admission, memory budget and metrics apply. */
  pool?: TranscodePool;
}

export interface SpeakResult {
  /** The encoded audio (the transcode's data). */
  audio: Buffer;
  format: OutputFormat;
  /** Length of the encoded audio, from its samples. */
  durationSeconds: number;
  /** With `subtitles`: cues timed to the encoded audio. */
  subtitles?: Subtitles;
  /** What the engine produced. */
  tts: { engine: string; voice: string; format: TtsAudioFormat; bytes: number; durationSeconds: number; requests: number; words: WordBoundary[] };
  /** The full transcode result (sample rate, channels, timings, …). */
  transcode: TranscodeResult;
}

const TTS_KEYS = ['engine', 'voice', 'rate', 'pitch', 'volume', 'subtitles', 'signal', 'pool'] as const;

const shared: Partial<Record<EngineName, TtsEngine>> = {};
/** The process-wide engine behind engine: 'edge' / 'espeak'. */
export function defaultEngine(name: EngineName): TtsEngine {
  return (shared[name] ??= name === 'edge' ? edge() : espeak());
}

/** An engine option ('espeak', 'edge' or an instance) as the engine; undefined is espeak. */
export function resolveEngine(value: unknown): TtsEngine {
  if (value === undefined) return defaultEngine('espeak');
  if (value === 'edge' || value === 'espeak') return defaultEngine(value);
  const e = value as TtsEngine;
  if (typeof e === 'object' && e !== null && typeof e.synthesize === 'function' && typeof e.format === 'object') return e;
  throw invalidOption('engine', "'espeak', 'edge' or a TtsEngine", value);
}

interface Prepared {
  engine: TtsEngine;
  synth: SynthesizeOptions;
  transcodeOptions: TranscodeOptions;
  subtitles?: Required<SubtitleOptions>;
  signal?: AbortSignal;
}

/** Validates everything up front (before any network or native work). */
function prepare(options: unknown): Prepared {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidOption('options', 'an object', options);
  const o = options as Record<string, unknown>;
  const engine = resolveEngine(o.engine);
  const signal = checkSignal(o.signal);
  const synth: SynthesizeOptions = {};
  for (const k of ['voice', 'rate', 'pitch', 'volume'] as const) if (o[k] !== undefined) synth[k] = o[k] as string;
  engine.validate(synth);
  const transcodeOptions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!(TTS_KEYS as readonly string[]).includes(k) && v !== undefined) transcodeOptions[k] = v;
  // The engine says what it sends: name the demuxer so the transcoder does not probe.
  transcodeOptions.inputFormat ??= engine.format.container;
  normalizeOptions(transcodeOptions); // throws ERR_TTSAV_OPTIONS now rather than after the synthesis
  const p: Prepared = { engine, synth, transcodeOptions: transcodeOptions as TranscodeOptions };
  if (o.subtitles !== undefined && o.subtitles !== false) p.subtitles = normalizeSubtitleOptions(o.subtitles);
  if (signal) p.signal = signal;
  return p;
}

/**
 * How the transcode's filters move time: words at t in the synthesized audio land at
 * (t - trimmedStart) / tempo + padBefore in the output. Leading silence removed by trimSilence is not reported by
 * the transcoder; it is worked out from the durations (exact when only the start is trimmed; when both ends are,
 * bounded by the first word's start).
 */
function timingFor(options: TranscodeOptions, synth: Synthesis, result: TranscodeResult): { scale: number; offsetMs: number; durationMs: number } {
  const f = (options as { filters?: { tempo?: number; pad?: { before?: number; after?: number }; trimSilence?: boolean | { start?: boolean; end?: boolean } } }).filters ?? {};
  const tempo = typeof f.tempo === 'number' && f.tempo > 0 ? f.tempo : 1;
  const before = f.pad?.before ?? 0;
  const after = f.pad?.after ?? 0;
  const outMs = result.durationSeconds * 1000;
  const inMs = (result.input?.durationSeconds ?? synth.durationSeconds) * 1000;
  let trimmedStart = 0;
  if (f.trimSilence) {
    const t = f.trimSilence === true ? { start: true, end: true } : { start: f.trimSilence.start ?? true, end: f.trimSilence.end ?? true };
    const trimmed = Math.max(0, inMs - (outMs - before - after) * tempo);
    if (t.start && !t.end) trimmedStart = trimmed;
    else if (t.start) trimmedStart = Math.min(trimmed, synth.words[0]?.offsetMs ?? 0);
  }
  return { scale: 1 / tempo, offsetMs: before - trimmedStart / tempo, durationMs: outMs };
}

type TranscodeFn = (input: Uint8Array, options: TranscodeOptions) => Promise<TranscodeResult>;

async function synthesizeStage(text: string, p: Prepared, signal: AbortSignal | undefined): Promise<Synthesis> {
  if (typeof text !== 'string' || text.trim() === '') throw invalidOption('text', 'a non-empty string', text);
  const synth = await p.engine.synthesize(text, signal ? { ...p.synth, signal } : p.synth);
  if (synth.bytes === 0) throw new TtsavError('ERR_TTSAV_TTS', `${p.engine.name} produced no audio`);
  return synth;
}

async function transcodeStage(text: string, synth: Synthesis, p: Prepared, signal: AbortSignal | undefined, run: TranscodeFn): Promise<SpeakResult> {
  const input = synth.chunks.length === 1 ? synth.chunks[0]! : Buffer.concat(synth.chunks, synth.bytes);
  const result = await run(input, signal ? { ...p.transcodeOptions, signal } : p.transcodeOptions);
  const out: SpeakResult = {
    audio: result.data,
    format: result.format,
    durationSeconds: result.durationSeconds,
    tts: { engine: p.engine.name, voice: synth.voice, format: synth.format, bytes: synth.bytes, durationSeconds: synth.durationSeconds, requests: synth.requests, words: synth.words },
    transcode: result,
  };
  if (p.subtitles) out.subtitles = makeSubtitles(punctuate(synth.words, text), p.subtitles, timingFor(p.transcodeOptions, synth, result));
  return out;
}

/** Hooks speakMany puts around the stages: the synthesis is over (free its slot), wait for a transcode slot. */
interface StageHooks {
  synthesized?(): void;
  transcode?<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T>;
}

/**
 * Synthesis then transcode. `timeoutMs` bounds both together: one deadline, through one signal; the transcode's
 * own timeout is what is left, so its native job stops on its own at the same deadline. `what` names the work in
 * the timeout's message ('speak()').
 */
async function speakPrepared(text: string, p: Prepared, outer: AbortSignal | undefined, run: TranscodeFn, what: string, hooks: StageHooks = {}): Promise<SpeakResult> {
  const timeoutMs = p.transcodeOptions.timeoutMs;
  let signal = outer;
  let cleanup = (): void => undefined;
  const startedAt = performance.now();
  if (timeoutMs !== undefined) {
    const controller = new AbortController();
    const onOuterAbort = (): void => controller.abort(outer!.reason);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const timer = setTimeout(() => controller.abort(deadlineReason(`${what} ran past its timeout (${timeoutMs} ms)`)), timeoutMs);
    signal = controller.signal;
    cleanup = () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    };
  }
  try {
    const synth = await synthesizeStage(text, p, signal);
    hooks.synthesized?.();
    const transcodeIt = (): Promise<SpeakResult> => {
      if (timeoutMs === undefined) return transcodeStage(text, synth, p, signal, run);
      const left = Math.max(1, Math.ceil(timeoutMs - (performance.now() - startedAt)));
      return transcodeStage(text, synth, { ...p, transcodeOptions: { ...p.transcodeOptions, timeoutMs: left } }, signal, run);
    };
    return await (hooks.transcode ? hooks.transcode(signal, transcodeIt) : transcodeIt());
  } finally {
    cleanup();
  }
}

/**
 * Speaks text: synthesizes it with the engine (espeak-ng offline by default) and transcodes the audio in memory.
 * Transcode options (format, preset, bitrate, filters, …) are transcode()'s. timeoutMs bounds the whole call.
 */
export async function speak(text: string, options?: SpeakOptions): Promise<SpeakResult> {
  const p = prepare(options);
  const pool = (options as { pool?: unknown } | undefined)?.pool;
  checkPool(pool);
  if (p.signal?.aborted) throw abortedError(p.signal);
  trackTtsWorkers(pool, p.engine);
  const run: TranscodeFn = pool ? (input, o) => (pool as TranscodePool).transcode(input, o) : transcode;
  return speakPrepared(text, p, p.signal, run, 'speak()');
}

function checkPool(pool: unknown): void {
  if (pool !== undefined) withMethods('pool', pool, ['transcode'], 'an object with a transcode(input, options) method');
}

// ---------------------------------------------------------------------------------------------------------------
// speakMany: two stages, each with its own limit, and a bound on the items held between source and consumer.

export interface SpeakItem {
  /** Returned with the outcome; defaults to the item's index. */
  id?: string | number;
  text: string;
  voice?: string;
  rate?: string;
  pitch?: string;
  volume?: string;
}

export type SpeakOutcome =
  | { id: string | number; index: number; result: SpeakResult }
  | { id: string | number; index: number; error: TtsavError };

export interface SpeakProgress {
  /** Items taken from the source so far. */
  started: number;
  succeeded: number;
  failed: number;
  /** Items in each stage now, and finished items waiting for the consumer. */
  synthesizing: number;
  waitingForTranscode: number;
  transcoding: number;
  waitingForConsumer: number;
}

/** Anything with transcode() — e.g. a batch pool — to run the second stage instead of transcode(). */
export interface TranscodePool {
  transcode(input: Uint8Array, options?: TranscodeOptions): Promise<TranscodeResult>;
}

export interface SpeakManyOptions extends SpeakOptions {
  /** Syntheses at once (network-bound for edge). Default 4. */
  ttsConcurrency?: number;
  /** Transcodes at once (CPU-bound). Default min(cores, UV_THREADPOOL_SIZE or 4). */
  transcodeConcurrency?: number;
  /** Runs the transcodes (its own limits apply as well as transcodeConcurrency). */
  pool?: TranscodePool;
  /** Most items held at once anywhere between the source and the consumer (bounds memory).
   *  Default ttsConcurrency + 2 × transcodeConcurrency. */
  maxInFlight?: number;
  onProgress?: (progress: SpeakProgress) => void;
}

const limit = (name: string, value: unknown, fallback: number): number => integerOr(name, value, fallback, 1, 10_000);


/**
 * Speaks many items: an async iterable of per-item outcomes ({ id, index, result } or { id, index, error }, the
 * shape of pool.transcodeMany()'s items) in completion order, on the same batch engine. Synthesis and transcoding
 * run with separate limits; at most maxInFlight items are held at once, so a slow consumer slows the source instead
 * of filling memory. One item's failure is its own. `timeoutMs` bounds each whole item, counted from the start of
 * its synthesis (synthesis, the wait for a transcode slot and the transcode). Aborting the signal (or leaving the
 * loop early) cancels what is running; after an abort the iteration throws ERR_TTSAV_ABORTED.
 */
export async function* speakMany(items: Iterable<string | SpeakItem> | AsyncIterable<string | SpeakItem>, options: SpeakManyOptions = {}): AsyncGenerator<SpeakOutcome, void, undefined> {
  object('options', options);
  const { ttsConcurrency, transcodeConcurrency, pool, maxInFlight, onProgress, ...speakOptions } = options;
  const ttsSlots = new Slots(limit('ttsConcurrency', ttsConcurrency, 4));
  const txSlots = new Slots(limit('transcodeConcurrency', transcodeConcurrency, defaultConcurrency()));
  const held = limit('maxInFlight', maxInFlight, ttsSlots.max + 2 * txSlots.max);
  checkPool(pool);
  if (onProgress !== undefined) func('onProgress', onProgress);
  iterable('items', items);
  const base = prepare(speakOptions);
  const run: TranscodeFn = pool ? (input, o) => pool.transcode(input, o) : transcode;
  if (base.signal?.aborted) throw abortedError(base.signal, 'speakMany');
  trackTtsWorkers(pool, base.engine);

  const stages = { synthesizing: 0, waitingForTranscode: 0, transcoding: 0 };
  let started = 0;
  const itemPrepared = (item: SpeakItem): Prepared => {
    if ((['voice', 'rate', 'pitch', 'volume'] as const).every((k) => item[k] === undefined)) return base;
    const own: SynthesizeOptions = { ...base.synth };
    for (const k of ['voice', 'rate', 'pitch', 'volume'] as const) if (item[k] !== undefined) own[k] = item[k];
    base.engine.validate(own);
    return { ...base, synth: own };
  };
  const speakItem = async (raw: string | SpeakItem, signal: AbortSignal): Promise<SpeakResult> => {
    if (typeof raw !== 'string' && (typeof raw !== 'object' || raw === null)) throw invalidOption('item', 'a string or { text }', raw);
    const item: SpeakItem = typeof raw === 'string' ? { text: raw } : raw;
    const p = itemPrepared(item);
    const releaseTts = await ttsSlots.acquire(signal, 'speakMany');
    stages.synthesizing++;
    let synthesizing = true;
    const synthesized = (): void => {
      if (!synthesizing) return;
      synthesizing = false;
      stages.synthesizing--;
      releaseTts();
    };
    try {
      return await speakPrepared(item.text, p, signal, run, `speakMany item ${String(item.id ?? '')}`.trimEnd(), {
        synthesized,
        transcode: async (s, transcodeIt) => {
          stages.waitingForTranscode++;
          const releaseTx = await txSlots.acquire(s, 'speakMany').finally(() => stages.waitingForTranscode--);
          stages.transcoding++;
          try {
            return await transcodeIt();
          } finally {
            stages.transcoding--;
            releaseTx();
          }
        },
      });
    } finally {
      synthesized();
    }
  };

  const batch: BatchRun<string | SpeakItem, SpeakResult, string | number> = new BatchRun(items, {
    what: 'speakMany',
    measure: (r) => ({ bytesOut: r.audio.length, audioSeconds: r.durationSeconds }),
    item: (raw, index) => {
      started++;
      const id = typeof raw === 'object' && raw !== null && raw.id !== undefined ? raw.id : index;
      return { id, bytesIn: 0, run: (signal) => speakItem(raw, signal) };
    },
  }, {
    ordered: false,
    failFast: false,
    readAhead: held,
    ...(base.signal ? { signal: base.signal } : {}),
    onProgress: (p) => {
      try {
        onProgress?.({ started, succeeded: p.done - p.failed, failed: p.failed, ...stages, waitingForConsumer: batch.waiting });
      } catch {
        // a throwing progress callback must not break the pipeline
      }
    },
  });
  yield* batch as AsyncIterable<SpeakOutcome>;
}
