/** A counting semaphore: at most `max` holders; waiters are served in order and leave when their signal aborts. */
import { stoppedError } from '../errors';

export class Slots {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly max: number) {}

  /** Waits for a slot; resolves with its release function (idempotent). Rejects if `signal` aborts first. */
  async acquire(signal?: AbortSignal, what = 'the work'): Promise<() => void> {
    if (this.active < this.max) this.active++;
    else
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          this.waiters.splice(this.waiters.indexOf(wake), 1);
          reject(stoppedError(signal!.reason, what));
        };
        if (signal?.aborted) return reject(stoppedError(signal.reason, what));
        this.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      }); // a woken waiter inherits the releasing holder's slot
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }
}
