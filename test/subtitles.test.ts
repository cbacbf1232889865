/** SRT/WebVTT from word boundaries. */
import { describe, expect, it } from 'vitest';
import { buildCues, makeSubtitles, punctuate, toSrt, toVtt } from '../lib/subtitles';
import type { WordBoundary } from '../lib/tts/types';

const w = (text: string, offsetMs: number, durationMs: number): WordBoundary => ({ text, offsetMs, durationMs });

describe('subtitles', () => {
  const words = [w('Hello', 100, 300), w('world.', 420, 400), w('This', 1000, 200), w('is', 1220, 100), w('a', 1330, 50), w('test', 1400, 300)];

  it('cues break at sentence ends, and by words, characters and duration', () => {
    expect(buildCues(words).map((c) => [c.text, c.startMs, c.endMs])).toEqual([
      ['Hello world.', 100, 820],
      ['This is a test', 1000, 1700],
    ]);
    expect(buildCues(words, { maxWords: 3, breakOnSentence: false }).map((c) => c.text)).toEqual(['Hello world. This', 'is a test']);
    expect(buildCues(words, { maxChars: 10, breakOnSentence: false }).map((c) => c.text)).toEqual(['Hello', 'world.', 'This is a', 'test']);
    expect(buildCues(words, { maxDurationMs: 500, breakOnSentence: false }).map((c) => c.text)).toEqual(['Hello', 'world.', 'This is a', 'test']);
    expect(buildCues([w('a', 0, 100), w('b', 2000, 100)]).length).toBe(2); // a long pause
    expect(buildCues([w('a', 0, 100), w('b', 2000, 100)], { maxGapMs: 5000 }).length).toBe(1);
  });

  it('writes SRT and WebVTT', () => {
    const cues = buildCues([...words, w('Later', 3_723_456, 1000)]);
    expect(toSrt(cues)).toBe(
      '1\n00:00:00,100 --> 00:00:00,820\nHello world.\n\n2\n00:00:01,000 --> 00:00:01,700\nThis is a test\n\n3\n01:02:03,456 --> 01:02:04,456\nLater\n',
    );
    expect(toVtt(cues)).toBe(
      'WEBVTT\n\n00:00:00.100 --> 00:00:00.820\nHello world.\n\n00:00:01.000 --> 00:00:01.700\nThis is a test\n\n01:02:03.456 --> 01:02:04.456\nLater\n',
    );
  });

  it('joins CJK characters without spaces; cues never overlap', () => {
    const cues = buildCues([w('你', 0, 200), w('好', 150, 200), w('世', 400, 200), w('界。', 600, 200), w('OK', 900, 100)]);
    expect(cues.map((c) => c.text)).toEqual(['你好世界。', 'OK']);
    const overlapping = buildCues([w('one.', 0, 500), w('two', 300, 200)]);
    expect(overlapping[0]!.endMs).toBe(300);
  });

  it('gives bare words their punctuation back from the text', () => {
    const text = 'Hello, "world"! Is it you? Yes — it is.';
    const bare = ['Hello', 'world', 'Is', 'it', 'you', 'Yes', 'it', 'is'].map((t, i) => w(t, i * 100, 90));
    expect(punctuate(bare, text).map((x) => x.text)).toEqual(['Hello,', 'world"!', 'Is', 'it', 'you?', 'Yes', 'it', 'is.']);
    expect(punctuate([w('missing', 0, 1)], text)[0]!.text).toBe('missing');
  });

  it('times cues to the output: scale (tempo), offset (padding), clamped to the duration', () => {
    const s = makeSubtitles(words, {}, { scale: 0.5, offsetMs: 250, durationMs: 1000 });
    expect(s.cues.map((c) => [c.startMs, c.endMs])).toEqual([[300, 660], [750, 1000]]);
    expect(s.words[0]).toEqual({ text: 'Hello', offsetMs: 300, durationMs: 150 });
    expect(s.srt.startsWith('1\n00:00:00,300 --> 00:00:00,660\n')).toBe(true);
  });

  it('rejects bad options with clear errors', () => {
    expect(() => buildCues(words, { maxWords: 0 })).toThrow('Expected positive integer for maxWords but received 0 of type number');
    expect(() => buildCues(words, { maxChars: 'x' as never })).toThrow(/for maxChars/);
    expect(() => makeSubtitles(words, 'yes' as never)).toThrow(/Expected true or an object for subtitles/);
  });
});
