/**
 * A/V drift of publish(), measured from the content a real server received (nginx + libnginx-mod-rtmp), not from
 * our own counters: the 7.3 s loop video's first frame is white (the rest black) and the feed plays click clips
 * exactly one loop long (350400 samples at 48 kHz) back to back, so in what was received every marker frame sits a
 * constant time from a click. The offset (marker pts - click pts) is measured in the server's recording and in a
 * viewer's copy (the ffmpeg CLI pulling the stream) for ~11 passes of the loop.
 *
 * Any error the loop's timestamp rewriting accumulates per pass (a span rounded in the wrong time base, a pass
 * started a tick late, the audio clock gaining on the video) moves the offset by that much per pass: 1 ms per pass
 * reads as ~10 ms of drift here and fails the 1.5 ms bound, which only the measurement's resolution sets (FLV
 * stores milliseconds; clicks are located to a few µs). The spec's bound is < 40 ms over an hour (the hour runs
 * are scripts/live-soak.mjs --markers); the offset never leaving one video frame (33 ms) is checked too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLiveFeed, publish } from '../lib/index';
import { RtmpServer, rtmpServerMissing } from './helpers/rtmp-server';
import { arrivalStats, keepFed, makeClickClip, makeMarkerLoop, measureFile, pullReceiver, type OffsetSummary } from '../scripts/av-markers.mjs';

const missing = rtmpServerMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RATE = 48000;
const SECONDS = Number(process.env.TTSAV_DRIFT_SECONDS ?? 80);

let dir: string;
let server: RtmpServer;

// On a simulated clock into an FLV file: 20 passes in seconds. Three loops: an MP4 whose time base holds 1/30 s;
// 220 frames at 30 fps in FLV (milliseconds: a pass is 7333.33 ms, and adding a rounded 7333 per pass drifted
// 0.33 ms a pass, 164 ms an hour, before passes were placed at pass * frames / rate); the same in Matroska (no dts
// stored: the dts the demuxer guessed fell after their pts and the muxer refused the loop, EINVAL).
describe('publish: A/V drift over 20 passes of the loop, recorded to a file on a simulated clock', () => {
  it.each([
    ['mp4', 219],
    ['flv', 220],
    ['mkv', 220],
  ])('a %s loop of %i frames at 30 fps: the marker-to-click offset holds within 1.5 ms', async (ext, frames) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-drift-file-'));
    try {
      const loop = makeMarkerLoop(path.join(d, `marker.${ext}`), { frames, fps: 30 });
      const samples = (frames / 30) * RATE;
      expect(Number.isInteger(samples)).toBe(true);
      const clip = makeClickClip({ sampleRate: RATE, channels: 2, samples });
      let now = 0;
      const feed = createLiveFeed({ sampleRate: RATE, channels: 2, bitrate: 160000, clock: () => now, autoPump: false });
      const out = path.join(d, 'out.flv');
      const b = publish(feed, { output: out, container: 'flv', video: { loop: loop.file } });
      const errors: unknown[] = [];
      b.on('error', (e) => errors.push(e));
      const closed = new Promise<void>((r) => b.once('close', () => r()));
      await feed.enqueue(clip);
      await feed.enqueue(clip);
      // 20 passes and a bit, in 100 ms ticks, the clips kept queued (no silence between them).
      while (now < (20 * loop.spanSeconds + 2) * 1000) {
        if (feed.queued < 2) await feed.enqueue(clip);
        now += 100;
        await feed.pump();
        await new Promise((r) => setImmediate(r)); // let the publisher's thread keep up (it drops beyond 3 s queued)
      }
      await feed.close();
      await closed;
      expect(errors).toEqual([]);
      expect(b.stats().droppedMs).toBe(0);
      const m = await measureFile(out, { spanSeconds: loop.spanSeconds, sampleRate: RATE });
      const why = JSON.stringify(m);
      console.log(ext, why);
      expect(m.pairs, why).toBeGreaterThanOrEqual(20);
      for (const e of m.clickSpacingErrorMs ?? []) expect(Math.abs(e), why).toBeLessThan(0.1);
      expect(m.driftMs!, why).toBeLessThanOrEqual(1.5);
      expect(Math.abs(m.slopeMsPerHour!), why).toBeLessThan(20);
      expect(m.maxInterleaveDtsMs!, why).toBeLessThanOrEqual(90);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.skipIf(missing !== '')('publish: A/V drift from the received content', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-drift-'));
    server = await RtmpServer.start();
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`a 7.3 s marker loop and clicks one loop apart, ${SECONDS} s through nginx: the marker-to-click offset holds within 1.5 ms`, async () => {
    const loop = makeMarkerLoop(path.join(dir, 'marker.mp4'), { frames: 219, fps: 30 });
    expect(loop.spanSeconds).toBe(7.3);
    const samples = Math.round(loop.spanSeconds * RATE);
    expect(samples).toBe(350400);
    const clip = makeClickClip({ sampleRate: RATE, channels: 2, samples });
    const feed = createLiveFeed({ sampleRate: RATE, channels: 2, bitrate: 160000 });
    const stopFeeding = keepFed(feed, clip);
    const b = publish(feed, { url: server.url('drift'), video: { loop: loop.file } });
    const events: string[] = [];
    for (const e of ['connected', 'disconnected', 'error'] as const) b.on(e, () => events.push(e));
    await new Promise<void>((r) => b.once('connected', () => r()));
    const viewer = pullReceiver(server.url('drift'), path.join(dir, 'view'));
    await sleep(SECONDS * 1000);
    stopFeeding();
    const closed = new Promise<void>((r) => b.once('close', () => r()));
    await feed.close();
    await closed;
    await sleep(1000);
    viewer.stop(); // nginx keeps a viewer waiting for the next publisher
    const seen = await viewer.done;
    expect(events).toEqual(['connected']);
    expect(seen.errors.replace(/^rtmp:\/\/\S+: Input\/output error\n?/m, '')).toBe('');
    await sleep(500);

    const opts = { spanSeconds: loop.spanSeconds, sampleRate: RATE };
    const recorded = await measureFile(server.recording('drift'), opts);
    const viewed = await measureFile(viewer.video, { ...opts, audioFile: viewer.audio });
    const passes = Math.floor(SECONDS / loop.spanSeconds);
    const frameMs = 1000 / loop.fps;
    const check = (m: OffsetSummary, least: number) => {
      const why = JSON.stringify(m);
      expect(m.pairs, why).toBeGreaterThanOrEqual(least);
      // The feed played the clips back to back: one click per span, to the sample (the harness, not the publisher).
      for (const e of m.clickSpacingErrorMs ?? []) expect(Math.abs(e), why).toBeLessThan(0.1);
      const [lo, hi] = m.offsetRangeMs!;
      expect(hi - lo, why).toBeLessThan(Math.min(frameMs, 40));
      expect(m.driftMs!, why).toBeLessThanOrEqual(1.5);
    };
    check(recorded, passes - 1);
    check(viewed, passes - 2); // it joined a moment after the start
    // Both copies carry the same timestamps (-copyts on the viewer): the same offset.
    expect(Math.abs(recorded.firstOffsetMs! - viewed.firstOffsetMs!), JSON.stringify({ recorded, viewed })).toBeLessThanOrEqual(1.5);

    console.log(JSON.stringify({ recorded, viewed, arrival: arrivalStats(viewer.log) }));
    // Interleaved by dts as the server received it: video goes out ahead by its reorder delay (2 frames, 67 ms)
    // plus at most one audio frame (21 ms).
    expect(recorded.maxInterleaveDtsMs!, JSON.stringify(recorded)).toBeLessThanOrEqual(90);
    // The viewer's arrival log: media time kept pace with the wall clock. Loose bounds: the feed ticks every 100 ms,
    // and on a loaded machine arrivals lag by up to ~2 s at moments (seen in the hour soaks), then catch up; a feed
    // clock at a wrong rate (44.1 kHz taken for 48 kHz: 8.8 %) is far outside them.
    const arrival = arrivalStats(viewer.log);
    const why = JSON.stringify(arrival);
    expect(arrival.wallSeconds!, why).toBeGreaterThan(SECONDS - 10);
    expect(Math.abs(arrival.mediaMinusWallMs!), why).toBeLessThan(1000);
    expect(Math.abs(arrival.rateErrorPpm!), why).toBeLessThan(5000);
  }, (SECONDS + 60) * 1000);
});
