/**
 * examples/http-service: compiled with its strict tsconfig, run as a process, then fed good and bad requests, a
 * queue overflow, a timeout, client disconnects (the jobs are cancelled) and a SIGTERM with a job in flight.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe, fixture } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const SERVER = path.join(ROOT, '.tmp', 'http-service', 'server.js');

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function start(env: Record<string, string>): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, [SERVER], { cwd: ROOT, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 20_000);
    const check = (): void => {
      const m = /listening on (\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve({ child, port: Number(m[1]), output: () => out });
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
}

function request(port: number, method: string, route: string, body?: Buffer | string, headers: http.OutgoingHttpHeaders = {}): { done: Promise<Answer>; req: http.ClientRequest } {
  const req = http.request({ host: '127.0.0.1', port, method, path: route, headers, agent: false });
  const done = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  // With Expect: 100-continue the body goes only once the server says so (it may answer at once instead).
  if (headers.expect === '100-continue') req.on('continue', () => req.end(body));
  else req.end(body);
  return { done, req };
}

const json = (a: Answer): { code?: string; reason?: string; error?: string } => JSON.parse(a.body.toString()) as { code?: string };
const audio = { 'content-type': 'audio/mpeg' };

async function metric(port: number, line: RegExp, tries = 100): Promise<string> {
  let text = '';
  for (let i = 0; i < tries; i++) {
    text = (await request(port, 'GET', '/metrics').done).body.toString();
    if (line.test(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  return text;
}

let server: Awaited<ReturnType<typeof start>>;
beforeAll(async () => {
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'examples', 'http-service')], { cwd: ROOT });
  expect(tsc.status, tsc.stdout.toString() + tsc.stderr.toString()).toBe(0);
  server = await start({ CONCURRENCY: '1', MAX_QUEUE: '1', MAX_INPUT_BYTES: String(4 * 1024 * 1024), MAX_DURATION_SECONDS: '900' });
}, 120_000);
afterAll(() => {
  server?.child.kill('SIGKILL');
});

describe('examples/http-service', () => {
  it('transcodes good audio (200, AAC, Server-Timing with the queue wait) and says it is ready', async () => {
    const r = await request(server.port, 'POST', '/transcode?format=m4a', fixture('edge.mp3'), audio).done;
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.headers['content-type']).toBe('audio/mp4');
    expect(ffprobe(r.body).codec).toBe('aac');
    expect(r.headers['server-timing']).toMatch(/^queue;dur=[\d.]+, transcode;dur=[\d.]+$/);
    expect((await request(server.port, 'GET', '/ready').done).status).toBe(200);
  });

  it('maps bad requests: 422 corrupt, 415 no audio / wrong type, 413 too large or too long, 400 bad option', async () => {
    const corrupt = await request(server.port, 'POST', '/transcode', Buffer.alloc(5000, 7), audio).done;
    expect([corrupt.status, json(corrupt).code]).toEqual([422, 'ERR_TTSAV_INVALID_DATA']);
    const video = await request(server.port, 'POST', '/transcode', fixture('video-only.mp4'), audio).done;
    expect([video.status, json(video).code]).toEqual([415, 'ERR_TTSAV_UNSUPPORTED']);
    const text = await request(server.port, 'POST', '/transcode', 'hello', { 'content-type': 'text/plain' }).done;
    expect(text.status).toBe(415);
    const bigBody = Buffer.alloc(5 * 1024 * 1024);
    const big = await request(server.port, 'POST', '/transcode', bigBody, { ...audio, 'content-length': bigBody.length, expect: '100-continue' }).done;
    expect(big.status).toBe(413);
    const bomb = await request(server.port, 'POST', '/transcode', fixture('bomb.flac'), audio).done; // declares 3 hours
    expect([bomb.status, json(bomb).code, json(bomb).reason]).toEqual([413, 'ERR_TTSAV_LIMIT', 'duration']);
    const format = await request(server.port, 'POST', '/transcode?format=wma', fixture('edge.mp3'), audio).done;
    expect(format.status).toBe(400);
  });

  it('speaks JSON text (200) and refuses bad JSON (400) or the wrong type (415)', async () => {
    const good = await request(server.port, 'POST', '/speak', JSON.stringify({ text: 'Hello from the service.' }), { 'content-type': 'application/json' }).done;
    expect(good.status, good.body.toString()).toBe(200);
    expect(ffprobe(good.body).codec).toBe('aac');
    expect((await request(server.port, 'POST', '/speak', '{"text":', { 'content-type': 'application/json' }).done).status).toBe(400);
    const empty = await request(server.port, 'POST', '/speak', JSON.stringify({ text: '   ' }), { 'content-type': 'application/json' }).done;
    expect([empty.status, json(empty).code]).toEqual([400, 'ERR_TTSAV_OPTIONS']);
    expect((await request(server.port, 'POST', '/speak', 'hi', { 'content-type': 'text/plain' }).done).status).toBe(415);
  });

  it('a job past its deadline is a 504', async () => {
    const r = await request(server.port, 'POST', '/transcode?timeoutMs=200', fixture('long.mp3'), audio).done;
    expect([r.status, json(r).code]).toEqual([504, 'ERR_TTSAV_TIMEOUT']);
  });

  it('a full queue is a 503 with Retry-After and /ready says 503; disconnecting clients cancels their jobs', async () => {
    const before = (await request(server.port, 'GET', '/metrics').done).body.toString();
    const abortedBefore = Number(/ttsav_pool_jobs_failed_total\{code="ERR_TTSAV_ABORTED"\} (\d+)/.exec(before)?.[1] ?? 0);
    const long = fixture('long.mp3');
    const running = request(server.port, 'POST', '/transcode', long, audio);
    await metric(server.port, /^ttsav_pool_in_flight_jobs 1$/m);
    const queued = request(server.port, 'POST', '/transcode', long, audio);
    await metric(server.port, /^ttsav_pool_queue_depth 1$/m);
    expect((await request(server.port, 'GET', '/ready').done).status).toBe(503);
    const refused = await request(server.port, 'POST', '/transcode', long, audio).done;
    expect([refused.status, json(refused).code, json(refused).reason, refused.headers['retry-after']]).toEqual([503, 'ERR_TTSAV_BUSY', 'queue-full', '1']);
    // Both clients go away: their jobs (10 minutes of audio each) are cancelled, and the pool is free again.
    for (const r of [running, queued]) {
      r.done.catch(() => undefined);
      r.req.destroy();
    }
    const text = await metric(server.port, new RegExp(`ttsav_pool_jobs_failed_total\\{code="ERR_TTSAV_ABORTED"\\} ${abortedBefore + 2}\\n`));
    expect(text).toMatch(new RegExp(`ttsav_pool_jobs_failed_total\\{code="ERR_TTSAV_ABORTED"\\} ${abortedBefore + 2}\\n`));
    expect(text).toMatch(/^ttsav_pool_in_flight_jobs 0$/m);
    expect(text).toMatch(/^http_requests_total\{route="\/transcode",status="503"\} 1$/m);
    expect((await request(server.port, 'GET', '/ready').done).status).toBe(200);
  });

  it('SIGTERM drains: the job in flight is answered, then the process exits 0', async () => {
    const s = await start({ CONCURRENCY: '1' });
    const inFlight = request(s.port, 'POST', '/transcode', fixture('speech.flac'), audio);
    await metric(s.port, /^ttsav_pool_jobs_submitted_total 1$/m);
    const exited = new Promise<number | null>((resolve) => s.child.on('exit', resolve));
    s.child.kill('SIGTERM');
    const r = await inFlight.done;
    expect(r.status).toBe(200);
    expect(ffprobe(r.body).codec).toBe('aac');
    expect(await exited).toBe(0);
    expect(s.output()).toMatch(/drained/);
  });
});
