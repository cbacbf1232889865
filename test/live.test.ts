/** The live feed: clips back to back with gaps, silence when idle, paced by a clock. */
import { describe, expect, it } from 'vitest';
import { TtsavError, createLiveFeed, transcode } from '../lib/index';
import { decodeCheck, decodePcm, fixture, rms } from './helpers/media';

describe('createLiveFeed', () => {
  it('10 queued clips with gaps, then idle silence: continuous output as long as the clock ran', async () => {
    let now = 0;
    const feed = createLiveFeed({ preset: 'speech', sampleRate: 24000, gapMs: 200, clock: () => now, autoPump: false });
    const chunks: Buffer[] = [];
    feed.on('data', (c: Buffer) => chunks.push(c));
    const clip = fixture('piped.wav'); // espeak-ng's WAV as piped to stdout
    const clipSeconds = (await transcode(clip, { preset: 'speech', sampleRate: 24000 })).durationSeconds;
    for (let i = 0; i < 10; i++) await feed.enqueue(clip);
    expect(feed.queued).toBe(10);
    const seconds = Math.ceil(10 * (clipSeconds + 0.2)) + 5; // the clips, their gaps, then ~5 s idle
    for (let t = 0; t < seconds * 10; t++) {
      now += 100;
      await feed.pump();
    }
    expect(feed.played).toBe(10);
    expect(feed.producedSamples).toBe(seconds * 24000);
    await feed.close();
    const out = Buffer.concat(chunks);
    const d = decodeCheck(out, 1);
    expect(d.errors).toBe('');
    // ADTS keeps the encoder's 1024 priming samples; the last frame is padded.
    expect(d.samples - seconds * 24000).toBeGreaterThanOrEqual(0);
    expect(d.samples - seconds * 24000).toBeLessThanOrEqual(2 * 1024);
    // Speech where the clips are, silence after them.
    const pcm = decodePcm(out, 24000);
    const played = Math.round(10 * clipSeconds * 24000 + 9 * 0.2 * 24000);
    expect(rms(pcm, 1024 + 12000, 1024 + 36000)).toBeGreaterThan(0.01);
    expect(rms(pcm, 1024 + played + 24000, pcm.length - 2048)).toBeLessThan(0.001);
  });

  it('plays silence when nothing is queued and rejects when closed or over maxQueue', async () => {
    let now = 0;
    const feed = createLiveFeed({ clock: () => now, autoPump: false, maxQueue: 1, format: 'fmp4' });
    const chunks: Buffer[] = [];
    feed.on('data', (c: Buffer) => chunks.push(c));
    now = 2000;
    await feed.pump();
    await feed.enqueue(fixture('edge.mp3'));
    const over = (await feed.enqueue(fixture('edge.mp3')).catch((e) => e)) as TtsavError;
    expect(over.code).toBe('ERR_TTSAV_LIMIT');
    await feed.close();
    expect(feed.producedSamples).toBe(2 * 44100);
    expect(decodeCheck(Buffer.concat(chunks), 2).errors).toBe('');
    const closed = (await feed.enqueue(fixture('edge.mp3')).catch((e) => e)) as TtsavError;
    expect(closed).toBeInstanceOf(TtsavError);
  });

  it('paces itself by real time when no clock is given', async () => {
    const feed = createLiveFeed({ tickMs: 20 });
    let bytes = 0;
    feed.on('data', (c: Buffer) => (bytes += c.length));
    await new Promise((r) => setTimeout(r, 600));
    await feed.close();
    expect(feed.producedSamples).toBeGreaterThan(0.4 * 44100);
    expect(feed.producedSamples).toBeLessThan(2 * 44100);
    expect(bytes).toBeGreaterThan(0);
  });
});
