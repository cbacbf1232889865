#!/usr/bin/env node
/** The ttsav command line: `ttsav transcode <in> -o <out> [options]` and `ttsav versions`. */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TtsavError } from './errors';
import { transcode, type TranscodeResult } from './transcode';
import type { TranscodeOptions } from './options';
import { versions } from './versions';

const USAGE = `Usage:
  ttsav transcode <input|-> [-o <output|->] [options]   transcode a file (or stdin) to AAC
  ttsav versions                                        show ttsav and libav versions

Transcode options:
  -o, --output <path>        output file, '-' for stdout (default: <input name>.<format> here)
  -f, --format <m4a|mp4|adts> container (default m4a)
  -b, --bitrate <rate>       e.g. 192k, 96000 (default 192k)
  -r, --sample-rate <hz>     AAC rate, e.g. 44100, 24000 (default 44100)
  -c, --channels <n>         1-6 or 8 (default 2)
      --aac-coder <twoloop|fast>
      --no-faststart         keep moov after the audio (m4a/mp4)
  -i, --input-format <name>  demuxer name to skip probing, e.g. mp3
      --max-input-bytes <n>  --max-output-bytes <n>  --max-duration <seconds>  --timeout <ms>
      --json                 print the result (without the data) as JSON on stderr
  -q, --quiet                print nothing on success
  -h, --help`;

class UsageError extends Error {}

function numberArg(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} takes a number, not '${value}'`);
  return n;
}

async function readInput(input: string): Promise<Buffer> {
  if (input !== '-') return readFile(input);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes beside the target and renames, so a failed or interrupted run never leaves a partial file. */
async function writeOutput(output: string, data: Buffer): Promise<void> {
  if (output === '-') {
    await new Promise<void>((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
    return;
  }
  const partial = `${output}.${process.pid}.partial`;
  try {
    await writeFile(partial, data);
    await rename(partial, output);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

function summary(input: string, output: string, r: TranscodeResult): string {
  const layout = r.channels === 1 ? 'mono' : r.channels === 2 ? 'stereo' : `${r.channels} ch`;
  return (
    `${input} -> ${output}: ${r.durationSeconds.toFixed(2)} s AAC ${Math.round(r.bitrate / 1000)} kb/s ` +
    `${r.sampleRate} Hz ${layout} (${r.format}), ${r.data.length} bytes in ${r.timings.total.toFixed(1)} ms`
  );
}

async function runTranscode(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      format: { type: 'string', short: 'f' },
      bitrate: { type: 'string', short: 'b' },
      'sample-rate': { type: 'string', short: 'r' },
      channels: { type: 'string', short: 'c' },
      'aac-coder': { type: 'string' },
      'no-faststart': { type: 'boolean' },
      'input-format': { type: 'string', short: 'i' },
      'max-input-bytes': { type: 'string' },
      'max-output-bytes': { type: 'string' },
      'max-duration': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (positionals.length !== 1) throw new UsageError('transcode takes exactly one input (a path, or - for stdin)');
  const input = positionals[0]!;
  const options: TranscodeOptions = {};
  if (values.format !== undefined) options.format = values.format as TranscodeOptions['format'];
  if (values.bitrate !== undefined) options.bitrate = values.bitrate;
  const set = <K extends keyof TranscodeOptions>(key: K, value: TranscodeOptions[K] | undefined): void => {
    if (value !== undefined) options[key] = value;
  };
  set('sampleRate', numberArg('sample-rate', values['sample-rate']));
  set('channels', numberArg('channels', values.channels));
  set('aacCoder', values['aac-coder'] as TranscodeOptions['aacCoder']);
  if (values['no-faststart']) options.faststart = false;
  set('inputFormat', values['input-format']);
  set('maxInputBytes', numberArg('max-input-bytes', values['max-input-bytes']));
  set('maxOutputBytes', numberArg('max-output-bytes', values['max-output-bytes']));
  set('maxDurationSeconds', numberArg('max-duration', values['max-duration']));
  set('timeoutMs', numberArg('timeout', values.timeout));

  const format = options.format ?? 'm4a';
  const extension = format === 'adts' ? 'aac' : format;
  const output =
    values.output ?? (input === '-' ? '-' : `${path.basename(input, path.extname(input))}.${extension}`);
  if (output !== '-' && path.resolve(output) === path.resolve(input))
    throw new UsageError('the output would overwrite the input; pass -o');

  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  options.signal = controller.signal;
  try {
    const result = await transcode(await readInput(input), options);
    await writeOutput(output, result.data);
    if (values.json) {
      const { data, ...rest } = result;
      process.stderr.write(JSON.stringify({ source: input, target: output, bytes: data.length, ...rest }, null, 2) + '\n');
    } else if (!values.quiet) {
      process.stderr.write(summary(input, output, result) + '\n');
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 2 : 0;
    }
    if (command === 'transcode') await runTranscode(rest);
    else if (command === 'versions') process.stdout.write(JSON.stringify(versions(), null, 2) + '\n');
    else throw new UsageError(`unknown command '${command}'`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`ttsav: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof TtsavError) {
      const where = err.stage ? ` [${err.stage}]` : '';
      process.stderr.write(`ttsav: ${err.code}${where}: ${err.message}${err.detail ? ` (libav: ${err.detail})` : ''}\n`);
      return 1;
    }
    process.stderr.write(`ttsav: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
