/** The pool's runtime defaults: concurrency from the cores and the libuv threadpool, the memory budget. */
import os from 'node:os';

export function threadpoolSize(): number {
  const n = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** min(available cores, libuv threadpool size). */
export function defaultConcurrency(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, threadpoolSize()));
}

let warnedThreadpool = false;
export function warnThreadpool(asked: number): void {
  const size = threadpoolSize();
  if (asked <= size || warnedThreadpool) return;
  warnedThreadpool = true;
  process.emitWarning(
    `ttsav pool concurrency ${asked} exceeds the libuv threadpool size (${size}); jobs beyond ${size} wait inside ` +
      `libuv. Raise UV_THREADPOOL_SIZE before the threadpool is first used (e.g. UV_THREADPOOL_SIZE=${asked} node app.js).`,
    { code: 'TTSAV_THREADPOOL', type: 'TtsavWarning' },
  );
}

export function defaultBudget(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const memory = constrained && constrained > 0 && constrained < Number.MAX_SAFE_INTEGER ? Math.min(constrained, os.totalmem()) : os.totalmem();
  return Math.floor(memory / 4);
}
