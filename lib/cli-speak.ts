/**
 * `ttsav speak` and `ttsav voices`. Familiar to edge-tts users:
 *   ttsav speak --text "Hello" -o hello.m4a
 *   ttsav speak --file lines.txt -o out/ --voice zh-CN-XiaoxiaoNeural --engine edge --write-subtitles
 *   ttsav voices --engine edge
 * Exit codes: 0 done, 1 something failed (reasons printed), 2 usage error, 130 interrupted.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TtsavError } from './errors';
import { speak, speakMany, type EngineName, type SpeakManyOptions, type SpeakResult } from './speak';
import { edge } from './tts/edge';
import { espeak } from './tts/espeak';
import type { TtsEngine } from './tts/types';

export const SPEAK_USAGE = `Usage:
  ttsav speak (--text "…" | --file <lines.txt|->) [-o <file|dir/>] [options]
  ttsav voices [--engine espeak|edge] [--locale en] [--json]

Speak options:
  -t, --text <text>            text to speak (one output)
      --file <path|->          one output per non-empty line (0001.m4a, 0002.m4a, … in the -o directory)
  -o, --output <path>          output file (--text; '-' for stdout) or directory (--file; default .)
  -e, --engine <espeak|edge>   espeak: offline espeak-ng (default); edge: Microsoft Edge online voices
  -v, --voice <name>           e.g. en-us, cmn (espeak); en-US-AriaNeural, zh-CN-XiaoxiaoNeural (edge)
      --rate <+N%|-N%>  --pitch <+NHz|-NHz> (espeak also +N%)  --volume <+N%|-N%>
  -p, --preset <name>          balanced, high_quality, high_speed, speech
  -f, --format <format>        m4a (default), adts, mp4, fmp4, ogg, webm, mp3
  -b, --bitrate <rate>  -r, --sample-rate <hz|source>  -c, --channels <n|source>
      --write-subtitles        write .srt and .vtt beside each output
      --endpoint <ws(s)://host:port>  EdgeTTS endpoint (default $TTSAV_EDGE_ENDPOINT or the service)
      --tts-concurrency <n>    syntheses at once with --file (default 4)
      --transcode-concurrency <n>  transcodes at once with --file (default: cores)
      --json                   print results as JSON on stdout
  -q, --quiet                  print only failures
  -h, --help`;

class UsageError extends Error {}

const SPEAK_OPTIONS = {
  text: { type: 'string', short: 't' },
  file: { type: 'string' },
  output: { type: 'string', short: 'o' },
  engine: { type: 'string', short: 'e' },
  voice: { type: 'string', short: 'v' },
  rate: { type: 'string' },
  pitch: { type: 'string' },
  volume: { type: 'string' },
  preset: { type: 'string', short: 'p' },
  format: { type: 'string', short: 'f' },
  bitrate: { type: 'string', short: 'b' },
  'sample-rate': { type: 'string', short: 'r' },
  channels: { type: 'string', short: 'c' },
  'write-subtitles': { type: 'boolean' },
  endpoint: { type: 'string' },
  'tts-concurrency': { type: 'string' },
  'transcode-concurrency': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function engineFor(name: string | undefined, endpoint: string | undefined): TtsEngine {
  const engine = (name ?? 'espeak') as EngineName;
  if (engine !== 'espeak' && engine !== 'edge') throw new UsageError(`--engine takes espeak or edge, not '${name}'`);
  if (engine === 'espeak') {
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

function rateOrSource(flag: string, value: string | undefined): number | 'source' | undefined {
  if (value === undefined || value === 'source') return value;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag} takes a number or 'source', not '${value}'`);
  return n;
}

async function writeAtomic(target: string, data: Buffer | string): Promise<void> {
  if (target === '-') {
    await new Promise<void>((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));
    return;
  }
  const partial = `${target}.${process.pid}.partial`;
  try {
    await writeFile(partial, data);
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

function describe(err: unknown): string {
  if (err instanceof TtsavError) return `${err.code}: ${err.message}`;
  return (err as Error)?.message ?? String(err);
}

function withSignal<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return fn(controller.signal).finally(() => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  });
}

async function writeResult(result: SpeakResult, target: string, subtitles: boolean): Promise<string[]> {
  await writeAtomic(target, result.audio);
  const written = [target];
  if (subtitles && result.subtitles && target !== '-') {
    const base = target.slice(0, target.length - path.extname(target).length);
    await writeAtomic(`${base}.srt`, result.subtitles.srt);
    await writeAtomic(`${base}.vtt`, result.subtitles.vtt);
    written.push(`${base}.srt`, `${base}.vtt`);
  }
  return written;
}

function summary(r: SpeakResult): string {
  return `${r.durationSeconds.toFixed(2)} s ${r.transcode.codec} ${Math.round(r.transcode.bitrate / 1000)} kb/s ${r.transcode.sampleRate} Hz ` +
    `${r.transcode.channels === 1 ? 'mono' : `${r.transcode.channels} ch`}, ${r.audio.length} bytes (${r.tts.engine} ${r.tts.voice})`;
}

/** `ttsav speak …`; returns the exit code. */
export async function runSpeak(argv: string[]): Promise<number> {
  try {
    return await speakCommand(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ttsav speak: ${(err as Error).message}\n(ttsav speak --help for usage)\n`);
      return 2;
    }
    if (err instanceof TtsavError && err.code === 'ERR_TTSAV_ABORTED') return 130;
    process.stderr.write(`ttsav speak: ${describe(err)}\n`);
    if (err instanceof TtsavError && err.code === 'ERR_TTSAV_OPTIONS') return 2;
    return 1;
  }
}

async function speakCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: SPEAK_OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(SPEAK_USAGE + '\n');
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (quote the text: --text "…")`);
  if ((values.text === undefined) === (values.file === undefined)) throw new UsageError('give either --text or --file');
  const engine = engineFor(values.engine, values.endpoint);
  const options: SpeakManyOptions = { engine };
  const set = <K extends keyof SpeakManyOptions>(key: K, value: SpeakManyOptions[K] | undefined): void => {
    if (value !== undefined) options[key] = value;
  };
  set('voice', values.voice);
  set('rate', values.rate);
  set('pitch', values.pitch);
  set('volume', values.volume);
  set('preset', values.preset as SpeakManyOptions['preset']);
  set('format', values.format as SpeakManyOptions['format']);
  set('bitrate', values.bitrate);
  set('sampleRate', rateOrSource('sample-rate', values['sample-rate']));
  set('channels', rateOrSource('channels', values.channels));
  if (values['write-subtitles']) options.subtitles = true;
  const quiet = values.quiet === true;
  try {
    if (values.text !== undefined) {
      const result = await withSignal((signal) => speak(values.text!, { ...options, signal }));
      let target = values.output ?? `speech.${result.transcode.extension}`;
      if (target !== '-' && (target.endsWith('/') || (existsSync(target) && statSync(target).isDirectory()))) {
        await mkdir(target, { recursive: true });
        target = path.join(target, `speech.${result.transcode.extension}`);
      }
      const written = await writeResult(result, target, values['write-subtitles'] === true);
      if (values.json) process.stdout.write(JSON.stringify({ outputs: written, durationSeconds: result.durationSeconds, voice: result.tts.voice, engine: result.tts.engine }) + '\n');
      else if (!quiet) process.stderr.write(`${written.join(', ')}: ${summary(result)}\n`);
      return 0;
    }

    set('ttsConcurrency', count('tts-concurrency', values['tts-concurrency']));
    set('transcodeConcurrency', count('transcode-concurrency', values['transcode-concurrency']));
    const raw = values.file === '-' ? await readStdin() : await readFile(values.file!, 'utf8');
    const lines = raw.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    if (lines.length === 0) throw new UsageError(`${values.file} has no text lines`);
    const dir = values.output ?? '.';
    if (dir === '-') throw new UsageError('--file writes one file per line: give -o a directory');
    await mkdir(dir, { recursive: true });
    const width = Math.max(4, String(lines.length).length);
    let ok = 0;
    let failed = 0;
    const report: unknown[] = [];
    const tty = process.stderr.isTTY === true && !quiet && !values.json;
    await withSignal(async (signal) => {
      for await (const outcome of speakMany(lines.map((text, i) => ({ id: String(i + 1).padStart(width, '0'), text })), { ...options, signal })) {
        const line = outcome.index + 1;
        if ('error' in outcome) {
          failed++;
          if (tty) process.stderr.write('\r\x1b[K');
          process.stderr.write(`line ${line}: ${describe(outcome.error)}\n`);
          report.push({ line, error: { code: outcome.error.code, message: outcome.error.message } });
        } else {
          const target = path.join(dir, `${outcome.id}.${outcome.result.transcode.extension}`);
          const written = await writeResult(outcome.result, target, values['write-subtitles'] === true);
          ok++;
          report.push({ line, outputs: written, durationSeconds: outcome.result.durationSeconds });
          if (!quiet && !values.json) {
            if (tty) process.stderr.write(`\r\x1b[K[${ok + failed}/${lines.length}] ${target}`);
            else process.stderr.write(`[${ok + failed}/${lines.length}] ${target}: ${summary(outcome.result)}\n`);
          }
        }
      }
    });
    if (tty) process.stderr.write('\n');
    if (values.json) process.stdout.write(JSON.stringify({ ok, failed, items: report }, null, 2) + '\n');
    else if (!quiet || failed > 0) process.stderr.write(`${ok} spoken, ${failed} failed\n`);
    return failed > 0 ? 1 : 0;
  } finally {
    await engine.close?.();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `ttsav voices …`; returns the exit code. */
export async function runVoices(argv: string[]): Promise<number> {
  let engine: TtsEngine | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { engine: { type: 'string', short: 'e' }, endpoint: { type: 'string' }, locale: { type: 'string', short: 'l' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(SPEAK_USAGE + '\n');
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    engine = engineFor(values.engine, values.endpoint);
    let list = await withSignal((signal) => engine!.voices({ signal }));
    if (values.locale) {
      const prefix = values.locale.toLowerCase();
      list = list.filter((v) => (v.locale ?? v.name).toLowerCase().startsWith(prefix));
    }
    if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    else {
      const width = Math.max(4, ...list.map((v) => v.name.length));
      process.stdout.write(`${'Name'.padEnd(width)}  Gender  Description\n`);
      for (const v of list) process.stdout.write(`${v.name.padEnd(width)}  ${(v.gender ?? '').padEnd(6)}  ${v.description ?? ''}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ttsav voices: ${(err as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`ttsav voices: ${describe(err)}\n`);
    return 1;
  } finally {
    await engine?.close?.();
  }
}
