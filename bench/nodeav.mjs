// The node-av contender: the same job as ttsav's transcode() — MP3 bytes in memory → decode → resample/remix and
// re-chunk (aformat + the encoder's frame buffer) → AAC → MP4 bytes in memory — written with node-av's high-level
// API (Demuxer over a Buffer, Decoder, FilterAPI, Encoder, Muxer over write/seek callbacks).
//
// node-av 6 targets Node >= 22: it calls Promise.withResolvers (Node 22), and its README uses `using`/`await using`
// (not parsed by Node 20). On Node 20 the polyfill below is needed; without it the demuxer's packet generator throws
// inside the pipeline and the job silently produces no audio. Resources are closed explicitly instead of `using`.
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
const { Log, getFFmpegInfo } = await import('node-av/lib');
const { AV_LOG_ERROR } = await import('node-av/constants');

Log.setLevel(AV_LOG_ERROR); // the AAC encoder logs "Qavg" at info level on every close

/** node-av's bundled FFmpeg version string. */
export function nodeAvFFmpeg() {
  return getFFmpegInfo().version;
}

/** The versions of the libav libraries inside node-av's addon: { avcodec: '62.36.101', … }. */
export function nodeAvLibraries() {
  return getFFmpegInfo().libraries;
}

/** A growable, seekable in-memory output (MP4 seeks back to patch sizes). node-av calls write/seek unbound. */
function memoryOutput() {
  let buf = Buffer.allocUnsafe(64 * 1024);
  let pos = 0;
  let size = 0;
  return {
    write(chunk) {
      const end = pos + chunk.length;
      if (end > buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(end, buf.length * 2));
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
 * Transcodes `input` (MP3 bytes) to AAC in MP4. settings: { sampleRate (0 = source), channels, bitrate, aacCoder }.
 * Returns the MP4 bytes.
 */
export async function nodeAvTranscode(input, { sampleRate, channels, bitrate, aacCoder }) {
  const demuxer = await Demuxer.open(input);
  let decoder;
  let filter;
  let encoder;
  let muxer;
  const out = memoryOutput();
  try {
    const stream = demuxer.audio();
    if (!stream) throw new Error('no audio stream');
    decoder = await Decoder.create(stream);
    const rate = sampleRate || stream.codecpar.sampleRate;
    const layout = channels === 1 ? 'mono' : 'stereo';
    filter = FilterAPI.create(`aformat=sample_fmts=fltp:sample_rates=${rate}:channel_layouts=${layout}`);
    encoder = await Encoder.create('aac', { context: { bitRate: bitrate }, options: { aac_coder: aacCoder } });
    muxer = await Muxer.open(out, { format: 'mp4' });
    const index = muxer.addStream(encoder);
    for await (const packet of encoder.packets(filter.frames(decoder.frames(demuxer.packets(stream.index))))) {
      if (!packet) continue; // end-of-stream marker
      await muxer.writePacket(packet, index);
      packet.free();
    }
    await muxer.close();
    muxer = undefined;
    return out.data(); // no copy (ttsav hands back its buffer without a copy too)
  } finally {
    if (muxer) await muxer.close().catch(() => {});
    encoder?.close();
    filter?.close();
    decoder?.close();
    await demuxer.close();
  }
}
