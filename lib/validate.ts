/**
 * Option checks shared by every lib/ entry point: each returns the value it accepted or throws ERR_TTSAV_OPTIONS in
 * one wording, `Expected integer between 8000 and 96000 for sampleRate but received 7 of type number`.
 * Helpers that take a `fallback` return it for undefined (the option was not given).
 */
import { TtsavError } from './errors';

/** A short, safe rendering of a received value for an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

/** The ERR_TTSAV_OPTIONS error for `name`, which should have been `expected`. */
export function invalidOption(name: string, expected: string, value: unknown): TtsavError {
  return new TtsavError(
    'ERR_TTSAV_OPTIONS',
    `Expected ${expected} for ${name} but received ${describe(value)} of type ${value === null ? 'null' : typeof value}`,
  );
}

/** An integer in [min, max]. */
export function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalidOption(name, `integer between ${min} and ${max}`, value);
  return value;
}

/** An integer of at least `min` (no upper bound but the safe-integer range). */
export function integerAtLeast(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    throw invalidOption(name, min === 1 ? 'positive integer' : `integer of at least ${min}`, value);
  return value;
}

/** integer(), or `fallback` when the value is undefined. */
export function integerOr(name: string, value: unknown, fallback: number, min: number, max: number): number {
  return value === undefined ? fallback : integer(name, value, min, max);
}

/** A finite number in [min, max]. */
export function numberIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    throw invalidOption(name, `number between ${min} and ${max}`, value);
  return value;
}

/** A finite number in (0, max]. */
export function positiveNumber(name: string, value: unknown, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max)
    throw invalidOption(name, max === Number.MAX_VALUE ? 'positive number' : `number greater than 0 and at most ${max}`, value);
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidOption(name, 'boolean', value);
  return value;
}

/** One of the allowed values. */
export function oneOf<T>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T))
    throw invalidOption(name, `one of ${allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a))).join(', ')}`, value);
  return value as T;
}

/** A function (a callback option). */
export function func<F = (...args: never[]) => unknown>(name: string, value: unknown, expected = 'a function'): F {
  if (typeof value !== 'function') throw invalidOption(name, expected, value);
  return value as F;
}

/** An object (not null, not an array) — an options bag. */
export function object(name: string, value: unknown, expected = 'an object'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidOption(name, expected, value);
  return value as Record<string, unknown>;
}

/** An object with these methods (a duck-typed dependency: a storage, an S3 client, a pool). */
export function withMethods<T>(name: string, value: unknown, methods: readonly string[], expected: string): T {
  const o = value as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || methods.some((m) => typeof o[m] !== 'function')) throw invalidOption(name, expected, value);
  return value as T;
}

/** An options bag with only `known` keys (undefined values are ignored). `what` prefixes the unknown key's name. */
export function plainObject(name: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  const o = object(name, value);
  for (const key of Object.keys(o))
    if (!known.includes(key) && o[key] !== undefined)
      throw new TtsavError('ERR_TTSAV_OPTIONS', `Unknown option '${name}.${key}'; known: ${known.join(', ')}`);
  return o;
}

/** Refuses keys outside `known`, with a message naming the function the options belong to (`edge()`). */
export function knownKeys(owner: string, value: Record<string, unknown>, known: Iterable<string>): void {
  const list = [...known];
  for (const key of Object.keys(value))
    if (!list.includes(key) && value[key] !== undefined)
      throw new TtsavError('ERR_TTSAV_OPTIONS', `Unknown ${owner} option '${key}'; known options: ${list.join(', ')}`);
}

/** An AbortSignal (duck-typed, so signals from other realms pass). */
export function abortSignal(name: string, value: unknown): AbortSignal {
  const s = value as AbortSignal;
  if (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function')
    throw invalidOption(name, 'an AbortSignal', value);
  return s;
}

/** A Prometheus metric name (prefix). */
export function metricName(name: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(value)) throw invalidOption(name, 'a Prometheus metric name', value);
  return value;
}

/** A sync or async iterable. */
export function iterable<T>(name: string, value: unknown): Iterable<T> | AsyncIterable<T> {
  const it = value as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
  if (it === null || typeof it !== 'object' || (typeof it[Symbol.iterator] !== 'function' && typeof it[Symbol.asyncIterator] !== 'function'))
    throw invalidOption(name, 'an array, iterable or async iterable', value);
  return value as Iterable<T> | AsyncIterable<T>;
}
