/**
 * Generates the test fixtures once per run (nothing large is committed): speech from espeak-ng, turned by the
 * ffmpeg CLI into the formats TTS services and users hand us, plus bad inputs and decompression bombs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const DIR = path.resolve(__dirname, '..', '..', '.tmp', 'fixtures');
const VERSION = '6'; // bump when the list below changes

function ff(...args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { stdio: 'pipe' });
}

const TEXT =
  'Hello, this is a voice line made for testing. The quick brown fox jumps over the lazy dog, ' +
  'and the transcoder should keep every sample of it.';

export default function setup(): void {
  const stamp = path.join(DIR, '.version');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === VERSION) return;
  mkdirSync(DIR, { recursive: true });
  const p = (name: string): string => path.join(DIR, name);

  execFileSync('espeak-ng', ['-w', p('speech.wav'), TEXT]); // 22050 Hz mono s16
  // Like EdgeTTS's audio-24khz-48kbitrate-mono-mp3.
  ff('-i', p('speech.wav'), '-ar', '24000', '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '48k', p('edge.mp3'));
  ff('-i', p('speech.wav'), '-c:a', 'flac', p('speech.flac'));
  ff('-i', p('speech.wav'), '-c:a', 'libopus', '-b:a', '32k', p('speech.opus'));
  ff('-i', p('speech.wav'), '-c:a', 'aac', '-b:a', '96k', p('speech.m4a'));
  ff('-i', p('speech.wav'), '-ar', '48000', '-ac', '2', p('stereo48k.wav'));
  // A long input for abort and timeout tests: 10 minutes of tone (takes ~15 s of CPU to encode).
  ff('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=24000:duration=600', '-ac', '1', '-c:a', 'libmp3lame',
    '-b:a', '48k', p('long.mp3'));

  // Bad inputs.
  const mp3 = readFileSync(p('edge.mp3'));
  writeFileSync(p('cut37.mp3'), mp3.subarray(0, Math.floor(mp3.length * 0.37)));
  ff('-f', 'lavfi', '-i', 'color=c=red:s=64x64', '-frames:v', '1', p('image.png'));
  ff('-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=10:duration=1', '-c:v', 'mpeg4', '-f', 'mp4', p('video-only.mp4'));

  // Decompression bombs: three hours of silence in a small FLAC. One declares its length (STREAMINFO), one,
  // written to a pipe, does not, so only decoding can find out.
  ff('-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=mono', '-t', '10800', '-c:a', 'flac', p('bomb.flac'));
  const piped = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i',
    'anullsrc=r=44100:cl=mono', '-t', '10800', '-c:a', 'flac', '-f', 'flac', 'pipe:1'], { maxBuffer: 1 << 30 });
  writeFileSync(p('bomb-undeclared.flac'), piped);

  // Issue 3 (filters, presets): a WAV as TTS tools pipe it (placeholder sizes in the header); speech at -30 and
  // -10 LUFS; speech padded with a second of silence on each side.
  writeFileSync(p('piped.wav'), execFileSync('espeak-ng', ['--stdout', TEXT]));
  ff('-i', p('speech.wav'), '-af', 'volume=-10dB', p('loud30.wav'));
  ff('-i', p('speech.wav'), '-af', 'acompressor=threshold=-30dB:ratio=20:attack=1:release=50:makeup=52,alimiter=limit=0.97:level=false:attack=1:release=20,volume=-1.3dB', p('loud10.wav'));
  ff('-i', p('speech.wav'), '-af', 'adelay=delays=1000:all=1,apad=pad_dur=1', p('padded.wav'));
  // Full-band stereo (tones plus independent noise per channel): content an encoder must spend its bits on.
  ff('-f', 'lavfi', '-i', 'aevalsrc=0.2*sin(2*PI*440*t)+0.4*(random(0)-0.5)|0.2*sin(2*PI*554*t)+0.4*(random(1)-0.5):s=48000:d=8',
    '-c:a', 'flac', p('wideband.flac'));

  writeFileSync(stamp, VERSION);
}
