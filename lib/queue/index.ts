/**
 * ttsav/queue: ttsav as a BullMQ worker on Redis. bullmq and ioredis are optional peer dependencies, checked
 * here at import (ERR_TTSAV_LOAD names them when missing); `import 'ttsav'` never loads this module.
 */
import { bullmq } from './deps';

bullmq();

export { createQueue, DEFAULT_JOB_OPTIONS } from './queue';
export type { QueueOptions, TtsavQueue, AddedJob, JobCounts } from './queue';
export { createWorker, PERMANENT_CODES } from './worker';
export type { WorkerOptions, TtsavWorker, JobOutcome, QueueWorkerMetrics } from './worker';
export { fileStorage, checkKey } from './storage';
export type { Storage, StorageMeta } from './storage';
export { jobIdFor } from './jobs';
export type { QueueJob, SpeakJob, TranscodeJob, Connection } from './jobs';
export { s3Storage, s3Client } from './s3';
export type { S3StorageOptions, S3ClientLike } from './s3';
