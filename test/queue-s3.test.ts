/**
 * s3Storage against s3rver (an S3 server on loopback) through @aws-sdk/client-s3: round trip, a put whose
 * connection is cut half-way through the body is retried and the object is whole, a put that never gets through
 * fails with ERR_TTSAV_STORAGE and leaves nothing exists() accepts (s3rver keeps torn bytes; S3 does not), and a worker run with outputs (and an input) in the bucket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TtsavError } from '../lib/index';
import { createQueue, createWorker, s3Storage } from '../lib/queue/index';
import { decodedSamples, fixture } from './helpers/media';
import { startRedis, type RedisServer } from './helpers/redis';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

let tmp: string;
let s3: { close(): Promise<void> };
let s3Port: number;
let proxy: net.Server;
let proxyPort: number;
/** Puts the proxy will cut after CUT_AFTER bytes of the request (headers and part of the body). */
const cut = { remaining: 0, done: 0 };
const CUT_AFTER = 64 * 1024;
const sockets = new Set<net.Socket>();
let redis: RedisServer;

const client = (port: number): S3Client =>
  new S3Client({ endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, maxAttempts: 1 });

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-s3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(tmp, 's3'), configureBuckets: [{ name: 'voices' }] });
  s3Port = (await server.run()).port;
  s3 = server;
  // A TCP proxy in front of s3rver that can cut a PUT's connection part-way through its body.
  proxy = net.createServer((down) => {
    const up = net.connect(s3Port, '127.0.0.1');
    sockets.add(down).add(up);
    let cutting = -1;
    down.on('data', (d: Buffer) => {
      if (cutting < 0 && cut.remaining > 0 && d.subarray(0, 4).toString() === 'PUT ') {
        cut.remaining--;
        cutting = 0;
      }
      if (cutting >= CUT_AFTER) return; // cut: the rest of the request never arrives
      if (cutting >= 0) {
        const room = CUT_AFTER - cutting;
        up.write(d.subarray(0, room));
        cutting += Math.min(room, d.length);
        if (cutting >= CUT_AFTER) {
          cut.done++;
          setTimeout(() => {
            up.destroy();
            down.destroy();
          }, 50);
        }
        return;
      }
      up.write(d);
    });
    up.on('data', (d) => down.write(d));
    for (const [a, b] of [[down, up], [up, down]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.end();
      });
    }
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as net.AddressInfo).port;
  redis = await startRedis();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => proxy?.close(r));
  await s3?.close();
  await redis?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('s3Storage on s3rver', () => {
  it('put, get, exists and content type round-trip; missing keys are undefined / false; bad keys are refused', async () => {
    const direct = client(s3Port);
    const s = s3Storage({ bucket: 'voices', client: direct, prefix: 'p/' });
    expect(s.url).toBe('s3://voices/p/');
    expect(await s.exists('a/b.m4a')).toBe(false);
    expect(await s.get('a/b.m4a')).toBeUndefined();
    await s.put('a/b.m4a', Buffer.from('abc'), { contentType: 'audio/mp4', metadata: { 'duration-seconds': '1.5' } });
    expect(await s.exists('a/b.m4a')).toBe(true);
    expect((await s.get('a/b.m4a'))!.toString()).toBe('abc');
    const head = await direct.send(new HeadObjectCommand({ Bucket: 'voices', Key: 'p/a/b.m4a' }));
    expect(head.ContentType).toBe('audio/mp4');
    expect(head.Metadata).toMatchObject({ 'duration-seconds': '1.5' });
    await expect(s.put('../x', Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    expect(() => s3Storage({ bucket: '', client: direct })).toThrow(TtsavError);
    expect(() => s3Storage({ bucket: 'voices', client: direct, prefix: 'noslash' })).toThrow(/prefix/);
  });

  it('a put cut half-way through its body is retried; the object is the whole of it', async () => {
    const s = s3Storage({ bucket: 'voices', client: client(proxyPort), retryDelayMs: 20 });
    const body = Buffer.alloc(400 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
    cut.remaining = 1;
    cut.done = 0;
    await s.put('cut/once.bin', body);
    expect(cut.done).toBe(1);
    const got = await s3Storage({ bucket: 'voices', client: client(s3Port) }).get('cut/once.bin');
    expect(got!.length).toBe(body.length);
    expect(got!.equals(body)).toBe(true);
  });

  it('a put that never gets through fails with ERR_TTSAV_STORAGE after its attempts and leaves no object that counts', async () => {
    const s = s3Storage({ bucket: 'voices', client: client(proxyPort), putAttempts: 3, retryDelayMs: 20 });
    cut.remaining = 3;
    cut.done = 0;
    const err = (await s.put('cut/never.bin', Buffer.alloc(300 * 1024, 9)).catch((e: unknown) => e)) as TtsavError;
    expect(err).toBeInstanceOf(TtsavError);
    expect(err.code).toBe('ERR_TTSAV_STORAGE');
    expect(err.message).toContain('cut/never.bin');
    expect(cut.done).toBe(3);
    cut.remaining = 0;
    // s3rver keeps the bytes of an aborted upload under the key (S3 discards them): they never count as the
    // object, so a retried job makes the output again instead of skipping it.
    const direct = s3Storage({ bucket: 'voices', client: client(s3Port) });
    expect(await direct.exists('cut/never.bin')).toBe(false);
    const torn = await direct.get('cut/never.bin');
    expect(torn === undefined || torn.length < 300 * 1024).toBe(true);
    await direct.put('cut/never.bin', Buffer.alloc(300 * 1024, 9));
    expect(await direct.exists('cut/never.bin')).toBe(true);
  });

  it('a worker reads its input from and writes its outputs to the bucket', async () => {
    const direct = client(s3Port);
    const storage = s3Storage({ bucket: 'voices', client: direct, prefix: 'run/' });
    await storage.put('in/edge.mp3', fixture('edge.mp3'));
    const q = createQueue({ connection: redis.url, name: 's3run' });
    const jobs = [
      ...Array.from({ length: 6 }, (_, i) => ({ text: `Stored in a bucket, line ${i}.`, output: `out/${i}.m4a`, preset: 'speech' as const })),
      { input: 'in/edge.mp3', output: 'out/edge.m4a', preset: 'speech' as const },
    ];
    await q.addBulk(jobs);
    const w = createWorker({ connection: redis.url, name: 's3run', storage, concurrency: 2 });
    const end = Date.now() + 120_000;
    while ((await q.counts()).completed < jobs.length) {
      if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(await q.counts())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await q.counts()).failed).toBe(0);
    await w.close();
    await q.close();
    for (const j of jobs) {
      const r = await direct.send(new GetObjectCommand({ Bucket: 'voices', Key: `run/${j.output}` }));
      expect(r.ContentType).toBe('audio/mp4');
      const bytes = Buffer.from(await r.Body!.transformToByteArray());
      expect(decodedSamples(bytes, 1)).toBeGreaterThan(10_000);
    }
  }, 180_000);
});
