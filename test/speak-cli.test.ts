/** `ttsav speak` and `ttsav voices`, run in-process through the CLI's main(). */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../lib/cli';
import { startFakeEdgeServer, type FakeEdgeServer } from './helpers/fake-edge-server';
import { ffprobe } from './helpers/media';

let server: FakeEdgeServer;
let dir: string;
beforeAll(async () => {
  server = await startFakeEdgeServer();
  dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-speak-cli-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('ttsav speak', () => {
  it('--text offline (espeak-ng) to a file, with subtitles', async () => {
    const target = path.join(dir, 'hello.m4a');
    const r = await run(['speak', '--text', 'Hello from the command line. Offline, too.', '-o', target, '--write-subtitles', '-c', '1', '-b', '64k']);
    expect(r.code, r.stderr).toBe(0);
    expect(ffprobe(readFileSync(target))).toMatchObject({ codec: 'aac', channels: 1 });
    expect(readFileSync(path.join(dir, 'hello.srt'), 'utf8')).toMatch(/^1\n00:00:00,\d{3} --> /);
    expect(readFileSync(path.join(dir, 'hello.vtt'), 'utf8')).toMatch(/^WEBVTT\n\n/);
    expect(r.stderr).toMatch(/hello\.m4a.*espeak en-us/);
  });

  it('--file with the edge engine: one output per line, failures reported per line, exit 1', async () => {
    const lines = path.join(dir, 'lines.txt');
    writeFileSync(lines, 'First line.\n\nSecond line.\nFAIL this one\nFourth line.\n');
    server.rule = (text) => (text.startsWith('FAIL') ? { status: 500 } : undefined);
    const out = path.join(dir, 'batch');
    const r = await run(['speak', '--file', lines, '--engine', 'edge', '--endpoint', server.url, '-o', out, '-f', 'adts', '--voice', 'zh-CN-XiaoxiaoNeural', '--rate', '+10%', '--json']);
    server.rule = undefined;
    expect(r.code).toBe(1);
    expect(readdirSync(out).sort()).toEqual(['0001.aac', '0002.aac', '0004.aac']);
    const report = JSON.parse(r.stdout) as { ok: number; failed: number; items: { line: number; error?: { code: string } }[] };
    expect([report.ok, report.failed]).toEqual([3, 1]);
    expect(report.items.find((i) => i.error)).toMatchObject({ line: 3, error: { code: 'ERR_TTSAV_TTS' } });
    expect(r.stderr).toMatch(/line 3: ERR_TTSAV_TTS/);
    expect(server.requests.at(-1)).toMatchObject({ voice: 'zh-CN-XiaoxiaoNeural', rate: '+10%' });
  });

  it('usage errors exit 2', async () => {
    expect((await run(['speak'])).code).toBe(2);
    expect((await run(['speak', '--text', 'a', '--file', 'b'])).code).toBe(2);
    expect((await run(['speak', '--text', 'a', '--engine', 'google'])).code).toBe(2);
    const bad = await run(['speak', '--text', 'a', '--rate', 'fast', '-o', path.join(dir, 'never.m4a')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/for rate but received "fast"/);
    expect(existsSync(path.join(dir, 'never.m4a'))).toBe(false);
  });
});

describe('ttsav voices', () => {
  it('lists espeak-ng voices offline, filtered by locale', async () => {
    const r = await run(['voices', '--locale', 'cmn']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Name +Gender +Description\ncmn /);
  });

  it('lists EdgeTTS voices from the endpoint as JSON', async () => {
    const r = await run(['voices', '--engine', 'edge', '--endpoint', server.url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((v) => v.name)).toEqual(['en-US-AriaNeural', 'zh-CN-XiaoxiaoNeural']);
  });

  it('voices --engine edge says plainly when the service refuses the client; doctor --edge reports ACCEPTED / REFUSED', async () => {
    server.minClientVersion = '150.0.0.0';
    try {
      const refused = await run(['voices', '--engine', 'edge', '--endpoint', server.url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/refused the client \(HTTP 403\).*TTSAV_EDGE_CLIENT_VERSION/s);
      const doc = await run(['doctor', '--edge', '--endpoint', server.url]);
      expect(doc.code).toBe(1);
      expect(doc.stdout).toMatch(/^edge +ws:\/\/127\.0\.0\.1:\d+ as Edge 143\.0\.3650\.75: REFUSED$/m);
      expect(doc.stdout).toMatch(/next step .*TTSAV_EDGE_CLIENT_VERSION=/);
    } finally {
      server.minClientVersion = '143.0.3650.75';
    }
    const ok = await run(['doctor', '--edge', '--endpoint', server.url, '--json']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ healthy: true, edge: { verdict: 'accepted', voices: { ok: true, count: 2 }, synthesis: { ok: true } } });
  });
});

describe('ttsav speak writes like ttsav transcode', () => {
  it('keeps an existing output unless --force, never leaves a visible partial file, and writes through fsync+rename', async () => {
    const target = path.join(dir, 'keep.m4a');
    writeFileSync(target, 'precious');
    const r = await run(['speak', '--text', 'Do not overwrite.', '-o', target]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/keep\.m4a exists; kept it \(pass --force to overwrite\)/);
    expect(readFileSync(target, 'utf8')).toBe('precious');
    const forced = await run(['speak', '--text', 'Overwrite now.', '-o', target, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(ffprobe(readFileSync(target))).toMatchObject({ codec: 'aac' });
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('--file: an existing line output is a per-line failure, the other lines are written', async () => {
    const lines = path.join(dir, 'two.txt');
    writeFileSync(lines, 'Line one.\nLine two.\n');
    const out = path.join(dir, 'two');
    expect((await run(['speak', '--file', lines, '-o', out, '-f', 'adts'])).code).toBe(0);
    rmSync(path.join(out, '0002.aac'));
    const again = await run(['speak', '--file', lines, '-o', out, '-f', 'adts']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/line 1: writing .*0001\.aac: .*exists/);
    expect(readdirSync(out).sort()).toEqual(['0001.aac', '0002.aac']);
  });

  it('speak --help comes from the same parser as the other commands', async () => {
    const r = await run(['speak', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: ttsav speak \[options\]/);
    expect(r.stdout).toMatch(/--force/);
  });
});
