/** publish(): the live feed muxed with a looped H.264 video, to memory/file (FLV, MPEG-TS); typed refusals. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TtsavError, createLiveFeed, publish, publishMetricsText, type LiveFeed } from '../lib/index';
import { loadNative } from '../lib/native';
import { decodeErrors, makeLoopVideo, packets } from './helpers/publish-media';

let dir: string;
let loop73: string; // 7.3 s H.264 with B-frames, GOP 2 s
let mpeg4: string;

async function runFeed(feed: LiveFeed, seconds: number, advance: (ms: number) => void): Promise<void> {
  for (let t = 0; t < seconds * 10; t++) {
    advance(100);
    await feed.pump();
    if (t % 10 === 9) await new Promise((r) => setImmediate(r));
  }
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-publish-'));
  loop73 = path.join(dir, 'loop73.mp4');
  mpeg4 = path.join(dir, 'mpeg4.mp4');
  makeLoopVideo(loop73, 7.3);
  makeLoopVideo(mpeg4, 1, 'mpeg4');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('publish to a file', () => {
  it('a 7.3 s loop video looped 20 times with the feed: monotonic timestamps, both tracks decode, A/V ends together', async () => {
    let now = 0;
    const feed = createLiveFeed({ sampleRate: 48000, channels: 2, clock: () => now, autoPump: false });
    const file = path.join(dir, 'loop20.flv');
    const b = publish(feed, { output: file, video: { loop: fs.readFileSync(loop73) }, maxQueueMs: 60_000 });
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    const seconds = Math.ceil(7.3 * 20) + 1;
    await runFeed(feed, seconds, (ms) => (now += ms));
    await b.close();
    expect(errors).toEqual([]);
    const s = b.stats();
    expect(s.state).toBe('closed');
    expect(s.droppedMs).toBe(0);
    expect(s.loops).toBeGreaterThanOrEqual(20);
    expect(Math.abs(s.sentAudioMs - seconds * 1000)).toBeLessThan(50);
    expect(Math.abs(s.avDriftMs), JSON.stringify(s)).toBeLessThan(50);
    expect(decodeErrors(file)).toBe('');
    const pk = packets(file);
    for (const type of ['audio', 'video']) {
      const p = pk.filter((x) => x.type === type);
      expect(p.length).toBeGreaterThan(100);
      for (let i = 1; i < p.length; i++) if (!(p[i]!.dts > p[i - 1]!.dts)) throw new Error(`${type} dts not increasing at ${i}: ${p[i - 1]!.dts} -> ${p[i]!.dts}`);
    }
    // Interleaved by DTS in the file: no packet more than a video + an audio frame behind the one before it.
    for (let i = 1; i < pk.length; i++) expect(pk[i]!.dts).toBeGreaterThan(pk[i - 1]!.dts - 0.065);
    const v = pk.filter((x) => x.type === 'video');
    const a = pk.filter((x) => x.type === 'audio');
    const vEnd = Math.max(...v.map((x) => x.pts + x.dur));
    const aEnd = a[a.length - 1]!.pts + a[a.length - 1]!.dur;
    expect(Math.abs(vEnd - aEnd)).toBeLessThan(0.08);
    expect(Math.abs(aEnd - a[0]!.pts - seconds)).toBeLessThan(0.05);
    // Every pass starts on a keyframe: the video frames' presentation times have no gap or overlap.
    // (The stream's last few frames may miss a B-frame: the broadcast stops mid-GOP.)
    const vpts = v.map((x) => x.pts).sort((x, y) => x - y).slice(0, -4);
    for (let i = 1; i < vpts.length; i++) expect(vpts[i]! - vpts[i - 1]!, `at ${vpts[i - 1]}`).toBeCloseTo(0.04, 2);
  }, 120_000);

  it('audio only to a writable stream as MPEG-TS: decodes, lasts as long as the clock ran', async () => {
    let now = 0;
    const feed = createLiveFeed({ sampleRate: 44100, channels: 2, clock: () => now, autoPump: false });
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    const b = publish(feed, { output: sink, container: 'mpegts', maxQueueMs: 60_000 });
    await runFeed(feed, 12, (ms) => (now += ms));
    await b.close();
    const file = path.join(dir, 'audio.ts');
    fs.writeFileSync(file, Buffer.concat(chunks));
    expect(decodeErrors(file)).toBe('');
    const a = packets(file).filter((x) => x.type === 'audio');
    expect(a.length).toBeGreaterThan(400);
    expect(Math.abs(a[a.length - 1]!.pts + a[a.length - 1]!.dur - a[0]!.pts - 12)).toBeLessThan(0.05);
    expect(b.stats().sentBytes).toBe(Buffer.concat(chunks).length);
    const text = publishMetricsText();
    expect(text).toMatch(/^# TYPE ttsav_publish_broadcasts_total counter$/m);
    expect(Number(/^ttsav_publish_sent_bytes_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(Buffer.concat(chunks).length);
    expect(text).toMatch(/^ttsav_publish_active 0$/m);
  }, 60_000);

  it('an AbortSignal closes the broadcast cleanly (trailer written, close event, no error)', async () => {
    let now = 0;
    const feed = createLiveFeed({ sampleRate: 48000, channels: 2, clock: () => now, autoPump: false });
    const controller = new AbortController();
    const file = path.join(dir, 'aborted.flv');
    const b = publish(feed, { output: file, video: { loop: loop73 }, signal: controller.signal, maxQueueMs: 60_000 });
    const events: string[] = [];
    for (const e of ['connected', 'error', 'close'] as const) b.on(e, () => events.push(e));
    await runFeed(feed, 3, (ms) => (now += ms));
    const closed = new Promise<void>((r) => b.once('close', () => r()));
    controller.abort();
    await closed;
    expect(events).toEqual(['connected', 'close']);
    expect(b.state).toBe('closed');
    expect(decodeErrors(file)).toBe('');
    expect(packets(file).filter((x) => x.type === 'video').length).toBeGreaterThan(50);
    await feed.close();
  });
});

describe('publish refuses bad inputs before going live', () => {
  const feed = () => createLiveFeed({ autoPump: false, clock: () => 0 });
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(TtsavError);
      return (err as TtsavError).code;
    }
    return 'no error';
  };

  it('bad URLs and option combinations: ERR_TTSAV_OPTIONS', () => {
    const video = { loop: loop73 };
    expect(code(() => publish(feed(), { url: 'http://example.com/live/key', video }))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(feed(), { url: 'rtmp://', video }))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(feed(), { url: 'file:///etc/passwd', video }))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(feed(), { url: 'rtmp://127.0.0.1/live/key' }))).toBe('ERR_TTSAV_OPTIONS'); // no video
    expect(code(() => publish(feed(), { url: 'rtmp://127.0.0.1/live/key', video, container: 'mpegts' }))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(feed(), {} as never))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(createLiveFeed({ autoPump: false, format: 'fmp4' }), { output: path.join(dir, 'x.flv') }))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(feed(), { output: path.join(dir, 'x.flv'), video: { loop: path.join(dir, 'missing.mp4') } }))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(feed(), { url: 'rtmp://127.0.0.1/live/key', video, reconnect: { maxDelayMs: -1 } }))).toBe('ERR_TTSAV_OPTIONS');
  });

  it('a loop video that is not H.264: ERR_TTSAV_UNSUPPORTED; not media: ERR_TTSAV_INVALID_DATA', () => {
    let err: TtsavError | undefined;
    try {
      publish(feed(), { output: path.join(dir, 'x.flv'), video: { loop: mpeg4 } });
    } catch (e) {
      err = e as TtsavError;
    }
    expect(err?.code).toBe('ERR_TTSAV_UNSUPPORTED');
    expect(err?.message).toMatch(/mpeg4, not H\.264/);
    expect(code(() => publish(feed(), { output: path.join(dir, 'x.flv'), video: { loop: Buffer.from('not a video at all, just text') } }))).toBe(
      'ERR_TTSAV_INVALID_DATA',
    );
  });

  it('a truncated image: ERR_TTSAV_INVALID_DATA; a whole one without an LGPL H.264 encoder: ERR_TTSAV_UNSUPPORTED naming it', () => {
    const png = path.join(dir, 'cover.png');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x360', '-frames:v', '1', png]);
    const whole = fs.readFileSync(png);
    expect(loadNative().checkImage(whole)).toEqual({ width: 640, height: 360 });
    const truncated = whole.subarray(0, Math.floor(whole.length / 2));
    expect(code(() => publish(feed(), { output: path.join(dir, 'x.flv'), video: { image: truncated } }))).toBe('ERR_TTSAV_INVALID_DATA');
    expect(code(() => publish(feed(), { output: path.join(dir, 'x.flv'), video: { image: whole, fps: 0 } }))).toBe('ERR_TTSAV_OPTIONS');
    expect(code(() => publish(feed(), { output: path.join(dir, 'x.flv'), video: { image: whole, width: 5000 } }))).toBe('ERR_TTSAV_OPTIONS');
    if (!loadNative().hasEncoder('libopenh264')) {
      let err: TtsavError | undefined;
      try {
        publish(feed(), { output: path.join(dir, 'x.flv'), video: { image: whole } });
      } catch (e) {
        err = e as TtsavError;
      }
      expect(err?.code).toBe('ERR_TTSAV_UNSUPPORTED');
      expect(err?.message).toMatch(/libopenh264/);
    }
  });

  it.runIf(loadNative().hasEncoder('libopenh264'))(
    'a still image encoded once with libopenh264 (letterboxed 1280x720, GOP 2 s) and looped by copy: decodes, keyframe every 2 s, A/V end together',
    async () => {
      const jpg = path.join(dir, 'cover.jpg');
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=600x600', '-frames:v', '1', jpg]);
      let now = 0;
      const feed = createLiveFeed({ sampleRate: 44100, channels: 2, clock: () => now, autoPump: false });
      const file = path.join(dir, 'still.flv');
      // hwaccel 'cuda' on a machine without one (or a build without NVENC) falls back to libopenh264, and says why.
      const b = publish(feed, { output: file, video: { image: jpg, width: 1280, height: 720, fps: 25, hwaccel: 'cuda' }, maxQueueMs: 60_000 });
      expect(b.video?.source).toBe('image');
      expect([b.video?.width, b.video?.height]).toEqual([1280, 720]);
      if (b.video?.encoder === 'libopenh264') expect(b.video.fallback).toMatch(/cuda|nvenc/i);
      else expect(b.video?.encoder).toBe('h264_nvenc');
      const errors: unknown[] = [];
      b.on('error', (e) => errors.push(e));
      await runFeed(feed, 9, (ms) => (now += ms));
      await b.close();
      expect(errors).toEqual([]);
      const s = b.stats();
      expect(s.loops).toBeGreaterThanOrEqual(4);
      expect(Math.abs(s.avDriftMs), JSON.stringify(s)).toBeLessThan(50);
      expect(decodeErrors(file)).toBe('');
      const probe = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'stream=codec_name,width,height,pix_fmt', '-of', 'csv=p=0', file], {
        encoding: 'utf8',
      }).trim();
      expect(probe).toBe('h264,1280,720,yuv420p');
      const keys = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter((l) => l.includes('K'))
        .map((l) => Number(l.split(',')[0]));
      expect(keys.length).toBeGreaterThanOrEqual(4);
      for (let i = 1; i < keys.length; i++) expect(keys[i]! - keys[i - 1]!).toBeCloseTo(2, 1);
      // The letterbox: the top rows are black (the 600x600 picture is centred in 1280x720, bars left and right).
      const corner = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1', '-vf', 'crop=16:16:0:0', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], {
        maxBuffer: 1 << 20,
      });
      expect(Math.max(...corner)).toBeLessThanOrEqual(20);
    },
  );

});
