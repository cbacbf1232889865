/** WAV (RIFF PCM) parsing and headers, and word timings estimated from where the speech is (espeak-ng reports
 *  none). */
import { TtsavError } from '../errors';
import type { WordBoundary } from './types';

/** Reads a RIFF/WAVE file: format and the PCM bytes of its data chunk. */
export function parseWav(buf: Uint8Array): { sampleRate: number; channels: number; bitsPerSample: number; data: Buffer } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE')
    throw new TtsavError('ERR_TTSAV_TTS', 'espeak-ng produced no WAV');
  let offset = 12;
  let fmt: { sampleRate: number; channels: number; bitsPerSample: number } | undefined;
  while (offset + 8 <= b.length) {
    const id = b.toString('latin1', offset, offset + 4);
    let size = b.readUInt32LE(offset + 4);
    if (id === 'fmt ') fmt = { channels: b.readUInt16LE(offset + 10), sampleRate: b.readUInt32LE(offset + 12), bitsPerSample: b.readUInt16LE(offset + 22) };
    if (id === 'data') {
      if (!fmt) break;
      if (size > b.length - offset - 8) size = b.length - offset - 8; // a streamed header may overstate it
      return { ...fmt, data: b.subarray(offset + 8, offset + 8 + size) };
    }
    offset += 8 + size + (size & 1);
  }
  throw new TtsavError('ERR_TTSAV_TTS', 'espeak-ng produced a WAV without fmt/data chunks');
}

/** A canonical 44-byte header for s16 PCM. */
export function wavHeader(dataBytes: number, sampleRate: number, channels: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Han, kana and other CJK characters: text spoken without spaces between words. */
export const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;
const PHRASE_END = /[,;:.!?，。；：！？、…]$/;

/** Words of a text as espeak-ng will speak them: space-separated tokens, and each CJK character on its own. */
export function tokenize(text: string): string[] {
  const words: string[] = [];
  for (const token of text.split(/\s+/)) {
    if (token === '') continue;
    if (!CJK.test(token)) {
      if (/[\p{L}\p{N}]/u.test(token)) words.push(token);
      else if (words.length > 0) words[words.length - 1] += token; // lone punctuation joins the previous word
      continue;
    }
    // Split CJK runs into characters, keeping punctuation with the character before it.
    let latin = '';
    for (const ch of Array.from(token)) {
      if (CJK.test(ch)) {
        if (latin) words.push(latin);
        latin = '';
        words.push(ch);
      } else if (/[\p{L}\p{N}]/u.test(ch)) latin += ch;
      else if (latin) latin += ch;
      else if (words.length > 0) words[words.length - 1] += ch;
    }
    if (latin) words.push(latin);
  }
  return words;
}

/** Spans of sound in 16-bit mono PCM, split at silences of at least minGapMs (in ms). */
function soundSpans(pcm: Buffer, sampleRate: number, minGapMs = 90, threshold = 400): [number, number][] {
  const samples = pcm.length >> 1;
  const win = Math.max(1, Math.round(sampleRate / 100)); // 10 ms windows
  const spans: [number, number][] = [];
  let start = -1;
  let lastLoud = -1;
  for (let w = 0; w * win < samples; w++) {
    let peak = 0;
    const end = Math.min(samples, (w + 1) * win);
    for (let i = w * win; i < end; i++) {
      const v = Math.abs(pcm.readInt16LE(i * 2));
      if (v > peak) peak = v;
    }
    const t = (w * win * 1000) / sampleRate;
    if (peak >= threshold) {
      if (start < 0) start = t;
      else if (t - lastLoud > minGapMs) {
        spans.push([start, lastLoud]);
        start = t;
      }
      lastLoud = (end * 1000) / sampleRate;
    }
  }
  if (start >= 0) spans.push([start, lastLoud]);
  return spans;
}

/**
 * Estimated word timings: espeak-ng's command line reports none. Phrases (words up to a punctuation mark) are
 * matched to the spans of sound between pauses when their counts agree; within a span (or over the whole sound
 * when they do not), time is shared in proportion to each word's characters.
 */
export function estimateWords(text: string, pcm: Buffer, sampleRate: number): WordBoundary[] {
  const words = tokenize(text);
  if (words.length === 0) return [];
  const spans = soundSpans(pcm, sampleRate);
  if (spans.length === 0) return [];
  const phrases: string[][] = [[]];
  for (const w of words) {
    phrases[phrases.length - 1]!.push(w);
    if (PHRASE_END.test(w)) phrases.push([]);
  }
  if (phrases[phrases.length - 1]!.length === 0) phrases.pop();
  const groups: { words: string[]; span: [number, number] }[] =
    phrases.length === spans.length
      ? phrases.map((p, i) => ({ words: p, span: spans[i]! }))
      : [{ words, span: [spans[0]![0], spans[spans.length - 1]![1]] }];
  const out: WordBoundary[] = [];
  for (const g of groups) {
    const weight = (w: string): number => Array.from(w.replace(/[^\p{L}\p{N}]/gu, '')).length * (CJK.test(w) ? 3 : 1) + 1;
    const total = g.words.reduce((n, w) => n + weight(w), 0);
    let t = g.span[0];
    const len = g.span[1] - g.span[0];
    for (const w of g.words) {
      const d = (len * weight(w)) / total;
      out.push({ text: w.replace(/[,;:.!?，。；：！？、…"'()]+$/u, '') || w, offsetMs: t, durationMs: d, estimated: true });
      t += d;
    }
  }
  return out;
}

/** An espeak-ng voice: `name` is its language code (what -v takes), `file` its voice file ('gmw/en-US'). */
