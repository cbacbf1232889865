#!/usr/bin/env node
/**
 * The ttsav command line: `transcode` (one file, or files, directories and globs into a directory), `speak`,
 * `voices`, `voiceover`, `live`, `probe`, `doctor`, `versions`, and the queue's `worker`, `enqueue` and `queue-status` (one module
 * each under lib/cli/). Exit codes: 0 done, 1 something failed (reasons printed), 2 usage error, 130
 * interrupted.
 */
import os from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { versions } from './versions';
import { runDoctor, runProbe } from './cli/info';
import { UsageError, addEncoderOptions, describeError } from './cli/common';
import { addSpeakCommands } from './cli/speak';
import { runTranscode, type TranscodeFlags } from './cli/transcode';
import { addLiveCommand } from './cli/live';
import { addQueueCommands } from './cli/queue';
import { addVoiceoverCommand } from './cli/voiceover';

function program(userThreadpool: string | undefined, setCode: (code: number) => void): Command {
  const cmd = new Command('ttsav')
    .description('Transcode audio to AAC, Opus or MP3 in-process with libav.')
    .exitOverride()
    .showHelpAfterError('(ttsav <command> --help for usage)')
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
    });
  cmd.version(safeVersion(), '-V, --version');

  addEncoderOptions(
    cmd
      .command('transcode')
      .summary('transcode a file, or many files into a directory')
      .description(
        'Transcode one file (or - for stdin) to a file (or - for stdout), or many files, directories (their audio ' +
          'files, recursively) and glob patterns (quoted: "voices/**/*.mp3") into the directory given with -o, ' +
          'keeping their relative paths. Outputs are written to a temporary name and renamed, so a crash never ' +
          'leaves a partial file; existing outputs are kept unless --force.',
      )
      .argument('<inputs...>', 'files, directories or glob patterns; - for stdin')
      .option('-o, --output <path>', 'output file (- for stdout) for one input, or output directory'),
  )
    .addOption(new Option('--aac-coder <coder>', 'AAC search method').choices(['twoloop', 'fast']))
    .option('--no-faststart', 'm4a/mp4: keep the index after the audio')
    .option('-i, --input-format <name>', 'demuxer name, to skip probing (e.g. mp3)')
    .option('--max-input-bytes <size>', 'refuse larger inputs (e.g. 50M)')
    .option('--max-output-bytes <size>', 'fail rather than write more (e.g. 20M)')
    .option('--max-duration <seconds>', 'fail on inputs longer than this')
    .option('--timeout <ms>', 'fail a file that takes longer than this')
    .addOption(
      new Option('--decode-errors <mode>', "a frame that fails to decode: 'fail' the file (default) or 'conceal' it and go on").choices(['fail', 'conceal']),
    )
    .option('-j, --concurrency <n|auto>', 'files transcoded at once (default: cores, up to the threadpool size)')
    .option('--max-memory <size>', 'memory budget of the files in flight (e.g. 512M; default a quarter of RAM)')
    .option('--force', 'overwrite existing outputs')
    .option('--json', 'one file: the result as JSON on stderr; many: a JSON report on stdout')
    .option('-q, --quiet', 'print only failures')
    .addHelpText(
      'after',
      '\nExamples:\n  ttsav transcode samples/hello.mp3 -o hello.m4a\n  ttsav transcode voices/ -o out/ --preset speech\n' +
        '  ttsav transcode "tts/**/*.mp3" -o out/ -f ogg -j auto --json > report.json\n  cat in.mp3 | ttsav transcode - -f adts -o - > out.aac',
    )
    .action(async (inputs: string[], flags: TranscodeFlags, self: Command) => {
      // More jobs than libuv threads would queue inside libuv, behind file reads: give the CLI a threadpool
      // with room for its jobs plus I/O, unless the user chose its size (read once, before its first use).
      if (userThreadpool === undefined) {
        const wanted = flags.concurrency && /^\d+$/.test(flags.concurrency) ? Number(flags.concurrency) : os.availableParallelism();
        process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, Math.max(4, wanted + 1)));
      }
      setCode(await runTranscode(inputs, flags, self.getOptionValueSource('faststart') === 'cli'));
    });

  cmd
    .command('probe')
    .summary('show what an input is (container, codec, rate, channels, duration, tags)')
    .argument('<file>', 'a file, or - for stdin')
    .option('-i, --input-format <name>', 'demuxer name, to skip format detection')
    .option('--json', 'print JSON')
    .action(async (file: string, flags: { json?: boolean; inputFormat?: string }) => setCode(await runProbe(file, flags)));

  cmd
    .command('doctor')
    .summary('check the installation: libav versions, formats, hardware devices, cores, threadpool')
    .option('--json', 'print JSON')
    .option('--edge', 'also check that the EdgeTTS service accepts this client (voice list + one short synthesis; needs the network)')
    .option('--endpoint <url>', 'EdgeTTS endpoint for --edge (default TTSAV_EDGE_ENDPOINT, else the service)')
    .addHelpText('after', '\nIf --edge says REFUSED, retry with TTSAV_EDGE_CLIENT_VERSION=<current Edge version> (see README, EdgeTTS).')
    .action(async (flags: { json?: boolean; edge?: boolean; endpoint?: string }) => setCode(await runDoctor(flags, userThreadpool)));

  addSpeakCommands(cmd, setCode);

  addVoiceoverCommand(cmd, setCode);
  addLiveCommand(cmd, setCode);

  addQueueCommands(cmd, setCode);

  cmd
    .command('versions')
    .summary('ttsav and libav versions as JSON')
    .action(() => {
      process.stdout.write(JSON.stringify(versions(), null, 2) + '\n');
      setCode(0);
    });
  return cmd;
}

function safeVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function main(argv: string[]): Promise<number> {
  const userThreadpool = process.env.UV_THREADPOOL_SIZE;
  let code = 0;
  const cmd = program(userThreadpool, (c) => (code = c));
  if (argv.length === 0) {
    process.stderr.write(cmd.helpInformation());
    return 2;
  }
  try {
    await cmd.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; everything else commander refuses is a usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`ttsav: ${err.message}\n(ttsav <command> --help for usage)\n`);
      return 2;
    }
    process.stderr.write(`ttsav: ${describeError(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
