/**
 * The espeak-ng WASM runtime: the module is compiled once per process, without its embedded data files
 * (espeak-wasm.ts), and shared with the workers through workerData; every run instantiates it afresh on a worker
 * thread (the build runs espeak-ng's command-line main() once per instance), so the event loop never waits for it.
 * WorkerPool bounds the workers and the queue in front of them, and releases idle workers.
 *
 * Memory (bench/speak-rss.mjs, 4 concurrent speak() calls through a pool, 2 workers): peak RSS 110–118 MB, was
 * 248–300 MB in the same runs before the lean module and the globals fix below. Per worker about 13 MB: its
 * isolate, one instance (1.3–2 MB of its 32 MiB linear memory touched: espeak-ng's heap and the files it loaded)
 * and the files it has read (cached; ~0.8 MB for English).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TtsavError } from '../errors';
import { abortedError } from './prosody';
import { leanEspeakWasm, type EmbeddedFile } from './espeak-wasm';
import { trimMemory } from '../native';

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
  /** Size of the module compiled last: about 0.5 MB when its embedded data files are left out (read on demand),
   *  the whole 18 MB .wasm otherwise (a build laid out differently); 0 before the first compile. */
  moduleBytes: number;
}

const stats: EspeakStats = { compiles: 0, compileMs: 0, runs: 0, instantiateMs: 0, runMs: 0, moduleBytes: 0 };
export function espeakStats(): EspeakStats {
  return { ...stats };
}

// lib ES2022 has no WebAssembly types; this is all ttsav uses of it (the worker does the rest).
type WasmModule = object;
declare const WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> };
/** The compiled module and, when it is the lean one, where its files' bytes are (workerData of every worker). */
interface Compiled {
  module: WasmModule;
  wasmPath: string;
  files: EmbeddedFile[] | null;
  /** Size of the .wasm the files' offsets are into. */
  wasmSize: number;
  /** Bytes compiled. */
  bytes: number;
}
let modulePromise: Promise<Compiled> | undefined;
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
/**
 * Compiles the WASM module once per process (asynchronously: V8 compiles off the main thread) and shares it with
 * every worker: the lean module of espeak-wasm.ts, or the .wasm as it is when its layout is not the expected one.
 */
function compiledModule(): Promise<Compiled> {
  if (!modulePromise) {
    const started = performance.now();
    const wasmPath = espeakPaths().wasm; // ERR_TTSAV_LOAD when the package is not installed
    modulePromise = (async (): Promise<Compiled> => {
      const lean = leanEspeakWasm(wasmPath);
      const bytes = lean ? lean.bytes : readFileSync(wasmPath);
      const module = await WebAssembly.compile(bytes);
      return { module, wasmPath, files: lean ? lean.files : null, wasmSize: lean ? lean.wasmSize : bytes.length, bytes: bytes.length };
    })().then(
      (m) => {
        stats.compiles++;
        stats.compileMs += performance.now() - started;
        stats.moduleBytes = m.bytes;
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
// Each run leaves a whole WASM instance (its 32 MiB linear memory, a few MB of it touched) for the garbage
// collector, which does not count that memory as heap and so runs late. A full collection of this small isolate
// after each reply frees it at once.
let collect = null;
try {
  require('node:v8').setFlagsFromString('--expose-gc');
  collect = require('node:vm').runInNewContext('gc');
} catch {}
// espeak-ng's glue (an Emscripten build with assertions) defines getters on globalThis ('buffer', 'asm' and one per
// library symbol it lacks) whose closures hold that instance's whole scope: its Module, WebAssembly.Instance and
// linear memory. The first instance's getters are never replaced, the latest one's until the next run: without
// deleting them each worker keeps two to three dead 32 MiB instances alive (18 MB touched each), whatever the
// collector does. They are configurable; everything the glue added is deleted after each run.
const ownGlobals = new Set(Reflect.ownKeys(globalThis));
const dropGlueGlobals = () => {
  for (const key of Reflect.ownKeys(globalThis)) if (!ownGlobals.has(key)) try { delete globalThis[key]; } catch {}
};
// The lean module (espeak-wasm.ts) leaves the embedded files' bytes out: each file's contents are read from the
// .wasm file when espeak-ng first reads it, once per worker.
const { openSync, readSync, closeSync, fstatSync } = require('node:fs');
const fileCache = new Map();
const contentsOf = (f) => {
  let bytes = fileCache.get(f.name);
  if (!bytes) {
    bytes = new Uint8Array(f.length);
    const fd = openSync(workerData.wasmPath, 'r');
    try {
      if (fstatSync(fd).size !== workerData.wasmSize) throw new Error('espeak-ng.wasm has changed since it was compiled');
      for (let done = 0; done < f.length; ) {
        const n = readSync(fd, bytes, done, f.length - done, f.at + done);
        if (n === 0) throw new Error('espeak-ng.wasm is shorter than its table of files says');
        done += n;
      }
    } finally {
      closeSync(fd);
    }
    fileCache.set(f.name, bytes);
  }
  return bytes;
};
const filesByName = new Map((workerData.files || []).map((f) => [f.name, f]));
// The glue has made each embedded file a view of the (now zero, untouched) linear memory; when espeak-ng opens one,
// it gets the real contents first. (Wrapping FS.open keeps the file nodes' shapes: accessors on 445 nodes made
// every MEMFS access megamorphic.)
const lazyFiles = (FS, memory) => {
  if (!memory) throw new Error('the espeak-ng module exports no memory');
  const open = FS.open;
  FS.open = function (path, flags, mode) {
    const stream = open.call(this, path, flags, mode);
    const node = stream && stream.node;
    if (node && node.contents && node.contents.buffer === memory.buffer) {
      const f = filesByName.get(FS.getPath(node));
      if (f) node.contents = contentsOf(f);
    }
    return stream;
  };
};
let factory;
let idleCollect;
parentPort.on('message', async (msg) => {
  clearTimeout(idleCollect);
  try {
    if (!factory) factory = (await import(workerData.jsUrl)).default;
    const out = [], err = [];
    const t0 = performance.now();
    let instantiateMs = 0;
    let memory = null;
    const M = {
      arguments: msg.args,
      print: (s) => out.push(s),
      printErr: (s) => err.push(s),
      instantiateWasm(imports, done) {
        WebAssembly.instantiate(workerData.module, imports).then((instance) => {
          instantiateMs = performance.now() - t0;
          memory = Object.values(instance.exports).find((v) => v instanceof WebAssembly.Memory);
          // The glue goes on to run main() from here; a failure before it (lazyFiles) leaves no audio.
          try { done(instance, workerData.module); } catch (e) { err.push(String((e && e.message) || e)); }
        }, (e) => err.push(String(e)));
        return {};
      },
      preRun: [() => { M.FS.writeFile('/in.txt', msg.text); }],
    };
    // After the glue has created the embedded files (static constructors) and before main().
    if (workerData.files) M.onRuntimeInitialized = () => lazyFiles(M.FS, memory);
    const instance = await factory(M);
    let wav = null;
    try { wav = instance.FS.readFile('/out.wav'); } catch {}
    parentPort.postMessage({ id: msg.id, wav, stdout: out.join('\\n'), stderr: err.join('\\n'), instantiateMs, runMs: performance.now() - t0 },
      wav ? [wav.buffer] : []);
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: String((e && e.message) || e) });
  }
  dropGlueGlobals();
  if (collect) {
    setImmediate(collect);
    // The promise jobs of the run can still hold its instance when that first collection runs (seen about one time
    // in ten): a second one once the worker has been idle a moment frees it for good. Not when the next run came.
    clearTimeout(idleCollect);
    idleCollect = setTimeout(collect, 250);
    idleCollect.unref();
  }
});`;

/**
 * A worker's V8 heap is tiny (the glue script, one run's strings); besides the isolate, its memory is the WASM
 * instance (32 MiB linear memory, fixed by the build, of which a run touches a few MB) and the file cache (array
 * buffers, outside the heap). A small young generation keeps the isolate from growing 16 MiB semi-spaces per
 * worker (bench/speak-rss.mjs: 268 → 236–244 MB peak with 2 workers, synthesis alone, before the lean module).
 * The old generation limit is far above what a run needs (texts are split at maxChunkBytes).
 */
const WORKER_LIMITS = Object.freeze({ maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 });

/**
 * What one live espeak worker costs, for a pool's memory budget: the isolate, its WASM instance and its cached
 * files. Measured with bench/speak-rss.mjs (peak RSS with 2 workers minus 1, and 4 minus 2, halved; English): 13 MB.
 * A voice with a big dictionary adds about twice its size (the cached file and espeak-ng's copy in the instance):
 * cmn 1.6 MB, ru 8.5 MB.
 */
export const ESPEAK_WORKER_BYTES = 16 * 1024 * 1024;

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
export class WorkerPool {
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
        const { module, wasmPath, wasmSize, files } = await compiledModule();
        worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], resourceLimits: WORKER_LIMITS, workerData: { module, wasmPath, wasmSize, files, jsUrl: pathToFileURL(espeakPaths().js).href } });
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
    liveWorkers--;
    const exited = worker.terminate();
    if (liveWorkers > 0) return;
    // Nothing runs anywhere: let the compiled module go too; the next run compiles it again (about 0.2 s).
    modulePromise = undefined;
    // Once the thread is gone, hand what its allocator arena kept back to the system (bench/speak-rss.mjs: RSS 10 s
    // after the load 78 → 66 MB). Only if no worker has started since.
    void exited.then(() => {
      if (liveWorkers === 0) trimMemory();
    }, () => undefined);
  }

  async close(): Promise<void> {
    const all = this.idle.splice(0);
    for (const w of all) clearTimeout(w.timer);
    liveWorkers -= all.length;
    await Promise.all(all.map((w) => w.worker.terminate()));
    if (all.length > 0 && liveWorkers === 0) trimMemory();
  }
}
