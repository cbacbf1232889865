/**
 * espeak(): espeak-ng compiled to WebAssembly (npm `espeak-ng`), fully offline. The 18 MB WASM module is compiled
 * once per process and shared; every synthesis instantiates it afresh (the build runs espeak-ng's command-line
 * main() once per instance) on a worker thread, so the event loop never waits for it.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TtsavError } from '../errors';
import { integerOr, invalidOption, knownKeys, object } from '../validate';
import { splitText } from './edge-protocol';
import { abortedError, checkSignal, checkText, parsePitch, parseRate, parseVolume } from './prosody';
import type { Synthesis, SynthesizeOptions, TtsAudioFormat, TtsEngine, TtsVoice, WordBoundary } from './types';

export interface EspeakOptions {
  /** Default voice: an espeak-ng voice or language ('en-us', 'en-gb', 'cmn', 'fr', 'de+f3'). Default 'en-us', or
   *  'cmn' for text with Chinese characters. */
  voice?: string;
  rate?: string;
  pitch?: string;
  volume?: string;
  /** Worker threads running syntheses in parallel. Default min(2, cores). */
  workers?: number;
  /** Largest piece of text per espeak-ng run (longer text is split at sentences and joined). Default 2000 bytes. */
  maxChunkBytes?: number;
  /** Runs that may wait for a worker; beyond it synthesize() rejects with ERR_TTSAV_BUSY, reason 'tts-queue-full'.
   *  Default 64. */
  maxQueue?: number;
  /** A worker idle this long is terminated (its WASM instance and heap freed); the next run starts a new one.
   *  Default 5000 ms. */
  idleTimeoutMs?: number;
}

export const ESPEAK_FORMAT: TtsAudioFormat = Object.freeze({ container: 'wav', codec: 'pcm_s16le', sampleRate: 22050, channels: 1 });

/** What the shared WASM module has cost this process. */
export interface EspeakStats {
  /** Times the WASM module was compiled (1 once anything ran). */
  compiles: number;
  compileMs: number;
  /** espeak-ng runs (syntheses and voice listings). */
  runs: number;
  /** Milliseconds inside workers: instantiating the module, and whole runs (instantiate + synthesize). */
  instantiateMs: number;
  runMs: number;
}

const stats: EspeakStats = { compiles: 0, compileMs: 0, runs: 0, instantiateMs: 0, runMs: 0 };
export function espeakStats(): EspeakStats {
  return { ...stats };
}

// lib ES2022 has no WebAssembly types; this is all ttsav uses of it (the worker does the rest).
type WasmModule = object;
declare const WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> };
let modulePromise: Promise<WasmModule> | undefined;
/** Workers alive in every engine of the process (the compiled module is dropped when none is). */
let liveWorkers = 0;
function espeakPaths(): { js: string; wasm: string } {
  let js: string;
  try {
    js = require.resolve('espeak-ng');
  } catch (err) {
    // A service may leave the package out (it is GPL-3.0-or-later; see the README's Licenses).
    throw new TtsavError('ERR_TTSAV_LOAD', "the espeak engine needs the espeak-ng package (npm install espeak-ng), which is not installed", { cause: err });
  }
  return { js, wasm: path.join(path.dirname(js), 'espeak-ng.wasm') };
}
/** Compiles the WASM module once per process (asynchronously: V8 compiles off the main thread). */
function compiledModule(): Promise<WasmModule> {
  if (!modulePromise) {
    const started = performance.now();
    modulePromise = WebAssembly.compile(readFileSync(espeakPaths().wasm)).then(
      (m) => {
        stats.compiles++;
        stats.compileMs += performance.now() - started;
        return m;
      },
      (err: unknown) => {
        modulePromise = undefined;
        throw new TtsavError('ERR_TTSAV_LOAD', `cannot compile espeak-ng's WebAssembly: ${(err as Error).message}`, { cause: err });
      },
    );
  }
  return modulePromise!;
}

// Runs in each worker (plain JavaScript: the worker is started from this string, so it works from the
// TypeScript sources and from dist/ alike). One run per message: a fresh instance of the shared module.
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
// Each run leaves a whole WASM instance (its linear memory, tens of MB touched) for the garbage collector, which
// does not count that memory as heap and so runs late: several dead instances per worker add up to hundreds of MB.
// A full collection of this small isolate after each reply frees them at once.
let collect = null;
try {
  require('node:v8').setFlagsFromString('--expose-gc');
  collect = require('node:vm').runInNewContext('gc');
} catch {}
let factory;
parentPort.on('message', async (msg) => {
  try {
    if (!factory) factory = (await import(workerData.jsUrl)).default;
    const out = [], err = [];
    const t0 = performance.now();
    let instantiateMs = 0;
    const M = {
      arguments: msg.args,
      print: (s) => out.push(s),
      printErr: (s) => err.push(s),
      instantiateWasm(imports, done) {
        WebAssembly.instantiate(workerData.module, imports).then((instance) => {
          instantiateMs = performance.now() - t0;
          done(instance, workerData.module);
        }, (e) => err.push(String(e)));
        return {};
      },
      preRun: [() => { M.FS.writeFile('/in.txt', msg.text); }],
    };
    const instance = await factory(M);
    let wav = null;
    try { wav = instance.FS.readFile('/out.wav'); } catch {}
    parentPort.postMessage({ id: msg.id, wav, stdout: out.join('\\n'), stderr: err.join('\\n'), instantiateMs, runMs: performance.now() - t0 },
      wav ? [wav.buffer] : []);
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: String((e && e.message) || e) });
  }
  if (collect) setImmediate(collect);
});`;

interface RunResult {
  wav: Uint8Array | null;
  stdout: string;
  stderr: string;
}

interface Job {
  args: string[];
  text: string;
  signal?: AbortSignal;
  resolve: (r: RunResult) => void;
  reject: (e: unknown) => void;
}

/** What an espeak engine's workers are doing now. */
export interface EspeakWorkerStats {
  /** Worker threads alive (running or idle). */
  workers: number;
  /** Runs in progress. */
  running: number;
  /** Runs waiting for a worker. */
  queued: number;
  /** Runs refused because the queue was full (ERR_TTSAV_BUSY). */
  rejected: number;
  /** Workers terminated after idleTimeoutMs. */
  idleReleased: number;
}

/** A few workers; one run at a time each; terminated on abort (and replaced on demand) and after idling. */
class WorkerPool {
  private idle: { worker: Worker; timer: NodeJS.Timeout }[] = [];
  private busy = 0;
  private queue: Job[] = [];
  private nextId = 1;
  private rejected = 0;
  private idleReleased = 0;
  constructor(
    private readonly size: number,
    private readonly maxQueue: number,
    private readonly idleTimeoutMs: number,
  ) {}

  stats(): EspeakWorkerStats {
    return { workers: this.idle.length + this.busy, running: this.busy, queued: this.queue.length, rejected: this.rejected, idleReleased: this.idleReleased };
  }

  run(args: string[], text: string, signal?: AbortSignal): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError(signal));
      if (this.busy >= this.size && this.queue.length >= this.maxQueue) {
        this.rejected++;
        return reject(new TtsavError('ERR_TTSAV_BUSY', `the espeak engine's queue is full (maxQueue ${this.maxQueue})`, { reason: 'tts-queue-full' }));
      }
      const job: Job = { args, text, resolve, reject };
      if (signal) job.signal = signal;
      this.queue.push(job);
      this.pump();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && this.busy < this.size) {
      const job = this.queue.shift()!;
      if (job.signal?.aborted) {
        job.reject(abortedError(job.signal));
        continue;
      }
      this.busy++;
      this.dispatch(job).finally(() => {
        this.busy--;
        void this.pump();
      });
    }
  }

  private async dispatch(job: Job): Promise<void> {
    let worker: Worker;
    try {
      const reused = this.idle.pop();
      if (reused) clearTimeout(reused.timer);
      // execArgv: [] — the worker runs WORKER_SOURCE as CommonJS whatever flags the host started with
      // (a host run with --input-type=module would otherwise evaluate it as an ES module).
      if (reused) worker = reused.worker;
      else {
        worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { module: await compiledModule(), jsUrl: pathToFileURL(espeakPaths().js).href } });
        liveWorkers++;
      }
    } catch (err) {
      job.reject(err);
      return;
    }
    worker.ref();
    const id = this.nextId++;
    await new Promise<void>((done) => {
      let finished = false;
      const end = (keep: boolean): void => {
        if (finished) return;
        finished = true;
        worker.off('message', onMessage);
        worker.off('error', onError);
        job.signal?.removeEventListener('abort', onAbort);
        if (keep) {
          worker.unref();
          const timer = setTimeout(() => this.release(worker), this.idleTimeoutMs);
          timer.unref();
          this.idle.push({ worker, timer });
        } else {
          liveWorkers--;
          void worker.terminate();
        }
        done();
      };
      const onMessage = (m: { id: number; error?: string; wav?: Uint8Array | null; stdout?: string; stderr?: string; instantiateMs?: number; runMs?: number }): void => {
        if (m.id !== id) return;
        stats.runs++;
        stats.instantiateMs += m.instantiateMs ?? 0;
        stats.runMs += m.runMs ?? 0;
        if (m.error !== undefined) job.reject(new TtsavError('ERR_TTSAV_TTS', `espeak-ng failed: ${m.error}`));
        else job.resolve({ wav: m.wav ?? null, stdout: m.stdout ?? '', stderr: m.stderr ?? '' });
        end(m.error === undefined);
      };
      const onError = (err: Error): void => {
        job.reject(new TtsavError('ERR_TTSAV_TTS', `espeak-ng worker failed: ${err.message}`, { cause: err }));
        end(false);
      };
      const onAbort = (): void => {
        job.reject(abortedError(job.signal!));
        end(false); // stop the run: terminate the worker
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      job.signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage({ id, args: job.args, text: job.text });
    });
  }

  /** Terminates an idle worker (its WASM instance and heap go with it). */
  private release(worker: Worker): void {
    const i = this.idle.findIndex((w) => w.worker === worker);
    if (i < 0) return;
    this.idle.splice(i, 1);
    this.idleReleased++;
    void worker.terminate();
    liveWorkers--;
    // Nothing runs anywhere: let the compiled module go too (about 45 MB); the next run compiles it again.
    if (liveWorkers === 0) modulePromise = undefined;
  }

  async close(): Promise<void> {
    const all = this.idle.splice(0);
    for (const w of all) clearTimeout(w.timer);
    liveWorkers -= all.length;
    await Promise.all(all.map((w) => w.worker.terminate()));
  }
}

/** Reads a RIFF/WAVE file: format and the PCM bytes of its data chunk. */
export function parseWav(buf: Uint8Array): { sampleRate: number; channels: number; bitsPerSample: number; data: Buffer } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE')
    throw new TtsavError('ERR_TTSAV_TTS', 'espeak-ng produced no WAV');
  let offset = 12;
  let fmt: { sampleRate: number; channels: number; bitsPerSample: number } | undefined;
  while (offset + 8 <= b.length) {
    const id = b.toString('latin1', offset, offset + 4);
    let size = b.readUInt32LE(offset + 4);
    if (id === 'fmt ') fmt = { channels: b.readUInt16LE(offset + 10), sampleRate: b.readUInt32LE(offset + 12), bitsPerSample: b.readUInt16LE(offset + 22) };
    if (id === 'data') {
      if (!fmt) break;
      if (size > b.length - offset - 8) size = b.length - offset - 8; // a streamed header may overstate it
      return { ...fmt, data: b.subarray(offset + 8, offset + 8 + size) };
    }
    offset += 8 + size + (size & 1);
  }
  throw new TtsavError('ERR_TTSAV_TTS', 'espeak-ng produced a WAV without fmt/data chunks');
}

/** A canonical 44-byte header for s16 PCM. */
export function wavHeader(dataBytes: number, sampleRate: number, channels: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;
const PHRASE_END = /[,;:.!?，。；：！？、…]$/;

/** Words of a text as espeak-ng will speak them: space-separated tokens, and each CJK character on its own. */
export function tokenize(text: string): string[] {
  const words: string[] = [];
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (!CJK.test(token)) {
      if (/[\p{L}\p{N}]/u.test(token)) words.push(token);
      else if (words.length > 0) words[words.length - 1] += token; // lone punctuation joins the previous word
      continue;
    }
    // Split CJK runs into characters, keeping punctuation with the character before it.
    let latin = '';
    for (const ch of Array.from(token)) {
      if (CJK.test(ch)) {
        if (latin) words.push(latin);
        latin = '';
        words.push(ch);
      } else if (/[\p{L}\p{N}]/u.test(ch)) latin += ch;
      else if (latin) latin += ch;
      else if (words.length > 0) words[words.length - 1] += ch;
    }
    if (latin) words.push(latin);
  }
  return words;
}

/** Spans of sound in 16-bit mono PCM, split at silences of at least minGapMs (in ms). */
function soundSpans(pcm: Buffer, sampleRate: number, minGapMs = 90, threshold = 400): [number, number][] {
  const samples = pcm.length >> 1;
  const win = Math.max(1, Math.round(sampleRate / 100)); // 10 ms windows
  const spans: [number, number][] = [];
  let start = -1;
  let lastLoud = -1;
  for (let w = 0; w * win < samples; w++) {
    let peak = 0;
    const end = Math.min(samples, (w + 1) * win);
    for (let i = w * win; i < end; i++) {
      const v = Math.abs(pcm.readInt16LE(i * 2));
      if (v > peak) peak = v;
    }
    const t = (w * win * 1000) / sampleRate;
    if (peak >= threshold) {
      if (start < 0) start = t;
      else if (t - lastLoud > minGapMs) {
        spans.push([start, lastLoud]);
        start = t;
      }
      lastLoud = (end * 1000) / sampleRate;
    }
  }
  if (start >= 0) spans.push([start, lastLoud]);
  return spans;
}

/**
 * Estimated word timings: espeak-ng's command line reports none. Phrases (words up to a punctuation mark) are
 * matched to the spans of sound between pauses when their counts agree; within a span (or over the whole sound
 * when they do not), time is shared in proportion to each word's characters.
 */
export function estimateWords(text: string, pcm: Buffer, sampleRate: number): WordBoundary[] {
  const words = tokenize(text);
  if (words.length === 0) return [];
  const spans = soundSpans(pcm, sampleRate);
  if (spans.length === 0) return [];
  const phrases: string[][] = [[]];
  for (const w of words) {
    phrases[phrases.length - 1]!.push(w);
    if (PHRASE_END.test(w)) phrases.push([]);
  }
  if (phrases[phrases.length - 1]!.length === 0) phrases.pop();
  const groups: { words: string[]; span: [number, number] }[] =
    phrases.length === spans.length
      ? phrases.map((p, i) => ({ words: p, span: spans[i]! }))
      : [{ words, span: [spans[0]![0], spans[spans.length - 1]![1]] }];
  const out: WordBoundary[] = [];
  for (const g of groups) {
    const weight = (w: string): number => Array.from(w.replace(/[^\p{L}\p{N}]/gu, '')).length * (CJK.test(w) ? 3 : 1) + 1;
    const total = g.words.reduce((n, w) => n + weight(w), 0);
    let t = g.span[0];
    const len = g.span[1] - g.span[0];
    for (const w of g.words) {
      const d = (len * weight(w)) / total;
      out.push({ text: w.replace(/[,;:.!?，。；：！？、…"'()]+$/u, '') || w, offsetMs: t, durationMs: d, estimated: true });
      t += d;
    }
  }
  return out;
}

/** An espeak-ng voice: `name` is its language code (what -v takes), `file` its voice file ('gmw/en-US'). */
export interface EspeakVoice extends TtsVoice {
  file?: string;
}
let voicesCache: Promise<EspeakVoice[]> | undefined;

const VOICE_RE = /^[A-Za-z0-9_\-\/]{1,40}(\+[A-Za-z0-9_\-]{1,20})?$/;

export class EspeakEngine implements TtsEngine {
  readonly name = 'espeak';
  readonly format = ESPEAK_FORMAT;
  private readonly pool: WorkerPool;
  private readonly defaults: { voice?: string; rate: number; pitch: number; volume: number };
  private readonly maxChunkBytes: number;

  constructor(options: EspeakOptions = {}) {
    knownKeys('espeak()', object('options', options), ['voice', 'rate', 'pitch', 'volume', 'workers', 'maxChunkBytes', 'maxQueue', 'idleTimeoutMs']);
    const workers = integerOr('workers', options.workers, Math.min(2, os.availableParallelism()), 1, 64);
    this.maxChunkBytes = integerOr('maxChunkBytes', options.maxChunkBytes, 2000, 64, 100_000);
    const maxQueue = integerOr('maxQueue', options.maxQueue, 64, 0, 1_000_000);
    const idle = integerOr('idleTimeoutMs', options.idleTimeoutMs, 5000, 0, 3_600_000);
    this.pool = new WorkerPool(workers, maxQueue, idle);
    this.defaults = { rate: 175, pitch: 50, volume: 100 };
    const d = this.prosody({ rate: options.rate, pitch: options.pitch, volume: options.volume });
    this.defaults = { ...d };
    if (options.voice !== undefined) this.defaults.voice = this.checkVoice(options.voice);
  }

  private checkVoice(voice: unknown): string {
    if (typeof voice !== 'string' || !VOICE_RE.test(voice))
      throw invalidOption('voice', "an espeak-ng voice like 'en-us', 'cmn', 'fr' or 'en-gb+f3'", voice);
    return voice;
  }

  /** Maps the EdgeTTS-style strings onto espeak-ng's -s (words/min), -p (0–99) and -a (0–200). */
  private prosody(o: { rate?: string | undefined; pitch?: string | undefined; volume?: string | undefined }): { rate: number; pitch: number; volume: number } {
    const r = o.rate === undefined ? undefined : parseRate(o.rate);
    const p = o.pitch === undefined ? undefined : parsePitch(o.pitch);
    const v = o.volume === undefined ? undefined : parseVolume(o.volume);
    return {
      rate: r ? Math.round(Math.min(450, Math.max(80, 175 * (1 + r.value / 100)))) : this.defaults.rate,
      // Hz: espeak-ng's pitch scale is not in Hz; about 2 Hz per step for a typical voice.
      pitch: p ? Math.round(Math.min(99, Math.max(0, p.unit === '%' ? 50 * (1 + p.value / 100) : 50 + p.value / 2))) : this.defaults.pitch,
      volume: v ? Math.round(Math.min(200, Math.max(0, 100 * (1 + v.value / 100)))) : this.defaults.volume,
    };
  }

  validate(options: SynthesizeOptions): void {
    if (options.voice !== undefined) this.checkVoice(options.voice);
    this.prosody(options);
    checkSignal(options.signal);
  }

  async synthesize(text: string, options: SynthesizeOptions = {}): Promise<Synthesis> {
    checkText(text);
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
    const signal = checkSignal(options.signal);
    const voice = options.voice !== undefined ? this.checkVoice(options.voice) : (this.defaults.voice ?? (CJK.test(text) ? 'cmn' : 'en-us'));
    const { rate, pitch, volume } = this.prosody(options);
    if (signal?.aborted) throw abortedError(signal);
    const pieces = splitText(text, this.maxChunkBytes);
    const pcm: Buffer[] = [];
    const words: WordBoundary[] = [];
    let samples = 0;
    for (const piece of pieces) {
      const r = await this.pool.run(['-v', voice, '-s', String(rate), '-p', String(pitch), '-a', String(volume), '-w', '/out.wav', '-f', '/in.txt'], piece, signal);
      // An unknown voice is found out by the run itself (no extra run to list voices first).
      if (!r.wav && /voice does not exist/i.test(r.stderr))
        throw invalidOption('voice', "an espeak-ng voice (see voices({ engine: 'espeak' })) like 'en-us' or 'cmn'", voice);
      if (!r.wav) throw new TtsavError('ERR_TTSAV_TTS', `espeak-ng produced no audio${r.stderr ? `: ${r.stderr.trim()}` : ''}`, r.stderr ? { detail: r.stderr.trim() } : {});
      const wav = parseWav(r.wav);
      if (wav.sampleRate !== ESPEAK_FORMAT.sampleRate || wav.channels !== 1 || wav.bitsPerSample !== 16)
        throw new TtsavError('ERR_TTSAV_TTS', `espeak-ng produced ${wav.sampleRate} Hz ${wav.channels} ch ${wav.bitsPerSample}-bit audio, not 22050 Hz mono 16-bit`);
      const shift = (samples * 1000) / wav.sampleRate;
      for (const w of estimateWords(piece, wav.data, wav.sampleRate)) words.push({ ...w, offsetMs: w.offsetMs + shift });
      pcm.push(wav.data);
      samples += wav.data.length >> 1;
    }
    const data = Buffer.concat([wavHeader(samples * 2, ESPEAK_FORMAT.sampleRate, 1), ...pcm]);
    return { chunks: [data], bytes: data.length, words, format: this.format, durationSeconds: samples / ESPEAK_FORMAT.sampleRate, voice, requests: pieces.length };
  }

  /** The voices espeak-ng has: name = its language code (what -v takes), description = its voice name. */
  voices(options: { signal?: AbortSignal; refresh?: boolean } = {}): Promise<EspeakVoice[]> {
    // The list is the same for every engine (one WASM build): cached per process.
    if (!voicesCache || options.refresh) {
      voicesCache = this.pool.run(['--voices'], '', options.signal).then((r) => {
        const list: EspeakVoice[] = [];
        for (const line of r.stdout.split('\n').slice(1)) {
          const cols = line.trim().split(/\s+/);
          if (cols.length < 5) continue;
          const [, language, ageGender, name, file] = cols as [string, string, string, string, string];
          const gender = ageGender.endsWith('M') ? 'Male' : ageGender.endsWith('F') ? 'Female' : undefined;
          list.push({ name: language, locale: language, description: name.replace(/_/g, ' '), file, ...(gender ? { gender } : {}) });
        }
        if (list.length === 0) throw new TtsavError('ERR_TTSAV_TTS', 'espeak-ng listed no voices');
        return list;
      });
      voicesCache.catch(() => {
        voicesCache = undefined;
      });
    }
    return voicesCache;
  }

  /** Workers alive, runs in progress and waiting, runs refused (queue full), workers released after idling. */
  workerStats(): EspeakWorkerStats {
    return this.pool.stats();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** An offline espeak-ng engine (WASM). */
export function espeak(options?: EspeakOptions): EspeakEngine {
  return new EspeakEngine(options);
}
