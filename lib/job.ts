/** Runs one native job with an AbortSignal and a timeout: both settle the promise at once and cancel the native
 *  side, which stops at its next packet (or as soon as it starts, if it was still queued). */
import { TtsavError, fromNative, stoppedError } from './errors';
import { loadNative, type NativeJob } from './native';

export function runNativeJob<R, T>(
  what: string,
  start: (callback: (err: unknown, result?: R) => void) => NativeJob,
  convert: (result: R) => T,
  signal?: AbortSignal,
  timeoutMs?: number,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(stoppedError(signal.reason, `the ${what}`));
  const native = loadNative();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const handle = start((err, result) => {
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
    function onAbort(): void {
      const err = stoppedError(signal!.reason, `the ${what}`);
      native.cancel(handle, err.code === 'ERR_TTSAV_TIMEOUT' ? 'timeout' : 'abort');
      if (finish()) reject(err);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        native.cancel(handle, 'timeout');
        if (finish()) reject(new TtsavError('ERR_TTSAV_TIMEOUT', `the ${what} ran past its timeout (${timeoutMs} ms)`));
      }, timeoutMs);
      timer.unref();
    }
  });
}
