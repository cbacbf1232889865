/**
 * s3Storage(): objects in an S3 bucket (or any S3-compatible store) through @aws-sdk/client-s3, an optional peer
 * loaded only when used. A put is one complete-object PutObject carrying Content-Length and Content-MD5, so S3
 * either keeps the whole object or rejects it (a cut connection or a corrupted body never becomes an object); a
 * failed put is retried a few times with backoff before it fails with ERR_TTSAV_STORAGE. The object also carries
 * its MD5 as user metadata (x-amz-meta-ttsav-md5), and exists() is true only when the stored ETag matches it:
 * S3-compatible servers that keep the bytes of an aborted upload (s3rver does) cannot make a torn output look
 * finished.
 */
import { createHash } from 'node:crypto';
import { TtsavError } from '../errors';
import { integerOr, invalidOption, object, withMethods } from '../validate';
import { checkKey, type Storage } from './storage';

type S3Module = typeof import('@aws-sdk/client-s3');

/** What s3Storage needs of a client: an S3Client (or anything with its send()). */
export interface S3ClientLike {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export interface S3StorageOptions {
  bucket: string;
  /** An S3Client from @aws-sdk/client-s3 (region, endpoint and credentials are its business). */
  client: S3ClientLike;
  /** Prepended to every key ('voices/' → voices/<key>). Default ''. */
  prefix?: string;
  /** Tries per put (the bytes are sent whole each time). Default 3. */
  putAttempts?: number;
  /** First retry delay, doubled each retry. Default 200 ms. */
  retryDelayMs?: number;
}

const MD5_META = 'ttsav-md5';

let s3mod: S3Module | undefined;
function sdk(): S3Module {
  if (s3mod) return s3mod;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    s3mod = require('@aws-sdk/client-s3') as S3Module;
  } catch (err) {
    throw new TtsavError('ERR_TTSAV_LOAD', `s3Storage needs the optional peer dependency @aws-sdk/client-s3; install it with: npm install @aws-sdk/client-s3 (${(err as Error)?.message ?? err})`, { cause: err });
  }
  return s3mod;
}

/** An S3Client from the AWS environment; with `endpoint`, path-style requests to that S3-compatible server. */
export async function s3Client(endpoint?: string): Promise<S3ClientLike> {
  const { S3Client } = sdk();
  return new S3Client(endpoint ? { endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' } : {});
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function storageError(op: string, key: string, err: unknown): TtsavError {
  const e = err as { name?: string; message?: string };
  const code = status(err);
  return new TtsavError('ERR_TTSAV_STORAGE', `storage ${op} ${key} failed: ${e?.name ?? 'Error'}${code ? ` (HTTP ${code})` : ''}: ${e?.message ?? String(err)}`, { cause: err });
}

export function s3Storage(options: S3StorageOptions): Storage {
  object('options', options, 'an object { bucket, client }');
  const { bucket, client } = options;
  if (typeof bucket !== 'string' || bucket === '') throw invalidOption('bucket', 'a bucket name', bucket);
  withMethods('client', client, ['send'], 'an S3Client');
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/'))) throw invalidOption('prefix', "'' or a prefix ending in '/'", prefix);
  const attempts = integerOr('putAttempts', options.putAttempts, 3, 1, 20);
  const delay = options.retryDelayMs ?? 200;
  const { GetObjectCommand, HeadObjectCommand, PutObjectCommand } = sdk();
  const full = (key: string): string => prefix + checkKey(key);

  return {
    url: `s3://${bucket}/${prefix}`,
    async get(key) {
      const Key = full(key);
      try {
        const r = (await client.send(new GetObjectCommand({ Bucket: bucket, Key }))) as { Body?: { transformToByteArray(): Promise<Uint8Array> } };
        const bytes = await r.Body!.transformToByteArray();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey' || status(err) === 404) return undefined;
        throw storageError('get', key, err);
      }
    },
    async exists(key) {
      const Key = full(key);
      try {
        const h = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key }))) as { ETag?: string; Metadata?: Record<string, string> };
        // Only a whole object written by put() counts: its ETag (the MD5 of a single-part upload) is the one
        // put() recorded.
        const want = h.Metadata?.[MD5_META];
        return want !== undefined && h.ETag?.replace(/"/g, '') === want;
      } catch (err) {
        if ((err as { name?: string }).name === 'NotFound' || status(err) === 404) return false;
        throw storageError('exists', key, err);
      }
    },
    async put(key, bytes, meta) {
      const Key = full(key);
      const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const digest = createHash('md5').update(body).digest();
      const md5 = digest.toString('base64');
      const Metadata = { ...meta?.metadata, [MD5_META]: digest.toString('hex') };
      let last: unknown;
      for (let i = 0; i < attempts; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, delay * 2 ** (i - 1)));
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key,
              Body: body,
              ContentLength: body.length,
              ContentMD5: md5,
              ...(meta?.contentType ? { ContentType: meta.contentType } : {}),
              Metadata,
            }),
          );
          return;
        } catch (err) {
          last = err;
          const s = status(err);
          // 4xx other than timeouts and throttling are the request's fault: trying again will not help.
          if (s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 429) break;
        }
      }
      throw storageError('put', key, last);
    },
  };
}
