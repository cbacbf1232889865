/**
 * `ttsav voiceover`: a voice (a file, or text spoken once) and an optional music bed put over one video, or over
 * many videos into a directory through a pool, with the same progress bar and summary as `ttsav transcode`.
 * Outputs go through the no-data-loss writer (temporary name, fsync, rename; existing files kept unless --force).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { TtsavError } from '../errors';
import { presets } from '../options';
import { createPool } from '../pool';
import { speak, type SpeakResult } from '../speak';
import { prepareVoiceover, type VoiceoverOptions, type VoiceoverResult } from '../voiceover';
import { UsageError, describeError, interruptible, numberArg, runCommand } from './common';
import { OutputExistsError, exists, writeAtomic } from './output';
import { ProgressBar, formatBytes, summaryTable, type Tally } from './progress';

export interface VoiceoverFlags {
  output?: string;
  voice?: string;
  text?: string;
  engine?: 'espeak' | 'edge';
  ttsVoice?: string;
  music?: string;
  musicGain?: string;
  ducking?: boolean;
  originalAudio?: 'drop' | 'mix' | 'duck';
  length?: 'video' | 'voice' | 'longest';
  subtitles?: 'soft' | 'burn';
  format?: 'mp4' | 'webm';
  preset?: string;
  bitrate?: string;
  loudness?: string;
  concurrency?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Registers `voiceover` on the program; `setCode` receives its exit code. */
export function addVoiceoverCommand(cmd: Command, setCode: (code: number) => void): void {
  cmd
    .command('voiceover')
    .summary('put a voice (and a ducked music bed, subtitles) over videos, the video copied as is')
    .description(
      'Mix a voice (--voice audio file, or --text spoken once) and an optional music bed (--music, ducked under ' +
        'the voice) over a video, copying its video stream packet for packet; or over many videos into the ' +
        'directory given with -o, through a pool.',
    )
    .argument('<videos...>', 'video files (MP4, MOV, MKV, WebM)')
    .option('-o, --output <path>', 'output file for one video, or output directory')
    .option('--voice <file>', 'the voice: an audio file')
    .option('-t, --text <text>', 'the voice: text to speak (espeak-ng by default)')
    .addOption(new Option('-e, --engine <engine>', 'text-to-speech engine for --text').choices(['espeak', 'edge']))
    .option('--tts-voice <name>', 'text-to-speech voice for --text (e.g. en-us, en-US-AriaNeural)')
    .option('--music <file>', 'music bed, looped or cut to the video')
    .option('--music-gain <dB>', 'music level relative to the voice, before ducking (default -18)')
    .option('--no-ducking', 'keep the music level under the voice')
    .addOption(new Option('--original-audio <mode>', "the video's own audio (default drop)").choices(['drop', 'mix', 'duck']))
    .addOption(new Option('--length <mode>', 'output length (default video)').choices(['video', 'voice', 'longest']))
    .addOption(new Option('--subtitles <mode>', 'soft: a subtitle track from the spoken words; burn: drawn into the picture').choices(['soft', 'burn']))
    .addOption(new Option('-f, --format <format>', 'container (default mp4)').choices(['mp4', 'webm']))
    .addOption(new Option('-p, --preset <name>', 'audio encoder settings (default balanced)').choices(Object.keys(presets)))
    .option('-b, --bitrate <rate>', 'audio bitrate, e.g. 128k')
    .option('--loudness <LUFS>', 'integrated loudness target (default -14)')
    .option('-j, --concurrency <n>', 'videos at once (default: cores)')
    .option('--force', 'overwrite existing outputs')
    .option('--json', 'one video: the result as JSON on stderr; many: a JSON report on stdout')
    .option('-q, --quiet', 'print only failures')
    .addHelpText(
      'after',
      '\nExamples:\n  ttsav voiceover clip.mp4 --voice line.mp3 --music bed.mp3 -o out.mp4\n' +
        '  ttsav voiceover clip.mp4 --text "Three tips for better sleep." --subtitles soft -o out.mp4\n' +
        '  ttsav voiceover clips/*.mp4 --voice line.mp3 --music bed.mp3 -o out/ -j 2',
    )
    .action(async (videos: string[], flags: VoiceoverFlags) => setCode(await runCommand('voiceover', () => runVoiceover(videos, flags))));
}

/** The options every video shares (voice, music, mix), read once; validated on a stand-in video. */
async function sharedOptions(flags: VoiceoverFlags, signal: AbortSignal): Promise<Omit<VoiceoverOptions, 'video'>> {
  if ((flags.voice === undefined) === (flags.text === undefined)) throw new UsageError('give the voice as --voice <file> or --text "…" (one of them)');
  let voice: Buffer | SpeakResult;
  if (flags.text !== undefined) {
    voice = await speak(flags.text, {
      subtitles: true,
      format: 'adts',
      signal,
      ...(flags.engine ? { engine: flags.engine } : {}),
      ...(flags.ttsVoice ? { voice: flags.ttsVoice } : {}),
    });
  } else {
    if (flags.engine !== undefined || flags.ttsVoice !== undefined) throw new UsageError('--engine and --tts-voice go with --text');
    voice = await readFile(flags.voice!);
  }
  const options: Omit<VoiceoverOptions, 'video'> = { voice, signal };
  if (flags.music !== undefined) options.music = await readFile(flags.music);
  const gain = numberArg('music-gain', flags.musicGain);
  if (gain !== undefined) options.musicGainDb = gain as number;
  if (flags.ducking === false) options.ducking = false;
  if (flags.originalAudio) options.originalAudio = flags.originalAudio;
  if (flags.length) options.length = flags.length;
  if (flags.subtitles) options.subtitles = flags.subtitles;
  if (flags.format) options.format = flags.format;
  const audio: NonNullable<VoiceoverOptions['audio']> = {};
  if (flags.preset) audio.preset = flags.preset as NonNullable<VoiceoverOptions['audio']>['preset'];
  if (flags.bitrate) audio.bitrate = flags.bitrate;
  options.audio = audio;
  const loudness = numberArg('loudness', flags.loudness);
  if (loudness !== undefined) options.loudness = { integrated: loudness as number };
  try {
    prepareVoiceover({ ...options, video: Buffer.alloc(1) });
  } catch (err) {
    if (err instanceof TtsavError && err.code === 'ERR_TTSAV_OPTIONS') throw new UsageError(err.message);
    throw err;
  }
  return options;
}

function resultLine(input: string, output: string, r: VoiceoverResult): string {
  return (
    `${input} -> ${output}: ${r.durationSeconds.toFixed(2)} s, video ${r.video.codec} ${r.video.width}x${r.video.height} copied, ` +
    `${r.audio.codec} ${r.loudness.integrated.toFixed(1)} LUFS${r.subtitles ? `, ${r.subtitles} cues` : ''}, ${formatBytes(r.data.length)}`
  );
}

async function runVoiceover(videos: string[], flags: VoiceoverFlags): Promise<number> {
  const extension = flags.format ?? 'mp4';
  const single = videos.length === 1 && !(flags.output !== undefined && existsSync(flags.output) && statSync(flags.output).isDirectory()) && !flags.output?.endsWith('/');
  if (!single && flags.output === undefined) throw new UsageError('several videos need -o <directory>');
  const targets = videos.map((v) =>
    single ? (flags.output ?? `${path.basename(v, path.extname(v))}.voiceover.${extension}`) : path.join(flags.output!, `${path.basename(v, path.extname(v))}.${extension}`),
  );
  if (new Set(targets.map((t) => path.resolve(t))).size !== targets.length) throw new UsageError('two videos would write the same output (same file name)');
  targets.forEach((t, i) => {
    if (path.resolve(t) === path.resolve(videos[i]!)) throw new UsageError(`the output would overwrite ${videos[i]}; pass -o`);
  });
  const concurrency = flags.concurrency === undefined ? undefined : Number(flags.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 1024))
    throw new UsageError(`--concurrency takes a number from 1 to 1024, not '${flags.concurrency}'`);

  const { signal, dispose } = interruptible();
  const pool = createPool(concurrency !== undefined ? { concurrency } : {});
  const tally: Tally = { total: videos.length, ok: 0, skipped: 0, failed: 0, audioSeconds: 0, outputBytes: 0, startedAt: performance.now() };
  const tty = !single && process.stderr.isTTY === true && !flags.json && !flags.quiet;
  const bar = tty ? new ProgressBar(process.stderr) : undefined;
  const say = (line: string, always = false): void => {
    if ((flags.json && !single) || (flags.quiet && !always)) return;
    bar?.clear();
    process.stderr.write(line + '\n');
  };
  const report: { source: string; target: string; status: 'ok' | 'skipped' | 'failed'; reason?: string; durationSeconds?: number; bytes?: number }[] = [];
  try {
    const shared = await sharedOptions(flags, signal);
    const one = async (video: string, target: string): Promise<void> => {
      if (!flags.force && (await exists(target))) {
        tally.skipped++;
        report.push({ source: video, target, status: 'skipped', reason: `${target} exists (pass --force to overwrite)` });
        say(`skip  ${video}: ${target} exists (pass --force to overwrite)`, single);
        return;
      }
      try {
        const r = await pool.voiceover({ ...shared, video: await readFile(video) });
        await writeAtomic(target, r.data, flags.force === true);
        tally.ok++;
        tally.audioSeconds += r.durationSeconds;
        tally.outputBytes += r.data.length;
        report.push({ source: video, target, status: 'ok', durationSeconds: r.durationSeconds, bytes: r.data.length });
        if (single && flags.json) {
          const { data, ...rest } = r;
          process.stderr.write(JSON.stringify({ source: video, target, bytes: data.length, ...rest }, null, 2) + '\n');
        } else if (!tty) say(single ? resultLine(video, target, r) : `ok    ${video} -> ${target} (${r.durationSeconds.toFixed(2)} s, ${formatBytes(r.data.length)})`);
      } catch (err) {
        if (err instanceof TtsavError && err.code === 'ERR_TTSAV_ABORTED') throw err;
        tally.failed++;
        const reason = err instanceof OutputExistsError ? `${target} appeared meanwhile; kept it` : describeError(err);
        report.push({ source: video, target, status: 'failed', reason });
        say(`FAIL  ${video}: ${reason}`, true);
      }
      bar?.update(tally);
    };
    // Videos are read as they are submitted: at most twice the pool's concurrency are in memory at once.
    let next = 0;
    const lanes = Array.from({ length: Math.min(videos.length, 2 * pool.concurrency) }, async () => {
      while (next < videos.length) {
        const i = next++;
        await one(videos[i]!, targets[i]!);
      }
    });
    await Promise.all(lanes);
  } finally {
    dispose();
    await pool.close({ cancel: true });
    bar?.update(tally, true);
    bar?.clear();
  }
  if (!single) {
    const wallMs = performance.now() - tally.startedAt;
    if (flags.json) process.stdout.write(JSON.stringify({ summary: { ...tally, wallSeconds: wallMs / 1000 }, files: report }, null, 2) + '\n');
    else if (!flags.quiet || tally.failed > 0) process.stderr.write(summaryTable(tally, wallMs) + '\n');
  }
  return tally.failed > 0 ? 1 : 0;
}
