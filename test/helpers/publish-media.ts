/** Media checks for the publish tests: packets and decode errors as the ffmpeg CLI sees them, loop fixtures. */
import { execFileSync } from 'node:child_process';

/** Packets as ffprobe reads them: [stream type, dts s, pts s, duration s]. */
export function packets(file: string): { type: string; dts: number; pts: number; dur: number }[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,dts_time,pts_time,duration_time', '-of', 'csv=p=0', file], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return out
    .trim()
    .split('\n')
    .map((l) => {
      const [type, pts, dts, dur] = l.split(',');
      return { type: type!, pts: Number(pts), dts: Number(dts), dur: Number(dur) };
    });
}

/** Decodes every track; returns libav's error lines. */
export function decodeErrors(file: string): string {
  try {
    return execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-map', '0', '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
}

export function makeLoopVideo(file: string, seconds: number, codec = 'libx264'): void {
  // Test fixture only (libx264 through the ffmpeg CLI); the library never encodes video with it.
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25`, '-t', String(seconds), '-c:v', codec];
  if (codec === 'libx264') args.push('-preset', 'ultrafast', '-g', '50', '-bf', '2', '-pix_fmt', 'yuv420p');
  execFileSync('ffmpeg', [...args, file]);
}

