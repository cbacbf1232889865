/**
 * The batch engine: a queue in front of transcode() that admits jobs by a concurrency cap and a memory budget,
 * honours each job's signal and timeout while it waits, keeps metrics, and runs whole batches lazily with
 * backpressure (transcodeMany). types.ts: the public types; defaults.ts: runtime defaults; admission.ts: which job
 * may start; batch.ts: the batch iterator (also behind speakMany); pool.ts: the pool itself and its metrics.
 */
export { createPool, trackTtsWorkers } from './pool';
export { defaultConcurrency } from './defaults';
export { BatchRun, type BatchItem, type BatchSettings, type BatchWork } from './batch';
export type { Batch, BatchInput, BatchOptions, BatchProgress, CloseOptions, ItemResult, Pool, PoolOptions, RunOptions } from './types';
