/**
 * Admission: which queued job may start. A job starts when a slot is free and its estimated memory fits in what is
 * left of the budget; one larger than the whole budget starts only when nothing runs. Jobs start in arrival order
 * (the head of the queue is never overtaken, so a large job is not starved by small ones).
 *
 * Ahead: while every slot is busy, the head of the queue may be admitted ahead — handed to the pool's native job
 * queue, so that the runner that finishes a job takes it at once, without a trip through the main thread (see
 * native/job_queue.h). A job ahead is charged to the budget (it must fit: an oversize job never goes ahead), still
 * counts as waiting (queue depth, maxQueue), and moves to running, in order, as slots free up.
 */
export interface Admitted {
  /** Estimated memory, charged against the budget while the job runs. */
  bytes: number;
  /** Counted once as delayed by memory (a slot was free, the budget was not). */
  budgetDelayed?: boolean;
}

export class Admission<J extends Admitted> {
  readonly queue = new Set<J>();
  readonly running = new Set<J>();
  /** Admitted ahead, oldest first (see above). */
  readonly ahead = new Set<J>();
  inFlightBytes = 0;
  /** A closed pool admits what is queued but takes nothing new; waiting batch readers are let go. */
  closed = false;
  private spaceWaiters: (() => void)[] = [];

  constructor(
    readonly budget: number,
    readonly maxQueue: number,
    /** The concurrency limit now (it moves with concurrency 'auto'). */
    private readonly limit: () => number,
    private readonly onBudgetDelay: () => void,
    /** Bytes held outside the jobs (live TTS workers of engines speaking through the pool), counted in the budget. */
    private readonly reserved: () => number = () => 0,
  ) {}

  get idle(): boolean {
    return this.running.size === 0 && this.waiting === 0;
  }

  /** Jobs not running yet: queued here, or ahead in the native queue. */
  get waiting(): number {
    return this.queue.size + this.ahead.size;
  }

  canStart(bytes: number): boolean {
    if (this.running.size >= this.limit()) return false;
    if (this.inFlightBytes + this.reserved() + bytes <= this.budget) return true;
    // Nothing runs: an oversize job runs alone, and reserved bytes (TTS workers, released when idle) never stall
    // the pool for good.
    return this.running.size === 0;
  }

  /** A job submitted now would be refused: the queue is at maxQueue and the job could not start at once. */
  full(bytes: number): boolean {
    return this.waiting >= this.maxQueue && !this.canStart(bytes);
  }

  enqueue(job: J): void {
    this.queue.add(job);
  }

  /** Takes a job out of the queue (aborted or timed out while waiting); false if it was not queued. */
  dequeue(job: J): boolean {
    if (!this.queue.delete(job)) return false;
    this.notifySpace();
    return true;
  }

  /** The next job that may start, moved from the queue to running, or undefined. */
  admit(): J | undefined {
    const head = this.queue.values().next();
    // Jobs ahead were admitted first: they take the free slots first (promote()).
    if (head.done || this.ahead.size > 0) return undefined;
    const job = head.value;
    if (!this.canStart(job.bytes)) {
      if (this.running.size < this.limit() && !job.budgetDelayed) {
        job.budgetDelayed = true;
        this.onBudgetDelay();
      }
      return undefined;
    }
    this.queue.delete(job);
    this.running.add(job);
    this.inFlightBytes += job.bytes;
    this.notifySpace();
    return job;
  }

  /** The head of the queue admitted ahead (moved to `ahead`, charged to the budget) when every slot is busy, fewer
   *  than `max` are ahead, `eligible` says yes, and its estimate fits in what is left of the budget; or undefined. */
  admitAhead(max: number, eligible: (job: J) => boolean): J | undefined {
    const head = this.queue.values().next();
    if (head.done) return undefined;
    const job = head.value;
    if (this.running.size < this.limit() || this.ahead.size >= max || !eligible(job)) return undefined;
    if (this.inFlightBytes + this.reserved() + job.bytes > this.budget) return undefined;
    this.queue.delete(job);
    this.ahead.add(job);
    this.inFlightBytes += job.bytes;
    this.notifySpace();
    return job;
  }

  /** The oldest job ahead, moved to running when a slot is free (the native queue starts them in this order). */
  promote(): J | undefined {
    if (this.running.size >= this.limit()) return undefined;
    const head = this.ahead.values().next();
    if (head.done) return undefined;
    this.ahead.delete(head.value);
    this.running.add(head.value);
    this.notifySpace();
    return head.value;
  }

  /** Takes a job out of `ahead` (cancelled or timed out before it ran), releasing its bytes; false if it was not ahead. */
  dropAhead(job: J): boolean {
    if (!this.ahead.delete(job)) return false;
    this.inFlightBytes -= job.bytes;
    this.notifySpace();
    return true;
  }

  release(job: J): void {
    if (this.running.delete(job)) this.inFlightBytes -= job.bytes;
  }

  /** True when a job submitted now would wait: every slot busy, jobs queued, or the budget spent. */
  get saturated(): boolean {
    if (this.closed || this.waiting > 0 || this.running.size >= this.limit()) return true;
    // A slot is free: saturated only if even a small job's estimate would not fit in what is left of the budget.
    return this.running.size > 0 && this.inFlightBytes + this.reserved() >= this.budget;
  }

  /** Resolves once the queue has room (a batch waits here instead of being refused). */
  waitForSpace(): Promise<void> {
    if (this.hasSpace()) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Room for a batch item: below maxQueue (with maxQueue 0, an empty queue: the item waits alone). */
  private hasSpace(): boolean {
    return this.closed || this.waiting < Math.max(1, this.maxQueue);
  }

  notifySpace(): void {
    while (this.spaceWaiters.length > 0 && this.hasSpace()) this.spaceWaiters.shift()!();
  }
}
