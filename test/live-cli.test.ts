/** `ttsav live`, run in-process through the CLI's main(): lines spoken (espeak-ng) and published with a looped video. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../lib/cli';
import { decodeErrors, makeLoopVideo, packets } from './helpers/publish-media';
import { RtmpServer, rtmpServerMissing } from './helpers/rtmp-server';

let dir: string;
let loop: string;
let lines: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-live-cli-'));
  loop = path.join(dir, 'bg.mp4');
  makeLoopVideo(loop, 3);
  lines = path.join(dir, 'lines.txt');
  fs.writeFileSync(lines, 'Good evening, and welcome to the stream.\n\nThis is the second line.\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    return { code: await main(args), stderr };
  } finally {
    err.mockRestore();
  }
}

const span = (p: { pts: number; dur: number }[]) => p[p.length - 1]!.pts + p[p.length - 1]!.dur - p[0]!.pts;

describe('ttsav live', () => {
  it('--record out.flv --video --file --exit-on-end: both lines spoken over the looped video, then the stream ends', async () => {
    const out = path.join(dir, 'out.flv');
    const r = await run(['live', '--record', out, '--video', loop, '--file', lines, '--exit-on-end', '--gap-ms', '300']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/record: live/);
    expect(r.stderr).toMatch(/line 2 queued/);
    expect(r.stderr).toMatch(/record: closed/);
    expect(decodeErrors(out)).toBe('');
    const pk = packets(out);
    const a = pk.filter((x) => x.type === 'audio');
    const v = pk.filter((x) => x.type === 'video');
    expect(span(a)).toBeGreaterThan(3); // two spoken lines and a gap
    expect(Math.abs(span(v) - span(a))).toBeLessThan(0.15);
  }, 60_000);

  it('usage errors exit 2 before anything starts', async () => {
    expect((await run(['live', '--url', 'http://example.com/live/key', '--video', loop])).code).toBe(2);
    expect((await run(['live', '--url', 'rtmp://127.0.0.1/live/key'])).code).toBe(2); // no picture
    expect((await run(['live', '--video', loop])).code).toBe(2); // no target
    expect((await run(['live', '--record', path.join(dir, 'x.flv'), '--video', loop, '--sample-rate', '22050'])).code).toBe(2);
  });

  it.skipIf(rtmpServerMissing() !== '')('--url to nginx-rtmp: the server records the spoken lines with the video', async () => {
    const server = await RtmpServer.start();
    try {
      const r = await run(['live', '--url', server.url('cli'), '--video', loop, '--file', lines, '--exit-on-end']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/stream: live/);
      await new Promise((res) => setTimeout(res, 500));
      expect(decodeErrors(server.recording('cli'))).toBe('');
      const pk = packets(server.recording('cli'));
      expect(span(pk.filter((x) => x.type === 'audio'))).toBeGreaterThan(3);
      expect(pk.filter((x) => x.type === 'video').length).toBeGreaterThan(75);
    } finally {
      await server.close();
    }
  }, 60_000);
});
