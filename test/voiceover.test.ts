/**
 * voiceover(): the video copied packet for packet, the voice mixed, ducked and encoded, checked with the ffmpeg
 * CLI as the oracle. Fixtures are made here by the CLI (libx264/libvpx from the system ffmpeg, espeak-ng).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TtsavError } from '../lib/errors';
import { speak } from '../lib/speak';
import { buildCues } from '../lib/subtitles';
import { voiceover, type VoiceoverResult } from '../lib/voiceover';
import { decodePcm, ebur128, topLevelBoxes } from './helpers/media';

let dir: string;
const file = (name: string): string => path.join(dir, name);
const read = (name: string): Buffer => readFileSync(file(name));

function ff(...args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { stdio: 'pipe' });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-voiceover-'));
  // 4 s of H.264 with B-frames (negative dts, an edit list) and a keyframe every second, plus a tone as its audio.
  ff('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=4', '-f', 'lavfi', '-i', 'sine=frequency=300:duration=4',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', file('video.mp4'));
  execFileSync('espeak-ng', ['-w', file('voice.wav'), 'Hello there, this line is spoken over the video.']);
  execFileSync('espeak-ng', ['-w', file('short.wav'), 'One more.']);
  // Music: a steady 7 kHz tone (speech has little energy in so narrow a band there), as MP3, 3 s (looped).
  ff('-f', 'lavfi', '-i', 'sine=frequency=7000:sample_rate=44100:duration=3', '-c:a', 'libmp3lame', '-b:a', '128k', file('music.mp3'));
  // WebM: VP8 video, 2 s.
  ff('-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=2', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '200k', file('video.webm'));
  // Bad inputs: FFV1 (MKV only), an MP4 with its index at the end cut in half, one with its index first and its
  // media cut, an image.
  ff('-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=1', '-c:v', 'ffv1', file('ffv1.mkv'));
  const tail = read('video.mp4');
  ff('-i', file('video.mp4'), '-c', 'copy', '-movflags', '-faststart', file('moov-last.mp4'));
  writeFileSync(file('no-moov.mp4'), read('moov-last.mp4').subarray(0, Math.floor(tail.length / 2)));
  ff('-i', file('video.mp4'), '-c', 'copy', '-movflags', '+faststart', file('moov-first.mp4'));
  writeFileSync(file('cut-mdat.mp4'), read('moov-first.mp4').subarray(0, Math.floor(tail.length / 2)));
  ff('-f', 'lavfi', '-i', 'color=c=red:s=64x64', '-frames:v', '1', file('image.png'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function save(data: Buffer, name: string): string {
  writeFileSync(file(name), data);
  return file(name);
}

/** ffprobe's streams and any error it prints (reading every packet). */
function probeAll(data: Buffer): { streams: { codec_type: string; codec_name: string; duration?: string; nb_read_packets?: string }[]; errors: string } {
  const f = save(data, 'probe.bin');
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_packets', '-show_streams', '-of', 'json', f]);
  const json = JSON.parse(r.stdout.toString()) as { streams: { codec_type: string; codec_name: string; duration?: string }[] };
  const decode = spawnSync('ffmpeg', ['-v', 'error', '-nostdin', '-i', f, '-map', '0:v', '-map', '0:a', '-f', 'null', '-']);
  return { streams: json.streams, errors: r.stderr.toString() + decode.stderr.toString() };
}

/** Per-packet lines of the video stream copied out by the CLI: pts, dts, duration, size and MD5 of each packet. */
function videoPackets(data: Buffer, name: string): string[] {
  const f = save(data, name);
  const out = execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-i', f, '-map', '0:v', '-c', 'copy', '-f', 'framemd5', '-']).toString();
  return out.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(',').slice(1).map((x) => x.trim()).join(','));
}

function streamDuration(data: Buffer, type: 'audio' | 'video'): number {
  const f = save(data, 'dur.bin');
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', type === 'audio' ? 'a:0' : 'v:0', '-show_entries', 'stream=duration', '-of', 'csv=p=0', f]).toString();
  return Number(out.trim());
}

/** Amplitude of one frequency in a stretch of samples (Goertzel). */
function toneLevel(pcm: Float32Array, rate: number, freq: number, from: number, to: number): number {
  const a = Math.max(0, Math.floor(from * rate));
  const b = Math.min(pcm.length, Math.floor(to * rate));
  const w = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = a; i < b; i++) {
    const s0 = pcm[i]! + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / Math.max(1, b - a);
}

const dB = (x: number): number => 20 * Math.log10(x);

describe('voiceover: video copied, voice mixed', () => {
  let r: VoiceoverResult;
  beforeAll(async () => {
    r = await voiceover({ video: read('video.mp4'), voice: read('voice.wav') });
  });

  it('makes an MP4 with faststart that ffprobe and ffmpeg read without an error', () => {
    const { streams, errors } = probeAll(r.data);
    expect(errors).toBe('');
    expect(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    const boxes = topLevelBoxes(r.data).map((b) => b.type);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    expect(r).toMatchObject({ format: 'mp4', mimeType: 'video/mp4', subtitles: 0 });
    expect(r.video).toMatchObject({ codec: 'h264', width: 320, height: 240, copied: true, packets: 100 });
    expect(r.audio).toMatchObject({ codec: 'aac', channels: 2, music: false, original: false });
  });

  it('copies every video packet as is: same bytes, sizes and timestamps', () => {
    const source = videoPackets(read('video.mp4'), 'src.mp4');
    const copied = videoPackets(r.data, 'out.mp4');
    expect(copied.length).toBe(100);
    expect(copied).toEqual(source);
  });

  it('cuts or pads the audio to the video, within one AAC frame', () => {
    const video = streamDuration(r.data, 'video');
    const audio = streamDuration(r.data, 'audio');
    expect(video).toBeCloseTo(4, 3);
    expect(Math.abs(audio - video)).toBeLessThanOrEqual(1024 / r.audio.sampleRate);
    expect(r.audio.samples).toBe(Math.round(4 * r.audio.sampleRate));
    expect(r.durationSeconds).toBeCloseTo(4, 3);
  });

  it('normalises the mix to -14 LUFS / -1 dBTP by default, and reports what it measured', () => {
    const m = ebur128(r.data);
    expect(Math.abs(m.integrated - -14)).toBeLessThan(1.5);
    expect(m.truePeak).toBeLessThan(-0.3);
    expect(Math.abs(r.loudness.integrated - m.integrated)).toBeLessThan(1);
    expect(r.voiceLoudness.integrated).toBeLessThan(0);
  });
});

/** Where a voice file is audible: first and last sample over -40 dBFS, in seconds. */
function speechSpan(name: string, rate: number): [number, number] {
  const pcm = decodePcm(read(name), rate);
  const threshold = 10 ** (-40 / 20);
  let first = -1;
  let last = -1;
  for (let i = 0; i < pcm.length; i++) {
    if (Math.abs(pcm[i]!) > threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return [first / rate, last / rate];
}

describe('voiceover: music bed, ducking, lines, original audio, length', () => {
  const RATE = 44100;

  it('ducks the music under the voice by at least 10 dB and brings it back between lines', async () => {
    const at = 1.5;
    const [s0, s1] = speechSpan('short.wav', RATE);
    const base = { video: read('video.mp4'), voice: [{ audio: read('short.wav'), at }], music: read('music.mp3') };
    const ducked = await voiceover(base);
    // The control, at a target the voice reaches without the limiter (whose gain reduction on peaky speech would
    // lower the music under it too).
    const flat = await voiceover({ ...base, ducking: false, loudness: { integrated: -23 } });
    expect(flat.limited).toBe(false);
    expect(ducked.audio.music).toBe(true);
    const level = (r: VoiceoverResult, from: number, to: number): number => {
      const pcm = decodePcm(r.data, RATE);
      // Mean of 50 ms windows of the music's tone.
      const levels: number[] = [];
      for (let t = from; t + 0.05 <= to; t += 0.05) levels.push(dB(toneLevel(pcm, RATE, 7000, t, t + 0.05)));
      return levels.reduce((a, b) => a + b, 0) / levels.length;
    };
    const musicOnly = level(ducked, 0.2, at - 0.1);
    const underSpeech = level(ducked, at + s0 + 0.1, at + s1 - 0.05);
    expect(musicOnly - underSpeech).toBeGreaterThanOrEqual(10);
    // After the release the music is back within a few dB.
    expect(Math.abs(level(ducked, at + s1 + 1.0, 3.9) - musicOnly)).toBeLessThan(3);
    // Without ducking the music stays put (the measurement can tell the two apart).
    expect(Math.abs(level(flat, 0.2, at - 0.1) - level(flat, at + s0 + 0.1, at + s1 - 0.05))).toBeLessThan(3);
  });

  it('places voice lines at their times on the timeline', async () => {
    const r = await voiceover({ video: read('video.mp4'), voice: [{ audio: read('short.wav'), at: 0.5 }, { audio: read('short.wav'), at: 2.5 }] });
    const [s0, s1] = speechSpan('short.wav', RATE);
    const pcm = decodePcm(r.data, RATE);
    const onset = (from: number): number => {
      for (let i = Math.floor(from * RATE); i < pcm.length; i++) if (Math.abs(pcm[i]!) > 10 ** (-30 / 20)) return i / RATE;
      return -1;
    };
    expect(onset(0)).toBeGreaterThan(0.5 + s0 - 0.03);
    expect(onset(0)).toBeLessThan(0.5 + s0 + 0.05);
    expect(onset(0.5 + s1 + 0.2)).toBeGreaterThan(2.5 + s0 - 0.03);
    expect(onset(0.5 + s1 + 0.2)).toBeLessThan(2.5 + s0 + 0.05);
  });

  it("mixes or drops the video's own audio (originalAudio)", async () => {
    const base = { video: read('video.mp4'), voice: [{ audio: read('short.wav'), at: 2 }] };
    const tone = (r: VoiceoverResult): number => dB(toneLevel(decodePcm(r.data, RATE), RATE, 300, 0.2, 1.8));
    const dropped = await voiceover(base);
    const mixed = await voiceover({ ...base, originalAudio: 'mix' });
    const ducked = await voiceover({ ...base, originalAudio: 'duck' });
    expect(dropped.audio.original).toBe(false);
    expect(mixed.audio.original).toBe(true);
    expect(tone(mixed) - tone(dropped)).toBeGreaterThan(30);
    const [s0, s1] = speechSpan('short.wav', RATE);
    const under = dB(toneLevel(decodePcm(ducked.data, RATE), RATE, 300, 2 + s0 + 0.1, 2 + s1 - 0.05));
    expect(tone(ducked) - under).toBeGreaterThanOrEqual(10);
  });

  it("length 'voice' cuts the video at the first keyframe after the voice; 'longest' pads the audio past it", async () => {
    const lineSeconds = decodePcm(read('short.wav'), RATE).length / RATE;
    const cut = await voiceover({ video: read('video.mp4'), voice: [{ audio: read('short.wav'), at: 0.2 }], length: 'voice' });
    const keyframe = Math.ceil(0.2 + lineSeconds); // a keyframe every second
    expect(cut.video.durationSeconds).toBeCloseTo(keyframe, 3);
    expect(cut.video.packets).toBe(25 * keyframe);
    expect(videoPackets(cut.data, 'cut.mp4')).toEqual(videoPackets(read('video.mp4'), 'src.mp4').slice(0, 25 * keyframe));
    expect(Math.abs(streamDuration(cut.data, 'audio') - keyframe)).toBeLessThanOrEqual(1024 / RATE);

    const longest = await voiceover({ video: read('video.mp4'), voice: [{ audio: read('short.wav'), at: 3.5 }], length: 'longest' });
    const voiceEnd = longest.audio.samples / RATE;
    expect(voiceEnd).toBeGreaterThan(4.2);
    expect(longest.durationSeconds).toBeCloseTo(voiceEnd, 3);
    expect(streamDuration(longest.data, 'audio')).toBeGreaterThan(4.2);
    expect(streamDuration(longest.data, 'video')).toBeCloseTo(4, 2);
  });

  it('meets the loudness target with music in the mix, and takes another target', async () => {
    const r = await voiceover({ video: read('video.mp4'), voice: read('voice.wav'), music: read('music.mp3'), loudness: { integrated: -20, truePeak: -2 } });
    const m = ebur128(r.data);
    expect(Math.abs(m.integrated - -20)).toBeLessThan(1.5);
    expect(m.truePeak).toBeLessThan(-1.3);
  });
});

/** The subtitle track's cues as the CLI reads them back (SRT), in ms. */
function readCues(data: Buffer, name: string): { startMs: number; endMs: number; text: string }[] {
  const f = save(data, name);
  const srt = execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-i', f, '-map', '0:s:0', '-f', 'srt', '-']).toString();
  const ms = (t: string): number => {
    const [h, m, rest] = t.split(':');
    const [sec, milli] = rest!.split(',');
    return ((Number(h) * 60 + Number(m)) * 60 + Number(sec)) * 1000 + Number(milli);
  };
  return srt.trim().split(/\r?\n\r?\n/).map((block) => {
    const lines = block.split(/\r?\n/);
    const [a, b] = lines[1]!.split(' --> ');
    // (The CLI's SRT writer escapes braces.)
    return { startMs: ms(a!.trim()), endMs: ms(b!.trim()), text: lines.slice(2).join('\n').replace(/\\([{}])/g, '$1') };
  });
}

describe('voiceover: soft subtitles, WebM', () => {
  it('writes a mov_text track whose cues sit within 50 ms of the speak() word boundaries', async () => {
    const line = await speak('Welcome to the show. Today we test subtitles on a video.', { engine: 'espeak', subtitles: true, format: 'adts' });
    const at = 0.4;
    const r = await voiceover({ video: read('video.mp4'), voice: [{ audio: line, at }], subtitles: 'soft', length: 'longest' });
    const { streams, errors } = probeAll(r.data);
    expect(errors).toBe('');
    expect(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'subtitle:mov_text', 'video:h264']);
    // What the cues should be: the words, shifted to where the line starts, grouped as buildCues() does.
    const words = line.subtitles!.words.map((w) => ({ ...w, offsetMs: w.offsetMs + at * 1000 }));
    const expected = buildCues(words);
    expect(expected.length).toBeGreaterThan(1);
    expect(r.subtitles).toBe(expected.length);
    const got = readCues(r.data, 'subs.mp4');
    expect(got.length).toBe(expected.length);
    got.forEach((c, i) => {
      expect(Math.abs(c.startMs - expected[i]!.startMs)).toBeLessThanOrEqual(50);
      expect(Math.abs(c.endMs - expected[i]!.endMs)).toBeLessThanOrEqual(50);
      expect(c.text).toBe(expected[i]!.text);
    });
    // The first word starts where the line was placed (plus the engine's own lead-in).
    expect(got[0]!.startMs).toBeGreaterThanOrEqual(at * 1000 - 1);
  });

  it('takes given cues, and makes WebM (VP8 copied, Opus, WebVTT)', async () => {
    const cues = [{ startMs: 100, endMs: 900, text: 'First {cue}' }, { startMs: 1000, endMs: 1800, text: 'Second\ncue' }];
    const r = await voiceover({ video: read('video.webm'), voice: read('short.wav'), format: 'webm', subtitles: 'soft', cues });
    expect(r).toMatchObject({ format: 'webm', mimeType: 'video/webm', subtitles: 2 });
    const { streams, errors } = probeAll(r.data);
    expect(errors).toBe('');
    expect(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:opus', 'subtitle:webvtt', 'video:vp8']);
    // Same bytes, sizes and durations; Matroska cannot store the Opus encoder delay's negative start, so the muxer
    // shifts every stream by the same few ms (as the ffmpeg CLI does for this job).
    const src = videoPackets(read('video.webm'), 'src.webm').map((l) => l.split(','));
    const out = videoPackets(r.data, 'out.webm').map((l) => l.split(','));
    expect(out.map((p) => p.slice(2))).toEqual(src.map((p) => p.slice(2)));
    const shifts = new Set(out.map((p, i) => Number(p[0]) - Number(src[i]![0])));
    expect(shifts.size).toBe(1);
    const shift = [...shifts][0]!;
    expect(shift).toBeLessThanOrEqual(20);
    const got = readCues(r.data, 'subs.webm');
    expect(got.map((c) => [c.startMs - shift, c.endMs - shift])).toEqual([[100, 900], [1000, 1800]]);
    expect(got[0]!.text).toBe('First {cue}');
    expect(got[1]!.text).toBe('Second\ncue');
  });
});

describe('voiceover: bad input is a typed error, nothing half-written', () => {
  const fails = async (options: Parameters<typeof voiceover>[0], code: string, message: RegExp): Promise<void> => {
    const err = await voiceover(options).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TtsavError);
    expect((err as TtsavError).code).toBe(code);
    expect((err as TtsavError).message).toMatch(message);
  };

  it('a "video" with no video stream', async () => {
    await fails({ video: read('voice.wav'), voice: read('short.wav') }, 'ERR_TTSAV_UNSUPPORTED', /^video: input has no video stream/);
  });

  it('a video codec the output container cannot take', async () => {
    await fails({ video: read('ffv1.mkv'), voice: read('short.wav') }, 'ERR_TTSAV_UNSUPPORTED', /mp4 container cannot hold ffv1/);
    await fails({ video: read('video.mp4'), voice: read('short.wav'), format: 'webm' }, 'ERR_TTSAV_UNSUPPORTED', /webm container cannot hold h264/);
  });

  it('a truncated MP4: index missing, or media cut', async () => {
    await fails({ video: read('no-moov.mp4'), voice: read('short.wav') }, 'ERR_TTSAV_INVALID_DATA', /^video: /);
    await fails({ video: read('cut-mdat.mp4'), voice: read('short.wav') }, 'ERR_TTSAV_INVALID_DATA', /^video: /);
  });

  it('music that is an image, a voice that is not audio, empty bytes, bad options', async () => {
    // An image is no audio: UNSUPPORTED (no audio stream) where the libav reads PNG, INVALID_DATA where it does not
    // (the bundled build).
    const image = await voiceover({ video: read('video.mp4'), voice: read('short.wav'), music: read('image.png') }).then(() => undefined, (e: unknown) => e);
    expect(['ERR_TTSAV_UNSUPPORTED', 'ERR_TTSAV_INVALID_DATA']).toContain((image as TtsavError).code);
    expect((image as TtsavError).message).toMatch(/^music: input (has no audio stream|is not a media file)/);
    await fails({ video: read('video.mp4'), voice: [{ audio: read('short.wav') }, { audio: Buffer.from('not audio at all'), at: 1 }] }, 'ERR_TTSAV_INVALID_DATA', /^voice line 1: /);
    await fails({ video: Buffer.alloc(0), voice: read('short.wav') }, 'ERR_TTSAV_INVALID_DATA', /video is empty/);
    await fails({ video: read('video.mp4'), voice: read('short.wav'), length: 'shortest' as 'video' }, 'ERR_TTSAV_OPTIONS', /length/);
    await fails({ video: read('video.mp4'), voice: read('short.wav'), subtitles: 'soft' }, 'ERR_TTSAV_OPTIONS', /subtitles need cues/);
  });

  it('an aborted signal and a passed deadline stop the job', async () => {
    await fails({ video: read('video.mp4'), voice: read('short.wav'), signal: AbortSignal.abort() }, 'ERR_TTSAV_ABORTED', /voice-over/);
    const controller = new AbortController();
    const job = voiceover({ video: read('video.mp4'), voice: read('voice.wav'), music: read('music.mp3'), signal: controller.signal });
    controller.abort();
    await expect(job).rejects.toMatchObject({ code: 'ERR_TTSAV_ABORTED' });
    await fails({ video: read('video.mp4'), voice: read('voice.wav'), music: read('music.mp3'), timeoutMs: 1 }, 'ERR_TTSAV_TIMEOUT', /timeout/);
  });

  it("'burn' subtitles without an H.264 encoder or drawtext say what is missing; hwaccel is checked", async () => {
    const { loadNative } = await import('../lib/native');
    const native = loadNative();
    const cues = [{ startMs: 0, endMs: 500, text: 'hi' }];
    await fails({ video: read('video.mp4'), voice: read('short.wav'), subtitles: 'burn', cues, hwaccel: 'metal' as 'cuda' }, 'ERR_TTSAV_OPTIONS', /hwaccel/);
    const missing = native.burnUnsupported('');
    if (missing) {
      expect(missing).toMatch(/needs (an H\.264 encoder|the drawtext filter)/);
      await fails({ video: read('video.mp4'), voice: read('short.wav'), subtitles: 'burn', cues }, 'ERR_TTSAV_UNSUPPORTED', /burn.*needs/);
    } else {
      await fails({ video: read('video.webm'), voice: read('short.wav'), format: 'webm', subtitles: 'burn', cues }, 'ERR_TTSAV_UNSUPPORTED', /H\.264, which the webm container cannot hold/);
    }
  });

});

/** The mean absolute difference of the luma of two videos' frames at `t` seconds, over the picture's bottom third. */
function lumaDiff(a: string, b: string, t: number): number {
  const frame = (f: string): Buffer => execFileSync('ffmpeg', ['-v', 'error', '-nostdin', '-ss', String(t), '-i', file(f), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-']);
  const x = frame(a);
  const y = frame(b);
  const from = Math.floor((x.length * 2) / 3);
  let sum = 0;
  for (let i = from; i < x.length; i++) sum += Math.abs(x[i]! - y[i]!);
  return sum / (x.length - from);
}

describe('voiceover: burned-in subtitles (where this libav has an H.264 encoder and drawtext)', () => {
  it('draws the cues into the picture over their time, re-encoding the video as H.264', async (ctx) => {
    const { loadNative } = await import('../lib/native');
    if (loadNative().burnUnsupported('')) ctx.skip();
    const cues = [{ startMs: 500, endMs: 2000, text: "It's 100% {burned}" }];
    const r = await voiceover({ video: read('video.mp4'), voice: read('short.wav'), subtitles: 'burn', cues });
    expect(r.video).toMatchObject({ codec: 'h264', width: 320, height: 240, copied: false, packets: 100 });
    expect(['libopenh264', 'libx264']).toContain(r.video.encoder);
    expect(r.subtitles).toBe(1);
    const { streams, errors } = probeAll(r.data);
    expect(errors).toBe('');
    expect(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    save(r.data, 'burned.mp4');
    // Inside the cue the bottom of the picture changed (the text on its box); outside it only by re-encoding.
    const inside = lumaDiff('video.mp4', 'burned.mp4', 1.2);
    const outside = lumaDiff('video.mp4', 'burned.mp4', 3.2);
    expect(inside).toBeGreaterThan(10);
    expect(outside).toBeLessThan(3);
    expect(Math.abs(streamDuration(r.data, 'audio') - streamDuration(r.data, 'video'))).toBeLessThanOrEqual(1024 / 44100);
  });
});

describe('voiceover: pool', () => {
  it('runs voice-overs through createPool() with the video bytes in the memory estimate', async () => {
    const { createPool } = await import('../lib/pool');
    const { estimateVoiceover } = await import('../lib/budget');
    const { estimatePreparedVoiceover, prepareVoiceover } = await import('../lib/voiceover');
    const video = read('video.mp4');
    const voice = read('short.wav');
    const byBytes = estimateVoiceover({ videoBytes: video.length, audioBytes: voice.length, bitrate: 192000 });
    expect(byBytes.bytes).toBeGreaterThan(3 * video.length);
    expect(estimateVoiceover({ videoBytes: video.length * 10, audioBytes: voice.length, bitrate: 192000 }).bytes).toBeGreaterThan(byBytes.bytes + 20 * video.length);
    const estimate = await estimatePreparedVoiceover(prepareVoiceover({ video, voice }));
    expect(estimate.bytes).toBeGreaterThan(3 * video.length);
    // A budget below one job's estimate with oversize 'reject' refuses it: the estimate is what the pool charges.
    const strict = createPool({ concurrency: 2, maxInFlightBytes: Math.floor(estimate.bytes / 2), oversize: 'reject' });
    const refused = await strict.voiceover({ video, voice }).then(() => undefined, (e: unknown) => e);
    await strict.close();
    expect((refused as TtsavError).code).toBe('ERR_TTSAV_LIMIT');
    const pool = createPool({ concurrency: 2 });
    const results = await Promise.all([pool.voiceover({ video, voice }), pool.voiceover({ video, voice: [{ audio: voice, at: 1 }] })]);
    await pool.close();
    for (const r of results) {
      expect(r.video.copied).toBe(true);
      expect(r.queueMs).toBeGreaterThanOrEqual(0);
      expect(probeAll(r.data).errors).toBe('');
    }
    const bad = createPool({ concurrency: 1 });
    const err = await bad.voiceover({ video: voice, voice }).then(() => undefined, (e: unknown) => e);
    // Bytes that are no media at all: the header read finds nothing (the estimate falls back to the byte bounds) and
    // the job itself says why.
    const junk = await bad.voiceover({ video: Buffer.from('not a video at all'), voice }).then(() => undefined, (e: unknown) => e);
    await bad.close();
    expect((err as TtsavError).code).toBe('ERR_TTSAV_UNSUPPORTED');
    expect((junk as TtsavError).code).toBe('ERR_TTSAV_INVALID_DATA');
  });

  it('charges the durations the headers declare, so a budget for two runs two dense clips at once', async () => {
    const { createPool } = await import('../lib/pool');
    const { estimateVoiceover } = await import('../lib/budget');
    const { estimatePreparedVoiceover, prepareVoiceover } = await import('../lib/voiceover');
    // 4 s of lossless H.264: many bytes per second, which the bound from the bytes alone takes for a long video.
    ff('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=4', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', file('dense.mp4'));
    const video = read('dense.mp4');
    const voice = read('short.wav');
    const lines = [{ audio: voice, at: 0 }, { audio: voice, at: 2.5 }];
    const estimate = await estimatePreparedVoiceover(prepareVoiceover({ video, voice: lines }));
    const voiceSeconds = (voice.length - 44) / (22050 * 2); // espeak-ng: 22.05 kHz 16-bit mono
    expect(estimate.seconds).toBeCloseTo(Math.max(4, 2.5 + voiceSeconds), 2);
    const byBytes = estimateVoiceover({ videoBytes: video.length, audioBytes: 2 * voice.length, bitrate: 192000 });
    expect(byBytes.seconds).toBeGreaterThan(8 * estimate.seconds);
    // Room for two jobs as the headers say, not for two as the bytes said (the pool then ran them one at a time).
    const budget = 2 * estimate.bytes;
    expect(2 * byBytes.bytes).toBeGreaterThan(budget);
    const pool = createPool({ concurrency: 2, maxInFlightBytes: budget, oversize: 'reject' });
    // Both slots held until both voice-overs wait in the queue, so they are admitted together.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = [pool.run(() => gate, { bytes: 0 }), pool.run(() => gate, { bytes: 0 })];
    const jobs = [pool.voiceover({ video, voice: lines }), pool.voiceover({ video, voice: lines })];
    while (pool.metrics().queueDepth < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    await Promise.all(held);
    const results = await Promise.all(jobs);
    const m = pool.metrics();
    await pool.close();
    expect(m.maxInFlightBytesSeen).toBe(2 * estimate.bytes);
    expect(m.jobs.budgetDelayed).toBe(0);
    expect(m.jobs.succeeded).toBe(4);
    for (const r of results) {
      expect(r.video.copied).toBe(true);
      expect(r.durationSeconds).toBeCloseTo(4, 1);
    }
  });
});

describe('ttsav voiceover (CLI, built dist/)', () => {
  const CLI = path.resolve(__dirname, '..', 'dist', 'cli.js');
  const cli = (...args: string[]): { status: number | null; stderr: string; stdout: string } => {
    const r = spawnSync(process.execPath, [CLI, 'voiceover', ...args], { cwd: dir, maxBuffer: 1 << 26, timeout: 120_000 });
    return { status: r.status, stderr: r.stderr.toString(), stdout: r.stdout.toString() };
  };

  it('one video to a file; several videos into a directory with a summary; usage errors exit 2', () => {
    const one = cli('video.mp4', '--voice', 'short.wav', '--music', 'music.mp3', '-o', 'cli.mp4', '--force');
    expect(one.stderr).toMatch(/video\.mp4 -> cli\.mp4: 4\.00 s, video h264 320x240 copied/);
    expect(one.status).toBe(0);
    expect(videoPackets(read('cli.mp4'), 'cli-copy.mp4')).toEqual(videoPackets(read('video.mp4'), 'src.mp4'));

    const many = cli('video.mp4', 'moov-first.mp4', 'voice.wav', '--voice', 'short.wav', '-o', 'out/', '-j', '2', '--force');
    expect(many.status).toBe(1); // voice.wav has no video
    expect(many.stderr).toMatch(/FAIL {2}voice\.wav: ERR_TTSAV_UNSUPPORTED \[probe\]: video: input has no video stream/);
    expect(many.stderr).toMatch(/files +ok +skipped +failed[\s\S]*\n +3 +2 +0 +1 /);
    expect(probeAll(read('out/moov-first.mp4')).errors).toBe('');

    const usage = cli('video.mp4', '-o', 'x.mp4');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--voice <file> or --text/);
  });
});
