/** SRT and WebVTT subtitles from word boundaries: words merged into cues by words, characters and duration. */
import { boolean, integerAtLeast, invalidOption, object, positiveNumber } from './validate';
import type { WordBoundary } from './tts/types';

export interface SubtitleOptions {
  /** Most words in one cue. Default 12. */
  maxWords?: number;
  /** Most characters in one cue's text. Default 42 (a common subtitle line length). */
  maxChars?: number;
  /** Longest cue in milliseconds. Default 5000. */
  maxDurationMs?: number;
  /** A pause longer than this between two words starts a new cue. Default 800 ms. */
  maxGapMs?: number;
  /** Start a new cue after a word that ends a sentence (. ! ? 。 ！ ？). Default true. */
  breakOnSentence?: boolean;
}

export interface Cue {
  /** 1-based. */
  index: number;
  startMs: number;
  endMs: number;
  text: string;
}

export interface Subtitles {
  srt: string;
  vtt: string;
  /** The word boundaries the cues were made from, timed to the audio they go with. */
  words: WordBoundary[];
  cues: Cue[];
}

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]/;
const SENTENCE_END = /[.!?。！？…]["'”’)\]]*$/;

function positive(name: string, value: unknown, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  return integer ? integerAtLeast(name, value, 1) : positiveNumber(name, value);
}

export function normalizeSubtitleOptions(options: unknown): Required<SubtitleOptions> {
  if (options === undefined || options === true) options = {};
  const o = object('subtitles', options, 'true or an object');
  const known = ['maxWords', 'maxChars', 'maxDurationMs', 'maxGapMs', 'breakOnSentence'];
  for (const k of Object.keys(o))
    if (!known.includes(k) && o[k] !== undefined) throw invalidOption('subtitles', `an object with ${known.join(', ')}`, options);
  return {
    maxWords: positive('maxWords', o.maxWords, 12, true),
    maxChars: positive('maxChars', o.maxChars, 42, true),
    maxDurationMs: positive('maxDurationMs', o.maxDurationMs, 5000, false),
    maxGapMs: positive('maxGapMs', o.maxGapMs, 800, false),
    breakOnSentence: o.breakOnSentence === undefined || boolean('breakOnSentence', o.breakOnSentence),
  };
}

/** Joins words: with a space between them, except between two CJK characters. */
function join(text: string, word: string): string {
  if (text === '') return word;
  const last = text[text.length - 1]!;
  return CJK.test(last) && CJK.test(word[0] ?? '') ? text + word : `${text} ${word}`;
}

/** Groups words into cues. Words must be in time order; a cue ends where its last word ends. */
export function buildCues(words: readonly WordBoundary[], options?: SubtitleOptions): Cue[] {
  const o = normalizeSubtitleOptions(options);
  const cues: Cue[] = [];
  let cur: { start: number; end: number; text: string; count: number; sentenceEnded: boolean } | undefined;
  const flush = (): void => {
    if (cur) cues.push({ index: cues.length + 1, startMs: cur.start, endMs: cur.end, text: cur.text });
    cur = undefined;
  };
  for (const w of words) {
    const text = w.text.trim();
    if (text === '') continue;
    const start = w.offsetMs;
    const end = w.offsetMs + Math.max(0, w.durationMs);
    if (cur) {
      const joined = join(cur.text, text);
      if (
        cur.count + 1 > o.maxWords ||
        Array.from(joined).length > o.maxChars ||
        end - cur.start > o.maxDurationMs ||
        start - cur.end > o.maxGapMs ||
        (o.breakOnSentence && cur.sentenceEnded)
      )
        flush();
    }
    if (!cur) cur = { start, end, text, count: 1, sentenceEnded: false };
    else {
      cur.text = join(cur.text, text);
      cur.end = Math.max(cur.end, end);
      cur.count++;
    }
    cur.sentenceEnded = SENTENCE_END.test(text);
  }
  flush();
  // Cues never overlap: a cue ends by the time the next one starts.
  for (let i = 0; i + 1 < cues.length; i++) if (cues[i]!.endMs > cues[i + 1]!.startMs) cues[i]!.endMs = cues[i + 1]!.startMs;
  return cues;
}

function clock(ms: number, sep: string): string {
  const t = Math.max(0, Math.round(ms));
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  const f = t % 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}${sep}${String(f).padStart(3, '0')}`;
}

export function toSrt(cues: readonly Cue[]): string {
  return cues.map((c) => `${c.index}\n${clock(c.startMs, ',')} --> ${clock(c.endMs, ',')}\n${c.text}\n`).join('\n');
}

export function toVtt(cues: readonly Cue[]): string {
  return `WEBVTT\n\n${cues.map((c) => `${clock(c.startMs, '.')} --> ${clock(c.endMs, '.')}\n${c.text.replace(/-->/g, '→')}\n`).join('\n')}`;
}

/**
 * Gives each word the punctuation that follows it in the source text (engines report bare words: 'Hello' for
 * 'Hello,'), so cues read like the text and can end at sentence ends. Words are looked up in order; one that is
 * not found keeps its text.
 */
export function punctuate(words: readonly WordBoundary[], text: string): WordBoundary[] {
  let cursor = 0;
  return words.map((w) => {
    const at = w.text === '' ? -1 : text.indexOf(w.text, cursor);
    if (at < 0 || at - cursor > 200) return { ...w };
    let end = at + w.text.length;
    const tail = /^[^\s\p{L}\p{N}]+/u.exec(text.slice(end, end + 8));
    if (tail) end += tail[0].length;
    cursor = end;
    return { ...w, text: text.slice(at, end) };
  });
}

/**
 * Subtitles for words timed against some audio. `timing` maps them onto the audio they will go with: times are
 * multiplied by `scale` (e.g. a tempo change), shifted by `offsetMs` (e.g. padding before), and clamped to
 * `durationMs`.
 */
export function makeSubtitles(words: readonly WordBoundary[], options?: SubtitleOptions, timing: { scale?: number; offsetMs?: number; durationMs?: number } = {}): Subtitles {
  const scale = timing.scale ?? 1;
  const offset = timing.offsetMs ?? 0;
  const limit = timing.durationMs ?? Infinity;
  const timed = words.map((w) => {
    const start = Math.min(limit, Math.max(0, w.offsetMs * scale + offset));
    const end = Math.min(limit, Math.max(start, (w.offsetMs + w.durationMs) * scale + offset));
    return { ...w, offsetMs: start, durationMs: end - start };
  });
  const cues = buildCues(timed, options);
  return { srt: toSrt(cues), vtt: toVtt(cues), words: timed, cues };
}
