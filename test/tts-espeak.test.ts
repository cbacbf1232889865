/** The offline engine: espeak-ng in WebAssembly, compiled once, run on worker threads, audio handed to transcode(). */
import { afterAll, describe, expect, it } from 'vitest';
import { TtsavError } from '../lib/errors';
import { speak } from '../lib/speak';
import { espeak, espeakStats } from '../lib/tts/espeak';
import { decodedSamples, ffprobe } from './helpers/media';

const engine = espeak({ workers: 2 });
afterAll(() => engine.close());

async function rejection(p: Promise<unknown>): Promise<TtsavError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TtsavError);
    return err as TtsavError;
  }
  throw new Error('expected a rejection');
}

describe('espeak engine', () => {
  it('English text → WAV with estimated word boundaries → valid AAC whose length matches', async () => {
    const text = 'Hello, this is an offline voice line. The quick brown fox jumps over the lazy dog.';
    const r = await speak(text, { engine, format: 'm4a', channels: 1, sampleRate: 24000, bitrate: '64k', subtitles: true });
    const probe = ffprobe(r.audio);
    expect(probe.codec).toBe('aac');
    expect(probe.channels).toBe(1);
    expect(probe.sampleRate).toBe(24000);
    expect(r.tts.format).toEqual({ container: 'wav', codec: 'pcm_s16le', sampleRate: 22050, channels: 1 });
    expect(r.tts.durationSeconds).toBeGreaterThan(3);
    // Decoding the AAC gives the synthesized duration (resampled), within an AAC frame.
    expect(Math.abs(decodedSamples(r.audio, 1) / 24000 - r.tts.durationSeconds)).toBeLessThan(1024 / 24000 + 0.005);
    expect(r.durationSeconds).toBeCloseTo(r.tts.durationSeconds, 2);
    expect(r.tts.words.map((w) => w.text)).toEqual(['Hello', 'this', 'is', 'an', 'offline', 'voice', 'line', 'The', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog']);
    expect(r.tts.words.every((w) => w.estimated)).toBe(true);
    for (let i = 1; i < r.tts.words.length; i++) expect(r.tts.words[i]!.offsetMs).toBeGreaterThanOrEqual(r.tts.words[i - 1]!.offsetMs);
    const last = r.tts.words[r.tts.words.length - 1]!;
    expect(last.offsetMs + last.durationMs).toBeLessThanOrEqual(r.durationSeconds * 1000 + 1);
    expect(r.subtitles!.srt).toMatch(/^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\nHello, this is an offline voice line\.?/);
    expect(r.subtitles!.vtt.startsWith('WEBVTT\n\n')).toBe(true);
  });

  it('Chinese text picks the cmn voice and gives valid AAC', async () => {
    const r = await speak('你好，世界。今天天气很好，我们去公园散步吧。', { engine, format: 'adts', channels: 1, sampleRate: 22050, bitrate: '48k', subtitles: true });
    expect(r.tts.voice).toBe('cmn');
    const probe = ffprobe(r.audio);
    expect(probe.codec).toBe('aac');
    expect(probe.formatName).toBe('aac');
    expect(r.tts.durationSeconds).toBeGreaterThan(1.5);
    expect(Math.abs(decodedSamples(r.audio, 1) / 22050 - r.tts.durationSeconds)).toBeLessThan(0.1);
    expect(r.tts.words.length).toBe(18); // one per Han character
    expect(r.subtitles!.cues[0]!.text.startsWith('你好')).toBe(true);
  });

  it('compiles the WASM module once per process, runs off the main thread', async () => {
    const other = espeak({ workers: 1 });
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    const before = espeakStats();
    const started = performance.now();
    await Promise.all(['One.', 'Two words.', 'Three more words.', 'And a fourth one.'].map((t, i) => (i % 2 ? other : engine).synthesize(t)));
    const wall = performance.now() - started;
    clearInterval(interval);
    await other.close();
    const after = espeakStats();
    expect(after.compiles).toBe(1);
    expect(after.runs - before.runs).toBe(4);
    // While four syntheses ran, the main thread kept serving 1 ms timers: the WASM ran on workers.
    expect(ticks).toBeGreaterThan(wall / 20);
    console.log(
      `espeak-ng WASM: compiled once in ${after.compileMs.toFixed(1)} ms; ${after.runs} runs, ` +
        `mean instantiate ${(after.instantiateMs / after.runs).toFixed(1)} ms, mean run ${(after.runMs / after.runs).toFixed(1)} ms; ` +
        `4 syntheses in ${wall.toFixed(0)} ms wall, ${ticks} timer ticks meanwhile`,
    );
  });

  it('validates voice, rate, pitch and volume with clear errors', async () => {
    expect((await rejection(engine.synthesize('hi', { rate: 'fast' }))).message).toBe(
      "Expected a string like '+10%' (-50% to +100%) for rate but received \"fast\" of type string",
    );
    expect((await rejection(engine.synthesize('hi', { volume: '+300%' }))).code).toBe('ERR_TTSAV_OPTIONS');
    expect((await rejection(engine.synthesize('hi', { voice: 'xx-nothing' }))).message).toMatch(/Expected an espeak-ng voice .* for voice but received "xx-nothing"/);
    expect((await rejection(speak('', { engine }))).code).toBe('ERR_TTSAV_OPTIONS');
    expect((await rejection(speak('hi', { engine, pitch: 3 as unknown as string }))).message).toMatch(/for pitch but received 3 of type number/);
    const fr = await engine.synthesize('Bonjour tout le monde.', { voice: 'fr', rate: '+20%', pitch: '+10Hz', volume: '-20%' });
    expect(fr.voice).toBe('fr');
    expect(fr.durationSeconds).toBeGreaterThan(0.5);
  });

  it('abort stops the run (the worker is replaced) and the engine keeps working', async () => {
    const controller = new AbortController();
    const p = engine.synthesize('This sentence is long enough to still be running when the abort comes in. '.repeat(5), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect((await rejection(p)).code).toBe('ERR_TTSAV_ABORTED');
    const again = await engine.synthesize('Still alive.');
    expect(again.durationSeconds).toBeGreaterThan(0.3);
  });

  it('long text is split into runs and joined: the words and samples add up', async () => {
    const sentence = 'This is sentence number one of a long passage.\n';
    const text = sentence.repeat(60); // ~2.8 KB: two runs at the default 2000-byte pieces
    const whole = await engine.synthesize(text);
    expect(whole.requests).toBe(2);
    expect(whole.words.length).toBe(60 * 9);
    const single = await engine.synthesize(sentence.trim());
    expect(whole.durationSeconds).toBeGreaterThan(single.durationSeconds * 50);
    for (let i = 1; i < whole.words.length; i++) expect(whole.words[i]!.offsetMs).toBeGreaterThanOrEqual(whole.words[i - 1]!.offsetMs);
  });

  it('lists its voices', async () => {
    const voices = await engine.voices();
    expect(voices.length).toBeGreaterThan(50);
    expect(voices.find((v) => v.name === 'cmn')).toBeTruthy();
    expect(voices.find((v) => v.name === 'en-us')?.description).toMatch(/English/);
  });
});
