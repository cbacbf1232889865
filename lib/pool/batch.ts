/**
 * The batch engine: reads items lazily from a (sync or async) iterable, runs each under a limit on the items held
 * between source and consumer (readAhead), and yields per-item outcomes in input or completion order. One item's
 * failure is its own unless failFast; aborting the batch's signal, or leaving a for-await loop, cancels what runs.
 * pool.transcodeMany() and speakMany() both run on it.
 */
import { TtsavError, asTtsavError, stoppedError } from '../errors';
import type { Batch, BatchProgress, ItemResult } from './types';

/** One item as the batch sees it: what to run, or why it cannot run. */
export interface BatchItem<R> {
  id: unknown;
  /** Input bytes, for progress. */
  bytesIn: number;
  run?: (signal: AbortSignal) => Promise<R>;
  /** A malformed item: reported as its outcome without running. */
  error?: TtsavError;
}

/** What a batch runs: how to turn a source value into an item, and how to account its result. */
export interface BatchWork<In, R> {
  /** Names the batch in errors ('the batch' → 'the batch was aborted'). */
  what: string;
  item(value: In, index: number): BatchItem<R>;
  /** Resolves when another item may be read (a pool's queue has room). */
  waitForSpace?(): Promise<void>;
  /** Output bytes and seconds of audio of a result, for progress. */
  measure(result: R): { bytesOut: number; audioSeconds: number };
}

export interface BatchSettings {
  ordered: boolean;
  failFast: boolean;
  readAhead: number;
  total?: number;
  onProgress?: (progress: BatchProgress) => void;
  signal?: AbortSignal;
}

/** The items' source: one read at a time; closed at most once, and never after it ended by itself. */
class Source<T> {
  private it: Iterator<T> | AsyncIterator<T> | undefined;
  private read_: Promise<IteratorResult<T>> | undefined;
  private closing: Promise<void> | undefined;
  /** Exhausted or threw: there is nothing to close. */
  ended = false;

  constructor(private readonly items: Iterable<T> | AsyncIterable<T>) {}

  open(): void {
    const it = this.items as { [Symbol.asyncIterator]?: () => AsyncIterator<T>; [Symbol.iterator]?: () => Iterator<T> };
    this.it = it[Symbol.asyncIterator] ? it[Symbol.asyncIterator]!() : it[Symbol.iterator]!();
  }

  get readable(): boolean {
    return this.it !== undefined && !this.ended && this.closing === undefined;
  }

  async read(): Promise<IteratorResult<T>> {
    const it = this.it!;
    this.read_ = new Promise<IteratorResult<T>>((resolve) => resolve(it.next()));
    try {
      const step = await this.read_;
      if (step.done) this.ended = true;
      return step;
    } catch (err) {
      this.ended = true;
      throw err;
    } finally {
      this.read_ = undefined;
    }
  }

  /** Tells the source we are done with it (runs a generator's finally blocks) once any read in progress returns. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.read_) await this.read_.catch(() => undefined);
      if (this.ended || !this.it?.return) return;
      try {
        await this.it.return();
      } catch {
        // the source's own cleanup failed; there is no one to report it to
      }
    })();
    return this.closing;
  }
}

export class BatchRun<In, R, Id> implements Batch<Id, R> {
  private readonly source: Source<In>;
  private startedAt: number | undefined;
  /** Why the batch stopped early; reported by next() once the cancelled items have settled. */
  private failure: unknown;
  /** next() answers done from here on (the failure, if any, has been reported). */
  private finished = false;
  /** A read is under way (waiting for room or for the source). */
  private reading = false;
  private pulled = 0;
  private yielded = 0;
  private pending = 0;
  private nextIndex = 0;
  private total: number | undefined;
  private readonly counts = { done: 0, failed: 0, bytesIn: 0, bytesOut: 0, audioSeconds: 0 };
  /** Finished items not yet handed out, by index (insertion order is completion order). */
  private readonly results = new Map<number, ItemResult<Id, R>>();
  private readonly waiters: { resolve(r: IteratorResult<ItemResult<Id, R>>): void; reject(e: unknown): void }[] = [];
  /** One controller per running item (a shared signal would collect a listener per queued job). */
  private readonly controllers = new Set<AbortController>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    items: Iterable<In> | AsyncIterable<In>,
    private readonly work: BatchWork<In, R>,
    private readonly settings: BatchSettings,
  ) {
    this.source = new Source(items);
    this.total = settings.total ?? (Array.isArray(items) ? items.length : undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Finished items waiting for the consumer. */
  get waiting(): number {
    return this.results.size;
  }

  progress(): BatchProgress {
    const elapsedMs = this.startedAt === undefined ? 0 : performance.now() - this.startedAt;
    const p: BatchProgress = { ...this.counts, elapsedMs };
    if (this.total !== undefined) {
      p.total = this.total;
      if (p.done > 0) p.etaMs = Math.max(0, (elapsedMs / p.done) * (this.total - p.done));
    }
    return p;
  }

  private begin(): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = performance.now();
    const signal = this.settings.signal;
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.failure === undefined) {
      try {
        this.source.open();
      } catch (err) {
        this.fail(err);
      }
    }
    this.fill();
  }

  private readonly onAbort = (): void => {
    this.fail(stoppedError(this.settings.signal?.reason, this.work.what));
  };

  /** Stops the batch: no more reads, running items cancelled; next() reports `err` once. */
  private fail(err: unknown): void {
    if (this.failure !== undefined || this.finished) return;
    this.failure = err;
    this.stop();
    this.flush();
  }

  private stop(): void {
    for (const c of this.controllers) c.abort(this.failure);
    this.controllers.clear();
    this.settings.signal?.removeEventListener('abort', this.onAbort);
    void this.source.close();
  }

  private fill(): void {
    if (this.reading || this.failure !== undefined || !this.source.readable) return;
    if (this.pulled - this.yielded >= this.settings.readAhead) return;
    void this.readOne();
  }

  private async readOne(): Promise<void> {
    this.reading = true;
    let step: IteratorResult<In>;
    try {
      await this.work.waitForSpace?.();
      if (this.failure !== undefined || !this.source.readable) return;
      step = await this.source.read();
    } catch (err) {
      this.fail(err);
      return;
    } finally {
      this.reading = false;
    }
    if (this.failure !== undefined) return; // stopped while reading: close() waited for this read
    if (step.done) {
      this.total = this.pulled;
      this.flush();
      return;
    }
    this.submit(step.value, this.pulled++);
    this.fill();
  }

  private submit(value: In, index: number): void {
    const item = this.work.item(value, index);
    this.pending++;
    if (item.error || !item.run) {
      this.settle(item, index, undefined, item.error ?? new TtsavError('ERR_TTSAV_INTERNAL', 'a batch item with nothing to run'));
      return;
    }
    const controller = new AbortController();
    this.controllers.add(controller);
    let running: Promise<R>;
    try {
      running = item.run(controller.signal);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (r) => {
        this.controllers.delete(controller);
        this.settle(item, index, r, undefined);
      },
      (e: unknown) => {
        this.controllers.delete(controller);
        this.settle(item, index, undefined, asTtsavError(e));
      },
    );
  }

  private settle(item: BatchItem<R>, index: number, result: R | undefined, error: TtsavError | undefined): void {
    this.pending--;
    const c = this.counts;
    c.done++;
    c.bytesIn += item.bytesIn;
    if (error) c.failed++;
    else {
      const m = this.work.measure(result!);
      c.bytesOut += m.bytesOut;
      c.audioSeconds += m.audioSeconds;
    }
    const id = item.id as Id;
    if (this.failure === undefined) {
      this.results.set(index, error ? { id, index, error } : { id, index, result: result! });
      if (error && this.settings.failFast) {
        this.fail(new TtsavError(error.code, `item ${String(id)} (index ${index}) failed: ${error.message}`, {
          stage: error.stage,
          averror: error.averror,
          detail: error.detail,
          reason: error.reason,
          cause: error,
        }));
      }
      if (this.failure === undefined && this.settings.onProgress) {
        try {
          this.settings.onProgress(this.progress());
        } catch (err) {
          this.fail(err);
        }
      }
    }
    this.flush();
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private take(): ItemResult<Id, R> | undefined {
    const index = this.settings.ordered ? this.nextIndex : this.results.keys().next().value;
    const entry = index === undefined ? undefined : this.results.get(index);
    if (entry) {
      this.results.delete(index!);
      if (this.settings.ordered) this.nextIndex++;
    }
    return entry;
  }

  /** Hands available results to waiting next() calls. */
  private flush(): void {
    while (this.waiters.length > 0) {
      if (this.failure !== undefined) {
        // Report the failure once the cancelled items have settled (their jobs have left the pool).
        if (this.pending > 0) return;
        const w = this.waiters.shift()!;
        if (this.finished) w.resolve({ done: true, value: undefined });
        else {
          this.finished = true;
          w.reject(this.failure);
        }
        continue;
      }
      const entry = this.take();
      if (entry) {
        this.yielded++;
        this.waiters.shift()!.resolve({ done: false, value: entry });
        this.fill();
        continue;
      }
      if (this.source.ended && !this.reading && this.pending === 0 && this.yielded === this.pulled) {
        this.finished = true;
        this.stop();
        for (const w of this.waiters.splice(0)) w.resolve({ done: true, value: undefined });
      }
      return;
    }
  }

  next(): Promise<IteratorResult<ItemResult<Id, R>>> {
    if (this.finished) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.begin();
      this.flush();
    });
  }

  /** Leaving a for-await loop early: cancels what is pending and waits until it has settled. */
  async return(): Promise<IteratorResult<ItemResult<Id, R>>> {
    if (!this.finished) {
      this.finished = true;
      this.failure ??= new TtsavError('ERR_TTSAV_ABORTED', 'the batch was closed');
      this.stop();
      for (const w of this.waiters.splice(0)) w.resolve({ done: true, value: undefined });
    }
    if (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    // A generator source has run its finally blocks when the for-await loop that broke out moves on.
    await this.source.close();
    return { done: true, value: undefined };
  }

  async throw(err?: unknown): Promise<IteratorResult<ItemResult<Id, R>>> {
    await this.return();
    throw err;
  }
}
