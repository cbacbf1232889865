/**
 * `ttsav live`: an unattended live stream. Lines of text come in (a file, or stdin: one line, one clip), are
 * spoken with the chosen engine, and go out live over RTMP(S) with a looped H.264 video, silence between them;
 * the stream stays up (reconnecting as needed) until SIGINT/SIGTERM. State changes are printed on stderr.
 *   ttsav live --url rtmp://a.rtmp.youtube.com/live2/KEY --video bg.mp4 --file -
 * Exit codes: 0 ended by a signal or the end of input (--exit-on-end), 1 failed, 2 usage error.
 */
import { createReadStream } from 'node:fs';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { TtsavError } from './errors';
import { createLiveFeed } from './live';
import { publish, type Broadcast, type PublishVideo } from './publish';
import { speak, type EngineName } from './speak';

export const LIVE_USAGE = `Usage:
  ttsav live (--url <rtmp[s]://host/app/key> | --record <out.flv|out.ts>) (--video <bg.mp4> | --image <cover.png>)
             [--file <lines.txt|->] [options]

Options:
      --url <url>              the RTMP(S) ingest URL with its stream key
      --video <file>           an H.264 MP4/FLV looped as the picture (copied, never re-encoded)
      --image <file>           a still picture (needs an LGPL H.264 encoder: libopenh264)
      --file <path|->          lines to speak, one clip each ('-': stdin, as they arrive; default -)
      --record <file>          also (or only) write the stream to a file: .flv, or .ts for MPEG-TS
  -e, --engine <espeak|edge>   text-to-speech engine (default espeak)
  -v, --voice <name>           voice for the engine
  -r, --sample-rate <hz>       44100 or 48000 (default 48000)
  -b, --bitrate <rate>         AAC bitrate, e.g. 128k (default 160k)
      --gap-ms <ms>            silence after each clip (default 400)
      --exit-on-end            end the stream once the input has ended and the last clip has played
  -q, --quiet                  print only failures
  -h, --help`;

const LIVE_OPTIONS = {
  url: { type: 'string' },
  video: { type: 'string' },
  image: { type: 'string' },
  file: { type: 'string' },
  record: { type: 'string' },
  engine: { type: 'string', short: 'e' },
  voice: { type: 'string', short: 'v' },
  'sample-rate': { type: 'string', short: 'r' },
  bitrate: { type: 'string', short: 'b' },
  'gap-ms': { type: 'string' },
  'exit-on-end': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function describe(err: unknown): string {
  if (err instanceof TtsavError) return `${err.code}: ${err.message}`;
  return (err as Error)?.message ?? String(err);
}

function bitrateOf(value: string | undefined): number {
  if (value === undefined) return 160_000;
  const m = /^(\d+)(k?)$/i.exec(value);
  if (!m) throw new UsageError(`--bitrate takes e.g. 128k or 128000, not '${value}'`);
  return Number(m[1]) * (m[2] ? 1000 : 1);
}

export async function runLive(argv: string[]): Promise<number> {
  try {
    return await liveCommand(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ttsav live: ${(err as Error).message}\n(ttsav live --help for usage)\n`);
      return 2;
    }
    process.stderr.write(`ttsav live: ${describe(err)}\n`);
    return err instanceof TtsavError && err.code === 'ERR_TTSAV_OPTIONS' ? 2 : 1;
  }
}

async function liveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: LIVE_OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(LIVE_USAGE + '\n');
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.url === undefined && values.record === undefined) throw new UsageError('give --url (and/or --record)');
  if (values.video !== undefined && values.image !== undefined) throw new UsageError('give --video or --image, not both');
  if (values.url !== undefined && values.video === undefined && values.image === undefined)
    throw new UsageError('RTMP needs a picture: give --video bg.mp4 (H.264) or --image cover.png');
  const engine = (values.engine ?? 'espeak') as EngineName;
  if (engine !== 'espeak' && engine !== 'edge') throw new UsageError(`--engine takes espeak or edge, not '${values.engine}'`);
  const sampleRate = values['sample-rate'] === undefined ? 48000 : Number(values['sample-rate']);
  if (sampleRate !== 44100 && sampleRate !== 48000) throw new UsageError('--sample-rate takes 44100 or 48000 (what platforms ingest)');
  const gapMs = values['gap-ms'] === undefined ? 400 : Number(values['gap-ms']);
  if (!Number.isInteger(gapMs) || gapMs < 0) throw new UsageError(`--gap-ms takes milliseconds, not '${values['gap-ms']}'`);
  const quiet = values.quiet === true;
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`ttsav live: ${line}\n`);
  };
  const video: PublishVideo | undefined =
    values.video !== undefined ? { loop: values.video } : values.image !== undefined ? { image: values.image } : undefined;

  const feed = createLiveFeed({ sampleRate, channels: 2, bitrate: bitrateOf(values.bitrate), gapMs });
  const broadcasts: Broadcast[] = [];
  let failed: unknown;
  const ended = new Promise<void>((resolve) => {
    const watch = (b: Broadcast, name: string) => {
      broadcasts.push(b);
      b.on('connected', () => say(`${name}: live`));
      b.on('disconnected', (cause) => say(`${name}: disconnected (${describe(cause)})`));
      b.on('reconnecting', ({ attempt, delayMs }) => say(`${name}: reconnecting in ${delayMs} ms (attempt ${attempt})`));
      b.on('error', (err) => {
        failed ??= err;
        process.stderr.write(`ttsav live: ${name}: ${describe(err)}\n`);
      });
      b.on('close', () => {
        say(`${name}: closed (${JSON.stringify(b.stats())})`);
        if (broadcasts.every((x) => x.state === 'closed')) resolve();
      });
    };
    try {
      if (values.url !== undefined) watch(publish(feed, { url: values.url, ...(video ? { video } : {}) }), 'stream');
      if (values.record !== undefined) {
        const container = /\.ts$/i.test(values.record) ? 'mpegts' : 'flv';
        watch(publish(feed, { output: values.record, container, ...(video ? { video } : {}) }), 'record');
      }
    } catch (err) {
      void feed.close();
      throw err;
    }
  });

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`${why}: ending the stream`);
    void feed.close();
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);

  // Lines are spoken in order, one at a time, and queued on the feed as they are ready.
  const source = values.file === undefined || values.file === '-' ? process.stdin : createReadStream(values.file);
  const lines = readline.createInterface({ input: source, crlfDelay: Infinity });
  const reading = (async () => {
    let n = 0;
    let clips = 0;
    for await (const raw of lines) {
      const text = raw.trim();
      if (text === '' || stopping) continue;
      n++;
      try {
        const result = await speak(text, { engine, ...(values.voice ? { voice: values.voice } : {}), format: 'adts', sampleRate });
        await feed.enqueue(result);
        clips++;
        say(`line ${n} queued (${result.durationSeconds.toFixed(1)} s, ${feed.queued} waiting)`);
      } catch (err) {
        process.stderr.write(`ttsav live: line ${n}: ${describe(err)}\n`);
      }
    }
    if (values['exit-on-end']) {
      while (!stopping && (feed.queued > 0 || feed.played < clips)) await new Promise((r) => setTimeout(r, 200));
      stop('input ended');
    }
  })();
  await ended;
  process.removeListener('SIGINT', onInt);
  process.removeListener('SIGTERM', onTerm);
  lines.close();
  void reading;
  return failed !== undefined ? 1 : 0;
}
