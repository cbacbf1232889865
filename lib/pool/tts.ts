/** The TTS engines' worker threads a pool counts in its metrics and memory budget (speak() through a pool). */
import type { PoolMetrics } from '../metrics';

/** An engine whose worker threads count in a pool's metrics and budget (the espeak engine). */
export interface TtsWorkerSource {
  workerStats(): { workers: number; running: number; queued: number };
  /** Estimated memory of one live worker (bytes). */
  readonly workerBytes: number;
}

/** Engines that spoke through a pool and may have live workers (each dropped once it has none). */
export class TtsWorkers {
  private readonly sources = new Set<TtsWorkerSource>();

  add(source: TtsWorkerSource): void {
    this.sources.add(source);
  }

  /** Live workers, their jobs, and the memory reserved for them (workers × workerBytes). */
  stats(): PoolMetrics['tts'] {
    const out = { workers: 0, running: 0, queued: 0, reservedBytes: 0 };
    for (const source of this.sources) {
      const s = source.workerStats();
      if (s.workers === 0 && s.running === 0 && s.queued === 0) {
        this.sources.delete(source); // speak() adds it again when it next runs through the pool
        continue;
      }
      out.workers += s.workers;
      out.running += s.running;
      out.queued += s.queued;
      out.reservedBytes += s.workers * source.workerBytes;
    }
    return out;
  }
}
