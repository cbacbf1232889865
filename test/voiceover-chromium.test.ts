/**
 * voiceover() output played by a real client: headless Chromium (Debian's `chromium`, driven by playwright-core)
 * loads the MP4 from a loopback HTTP server into a <video>, and the page reports what the browser found: metadata,
 * duration, its audio and video tracks (Blink's AudioVideoTracks feature) and decoded bytes of each while it plays.
 * A video-only file served the same way is the control: it must show no audio.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { voiceover, type VoiceoverResult } from '../lib/voiceover';

const CHROMIUM = process.env.TTSAV_CHROMIUM ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? '' : `${CHROMIUM} not found (apt-get install chromium; scripts/bootstrap.sh installs it)`;

let dir: string;
let server: http.Server;
let base: string;
const files = new Map<string, Buffer>();

function ff(...args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { stdio: 'pipe' });
}

/** Serves `files` with byte ranges (as a CDN does; Chromium's media stack asks for ranges) and a page per file. */
function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/page.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>ttsav</title><body></body>');
    return;
  }
  const data = files.get(url.pathname.slice(1));
  if (data === undefined) {
    res.writeHead(404).end();
    return;
  }
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    const start = range[1] === '' ? Math.max(0, data.length - Number(range[2])) : Number(range[1]);
    const end = range[1] !== '' && range[2] !== '' ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
    res.writeHead(206, {
      'content-type': 'video/mp4',
      'accept-ranges': 'bytes',
      'content-range': `bytes ${start}-${end}/${data.length}`,
      'content-length': end - start + 1,
    });
    res.end(data.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', 'content-length': data.length });
  res.end(data);
}

interface Played {
  error: string | null;
  duration: number;
  width: number;
  height: number;
  audioTracks: number | null;
  videoTracks: number | null;
  audioBytes: number;
  videoBytes: number;
  currentTime: number;
}

/** What the page's <video> reports for `name`: after loadedmetadata, then after playing (muted) past 1 s. */
async function play(name: string): Promise<Played> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--enable-blink-features=AudioVideoTracks'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/page.html`);
    return await page.evaluate(async (src: string): Promise<Played> => {
      // The page's DOM, typed by what is read here (the tests compile without the DOM library).
      interface Video {
        muted: boolean;
        preload: string;
        src: string;
        duration: number;
        currentTime: number;
        ended: boolean;
        videoWidth: number;
        videoHeight: number;
        error: { code: number; message: string } | null;
        audioTracks?: { length: number };
        videoTracks?: { length: number };
        webkitAudioDecodedByteCount: number;
        webkitVideoDecodedByteCount: number;
        play(): Promise<void>;
        pause(): void;
        addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
      }
      const doc = (globalThis as unknown as { document: { createElement(tag: 'video'): Video; body: { appendChild(v: Video): void } } }).document;
      const video = doc.createElement('video');
      video.muted = true;
      video.preload = 'auto';
      doc.body.appendChild(video);
      const failed = (): string => `media error ${video.error?.code ?? '?'}: ${video.error?.message ?? ''}`;
      await new Promise<void>((resolve, reject) => {
        video.addEventListener('loadedmetadata', () => resolve(), { once: true });
        video.addEventListener('error', () => reject(new Error(failed())), { once: true });
        video.src = src;
      });
      // audioTracks/videoTracks exist with --enable-blink-features=AudioVideoTracks; null if this Chromium lacks them.
      const meta = {
        duration: video.duration,
        width: video.videoWidth,
        height: video.videoHeight,
        audioTracks: video.audioTracks ? video.audioTracks.length : null,
        videoTracks: video.videoTracks ? video.videoTracks.length : null,
      };
      // Plays until the clock passes 1 s (or the end), then reads what was decoded.
      await new Promise<void>((resolve, reject) => {
        video.addEventListener('timeupdate', () => {
          if (video.currentTime > 1 || video.ended) resolve();
        });
        video.addEventListener('ended', () => resolve(), { once: true });
        video.addEventListener('error', () => reject(new Error(failed())), { once: true });
        video.play().catch(reject);
      });
      video.pause();
      return {
        ...meta,
        error: video.error ? failed() : null,
        audioBytes: video.webkitAudioDecodedByteCount,
        videoBytes: video.webkitVideoDecodedByteCount,
        currentTime: video.currentTime,
      };
    }, `${base}/${name}`);
  } finally {
    await browser.close();
  }
}

describe.skipIf(missing !== '')('voiceover output in headless Chromium', () => {
  let r: VoiceoverResult;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-chromium-'));
    const f = (name: string): string => path.join(dir, name);
    // 3 s of H.264 (main profile, B-frames, a keyframe a second) with a tone as the source's own audio.
    ff('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=3', '-f', 'lavfi', '-i', 'sine=frequency=300:duration=3',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'main', '-bf', '2', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', f('video.mp4'));
    ff('-i', f('video.mp4'), '-map', '0:v', '-c', 'copy', '-movflags', '+faststart', f('video-only.mp4'));
    execFileSync('espeak-ng', ['-w', f('voice.wav'), 'Played in a browser.']);
    ff('-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=44100:duration=2', '-c:a', 'libmp3lame', '-b:a', '128k', f('music.mp3'));
    r = await voiceover({
      video: readFileSync(f('video.mp4')),
      voice: [{ audio: readFileSync(f('voice.wav')), at: 0.3 }],
      music: readFileSync(f('music.mp3')),
      subtitles: 'soft',
      cues: [{ startMs: 300, endMs: 1500, text: 'Played in a browser.' }],
    });
    files.set('out.mp4', r.data);
    files.set('video-only.mp4', readFileSync(f('video-only.mp4')));
    server = http.createServer(serve);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads, has the right duration and both tracks, and plays with audio and video decoded', async () => {
    expect(r.video.copied).toBe(true);
    expect(r.subtitles).toBe(1);
    const played = await play('out.mp4');
    expect(played.error).toBeNull();
    expect(Math.abs(played.duration - r.durationSeconds)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(played.duration - 3)).toBeLessThanOrEqual(0.1);
    expect([played.width, played.height]).toEqual([320, 240]);
    expect(played.audioTracks).toBe(1);
    expect(played.videoTracks).toBe(1);
    expect(played.currentTime).toBeGreaterThan(0);
    expect(played.audioBytes).toBeGreaterThan(0);
    expect(played.videoBytes).toBeGreaterThan(0);
  });

  it('control: the same video without audio shows no audio track and decodes no audio', async () => {
    const played = await play('video-only.mp4');
    expect(played.error).toBeNull();
    expect(played.audioTracks).toBe(0);
    expect(played.videoTracks).toBe(1);
    expect(played.currentTime).toBeGreaterThan(0);
    expect(played.audioBytes).toBe(0);
    expect(played.videoBytes).toBeGreaterThan(0);
  });
});
