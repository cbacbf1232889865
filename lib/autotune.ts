/**
 * The controller behind `concurrency: 'auto'`: a hill climber on measured throughput, with the event loop's delay
 * and the machine's free memory as brakes. No timers: it measures when jobs settle, so an idle pool costs nothing
 * and keeps nothing alive.
 *
 * - Throughput is audio seconds produced per wall second, measured over windows. A window closes at a job's
 *   settle once it has lasted `windowMs` and seen at least 2 × limit completions. The first window after each
 *   change is discarded (jobs started under the old limit are still finishing).
 * - Each level keeps an exponentially weighted mean of its windows. At level L the controller moves down to L-1
 *   when L-1 is known to be within `gain` (5%) of L — fewer jobs for the same throughput — else up to L+1 when
 *   L+1 is untried or was more than `gain` better; else it stays. Measurements older than `staleWindows` windows
 *   are forgotten, so neighbours get probed again when the load changes.
 * - Brakes, checked first at every window (settling ones too): when the event loop's p99 delay over the window exceeds
 *   `eventLoopDelayMs` (the main thread is starved: too many busy threads for the cores), or free memory falls
 *   under `minFreeMemoryBytes`, the limit drops by one and may not rise for `staleWindows` windows.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import os from 'node:os';

export interface AutoConcurrencyOptions {
  /** Minimum window length (ms). Default 1000. */
  windowMs?: number;
  /** Relative throughput difference treated as real. Default 0.05. */
  gain?: number;
  /** Event-loop delay (p99, ms) above which the limit is lowered. Default 50. */
  eventLoopDelayMs?: number;
  /** Free memory (bytes) under which the limit is lowered. Default 256 MiB. */
  minFreeMemoryBytes?: number;
  /** Windows after which a level's measurement is forgotten. Default 8. */
  staleWindows?: number;
  /** Free memory probe (for tests). Default: os.freemem(), bounded by process.constrainedMemory() - rss. */
  freeMemory?: () => number;
}

export interface AutoDecision {
  limit: number;
  /** Audio seconds per wall second measured in the window. */
  throughput: number;
  /** p99 event-loop delay in the window (ms). */
  eventLoopDelayMs: number;
  reason: 'up' | 'down' | 'stay' | 'event-loop' | 'memory' | 'settle';
}

interface LevelSample {
  value: number;
  window: number;
}

function defaultFreeMemory(): number {
  let free = os.freemem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  if (constrained && constrained > 0 && constrained < Number.MAX_SAFE_INTEGER)
    free = Math.min(free, constrained - process.memoryUsage.rss());
  return free;
}

export class AutoConcurrency {
  limit = 1;
  readonly history: AutoDecision[] = [];
  private readonly windowMs: number;
  private readonly gain: number;
  private readonly eldLimitMs: number;
  private readonly minFree: number;
  private readonly staleWindows: number;
  private readonly freeMemory: () => number;
  private readonly levels = new Map<number, LevelSample>();
  private eld: IntervalHistogram | undefined;
  private windowStart = 0;
  private windowAudio = 0;
  private windowJobs = 0;
  private windows = 0;
  private settling = false;
  private brakeUntil = 0;

  constructor(
    readonly max: number,
    options: AutoConcurrencyOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 1000;
    this.gain = options.gain ?? 0.05;
    this.eldLimitMs = options.eventLoopDelayMs ?? 50;
    this.minFree = options.minFreeMemoryBytes ?? 256 * 1024 * 1024;
    this.staleWindows = options.staleWindows ?? 8;
    this.freeMemory = options.freeMemory ?? defaultFreeMemory;
  }

  /** Starts measuring (called when the pool gets work). */
  resume(now: number): void {
    if (this.eld) return;
    this.eld = monitorEventLoopDelay({ resolution: 10 });
    this.eld.enable();
    this.openWindow(now);
  }

  /** Stops measuring (called when the pool goes idle or closes); nothing is left running. */
  pause(): void {
    this.eld?.disable();
    this.eld = undefined;
  }

  private openWindow(now: number): void {
    this.windowStart = now;
    this.windowAudio = 0;
    this.windowJobs = 0;
    this.eld?.reset();
  }

  /** Records a settled job; returns a decision when a window closed. */
  settled(audioSeconds: number, now: number): AutoDecision | undefined {
    this.windowAudio += audioSeconds;
    this.windowJobs++;
    const elapsed = now - this.windowStart;
    const settleWindow = this.settling;
    const enoughJobs = settleWindow ? this.limit : 2 * this.limit;
    if (elapsed < (settleWindow ? this.windowMs / 2 : this.windowMs) || this.windowJobs < enoughJobs) return undefined;

    const throughput = this.windowAudio / (elapsed / 1000);
    const eldMs = this.eld && this.eld.count > 0 ? this.eld.percentile(99) / 1e6 : 0;
    this.openWindow(now);
    this.windows++;
    const decide = (limit: number, reason: AutoDecision['reason']): AutoDecision => {
      const changed = limit !== this.limit;
      this.limit = limit;
      this.settling = changed;
      const d = { limit, throughput, eventLoopDelayMs: eldMs, reason };
      this.history.push(d);
      if (this.history.length > 1000) this.history.shift();
      return d;
    };
    // The brakes act in every window, settling ones included.
    const L = this.limit;
    if (eldMs > this.eldLimitMs && L > 1) {
      this.brakeUntil = this.windows + this.staleWindows;
      return decide(L - 1, 'event-loop');
    }
    if (this.freeMemory() < this.minFree && L > 1) {
      this.brakeUntil = this.windows + this.staleWindows;
      return decide(L - 1, 'memory');
    }
    if (settleWindow) return decide(L, 'settle');

    const prev = this.levels.get(L);
    this.levels.set(L, { value: prev ? 0.5 * prev.value + 0.5 * throughput : throughput, window: this.windows });
    for (const [level, s] of this.levels) if (this.windows - s.window > this.staleWindows) this.levels.delete(level);
    const here = this.levels.get(L)!.value;
    const below = this.levels.get(L - 1);
    const above = this.levels.get(L + 1);
    if (L > 1 && below && below.value * (1 + this.gain) >= here) return decide(L - 1, 'down');
    if (L < this.max && this.windows >= this.brakeUntil && (!above || above.value > here * (1 + this.gain)))
      return decide(L + 1, 'up');
    return decide(L, 'stay');
  }
}
