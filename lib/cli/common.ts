/** What every `ttsav` command shares: usage errors, error descriptions, stdin, and SIGINT/SIGTERM as an abort. */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { TtsavError } from '../errors';
import { FORMATS, presets, type TranscodeOptions } from '../options';
import { OutputExistsError } from './output';

/** A mistake in the command line itself: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** One line for a failure: `CODE [stage]: message (libav: detail)`, or the system error code and message. */
export function describeError(err: unknown): string {
  if (err instanceof OutputExistsError) return err.message;
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

/** A number flag, or 'source' where allowed; undefined when not given. */
export function numberArg(flag: string, value: string | undefined, allowSource = false): number | 'source' | undefined {
  if (value === undefined) return undefined;
  if (allowSource && value === 'source') return 'source';
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} takes a number${allowSource ? " or 'source'" : ''}, not '${value}'`);
  return n;
}

/** The encoder options `transcode` and `speak` share (and read into TranscodeOptions the same way). */
export function addEncoderOptions(command: Command): Command {
  return command
    .addOption(new Option('-p, --preset <name>', 'encoder settings to start from (default balanced)').choices(Object.keys(presets)))
    .addOption(new Option('-f, --format <format>', 'container and codec (default m4a)').choices(Object.keys(FORMATS)))
    .option('-b, --bitrate <rate>', 'e.g. 192k, 64000')
    .option('-r, --sample-rate <hz>', "output rate, e.g. 44100, or 'source'")
    .option('-c, --channels <n>', "output channels, or 'source'");
}

/** The flags addEncoderOptions() declares, as commander hands them over. */
export interface EncoderFlags {
  preset?: string;
  format?: string;
  bitrate?: string;
  sampleRate?: string;
  channels?: string;
}

/** EncoderFlags as TranscodeOptions fields (only those given). */
export function encoderOptions(flags: EncoderFlags): Partial<Pick<TranscodeOptions, 'preset' | 'format' | 'bitrate' | 'sampleRate' | 'channels'>> {
  const out: Record<string, unknown> = {};
  if (flags.preset !== undefined) out.preset = flags.preset;
  if (flags.format !== undefined) out.format = flags.format;
  if (flags.bitrate !== undefined) out.bitrate = flags.bitrate;
  if (flags.sampleRate !== undefined) out.sampleRate = numberArg('sample-rate', flags.sampleRate, true);
  if (flags.channels !== undefined) out.channels = numberArg('channels', flags.channels, true);
  return out;
}

/**
 * Runs a command and turns what it throws into an exit code, with one line on stderr: a usage error 2 (with a
 * pointer to --help), an option the library refused 2, an interruption 130, anything else 1.
 */
export async function runCommand(name: string, fn: () => Promise<number>, describe: (err: unknown) => string = describeError): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ttsav ${name}: ${err.message}\n(ttsav ${name} --help for usage)\n`);
      return 2;
    }
    if (err instanceof TtsavError && err.code === 'ERR_TTSAV_ABORTED') return 130;
    process.stderr.write(`ttsav ${name}: ${describe(err)}\n`);
    return err instanceof TtsavError && err.code === 'ERR_TTSAV_OPTIONS' ? 2 : 1;
  }
}
