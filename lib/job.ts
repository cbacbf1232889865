/** Runs one native job with an AbortSignal and a timeout: both settle the promise at once and cancel the native
 *  side, which stops at its next packet (or as soon as it starts, if it was still queued). */
import { TtsavError, fromNative, stoppedError } from './errors';
import { loadNative, type NativeJob } from './native';

/** A started native job: its promise, and abort(reason), which settles it at once with stoppedError(reason) and
 *  cancels the native side (a no-op once it settled). */
export interface NativeJobRun<T> {
  promise: Promise<T>;
  abort(reason: unknown): void;
}

/**
 * Starts one native job with a timeout and an abort function (no AbortSignal: for callers that own cancellation
 * themselves, such as the pool, a signal and its listener per job are work for nothing). `onSettle` runs once, first,
 * when the job settles whichever way.
 */
export function startNativeJob<R, T>(
  what: string,
  start: (callback: (err: unknown, result?: R) => void) => NativeJob,
  convert: (result: R) => T,
  timeoutMs?: number,
  onSettle?: () => void,
): NativeJobRun<T> {
  const native = loadNative();
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  let handle: NativeJob | undefined;
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const finish = (): boolean => {
    if (settled) return false;
    settled = true;
    if (timer) clearTimeout(timer);
    onSettle?.();
    return true;
  };
  try {
    handle = start((err, result) => {
      if (!finish()) return;
      if (err || result === undefined) reject(fromNative(err));
      else {
        try {
          resolve(convert(result));
        } catch (e) {
          reject(e);
        }
      }
    });
  } catch (err) {
    if (finish()) reject(err);
    return { promise, abort: () => {} };
  }
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => {
      native.cancel(handle!, 'timeout');
      if (finish()) reject(new TtsavError('ERR_TTSAV_TIMEOUT', `the ${what} ran past its timeout (${timeoutMs} ms)`));
    }, timeoutMs);
    timer.unref();
  }
  const abort = (reason: unknown): void => {
    if (settled) return;
    const err = stoppedError(reason, `the ${what}`);
    native.cancel(handle!, err.code === 'ERR_TTSAV_TIMEOUT' ? 'timeout' : 'abort');
    if (finish()) reject(err);
  };
  return { promise, abort };
}

export function runNativeJob<R, T>(
  what: string,
  start: (callback: (err: unknown, result?: R) => void) => NativeJob,
  convert: (result: R) => T,
  signal?: AbortSignal,
  timeoutMs?: number,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(stoppedError(signal.reason, `the ${what}`));
  if (!signal) return startNativeJob(what, start, convert, timeoutMs).promise;
  let run: NativeJobRun<T> | undefined;
  const onAbort = (): void => run?.abort(signal.reason);
  // Listening first: a start that throws settles at once, and its onSettle takes the listener off again.
  signal.addEventListener('abort', onAbort, { once: true });
  run = startNativeJob(what, start, convert, timeoutMs, () => signal.removeEventListener('abort', onAbort));
  return run.promise;
}
