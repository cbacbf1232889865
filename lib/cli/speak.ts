/**
 * `ttsav speak` and `ttsav voices`. Familiar to edge-tts users:
 *   ttsav speak --text "Hello" -o hello.m4a
 *   ttsav speak --file lines.txt -o out/ --voice zh-CN-XiaoxiaoNeural --engine edge --write-subtitles
 *   ttsav voices --engine edge
 * Outputs go through the same no-data-loss writer as `ttsav transcode` (temporary name, fsync, rename; existing
 * files kept unless --force).
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { speak, speakMany, type SpeakManyOptions, type SpeakResult } from '../speak';
import { edge } from '../tts/edge';
import { espeak } from '../tts/espeak';
import type { TtsEngine } from '../tts/types';
import { UsageError, addEncoderOptions, describeError, encoderOptions, readStdin, runCommand, withInterrupt, type EncoderFlags } from './common';
import { isDirectoryTarget } from './inputs';
import { writeAtomic } from './output';

export interface SpeakFlags extends EncoderFlags {
  text?: string;
  file?: string;
  output?: string;
  engine?: 'espeak' | 'edge';
  voice?: string;
  rate?: string;
  pitch?: string;
  volume?: string;
  writeSubtitles?: boolean;
  endpoint?: string;
  ttsConcurrency?: string;
  transcodeConcurrency?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export interface VoicesFlags {
  engine?: 'espeak' | 'edge';
  endpoint?: string;
  locale?: string;
  json?: boolean;
}

const engineOption = (): Option =>
  new Option('-e, --engine <engine>', 'espeak: offline espeak-ng (default); edge: Microsoft Edge online voices').choices(['espeak', 'edge']);
const endpointOption = (): Option => new Option('--endpoint <url>', 'EdgeTTS endpoint ws(s)://host:port (default $TTSAV_EDGE_ENDPOINT, else the service)');

/** Registers `speak` and `voices` on the program; `setCode` receives each command's exit code. */
export function addSpeakCommands(cmd: Command, setCode: (code: number) => void): void {
  const speakCmd = cmd
    .command('speak')
    .summary('text to speech: --text "…" | --file lines.txt, offline espeak-ng or EdgeTTS')
    .description('Speak one text (--text) to a file, or one output per non-empty line of --file (0001.m4a, 0002.m4a, … in the -o directory).')
    .option('-t, --text <text>', 'text to speak (one output)')
    .option('--file <path>', "one output per non-empty line; '-' reads stdin")
    .option('-o, --output <path>', "output file (--text; '-' for stdout) or directory (--file; default .)")
    .addOption(engineOption())
    .option('-v, --voice <name>', 'e.g. en-us, cmn (espeak); en-US-AriaNeural, zh-CN-XiaoxiaoNeural (edge)')
    .option('--rate <+N%>', 'speaking rate, -50% … +100%')
    .option('--pitch <+NHz>', 'pitch, -100Hz … +100Hz (espeak also -50% … +50%)')
    .option('--volume <+N%>', 'volume, -100% … +100%');
  addEncoderOptions(speakCmd)
    .option('--write-subtitles', 'write .srt and .vtt beside each output')
    .addOption(endpointOption())
    .option('--tts-concurrency <n>', 'syntheses at once with --file (default 4)')
    .option('--transcode-concurrency <n>', 'transcodes at once with --file (default: cores)')
    .option('--force', 'overwrite existing outputs')
    .option('--json', 'print results as JSON on stdout')
    .option('-q, --quiet', 'print only failures')
    .addHelpText(
      'after',
      '\nExamples:\n  ttsav speak --text "Hello there." -o hello.m4a\n  ttsav speak --file lines.txt -o out/ --engine edge --voice zh-CN-XiaoxiaoNeural --write-subtitles\n' +
        '  echo "One line." | ttsav speak --file - -o out/ -f adts',
    )
    .action(async (flags: SpeakFlags) => setCode(await runSpeak(flags)));

  cmd
    .command('voices')
    .summary('list text-to-speech voices (--engine espeak|edge)')
    .addOption(engineOption())
    .addOption(endpointOption())
    .option('-l, --locale <prefix>', 'only voices whose locale starts with this, e.g. en or zh-CN')
    .option('--json', 'print JSON')
    .action(async (flags: VoicesFlags) => setCode(await runVoices(flags)));
}

function engineFor(name: string | undefined, endpoint: string | undefined): TtsEngine {
  if ((name ?? 'espeak') === 'espeak') {
    if (endpoint !== undefined) throw new UsageError('--endpoint applies to --engine edge');
    return espeak();
  }
  return edge(endpoint !== undefined ? { endpoint } : {});
}

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${flag} takes a positive integer, not '${value}'`);
  return Number(value);
}

function toStdout(data: Uint8Array | string): Promise<void> {
  return new Promise<void>((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Writes the audio (and subtitles) whole, or not at all; refuses to replace existing files unless force. */
async function writeResult(result: SpeakResult, target: string, subtitles: boolean, force: boolean): Promise<string[]> {
  if (target === '-') {
    await toStdout(result.audio);
    return [target];
  }
  const written = [target];
  const files: [string, Uint8Array][] = [[target, result.audio]];
  if (subtitles && result.subtitles) {
    const base = target.slice(0, target.length - path.extname(target).length);
    files.push([`${base}.srt`, Buffer.from(result.subtitles.srt)], [`${base}.vtt`, Buffer.from(result.subtitles.vtt)]);
    written.push(`${base}.srt`, `${base}.vtt`);
  }
  for (const [file, data] of files) await writeAtomic(file, data, force);
  return written;
}

function summary(r: SpeakResult): string {
  return `${r.durationSeconds.toFixed(2)} s ${r.transcode.codec} ${Math.round(r.transcode.bitrate / 1000)} kb/s ${r.transcode.sampleRate} Hz ` +
    `${r.transcode.channels === 1 ? 'mono' : `${r.transcode.channels} ch`}, ${r.audio.length} bytes (${r.tts.engine} ${r.tts.voice})`;
}

/** `ttsav speak`; returns the exit code (0 done, 1 something failed, 2 usage, 130 interrupted). */
export function runSpeak(flags: SpeakFlags): Promise<number> {
  return runCommand('speak', () => speakCommand(flags));
}

async function speakCommand(flags: SpeakFlags): Promise<number> {
  if ((flags.text === undefined) === (flags.file === undefined)) throw new UsageError('give either --text or --file');
  const engine = engineFor(flags.engine, flags.endpoint);
  const options: SpeakManyOptions = { engine };
  const set = <K extends keyof SpeakManyOptions>(key: K, value: SpeakManyOptions[K] | undefined): void => {
    if (value !== undefined) options[key] = value;
  };
  set('voice', flags.voice);
  set('rate', flags.rate);
  set('pitch', flags.pitch);
  set('volume', flags.volume);
  Object.assign(options, encoderOptions(flags));
  if (flags.writeSubtitles) options.subtitles = true;
  const quiet = flags.quiet === true;
  const force = flags.force === true;
  const subtitles = flags.writeSubtitles === true;
  try {
    if (flags.text !== undefined) {
      const result = await withInterrupt((signal) => speak(flags.text!, { ...options, signal }));
      let target = flags.output ?? `speech.${result.transcode.extension}`;
      if (isDirectoryTarget(target)) {
        await mkdir(target, { recursive: true });
        target = path.join(target, `speech.${result.transcode.extension}`);
      }
      const written = await writeResult(result, target, subtitles, force);
      if (flags.json) process.stdout.write(JSON.stringify({ outputs: written, durationSeconds: result.durationSeconds, voice: result.tts.voice, engine: result.tts.engine }) + '\n');
      else if (!quiet) process.stderr.write(`${written.join(', ')}: ${summary(result)}\n`);
      return 0;
    }

    set('ttsConcurrency', count('tts-concurrency', flags.ttsConcurrency));
    set('transcodeConcurrency', count('transcode-concurrency', flags.transcodeConcurrency));
    const raw = flags.file === '-' ? (await readStdin()).toString('utf8') : await readFile(flags.file!, 'utf8');
    const lines = raw.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    if (lines.length === 0) throw new UsageError(`${flags.file} has no text lines`);
    const dir = flags.output ?? '.';
    if (dir === '-') throw new UsageError('--file writes one file per line: give -o a directory');
    await mkdir(dir, { recursive: true });
    const width = Math.max(4, String(lines.length).length);
    let ok = 0;
    let failed = 0;
    const report: unknown[] = [];
    const tty = process.stderr.isTTY === true && !quiet && !flags.json;
    const fail = (line: number, message: string, code: string | undefined): void => {
      failed++;
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(`line ${line}: ${message}\n`);
      report.push({ line, error: { code, message } });
    };
    await withInterrupt(async (signal) => {
      for await (const outcome of speakMany(lines.map((text, i) => ({ id: String(i + 1).padStart(width, '0'), text })), { ...options, signal })) {
        const line = outcome.index + 1;
        if ('error' in outcome) {
          fail(line, describeError(outcome.error), outcome.error.code);
          continue;
        }
        const target = path.join(dir, `${outcome.id}.${outcome.result.transcode.extension}`);
        let written: string[];
        try {
          written = await writeResult(outcome.result, target, subtitles, force);
        } catch (err) {
          fail(line, `writing ${target}: ${describeError(err)}`, (err as NodeJS.ErrnoException).code);
          continue;
        }
        ok++;
        report.push({ line, outputs: written, durationSeconds: outcome.result.durationSeconds });
        if (!quiet && !flags.json) {
          if (tty) process.stderr.write(`\r\x1b[K[${ok + failed}/${lines.length}] ${target}`);
          else process.stderr.write(`[${ok + failed}/${lines.length}] ${target}: ${summary(outcome.result)}\n`);
        }
      }
    });
    if (tty) process.stderr.write('\n');
    if (flags.json) process.stdout.write(JSON.stringify({ ok, failed, items: report }, null, 2) + '\n');
    else if (!quiet || failed > 0) process.stderr.write(`${ok} spoken, ${failed} failed\n`);
    return failed > 0 ? 1 : 0;
  } finally {
    await engine.close?.();
  }
}

/** `ttsav voices`; returns the exit code. */
export async function runVoices(flags: VoicesFlags): Promise<number> {
  let engine: TtsEngine | undefined;
  try {
    engine = engineFor(flags.engine, flags.endpoint);
    let list = await withInterrupt((signal) => engine!.voices({ signal }));
    if (flags.locale) {
      const prefix = flags.locale.toLowerCase();
      list = list.filter((v) => (v.locale ?? v.name).toLowerCase().startsWith(prefix));
    }
    if (flags.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    else {
      const width = Math.max(4, ...list.map((v) => v.name.length));
      process.stdout.write(`${'Name'.padEnd(width)}  Gender  Description\n`);
      for (const v of list) process.stdout.write(`${v.name.padEnd(width)}  ${(v.gender ?? '').padEnd(6)}  ${v.description ?? ''}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ttsav voices: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`ttsav voices: ${describeError(err)}\n`);
    return 1;
  } finally {
    await engine?.close?.();
  }
}
