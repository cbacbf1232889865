import { expect } from 'vitest';
import { TtsavError } from '../../lib/errors';

/** Awaits a promise that must reject, checks that it rejected with a TtsavError (an Error), and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<TtsavError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TtsavError);
    expect(err).toBeInstanceOf(Error);
    return err as TtsavError;
  }
  throw new Error('expected a rejection');
}
