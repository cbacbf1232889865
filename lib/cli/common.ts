/** What every `ttsav` command shares: usage errors, error descriptions, stdin, and SIGINT/SIGTERM as an abort. */
import { readFile } from 'node:fs/promises';
import { TtsavError } from '../errors';

/** A mistake in the command line itself: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** One line for a failure: `CODE [stage]: message (libav: detail)`, or the system error code and message. */
export function describeError(err: unknown): string {
  if (err instanceof TtsavError) {
    const where = err.stage ? ` [${err.stage}]` : '';
    return `${err.code}${where}: ${err.message}${err.detail ? ` (libav: ${err.detail})` : ''}`;
  }
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A file's bytes, or stdin's for '-'. */
export function readInput(input: string): Promise<Buffer> {
  return input === '-' ? readStdin() : readFile(input);
}

/** SIGINT/SIGTERM abort the work; dispose() removes the handlers. */
export function interruptible(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => controller.abort(new Error(`interrupted by ${sig}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  };
}

/** Runs fn with a signal that SIGINT/SIGTERM abort. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, dispose } = interruptible();
  try {
    return await fn(signal);
  } finally {
    dispose();
  }
}
