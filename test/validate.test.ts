/** lib/validate.ts: the option checks every entry point shares — what each accepts, and the one error wording. */
import { describe, expect, it } from 'vitest';
import { TtsavError } from '../lib/errors';
import {
  abortSignal,
  func,
  integer,
  integerAtLeast,
  integerOr,
  iterable,
  knownKeys,
  metricName,
  numberIn,
  object,
  oneOf,
  plainObject,
  positiveNumber,
  withMethods,
} from '../lib/validate';

function refusal(fn: () => unknown): TtsavError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TtsavError);
    expect((err as TtsavError).code).toBe('ERR_TTSAV_OPTIONS');
    return err as TtsavError;
  }
  throw new Error('expected ERR_TTSAV_OPTIONS');
}

describe('validate', () => {
  it('numbers: integer, integerOr, integerAtLeast, numberIn, positiveNumber', () => {
    expect(integer('n', 5, 1, 10)).toBe(5);
    expect(refusal(() => integer('n', 5.5, 1, 10)).message).toBe('Expected integer between 1 and 10 for n but received 5.5 of type number');
    expect(refusal(() => integer('n', '5', 1, 10)).message).toBe('Expected integer between 1 and 10 for n but received "5" of type string');
    expect(integerOr('n', undefined, 7, 1, 10)).toBe(7);
    expect(() => integerOr('n', 11, 7, 1, 10)).toThrow(/between 1 and 10/);
    expect(integerAtLeast('n', 0, 0)).toBe(0);
    expect(refusal(() => integerAtLeast('n', 0, 1)).message).toMatch(/^Expected positive integer for n/);
    expect(refusal(() => integerAtLeast('n', -1, 0)).message).toMatch(/^Expected integer of at least 0 for n/);
    expect(numberIn('x', 0.5, 0, 1)).toBe(0.5);
    for (const bad of [NaN, Infinity, -0.1, null]) refusal(() => numberIn('x', bad, 0, 1));
    expect(positiveNumber('x', 1e-9)).toBe(1e-9);
    refusal(() => positiveNumber('x', 0));
    expect(refusal(() => positiveNumber('x', 3, 2)).message).toMatch(/number greater than 0 and at most 2/);
  });

  it('choices, objects and functions', () => {
    expect(oneOf('f', 'b', ['a', 'b'] as const)).toBe('b');
    expect(refusal(() => oneOf('f', 'c', ['a', 'b'])).message).toBe("Expected one of 'a', 'b' for f but received \"c\" of type string");
    expect(object('o', { a: 1 })).toEqual({ a: 1 });
    for (const bad of [null, [], 'x', 1]) refusal(() => object('o', bad));
    expect(refusal(() => plainObject('filters', { tempo: 1, nope: 2 }, ['tempo'])).message).toBe("Unknown option 'filters.nope'; known: tempo");
    expect(plainObject('filters', { tempo: 1, nope: undefined }, ['tempo'])).toEqual({ tempo: 1, nope: undefined });
    expect(refusal(() => knownKeys('edge()', { voice: 'x', vocie: 'y' }, ['voice'])).message).toBe("Unknown edge() option 'vocie'; known options: voice");
    const f = (): number => 1;
    expect(func('cb', f)).toBe(f);
    expect(refusal(() => func('cb', 1, 'a callback')).message).toBe('Expected a callback for cb but received 1 of type number');
    expect(withMethods('pool', { run: f }, ['run'], 'a pool')).toEqual({ run: f });
    expect(refusal(() => withMethods('pool', { run: 1 }, ['run'], 'a pool')).message).toMatch(/^Expected a pool for pool but received an object/);
    expect(refusal(() => func('cb', { a: 1 })).message).toMatch(/received an object of type object$/);
  });

  it('signals, metric names, iterables', () => {
    const signal = new AbortController().signal;
    expect(abortSignal('signal', signal)).toBe(signal);
    refusal(() => abortSignal('signal', { aborted: 'no' }));
    expect(metricName('prefix', 'ttsav_pool')).toBe('ttsav_pool');
    refusal(() => metricName('prefix', '1bad'));
    expect(iterable('items', [1])).toEqual([1]);
    const gen = (async function* () {})();
    expect(iterable('items', gen)).toBe(gen);
    refusal(() => iterable('items', 42));
    // A long string is cut in the message; a function is named, not printed.
    expect(refusal(() => integer('n', 'x'.repeat(100), 1, 2)).message).toContain('…');
    expect(refusal(() => integer('n', () => 1, 1, 2)).message).toMatch(/received a function of type function/);
  });
});
