/**
 * The optional peers behind ttsav/queue, loaded only here: `import 'ttsav'` never reaches this file, and
 * `ttsav/queue` fails at import with ERR_TTSAV_LOAD naming what to install when they are missing.
 */
import { TtsavError } from '../errors';

type Bullmq = typeof import('bullmq');
let cached: Bullmq | undefined;

function missing(name: string, err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${name}'`);
}

export function bullmq(): Bullmq {
  if (cached) return cached;
  const absent: string[] = [];
  for (const name of ['bullmq', 'ioredis']) {
    try {
      require.resolve(name);
    } catch (err) {
      if (!missing(name, err)) throw err;
      absent.push(name);
    }
  }
  if (absent.length > 0)
    throw new TtsavError('ERR_TTSAV_LOAD', `ttsav/queue needs the optional peer dependencies bullmq and ioredis (missing: ${absent.join(', ')}); install them with: npm install bullmq ioredis`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require('bullmq') as Bullmq;
  } catch (err) {
    throw new TtsavError('ERR_TTSAV_LOAD', `ttsav/queue could not load bullmq: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  return cached;
}
