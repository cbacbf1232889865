/** Many jobs at once run on the threadpool while the main thread stays responsive. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { transcode, type TranscodeResult } from '../lib/index';
import { decodedSamples, fixture } from './helpers/media';

interface Round {
  results: TranscodeResult[];
  elapsed: number;
  ticks: number;
  worstGap: number;
  maxDelayMs: number;
}

/** 50 transcodes at once, with a 10 ms interval on the main thread recording the longest gap between ticks. */
async function round(inputs: Buffer[]): Promise<Round> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  let ticks = 0;
  let last = performance.now();
  let worstGap = 0;
  const interval = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
    ticks++;
  }, 10);
  histogram.enable();
  const started = performance.now();
  try {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => transcode(inputs[i % inputs.length]!, i % 2 ? {} : { format: 'adts', channels: 1 })),
    );
    return { results, elapsed: performance.now() - started, ticks, worstGap, maxDelayMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
    clearInterval(interval);
  }
}

describe('concurrency', () => {
  it('50 concurrent transcodes all succeed while the event loop keeps ticking', async () => {
    const inputs = ['edge.mp3', 'speech.wav', 'speech.flac', 'speech.opus', 'speech.m4a'].map(fixture);
    // Warm up: the first call loads the addon.
    await transcode(inputs[0]!, { format: 'adts' });

    // No stall over 50 ms. Work done on the main thread would stall the loop on every job (one of these clips
    // takes ~200 ms of CPU here), in every round; a shared 2-core machine (four pool threads and the main thread
    // on two cores) can deschedule the process for longer than that once in a while, which once failed this
    // test at 98 ms. So a second round is run when the first saw a stall, and the better round must hold.
    const rounds = [await round(inputs)];
    if (rounds[0]!.worstGap >= 50 || rounds[0]!.maxDelayMs >= 50) rounds.push(await round(inputs));
    const best = rounds.reduce((a, b) => (b.worstGap < a.worstGap ? b : a));
    if (process.env.TTSAV_TEST_VERBOSE) console.log(rounds.map(({ results, ...r }) => r));

    for (const { results } of rounds) {
      expect(results).toHaveLength(50);
      for (const [i, r] of results.entries()) {
        expect(r.channels).toBe(i % 2 ? 2 : 1);
        // Same input, same rate: the same sample count, whatever the channel count or container.
        expect(r.samples).toBe(results[i % inputs.length]!.samples);
      }
      // Spot-check that what came back decodes.
      expect(decodedSamples(results[1]!.data, 2)).toBeGreaterThan(results[1]!.samples - 1024);
    }
    // The loop ran all along: ticks at roughly the interval's pace, and no stall over 50 ms.
    expect(best.ticks).toBeGreaterThan(best.elapsed / 10 / 3);
    expect(best.worstGap, JSON.stringify(rounds.map(({ results, ...r }) => r))).toBeLessThan(50);
    expect(best.maxDelayMs).toBeLessThan(50);
  });
});
