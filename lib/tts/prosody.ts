/**
 * Validation of voice/rate/pitch/volume strings, with sharp-style messages. Values are whole numbers with an
 * optional sign ('+10%', '-5Hz'), the forms the EdgeTTS service documents; formatRelative() always signs them.
 */
import { TtsavError, stoppedError } from '../errors';
import { abortSignal, invalidOption } from '../validate';

export interface Relative {
  value: number;
  unit: '%' | 'Hz';
}

type Ranges = Partial<Record<'%' | 'Hz', readonly [number, number]>>;

function parseRelative(name: string, value: unknown, ranges: Ranges, example: string): Relative {
  const units = Object.keys(ranges) as ('%' | 'Hz')[];
  const expected = `a string like '${example}' (${units.map((u) => `${ranges[u]![0]}${u} to +${ranges[u]![1]}${u}`).join(' or ')})`;
  if (typeof value !== 'string') throw invalidOption(name, expected, value);
  const m = /^([+-]?)(\d{1,4})(%|Hz)$/.exec(value.trim());
  const range = m ? ranges[m[3] as '%' | 'Hz'] : undefined;
  if (!m || !range) throw invalidOption(name, expected, value);
  const n = Number(m[2]) * (m[1] === '-' ? -1 : 1);
  if (n < range[0] || n > range[1]) throw invalidOption(name, expected, value);
  return { value: n, unit: m[3] as '%' | 'Hz' };
}

/** rate: '-50%' … '+100%' (0.5× to 2×). */
export function parseRate(value: unknown): Relative {
  return parseRelative('rate', value, { '%': [-50, 100] }, '+10%');
}
/** volume: '-100%' … '+100%'. */
export function parseVolume(value: unknown): Relative {
  return parseRelative('volume', value, { '%': [-100, 100] }, '+0%');
}
/**
 * pitch: '-100Hz' … '+100Hz', or '-50%' … '+50%' where the engine takes it (espeak-ng; EdgeTTS's documented form
 * is Hz only, so edge() passes { percent: false }).
 */
export function parsePitch(value: unknown, accept: { percent: boolean } = { percent: true }): Relative {
  return parseRelative('pitch', value, accept.percent ? { Hz: [-100, 100], '%': [-50, 50] } : { Hz: [-100, 100] }, '+0Hz');
}

/** Formats a relative value the way SSML prosody wants it: always signed ('+0%', '-5Hz'). */
export function formatRelative(r: Relative): string {
  return `${r.value < 0 ? '-' : '+'}${Math.abs(r.value)}${r.unit}`;
}

export function checkSignal(value: unknown): AbortSignal | undefined {
  return value === undefined ? undefined : abortSignal('signal', value);
}

export function checkText(text: unknown): string {
  if (typeof text !== 'string') throw invalidOption('text', 'a non-empty string', text);
  if (text.trim() === '') throw new TtsavError('ERR_TTSAV_OPTIONS', 'Expected a non-empty string for text but received only whitespace');
  return text;
}

export function abortedError(signal: AbortSignal, what = 'the synthesis'): TtsavError {
  return stoppedError(signal.reason, what);
}

/** Rejects when the signal fires; resolves after ms otherwise. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
