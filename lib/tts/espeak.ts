/**
 * espeak(): espeak-ng compiled to WebAssembly (npm `espeak-ng`), fully offline. The WASM module (18 MB, nearly all
 * of it espeak-ng's data files, which are left out and read on demand: espeak-wasm.ts) is compiled once per process
 * and shared; every synthesis instantiates it afresh (the build runs espeak-ng's command-line
 * main() once per instance) on a worker thread, so the event loop never waits for it.
 */
import os from 'node:os';
import { TtsavError } from '../errors';
import { integerOr, invalidOption, knownKeys, object } from '../validate';
import { splitText } from './edge-protocol';
import { ESPEAK_WORKER_BYTES, WorkerPool, espeakStats, type EspeakStats, type EspeakWorkerStats } from './espeak-worker';
import { CJK, estimateWords, parseWav, wavHeader } from './wav';
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

export { espeakStats, parseWav, type EspeakStats, type EspeakWorkerStats };

export const ESPEAK_FORMAT: TtsAudioFormat = Object.freeze({ container: 'wav', codec: 'pcm_s16le', sampleRate: 22050, channels: 1 });

export interface EspeakVoice extends TtsVoice {
  file?: string;
}
let voicesCache: Promise<EspeakVoice[]> | undefined;

const VOICE_RE = /^[A-Za-z0-9_\-\/]{1,40}(\+[A-Za-z0-9_\-]{1,20})?$/;

export class EspeakEngine implements TtsEngine {
  readonly name = 'espeak';
  readonly format = ESPEAK_FORMAT;
  /** Estimated memory of one live worker (its isolate, WASM instance and cached data files; measured 13 MB with an
   *  English voice; 16 MiB): what a pool's budget
   *  reserves per worker when speak() runs this engine through it. */
  readonly workerBytes = ESPEAK_WORKER_BYTES;
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
    object('options', options);
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
