// node-av at its strongest: the same job as bench/nodeav.mjs (MP3 bytes in memory → decode → aformat to the
// target rate/layout/fltp → AAC (the encoder re-chunks to 1,024-sample frames) → MP4 bytes in memory), written with
// node-av's synchronous API (Demuxer.openSync, Decoder.createSync, FilterAPI, Encoder.createSync, Muxer.openSync,
// packetsSync/framesSync/writePacketSync), each job on a worker_thread: one job per thread at a time, as many
// threads as the concurrency, the input Buffer transferred in and the MP4 bytes transferred out. This is the mode
// node-av's README recommends for throughput (no per-packet promise or threadpool hop).
//
// Two details of node-av 6.1.1 matter here:
// - `aac_coder` is set on the codec context through its option setter (`configure`), not with
//   `options: { aac_coder }` in createSync: that path crashes node-av 6.1.1 in a GC finalizer.
// - The muxer is opened with `flush_packets: 0`, so libavformat hands its 32 KB I/O buffer to the JS write
//   callback when it is full instead of once per packet.
//
// Used as a module on the main thread (createNodeAvSyncWorkers, nodeAvTranscodeSync) and as the worker's entry
// point (this same file, started with workerData.nodeAvSyncWorker).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

// node-av 6 targets Node >= 22 (Promise.withResolvers); on Node 20 its modules need the polyfill (see nodeav.mjs).
Promise.withResolvers ??= function withResolvers() {
  let resolve;
  let reject;
  const promise = new Promise((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
};

const { Decoder, Demuxer, Encoder, FilterAPI, Muxer } = await import('node-av/api');
const { Log } = await import('node-av/lib');
const { AV_LOG_ERROR } = await import('node-av/constants');

Log.setLevel(AV_LOG_ERROR); // the AAC encoder logs "Qavg" at info level on every close

/** A growable, seekable in-memory output (MP4 seeks back to patch sizes). node-av calls write/seek unbound. */
function memoryOutput() {
  let buf = Buffer.allocUnsafeSlow(64 * 1024); // its own ArrayBuffer (never the shared pool), to transfer
  let pos = 0;
  let size = 0;
  return {
    write(chunk) {
      const end = pos + chunk.length;
      if (end > buf.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(end, buf.length * 2));
        buf.copy(grown, 0, 0, size);
        buf = grown;
      }
      chunk.copy(buf, pos);
      pos = end;
      if (end > size) size = end;
      return chunk.length;
    },
    seek(offset, whence) {
      const off = Number(offset);
      if (whence === 0x10000) return size; // AVSEEK_SIZE
      if (whence === 1) pos += off;
      else if (whence === 2) pos = size + off;
      else pos = off;
      return pos;
    },
    data: () => buf.subarray(0, size),
  };
}

/**
 * Transcodes `input` (MP3 bytes) to AAC in MP4 synchronously on the calling thread. settings: { sampleRate
 * (0 = source), channels, bitrate, aacCoder, faststart? }. Returns the MP4 bytes (a view of a Buffer that owns its
 * ArrayBuffer).
 */
export function nodeAvTranscodeSync(input, { sampleRate, channels, bitrate, aacCoder, faststart = false }) {
  const demuxer = Demuxer.openSync(input);
  let decoder;
  let filter;
  let encoder;
  let muxer;
  const out = memoryOutput();
  try {
    const stream = demuxer.audio();
    if (!stream) throw new Error('no audio stream');
    decoder = Decoder.createSync(stream);
    const rate = sampleRate || stream.codecpar.sampleRate;
    const layout = channels === 1 ? 'mono' : 'stereo';
    filter = FilterAPI.create(`aformat=sample_fmts=fltp:sample_rates=${rate}:channel_layouts=${layout}`);
    let coderSet;
    encoder = Encoder.createSync('aac', {
      bitrate,
      configure: (ctx) => {
        coderSet = ctx.setOption('aac_coder', aacCoder);
      },
    });
    const options = { flush_packets: 0 };
    if (faststart) options.movflags = '+faststart';
    muxer = Muxer.openSync(out, { format: 'mp4', options });
    const index = muxer.addStream(encoder);
    for (const packet of encoder.packetsSync(filter.framesSync(decoder.framesSync(demuxer.packetsSync(stream.index))))) {
      if (!packet) continue; // end-of-stream marker
      muxer.writePacketSync(packet, index);
      packet.free();
    }
    if (coderSet === undefined || coderSet < 0) throw new Error(`cannot set aac_coder=${aacCoder} (${coderSet})`);
    muxer.closeSync();
    muxer = undefined;
    return out.data();
  } finally {
    if (muxer) {
      try {
        muxer.closeSync();
      } catch {
        // already failing
      }
    }
    encoder?.close();
    filter?.close();
    decoder?.close();
    demuxer.closeSync();
  }
}

/**
 * `threads` worker_threads, each running one nodeAvTranscodeSync job at a time. transcode(input) copies `input`
 * into a fresh ArrayBuffer and transfers it in; the MP4 bytes are transferred back (no copy on the way out).
 */
export function createNodeAvSyncWorkers(threads, settings) {
  const idle = [];
  const waiting = [];
  const workers = [];
  const pending = new Map();
  let nextId = 0;
  const dispatch = () => {
    while (idle.length && waiting.length) {
      const w = idle.pop();
      const job = waiting.shift();
      pending.set(job.id, { ...job, worker: w });
      w.postMessage({ id: job.id, input: job.input }, [job.input.buffer]);
    }
  };
  for (let i = 0; i < threads; i++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { nodeAvSyncWorker: true, settings } });
    w.on('message', ({ id, error, data, size }) => {
      const job = pending.get(id);
      pending.delete(id);
      idle.push(w);
      if (error) job.reject(new Error(`node-av worker: ${error}`));
      else job.resolve(Buffer.from(data, 0, size));
      dispatch();
    });
    w.on('error', (err) => {
      for (const [id, job] of pending) {
        if (job.worker === w) {
          pending.delete(id);
          job.reject(err);
        }
      }
    });
    workers.push(w);
    idle.push(w);
  }
  return {
    transcode(input) {
      const copy = new Uint8Array(input.length); // its own ArrayBuffer, to transfer
      copy.set(input);
      return new Promise((resolve, reject) => {
        waiting.push({ id: nextId++, input: copy, resolve, reject });
        dispatch();
      });
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

if (!isMainThread && workerData?.nodeAvSyncWorker) {
  const { settings } = workerData;
  parentPort.on('message', ({ id, input }) => {
    try {
      const data = nodeAvTranscodeSync(Buffer.from(input.buffer, input.byteOffset, input.length), settings);
      parentPort.postMessage({ id, data: data.buffer, size: data.length }, [data.buffer]);
    } catch (err) {
      parentPort.postMessage({ id, error: String(err?.stack ?? err) });
    }
  });
}
