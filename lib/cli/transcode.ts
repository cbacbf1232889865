/** `ttsav transcode`: one file (or stdin/stdout) as before, or many files, directories and globs into a directory. */
import { existsSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TtsavError } from '../errors';
import { FORMATS, normalizeOptions, type TranscodeOptions } from '../options';
import { createPool } from '../pool';
import { transcode, type TranscodeResult } from '../transcode';
import type { TtsavWarning } from '../warnings';
import { InputError, expandInputs, isDirectoryTarget, isFile, outputPathFor } from './inputs';
import { OutputExistsError, exists, writeAtomic } from './output';
import { ProgressBar, formatBytes, summaryTable, type Tally } from './progress';
import { UsageError, describeError, encoderOptions, interruptible, numberArg, readInput, type EncoderFlags } from './common';

/** What commander hands the action (camelCased option names). */
export interface TranscodeFlags extends EncoderFlags {
  output?: string;
  aacCoder?: string;
  faststart?: boolean;
  inputFormat?: string;
  maxInputBytes?: string;
  maxOutputBytes?: string;
  maxDuration?: string;
  timeout?: string;
  decodeErrors?: string;
  concurrency?: string;
  maxMemory?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** 1048576, '512k', '64M', '2G' (powers of 1024). */
export function parseBytes(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)i?[bB]?\s*$/.exec(value);
  if (!m) throw new UsageError(`--${flag} takes a size such as 512M or 1G, not '${value}'`);
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** The TranscodeOptions the flags ask for, validated (ERR_TTSAV_OPTIONS becomes a usage error). */
export function transcodeOptions(flags: TranscodeFlags, faststartFromCli: boolean): TranscodeOptions {
  const options: Record<string, unknown> = {};
  const set = (key: keyof TranscodeOptions, value: unknown): void => {
    if (value !== undefined) options[key] = value;
  };
  Object.assign(options, encoderOptions(flags));
  set('aacCoder', flags.aacCoder);
  if (faststartFromCli && flags.faststart === false) options.faststart = false;
  set('inputFormat', flags.inputFormat);
  set('maxInputBytes', parseBytes('max-input-bytes', flags.maxInputBytes));
  set('maxOutputBytes', parseBytes('max-output-bytes', flags.maxOutputBytes));
  set('maxDurationSeconds', numberArg('max-duration', flags.maxDuration));
  set('timeoutMs', numberArg('timeout', flags.timeout));
  set('decodeErrors', flags.decodeErrors);
  try {
    normalizeOptions(options);
  } catch (err) {
    if (err instanceof TtsavError && err.code === 'ERR_TTSAV_OPTIONS') throw new UsageError(err.message);
    throw err;
  }
  return options as TranscodeOptions;
}

function codecName(codec: string): string {
  return codec === 'aac' ? 'AAC' : codec === 'opus' ? 'Opus' : codec === 'mp3' ? 'MP3' : codec;
}

function resultLine(input: string, output: string, r: TranscodeResult): string {
  const layout = r.channels === 1 ? 'mono' : r.channels === 2 ? 'stereo' : `${r.channels} ch`;
  return (
    `${input} -> ${output}: ${r.durationSeconds.toFixed(2)} s ${codecName(r.codec)} ${Math.round(r.bitrate / 1000)} kb/s ` +
    `${r.sampleRate} Hz ${layout} (${r.format}), ${r.data.length} bytes in ${r.timings.total.toFixed(1)} ms`
  );
}

export async function runTranscode(inputs: string[], flags: TranscodeFlags, faststartFromCli: boolean): Promise<number> {
  const options = transcodeOptions(flags, faststartFromCli);
  const single = inputs.length === 1 && (inputs[0] === '-' || isFile(inputs[0]!)) && !isDirectoryTarget(flags.output);
  if (single) return transcodeOne(inputs[0]!, options, flags);
  if (inputs.includes('-')) throw new UsageError("'-' (stdin) takes a single input");
  if (flags.output === undefined || flags.output === '-') throw new UsageError('several inputs, a directory or a pattern need -o <directory>');
  if (existsSync(flags.output) && !statSync(flags.output).isDirectory()) throw new UsageError(`-o ${flags.output} is a file; several inputs need a directory`);
  return transcodeMany(inputs, flags.output, options, flags);
}

async function transcodeOne(input: string, options: TranscodeOptions, flags: TranscodeFlags): Promise<number> {
  const format = normalizeOptions(options).format;
  const extension = FORMATS[format].extension;
  const output = flags.output ?? (input === '-' ? '-' : `${path.basename(input, path.extname(input))}.${extension}`);
  if (output !== '-' && path.resolve(output) === path.resolve(input)) throw new UsageError('the output would overwrite the input; pass -o');
  if (output !== '-' && !flags.force && (await exists(output))) {
    process.stderr.write(`ttsav: ${output} exists; kept it (pass --force to overwrite)\n`);
    return 1;
  }
  const { signal, dispose } = interruptible();
  try {
    const result = await transcode(await readInput(input), { ...options, signal });
    if (output === '-') {
      await new Promise<void>((resolve, reject) => process.stdout.write(result.data, (err) => (err ? reject(err) : resolve())));
    } else await writeAtomic(output, result.data, flags.force === true);
    if (flags.json) {
      const { data, ...rest } = result;
      process.stderr.write(JSON.stringify({ source: input, target: output, bytes: data.length, ...rest }, null, 2) + '\n');
    } else {
      if (!flags.quiet) process.stderr.write(resultLine(input, output, result) + '\n');
      for (const w of result.warnings) process.stderr.write(`warning: ${input}: ${w.code}: ${w.message}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`ttsav: ${describeError(err)}\n`);
    return 1;
  } finally {
    dispose();
  }
}

interface PlanItem {
  input: string;
  output: string;
  status: 'pending' | 'ok' | 'skipped' | 'failed';
  reason?: string;
  code?: string;
  durationSeconds?: number;
  bytes?: number;
  warnings?: TtsavWarning[];
}

function concurrencyOption(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new UsageError(`--concurrency takes a number from 1 to 1024 or 'auto', not '${value}'`);
  return n;
}

async function transcodeMany(args: string[], outDir: string, options: TranscodeOptions, flags: TranscodeFlags): Promise<number> {
  const concurrency = concurrencyOption(flags.concurrency);
  const maxInFlightBytes = parseBytes('max-memory', flags.maxMemory);
  const extension = FORMATS[normalizeOptions(options).format].extension;
  const plan: PlanItem[] = [];
  for (const arg of args) {
    try {
      for (const f of expandInputs([arg], outDir)) plan.push({ input: f.path, output: outputPathFor(outDir, f.relative, extension), status: 'pending' });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      plan.push({ input: arg, output: '', status: 'failed', reason: err.message, code: 'ENOENT' });
    }
  }
  // Two inputs must not write one output (a.mp3 and a.wav → a.m4a), nor an output its own input.
  const claimed = new Map<string, string>();
  const seenInputs = new Set<string>();
  for (const item of plan) {
    if (item.status !== 'pending') continue;
    const inAbs = path.resolve(item.input);
    if (seenInputs.has(inAbs)) {
      item.status = 'skipped';
      item.reason = 'named twice';
      continue;
    }
    seenInputs.add(inAbs);
    const outAbs = path.resolve(item.output);
    const other = claimed.get(outAbs);
    if (outAbs === inAbs) Object.assign(item, { status: 'failed', reason: `${item.output} would overwrite its input`, code: 'ECOLLISION' });
    else if (other !== undefined) Object.assign(item, { status: 'failed', reason: `${item.output} is also the output of ${other}`, code: 'ECOLLISION' });
    else claimed.set(outAbs, item.input);
  }

  const tally: Tally = { total: plan.length, ok: 0, skipped: 0, failed: 0, audioSeconds: 0, outputBytes: 0, startedAt: performance.now() };
  const tty = process.stderr.isTTY === true && !flags.json && !flags.quiet;
  const bar = tty ? new ProgressBar(process.stderr) : undefined;
  const say = (line: string, always = false): void => {
    if (flags.json || (flags.quiet && !always)) return;
    bar?.clear();
    process.stderr.write(line + '\n');
  };
  const report = (item: PlanItem): void => {
    if (item.status === 'ok') {
      tally.ok++;
      tally.audioSeconds += item.durationSeconds ?? 0;
      tally.outputBytes += item.bytes ?? 0;
      if (!tty) say(`ok    ${item.input} -> ${item.output} (${(item.durationSeconds ?? 0).toFixed(2)} s, ${formatBytes(item.bytes ?? 0)})`);
      for (const w of item.warnings ?? []) say(`warn  ${item.input}: ${w.code}: ${w.message}`, true);
    } else if (item.status === 'skipped') {
      tally.skipped++;
      if (!tty) say(`skip  ${item.input}: ${item.reason}`);
    } else {
      tally.failed++;
      say(`FAIL  ${item.input}: ${item.reason}`, true);
    }
    bar?.update(tally);
  };
  for (const item of plan) {
    if (item.status !== 'pending' && item.status !== 'ok') report(item);
    else if (!flags.force && existsSync(item.output)) {
      item.status = 'skipped';
      item.reason = `${item.output} exists (pass --force to overwrite)`;
      report(item);
    }
  }

  const todo = plan.map((item, index) => ({ item, index })).filter((x) => x.item.status === 'pending');
  const { signal, dispose } = interruptible();
  const pool = createPool({
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(maxInFlightBytes !== undefined ? { maxInFlightBytes } : {}),
    defaults: options,
  });
  async function* source(): AsyncGenerator<{ id: number; input: Buffer }> {
    for (const { item, index } of todo) {
      let data: Buffer;
      try {
        // Refuse an oversized file before reading it into memory.
        if (options.maxInputBytes !== undefined) {
          const size = (await stat(item.input)).size;
          if (size > options.maxInputBytes) {
            const err = new TtsavError('ERR_TTSAV_LIMIT', `input is ${size} bytes, over maxInputBytes (${options.maxInputBytes})`, { reason: 'input-size' });
            Object.assign(item, { status: 'failed', reason: describeError(err), code: err.code });
            report(item);
            continue;
          }
        }
        data = await readFile(item.input);
      } catch (err) {
        Object.assign(item, { status: 'failed', reason: describeError(err), code: (err as NodeJS.ErrnoException).code });
        report(item);
        continue;
      }
      yield { id: index, input: data };
    }
  }

  let interrupted = false;
  try {
    for await (const r of pool.transcodeMany<number>(source(), { ordered: false, signal })) {
      const item = plan[r.id]!;
      if (r.error) {
        Object.assign(item, { status: 'failed', reason: describeError(r.error), code: r.error.code });
      } else {
        try {
          await writeAtomic(item.output, r.result.data, flags.force === true);
          Object.assign(item, { status: 'ok', durationSeconds: r.result.durationSeconds, bytes: r.result.data.length });
          if (r.result.warnings.length > 0) item.warnings = r.result.warnings;
        } catch (err) {
          if (err instanceof OutputExistsError) Object.assign(item, { status: 'skipped', reason: `${item.output} appeared meanwhile; kept it (pass --force to overwrite)` });
          else Object.assign(item, { status: 'failed', reason: `writing ${item.output}: ${describeError(err)}`, code: (err as NodeJS.ErrnoException).code });
        }
      }
      report(item);
    }
  } catch (err) {
    if (!(err instanceof TtsavError && err.code === 'ERR_TTSAV_ABORTED')) throw err;
    interrupted = true;
  } finally {
    dispose();
    await pool.close({ cancel: true });
  }
  bar?.update(tally, true);
  bar?.clear();

  const wallMs = performance.now() - tally.startedAt;
  const failures = plan.filter((p) => p.status === 'failed');
  if (flags.json) {
    const summary = {
      files: tally.total,
      ok: tally.ok,
      skipped: tally.skipped,
      failed: tally.failed,
      notDone: plan.filter((p) => p.status === 'pending').length,
      interrupted,
      audioSeconds: tally.audioSeconds,
      wallSeconds: wallMs / 1000,
      realtime: wallMs > 0 ? tally.audioSeconds / (wallMs / 1000) : 0,
      outputBytes: tally.outputBytes,
    };
    process.stdout.write(JSON.stringify({ summary, files: plan }, null, 2) + '\n');
  } else if (!flags.quiet || failures.length > 0 || interrupted) {
    process.stderr.write(summaryTable(tally, wallMs) + '\n');
    if (interrupted) process.stderr.write(`interrupted: ${plan.filter((p) => p.status === 'pending').length} file(s) not done\n`);
    if (failures.length > 0) {
      process.stderr.write(`${failures.length} failed:\n`);
      for (const f of failures) process.stderr.write(`  ${f.input}: ${f.reason}\n`);
    }
  }
  return interrupted ? 130 : failures.length > 0 ? 1 : 0;
}
