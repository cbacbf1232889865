/** Test helpers: run the ffmpeg/ffprobe CLIs (the oracle), decode to PCM, read MP4 boxes. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { versions } from '../../lib/versions';

export const FIXTURES = path.resolve(__dirname, '..', '..', '.tmp', 'fixtures');

export function fixture(name: string): Buffer {
  return readFileSync(path.join(FIXTURES, name));
}

export function fixturePath(name: string): string {
  return path.join(FIXTURES, name);
}

/** Runs an ffmpeg CLI: the system's (fixtures, decoding, probing), or `cli` (the byte-identity oracle). */
export function ffmpeg(args: string[], input?: Buffer, cli = 'ffmpeg'): Buffer {
  const r = spawnSync(cli, ['-hide_banner', '-loglevel', 'error', '-nostdin', ...args], {
    input,
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`${cli} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

let bundledCli: string | undefined;

/**
 * The ffmpeg CLI built from the same libav as an addon, so that byte identity can hold: for a 'bundled' addon the
 * CLI that scripts/build-ffmpeg.sh built from the same source and configuration (`npm run --silent ffmpeg-prefix`
 * + /bin/ffmpeg), for a 'system' one the system's. `build` defaults to what this process's addon reports
 * (versions().build).
 */
export function oracleCli(build?: 'bundled' | 'system'): string {
  const which = build ?? versions().build;
  if (which === 'system') return 'ffmpeg';
  bundledCli ??= path.join(
    execFileSync('bash', [path.resolve(__dirname, '..', '..', 'scripts', 'build-ffmpeg.sh'), '--prefix'], { encoding: 'utf8' }).trim(),
    'bin',
    'ffmpeg',
  );
  return bundledCli;
}

/** Generated test audio, through the ffmpeg CLI. */
export interface ToneOptions {
  /** Default 440 Hz. */
  frequency?: number;
  /** Default 24000 Hz (an EdgeTTS voice's rate). */
  sampleRate?: number;
  /** Encoder and container arguments after the input. Default: MP3 at 48k. */
  encode?: string[];
}

/** A sine tone of `seconds`, encoded (MP3 by default; see ToneOptions.encode). */
export function tone(seconds: number, options: ToneOptions = {}): Buffer {
  const { frequency = 440, sampleRate = 24000 } = options;
  const encode = options.encode ?? ['-c:a', 'libmp3lame', '-b:a', '48k', '-f', 'mp3'];
  return ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=${sampleRate}:duration=${seconds}`, ...encode, 'pipe:1']);
}

/** A sine tone as a 16-bit PCM WAV. */
export function toneWav(seconds: number, options: Omit<ToneOptions, 'encode'> = {}): Buffer {
  return tone(seconds, { ...options, encode: ['-c:a', 'pcm_s16le', '-f', 'wav'] });
}

/** A canonical 44-byte RIFF/WAVE header: `format` 1 (PCM, 16-bit) or 3 (IEEE float, 32-bit), declaring
 *  `dataBytes` of data (built by hand, so tests can declare sizes the data does not have). */
export function wavHeader(o: { format?: 1 | 3; channels?: number; sampleRate?: number; dataBytes: number }): Buffer {
  const { format = 1, channels = 1, sampleRate = 16000, dataBytes } = o;
  const bytesPerSample = format === 3 ? 4 : 2;
  const b = Buffer.alloc(44);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + dataBytes, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(format, 20);
  b.writeUInt16LE(channels, 22);
  b.writeUInt32LE(sampleRate, 24);
  b.writeUInt32LE(sampleRate * channels * bytesPerSample, 28); // byte rate
  b.writeUInt16LE(channels * bytesPerSample, 32); // block align
  b.writeUInt16LE(8 * bytesPerSample, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(dataBytes, 40);
  return b;
}

/** `frames` sample frames of interleaved 16-bit PCM: a sine of `frequency` Hz at `sampleRate`, amplitude 8000. */
export function sinePcm16(frames: number, o: { channels?: number; sampleRate?: number; frequency?: number } = {}): Buffer {
  const { channels = 1, sampleRate = 24000, frequency = 220 } = o;
  const pcm = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(8000 * Math.sin((2 * Math.PI * frequency * i) / sampleRate));
    for (let c = 0; c < channels; c++) pcm.writeInt16LE(v, 2 * (i * channels + c));
  }
  return pcm;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-test-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The seed recipe through the ffmpeg CLI of the addon's own libav (oracleCli): the oracle for byte identity. */
export function ffmpegSeedRecipe(inputPath: string, build?: 'bundled' | 'system'): Buffer {
  return withTempDir((dir) => {
    const out = path.join(dir, 'out.m4a');
    ffmpeg(['-i', inputPath, '-c:a', 'aac', '-b:a', '192k', '-ar', '44100', '-ac', '2', '-f', 'mp4', out], undefined, oracleCli(build));
    return readFileSync(out);
  });
}

/** Decodes media bytes with the ffmpeg CLI and returns samples per channel (s16 PCM, native rate/channels). */
export function decodedSamples(data: Buffer, channels: number): number {
  return withTempDir((dir) => {
    const file = path.join(dir, 'in.bin');
    writeFileSync(file, data);
    const pcm = ffmpeg(['-i', file, '-f', 's16le', '-acodec', 'pcm_s16le', '-']);
    return pcm.length / (2 * channels);
  });
}

export interface ProbeInfo {
  duration: number;
  codec: string;
  sampleRate: number;
  channels: number;
  formatName: string;
}

export function ffprobe(data: Buffer): ProbeInfo {
  return withTempDir((dir) => {
    const file = path.join(dir, 'probe.bin');
    writeFileSync(file, data);
    const json = execFileSync('ffprobe', [
      '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file,
    ]).toString();
    const info = JSON.parse(json) as {
      format: { duration: string; format_name: string };
      streams: { codec_name: string; sample_rate: string; channels: number; codec_type: string }[];
    };
    const audio = info.streams.find((s) => s.codec_type === 'audio');
    if (!audio) throw new Error('no audio stream');
    return {
      duration: Number(info.format.duration),
      codec: audio.codec_name,
      sampleRate: Number(audio.sample_rate),
      channels: audio.channels,
      formatName: info.format.format_name,
    };
  });
}

/** Top-level ISO-BMFF boxes: type and offset, in file order. */
export function topLevelBoxes(data: Buffer): { type: string; offset: number; size: number }[] {
  const boxes: { type: string; offset: number; size: number }[] = [];
  let offset = 0;
  while (offset + 8 <= data.length) {
    let size = data.readUInt32BE(offset);
    const type = data.toString('latin1', offset + 4, offset + 8);
    if (size === 1) size = Number(data.readBigUInt64BE(offset + 8));
    else if (size === 0) size = data.length - offset;
    if (size < 8) throw new Error(`bad box size ${size} at ${offset}`);
    boxes.push({ type, offset, size });
    offset += size;
  }
  if (offset !== data.length) throw new Error(`boxes end at ${offset}, file has ${data.length} bytes`);
  return boxes;
}

/** EBU R128 of media bytes, measured by the ffmpeg CLI's ebur128 filter (its summary). */
export function ebur128(data: Buffer): { integrated: number; truePeak: number; lra: number } {
  return withTempDir((dir) => {
    const file = path.join(dir, 'loud.bin');
    writeFileSync(file, data);
    const r = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-nostdin', '-i', file, '-af', 'ebur128=peak=true', '-f', 'null', '-']);
    const text = r.stderr.toString();
    const summary = text.slice(text.lastIndexOf('Summary:'));
    const num = (re: RegExp): number => {
      const m = re.exec(summary);
      if (!m) throw new Error(`no ${re} in ebur128 summary: ${summary}`);
      return Number(m[1]);
    };
    return { integrated: num(/I:\s+(-?[\d.]+) LUFS/), truePeak: num(/Peak:\s+(-?[\d.]+|-inf) dBFS/), lra: num(/LRA:\s+(-?[\d.]+) LU/) };
  });
}

/** ffprobe's view of the audio stream, including its bitrate. */
export function ffprobeStream(data: Buffer): { codec: string; sampleRate: number; channels: number; bitrate: number } {
  return withTempDir((dir) => {
    const file = path.join(dir, 'probe.bin');
    writeFileSync(file, data);
    const json = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries',
      'stream=codec_name,sample_rate,channels,bit_rate', '-print_format', 'json', file]).toString();
    const s = (JSON.parse(json) as { streams: { codec_name: string; sample_rate: string; channels: number; bit_rate?: string }[] }).streams[0]!;
    return { codec: s.codec_name, sampleRate: Number(s.sample_rate), channels: s.channels, bitrate: Number(s.bit_rate ?? 0) };
  });
}

/** Decodes with the CLI and returns { samples per channel, stderr } — stderr lists any decode errors. */
export function decodeCheck(data: Buffer, channels: number, rate?: number): { samples: number; errors: string } {
  return withTempDir((dir) => {
    const file = path.join(dir, 'in.bin');
    writeFileSync(file, data);
    const args = ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, ...(rate ? ['-ar', String(rate)] : []), '-f', 's16le', '-acodec', 'pcm_s16le', '-'];
    const r = spawnSync('ffmpeg', args, { maxBuffer: 1 << 30 });
    return { samples: r.stdout.length / (2 * channels), errors: r.stderr.toString() + (r.status !== 0 ? `exit ${r.status}` : '') };
  });
}

/** Decodes to mono 32-bit float PCM at `rate` Hz with the CLI. */
export function decodePcm(data: Buffer, rate: number): Float32Array {
  return withTempDir((dir) => {
    const file = path.join(dir, 'in.bin');
    writeFileSync(file, data);
    const pcm = ffmpeg(['-i', file, '-ac', '1', '-ar', String(rate), '-f', 'f32le', '-']);
    return new Float32Array(pcm.buffer, pcm.byteOffset, pcm.length / 4);
  });
}

export function rms(samples: Float32Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / Math.max(1, to - from));
}
