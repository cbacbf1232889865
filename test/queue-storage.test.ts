/**
 * fileStorage: keys map to files under the root, put is atomic (a concurrent reader sees nothing, the old bytes or
 * the whole new bytes, never a mix or a prefix), failures are ERR_TTSAV_STORAGE and leave no temporary file, and
 * keys that could escape the root or look like temporary files are refused.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TtsavError } from '../lib/index';
import { checkKey, fileStorage } from '../lib/queue/storage';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-storage-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('fileStorage', () => {
  it('put, get and exists round-trip under nested keys; get of a missing key is undefined', async () => {
    const s = fileStorage(path.join(tmp, 'a'));
    expect(s.url).toBe(`file://${path.join(tmp, 'a')}`);
    expect(await s.exists('x/y/z.m4a')).toBe(false);
    expect(await s.get('x/y/z.m4a')).toBeUndefined();
    await s.put('x/y/z.m4a', Buffer.from('hello'), { contentType: 'audio/mp4' });
    expect(await s.exists('x/y/z.m4a')).toBe(true);
    expect((await s.get('x/y/z.m4a'))!.toString()).toBe('hello');
    await s.put('x/y/z.m4a', Buffer.from('replaced'));
    expect((await s.get('x/y/z.m4a'))!.toString()).toBe('replaced');
    expect(await s.exists('x/y')).toBe(false); // a directory is not an object
    expect(allFiles(path.join(tmp, 'a'))).toEqual(['x/y/z.m4a']);
  });

  it('a reader racing many writers sees only whole objects', async () => {
    const s = fileStorage(path.join(tmp, 'race'));
    const versions = Array.from({ length: 12 }, (_, i) => Buffer.alloc(3 * 1024 * 1024 + i * 4099, i + 1));
    const known = new Set(versions.map((v) => v.length));
    let writing = true;
    const seen: number[] = [];
    const reader = (async () => {
      while (writing) {
        const got = await s.get('k.bin');
        if (got === undefined) continue;
        seen.push(got.length);
        // Every byte of a version is its index + 1: a mix of two versions or a prefix would show here.
        expect(known.has(got.length)).toBe(true);
        const first = got[0]!;
        expect(got.every((b) => b === first)).toBe(true);
        expect(got.length).toBe(versions[first - 1]!.length);
      }
    })();
    await Promise.all(versions.map((v) => s.put('k.bin', v)));
    for (const v of versions) await s.put('k.bin', v);
    writing = false;
    await reader;
    expect(seen.length).toBeGreaterThan(0);
    expect(allFiles(path.join(tmp, 'race'))).toEqual(['k.bin']); // no temporary file left behind
  });

  it('puts racing into the same directories (sharing directory flushes) all settle, each key whole; later rounds too', async () => {
    const s = fileStorage(path.join(tmp, 'group'));
    for (let round = 0; round < 3; round++) {
      const keys = Array.from({ length: 40 }, (_, i) => `d${i % 3}/k${i}.bin`);
      const body = (i: number): Buffer => Buffer.alloc(1000 + i * 37, (round * 41 + i) & 0xff);
      await Promise.all(keys.map((k, i) => s.put(k, body(i))));
      for (const [i, k] of keys.entries()) expect((await s.get(k))!.equals(body(i)), k).toBe(true);
      expect(allFiles(path.join(tmp, 'group'))).toEqual([...keys].sort());
    }
  });

  it('a failed put is ERR_TTSAV_STORAGE and leaves neither the key nor a temporary file', async () => {
    const root = path.join(tmp, 'fail');
    const s = fileStorage(root);
    await s.put('f', Buffer.from('a file where a directory is wanted'));
    const err = (await s.put('f/under-a-file.m4a', Buffer.from('x')).catch((e: unknown) => e)) as TtsavError;
    expect(err).toBeInstanceOf(TtsavError);
    expect(err.code).toBe('ERR_TTSAV_STORAGE');
    expect(err.message).toMatch(/f\/under-a-file\.m4a/);
    expect(await s.exists('f/under-a-file.m4a')).toBe(false);
    expect(allFiles(root)).toEqual(['f']);
  });

  it('refuses keys that are absolute, escape the root, have empty segments or look like temporary files', async () => {
    const s = fileStorage(path.join(tmp, 'keys'));
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', './a', 'a\\b', 'a\0b', 'dir/.x.m4a.1.ab.partial', 'x'.repeat(1025)]) {
      expect(() => checkKey(bad)).toThrow(TtsavError);
      await expect(s.put(bad, Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
      await expect(s.get(bad)).rejects.toMatchObject({ code: 'ERR_TTSAV_OPTIONS' });
    }
    expect(checkKey('out/2026/line-1.m4a')).toBe('out/2026/line-1.m4a');
    expect(() => fileStorage('')).toThrow(/directory path/);
  });

  it('a file planted by hand is read back as is', async () => {
    const root = path.join(tmp, 'planted');
    const s = fileStorage(root);
    await s.put('seed', Buffer.from('x'));
    writeFileSync(path.join(root, 'hand.txt'), 'by hand');
    expect((await s.get('hand.txt'))!.toString()).toBe('by hand');
  });
});
