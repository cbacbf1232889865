/** A small MPEG audio (Layer III) frame walker: exact durations of MP3 streams without decoding. */

export interface Mp3Frame {
  offset: number;
  size: number;
  /** Samples per channel in this frame (1152 MPEG-1, 576 MPEG-2/2.5). */
  samples: number;
  sampleRate: number;
  channels: number;
}

const BITRATES_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const BITRATES_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const RATES: Record<number, readonly number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** Parses the Layer III frame header at `offset`, or returns undefined when there is none. */
export function frameAt(buf: Uint8Array, offset: number): Mp3Frame | undefined {
  if (offset + 4 > buf.length) return undefined;
  const b1 = buf[offset + 1]!;
  const b2 = buf[offset + 2]!;
  const b3 = buf[offset + 3]!;
  if (buf[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const version = (b1 >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
  const layer = (b1 >> 1) & 3; // 1: Layer III
  if (version === 1 || layer !== 1) return undefined;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return undefined;
  const v1 = version === 3;
  const bitrate = (v1 ? BITRATES_V1 : BITRATES_V2)[bitrateIndex]! * 1000;
  const sampleRate = RATES[version]![rateIndex]!;
  const padding = (b2 >> 1) & 1;
  const size = Math.floor(((v1 ? 144 : 72) * bitrate) / sampleRate) + padding;
  return { offset, size, samples: v1 ? 1152 : 576, sampleRate, channels: (b3 >> 6) === 3 ? 1 : 2 };
}

function id3v2Size(buf: Uint8Array): number {
  if (buf.length < 10 || buf[0] !== 0x49 || buf[1] !== 0x44 || buf[2] !== 0x33) return 0;
  const size = ((buf[6]! & 0x7f) << 21) | ((buf[7]! & 0x7f) << 14) | ((buf[8]! & 0x7f) << 7) | (buf[9]! & 0x7f);
  return 10 + size + (buf[5]! & 0x10 ? 10 : 0);
}

function isInfoFrame(buf: Uint8Array, f: Mp3Frame): boolean {
  const end = Math.min(f.offset + Math.min(f.size, 64), buf.length);
  const s = Buffer.from(buf.buffer, buf.byteOffset + f.offset, end - f.offset).toString('latin1');
  return s.includes('Xing') || s.includes('Info') || s.includes('VBRI');
}

/**
 * The audio frames of an MP3 stream, in order: skips an ID3v2 tag and a Xing/Info/VBRI header frame, and
 * resynchronizes over junk. A trailing partial frame is not counted.
 */
export function mp3Frames(buf: Uint8Array): Mp3Frame[] {
  const frames: Mp3Frame[] = [];
  let offset = id3v2Size(buf);
  while (offset + 4 <= buf.length) {
    const f = frameAt(buf, offset);
    if (!f || f.size < 4) {
      offset++;
      continue;
    }
    if (f.offset + f.size > buf.length) break;
    if (frames.length === 0 && isInfoFrame(buf, f)) {
      offset += f.size;
      continue;
    }
    frames.push(f);
    offset += f.size;
  }
  return frames;
}

export interface Mp3Info {
  frames: number;
  /** Samples per channel in all audio frames. */
  samples: number;
  sampleRate: number;
  channels: number;
  durationSeconds: number;
}

export function mp3Info(buf: Uint8Array): Mp3Info {
  const frames = mp3Frames(buf);
  const first = frames[0];
  const samples = frames.reduce((n, f) => n + f.samples, 0);
  const sampleRate = first?.sampleRate ?? 0;
  return { frames: frames.length, samples, sampleRate, channels: first?.channels ?? 0, durationSeconds: sampleRate ? samples / sampleRate : 0 };
}
