/**
 * `ttsav live`: an unattended live stream. Lines of text come in (a file, or stdin: one line, one clip), are
 * spoken with the chosen engine, and go out live over RTMP(S) with a looped H.264 video, silence between them;
 * the stream stays up (reconnecting as needed) until SIGINT/SIGTERM. State changes are printed on stderr.
 *   ttsav live --url rtmp://a.rtmp.youtube.com/live2/KEY --video bg.mp4 --file -
 * Exit codes: 0 ended by a signal or the end of input (--exit-on-end), 1 failed, 2 usage error.
 */
import { createReadStream } from 'node:fs';
import readline from 'node:readline';
import { Option, type Command } from 'commander';
import { createLiveFeed } from '../live';
import { publish, type Broadcast, type PublishVideo } from '../publish';
import { speak } from '../speak';
import { UsageError, describeError, runCommand } from './common';

export interface LiveFlags {
  url?: string;
  video?: string;
  image?: string;
  file?: string;
  record?: string;
  engine?: 'espeak' | 'edge';
  voice?: string;
  sampleRate?: string;
  bitrate?: string;
  gapMs?: string;
  exitOnEnd?: boolean;
  quiet?: boolean;
}

/** Registers `live` on the program; `setCode` receives its exit code. */
export function addLiveCommand(cmd: Command, setCode: (code: number) => void): void {
  cmd
    .command('live')
    .summary('speak lines live to an RTMP(S) server with a looped video, until SIGINT')
    .description(
      'Lines of text (a file, or stdin as they arrive: one line, one clip) are spoken and go out live over RTMP(S) ' +
        'with a looped H.264 video, silence between them, until SIGINT/SIGTERM (or the end of input with --exit-on-end).',
    )
    .option('--url <url>', 'the RTMP(S) ingest URL with its stream key')
    .option('--video <file>', 'an H.264 MP4/FLV looped as the picture (copied, never re-encoded)')
    .option('--image <file>', 'a still picture (needs an LGPL H.264 encoder: libopenh264)')
    .option('--file <path|->', "lines to speak, one clip each ('-': stdin, as they arrive; default -)")
    .option('--record <file>', 'also (or only) write the stream to a file: .flv, or .ts for MPEG-TS')
    .addOption(new Option('-e, --engine <engine>', 'text-to-speech engine (default espeak)').choices(['espeak', 'edge']))
    .option('-v, --voice <name>', 'voice for the engine')
    .option('-r, --sample-rate <hz>', '44100 or 48000 (default 48000)')
    .option('-b, --bitrate <rate>', 'AAC bitrate, e.g. 128k (default 160k)')
    .option('--gap-ms <ms>', 'silence after each clip (default 400)')
    .option('--exit-on-end', 'end the stream once the input has ended and the last clip has played')
    .option('-q, --quiet', 'print only failures')
    .addHelpText('after', '\nExample:\n  ttsav live --url rtmp://a.rtmp.youtube.com/live2/KEY --video bg.mp4 --file -')
    .action(async (flags: LiveFlags) => setCode(await runLive(flags)));
}

function bitrateOf(value: string | undefined): number {
  if (value === undefined) return 160_000;
  const m = /^(\d+)(k?)$/i.exec(value);
  if (!m) throw new UsageError(`--bitrate takes e.g. 128k or 128000, not '${value}'`);
  return Number(m[1]) * (m[2] ? 1000 : 1);
}

/** `ttsav live`; returns the exit code (0 ended by a signal or the end of input, 1 failed, 2 usage). */
export function runLive(flags: LiveFlags): Promise<number> {
  return runCommand('live', () => liveCommand(flags));
}

async function liveCommand(values: LiveFlags): Promise<number> {
  if (values.url === undefined && values.record === undefined) throw new UsageError('give --url (and/or --record)');
  if (values.video !== undefined && values.image !== undefined) throw new UsageError('give --video or --image, not both');
  if (values.url !== undefined && values.video === undefined && values.image === undefined)
    throw new UsageError('RTMP needs a picture: give --video bg.mp4 (H.264) or --image cover.png');
  const engine = values.engine ?? 'espeak';
  const sampleRate = values.sampleRate === undefined ? 48000 : Number(values.sampleRate);
  if (sampleRate !== 44100 && sampleRate !== 48000) throw new UsageError('--sample-rate takes 44100 or 48000 (what platforms ingest)');
  const gapMs = values.gapMs === undefined ? 400 : Number(values.gapMs);
  if (!Number.isInteger(gapMs) || gapMs < 0) throw new UsageError(`--gap-ms takes milliseconds, not '${values.gapMs}'`);
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
      b.on('disconnected', (cause) => say(`${name}: disconnected (${describeError(cause)})`));
      b.on('reconnecting', ({ attempt, delayMs }) => say(`${name}: reconnecting in ${delayMs} ms (attempt ${attempt})`));
      b.on('error', (err) => {
        failed ??= err;
        process.stderr.write(`ttsav live: ${name}: ${describeError(err)}\n`);
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
        process.stderr.write(`ttsav live: line ${n}: ${describeError(err)}\n`);
      }
    }
    if (values.exitOnEnd) {
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
