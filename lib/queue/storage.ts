/**
 * Where queue workers read inputs and write outputs. A key is a relative, '/'-separated name; an object under a
 * key is only ever visible whole: `put` either leaves the complete bytes under the key or leaves the key as it was.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TtsavError } from '../errors';
import { writeAtomic } from '../cli/output';

/** What is stored with an object (S3 keeps it as Content-Type and user metadata; files keep the bytes only). */
export interface StorageMeta {
  contentType?: string;
  /** Short string values (S3 user metadata). */
  metadata?: Record<string, string>;
}

export interface Storage {
  /** The object's bytes, or undefined when there is no object under `key`. */
  get(key: string): Promise<Buffer | undefined>;
  /** Stores the whole of `bytes` under `key`, replacing what was there; never leaves a partial object. */
  put(key: string, bytes: Uint8Array, meta?: StorageMeta): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Where the storage is, for logs and reports (file:///dir, s3://bucket). */
  readonly url: string;
}

/**
 * Checks a storage key: non-empty, relative, '/'-separated, no '.', '..' or empty segments, no NUL, at most 1024
 * bytes. The same rules for every storage, so a key that works on files works on S3 and the other way round.
 */
export function checkKey(key: unknown, name = 'key'): string {
  const bad = (why: string): TtsavError =>
    new TtsavError('ERR_TTSAV_OPTIONS', `Expected a relative storage key ('dir/name.m4a') for ${name} but received ${JSON.stringify(key)} (${why})`);
  if (typeof key !== 'string' || key === '') throw bad('not a non-empty string');
  if (Buffer.byteLength(key) > 1024) throw bad('longer than 1024 bytes');
  if (key.includes('\0') || key.includes('\\')) throw bad('contains NUL or a backslash');
  if (key.startsWith('/')) throw bad('absolute');
  for (const seg of key.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw bad("empty, '.' or '..' segment");
    // The file writer's temporary names start with '.' and end with '.partial': a key may not look like one.
    if (seg.startsWith('.') && seg.endsWith('.partial')) throw bad('looks like a temporary file name');
  }
  return key;
}

function storageError(op: string, key: string, err: unknown): TtsavError {
  const e = err as NodeJS.ErrnoException;
  return new TtsavError('ERR_TTSAV_STORAGE', `storage ${op} ${key} failed: ${e?.code ? `${e.code} ` : ''}${e?.message ?? String(err)}`, { cause: err });
}

/**
 * Files under `dir`. `put` writes a hidden temporary file next to the target, flushes it, renames it onto the
 * key, then flushes the directory, so a reader (or a crash at any point) sees the old state or the whole new
 * file, never half of one; a killed writer may leave a `.<name>.<pid>.<random>.partial` file, never a torn key.
 */
export function fileStorage(dir: string): Storage {
  if (typeof dir !== 'string' || dir === '') throw new TtsavError('ERR_TTSAV_OPTIONS', `Expected a directory path for fileStorage but received ${JSON.stringify(dir)}`);
  const root = path.resolve(dir);
  const file = (key: string): string => path.join(root, ...checkKey(key).split('/'));
  return {
    url: `file://${root}`,
    async get(key) {
      const f = file(key);
      try {
        return await readFile(f);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw storageError('get', key, err);
      }
    },
    async put(key, bytes) {
      const f = file(key);
      try {
        await writeAtomic(f, bytes, true);
      } catch (err) {
        throw storageError('put', key, err);
      }
    },
    async exists(key) {
      const f = file(key);
      try {
        return (await stat(f)).isFile();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
        throw storageError('exists', key, err);
      }
    },
  };
}
