#!/usr/bin/env node
/**
 * The bad-input corpus: hundreds of damaged, hostile and mislabeled inputs made from short clips of every input
 * format (the ffmpeg CLI makes the clips; nothing is committed), and a runner that puts each through transcode()
 * and probe() of the built library (dist/).
 *
 *   node scripts/corpus-bad.mjs generate <dir>
 *       writes the files and <dir>/manifest.json: [{ file, hint?, expect, why }]
 *       expect: 'settle' (resolve, or reject with a TtsavError), 'reject' (must reject), 'resolve', or an error code
 *   node --expose-gc scripts/corpus-bad.mjs run <dir> [--passes N] [--timeout-ms MS] [--decode-errors fail|conceal]
 *       runs every file N times (default 3) and prints one JSON line: outcomes per code, warnings per code
 *       (result.warnings of the jobs that resolved), violations, the memory
 *       after each pass (RSS, RSS outside V8's heap, V8 heap used, external; after GC), the slowest job
 *
 * Categories: truncations at many offsets (every header byte boundary early on, then percentages), bit flips,
 * lying headers (WAV sizes/rates/channels, FLAC STREAMINFO, MP4 box sizes and tables, MP3 ID3/Xing, Ogg/Opus
 * headers, ADTS, AU, W64), giant declared sizes, zero-length frames, wrong format hints, reference-following
 * demuxers (concat, HLS) pointed at local files, and non-media.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---- generation ----

function ff(args) {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { stdio: 'pipe' });
}

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TONE = 'sine=frequency=300:sample_rate=16000:duration=1,volume=0.5';

/** Short clips of every input format, made by the ffmpeg CLI. name -> { data, hint } */
function makeSources(tmp) {
  const list = [
    ['mp3', 'mp3', ['-ar', '24000', '-c:a', 'libmp3lame', '-b:a', '48k']],
    ['cbr.mp3', 'mp3', ['-ar', '24000', '-c:a', 'libmp3lame', '-b:a', '48k', '-write_xing', '0', '-id3v2_version', '0']],
    ['wav', 'wav', ['-c:a', 'pcm_s16le', '-bitexact', '-map_metadata', '-1']],
    ['f32.wav', 'wav', ['-ac', '2', '-c:a', 'pcm_f32le', '-bitexact', '-map_metadata', '-1']],
    ['flac', 'flac', ['-c:a', 'flac']],
    ['opus', 'ogg', ['-c:a', 'libopus', '-b:a', '24k']],
    ['ogg', 'ogg', ['-c:a', 'libvorbis']],
    ['m4a', 'mov', ['-c:a', 'aac', '-b:a', '48k']],
    ['fs.m4a', 'mov', ['-c:a', 'aac', '-b:a', '48k', '-movflags', '+faststart']],
    ['aac', 'aac', ['-c:a', 'aac', '-b:a', '48k', '-f', 'adts']],
    ['wv', 'wv', ['-c:a', 'wavpack']],
    ['au', 'au', ['-ar', '8000', '-c:a', 'pcm_mulaw', '-f', 'au']],
    ['w64', 'w64', ['-c:a', 'pcm_s16le', '-f', 'w64']],
    ['aiff', 'aiff', ['-c:a', 'pcm_s16be']],
  ];
  const sources = {};
  for (const [name, hint, args] of list) {
    const file = path.join(tmp, `src.${name}`);
    ff(['-f', 'lavfi', '-i', TONE, ...args, file]);
    sources[name] = { data: readFileSync(file), hint };
  }
  return sources;
}

const be32 = (b, at, v) => b.writeUInt32BE(v >>> 0, at);
const le32 = (b, at, v) => b.writeUInt32LE(v >>> 0, at);
const le16 = (b, at, v) => b.writeUInt16LE(v & 0xffff, at);

/** Offset of a 4-byte tag, or -1. */
const find = (b, tag, from = 0) => b.indexOf(Buffer.from(tag, 'latin1'), from);

export function generate(dir) {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) rmSync(path.join(dir, f), { recursive: true, force: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-bad-'));
  const manifest = [];
  const add = (file, data, why, opts = {}) => {
    writeFileSync(path.join(dir, file), data);
    manifest.push({ file, why, expect: opts.expect ?? 'settle', ...(opts.hint ? { hint: opts.hint } : {}) });
  };
  try {
    const src = makeSources(tmp);

    // 1. Truncations: every early offset where headers end, then fractions of the file.
    const early = [1, 2, 3, 4, 5, 7, 8, 11, 12, 13, 16, 20, 24, 28, 32, 36, 40, 42, 44, 45, 48, 64, 100, 128, 256, 512, 1024];
    const fractions = [0.05, 0.25, 0.5, 0.75, 0.9, 0.97, 0.995];
    for (const [name, { data }] of Object.entries(src)) {
      const cuts = new Set(early.filter((n) => n < data.length));
      for (const f of fractions) cuts.add(Math.floor(data.length * f));
      for (const n of cuts) add(`cut-${n}-of-${name}`, data.subarray(0, n), `first ${n} of ${data.length} bytes`);
    }

    // 2. Bit flips and byte overwrites, deterministic.
    for (const [name, { data }] of Object.entries(src)) {
      for (let seed = 1; seed <= 4; seed++) {
        const r = rng(seed * 7919 + name.length);
        const b = Buffer.from(data);
        const n = 1 + Math.floor(r() * (seed * 16));
        // Half the flips land in the first 256 bytes, where the headers are.
        for (let i = 0; i < n; i++) {
          const at = r() < 0.5 ? Math.floor(r() * Math.min(256, b.length)) : Math.floor(r() * b.length);
          b[at] ^= 1 << Math.floor(r() * 8);
        }
        add(`flip-${seed}-${name}`, b, `${n} bit flips`);
      }
    }

    // 3. Lying headers and giant declared sizes.
    // WAV: 'RIFF' size 'WAVE' 'fmt ' 16 [tag ch rate byterate align bits] 'data' size
    const wav = src.wav.data;
    const fmt = find(wav, 'fmt ') + 8;
    const dataTag = find(wav, 'data');
    const wavVariant = (why, edit, expect) => {
      const b = Buffer.from(wav);
      edit(b);
      add(`lie-wav-${manifest.length}`, b, `WAV: ${why}`, { expect });
    };
    for (const v of [0, 1, 3, 0x7fffffff, 0xffffffff]) wavVariant(`data size ${v}`, (b) => le32(b, dataTag + 4, v));
    for (const v of [0, 4, 0xffffffff]) wavVariant(`RIFF size ${v}`, (b) => le32(b, 4, v));
    // No channel mask: 9 and 64 channels have no default layout to remix from (was reported as an options error).
    for (const v of [0, 3, 9, 64, 437, 65535]) {
      wavVariant(`${v} channels`, (b) => le16(b, fmt + 2, v), v === 9 || v === 64 ? 'ERR_TTSAV_UNSUPPORTED' : v > 8 ? 'reject' : undefined);
    }
    for (const v of [0, 1, 7, 768001, 453000832, 0xffffffff]) wavVariant(`sample rate ${v}`, (b) => le32(b, fmt + 4, v), v > 768000 || v === 0 ? 'reject' : undefined);
    for (const v of [0, 1, 0xffffffff]) wavVariant(`byte rate ${v}`, (b) => le32(b, fmt + 8, v));
    for (const v of [0, 1, 3, 65535]) wavVariant(`block align ${v}`, (b) => le16(b, fmt + 12, v));
    for (const v of [0, 1, 7, 12, 64, 255]) wavVariant(`${v} bits per sample`, (b) => le16(b, fmt + 14, v));
    for (const v of [0, 2, 0x55, 0x1234, 0xfffe]) wavVariant(`format tag 0x${v.toString(16)}`, (b) => le16(b, fmt, v));
    wavVariant('fmt chunk size 0xffffffff', (b) => le32(b, fmt - 4, 0xffffffff));
    wavVariant('data chunk renamed (no data chunk)', (b) => b.write('dat_', dataTag, 'latin1'));
    add('lie-wav-header-only', Buffer.from(wav.subarray(0, dataTag + 8)), 'WAV: header, data size says 32000, no samples');
    {
      const b = Buffer.from(wav.subarray(0, dataTag + 8));
      le32(b, dataTag + 4, 0);
      add('zero-wav-empty-data', b, 'WAV: zero-length data chunk');
    }
    // Float WAV full of NaN and infinities: the AAC encoder refuses them (was reported as an options error).
    {
      const f32 = src['f32.wav'].data;
      const d = find(f32, 'data') + 8;
      const b = Buffer.from(f32);
      for (let at = d; at + 4 <= b.length; at += 4) b.writeFloatLE(at % 12 === 0 ? Infinity : NaN, at);
      add('nan-f32.wav', b, 'float WAV whose samples are NaN/Inf', { expect: 'ERR_TTSAV_INVALID_DATA' });
    }

    // FLAC: 'fLaC', block header, STREAMINFO (min/max block 2+2, min/max frame 3+3, then 20 bits rate,
    // 3 bits channels-1, 5 bits bps-1, 36 bits total samples), MD5.
    const flac = src.flac.data;
    const si = 8;
    const flacVariant = (why, edit) => {
      const b = Buffer.from(flac);
      edit(b);
      add(`lie-flac-${manifest.length}`, b, `FLAC: ${why}`);
    };
    const setTotal = (b, total) => {
      // total samples: low 4 bits of byte si+13, then bytes si+14..si+17
      b[si + 13] = (b[si + 13] & 0xf0) | Number((BigInt(total) >> 32n) & 0xfn);
      b.writeUInt32BE(Number(BigInt(total) & 0xffffffffn), si + 14);
    };
    for (const t of [0, 1, 1000, 2 ** 32, 2 ** 36 - 1]) flacVariant(`total samples ${t}`, (b) => setTotal(b, t));
    flacVariant('min/max block size 0', (b) => b.writeUInt32BE(0, si));
    flacVariant('max block size 65535', (b) => b.writeUInt16BE(65535, si + 2));
    flacVariant('sample rate 0', (b) => { b[si + 10] = 0; b[si + 11] = 0; b[si + 12] &= 0x0f; });
    flacVariant('sample rate 1048575', (b) => { b[si + 10] = 0xff; b[si + 11] = 0xff; b[si + 12] |= 0xf0; });
    flacVariant('8 channels, 32 bits', (b) => { b[si + 12] = (b[si + 12] & 0xf0) | 0x0f; b[si + 13] |= 0xf0; });
    flacVariant('STREAMINFO length 0xffffff', (b) => { b[5] = 0xff; b[6] = 0xff; b[7] = 0xff; });
    flacVariant('STREAMINFO length 0', (b) => { b[5] = 0; b[6] = 0; b[7] = 0; });
    flacVariant('first block marked last, followed by garbage blocks', (b) => { b[4] |= 0x80; });
    {
      // Metadata only: where the frames were, nothing.
      let at = 4;
      for (;;) {
        const last = flac[at] & 0x80;
        at += 4 + flac.readUIntBE(at + 1, 3);
        if (last) break;
      }
      add('zero-flac-no-frames', flac.subarray(0, at), 'FLAC: STREAMINFO says 16000 samples, no frames');
      const b = Buffer.from(flac.subarray(0, at));
      setTotal(b, 0);
      add('zero-flac-empty', b, 'FLAC: no samples declared, no frames');
    }

    // MP4: box sizes, sample tables, time scales.
    for (const name of ['m4a', 'fs.m4a']) {
      const mp4 = src[name].data;
      const mp4Variant = (why, edit) => {
        const b = Buffer.from(mp4);
        if (edit(b) === false) return;
        add(`lie-${name}-${manifest.length}`, b, `MP4: ${why}`);
      };
      const box = (b, tag) => find(b, tag) - 4; // offset of the box's size field
      for (const tag of ['moov', 'trak', 'mdia', 'minf', 'stbl', 'mdat', 'ftyp', 'stsd', 'esds']) {
        for (const v of [0, 1, 7, 9, 0x7fffffff, 0xffffffff]) {
          mp4Variant(`${tag} size ${v}`, (b) => { const at = box(b, tag); if (at < 0) return false; be32(b, at, v); });
        }
      }
      mp4Variant('mdat 64-bit size 2^62', (b) => {
        const at = box(b, 'mdat');
        if (at < 0) return false;
        be32(b, at, 1); // the next 8 bytes (the payload's first) become the large size
        b.writeBigUInt64BE(1n << 62n, at + 8);
      });
      for (const v of [0, 1, 0x7fffffff, 0xffffffff]) {
        mp4Variant(`stsz sample count ${v}`, (b) => { const at = find(b, 'stsz'); if (at < 0) return false; be32(b, at + 12, v); });
        mp4Variant(`stsz fixed sample size ${v}`, (b) => { const at = find(b, 'stsz'); if (at < 0) return false; be32(b, at + 8, v); });
        mp4Variant(`stco entry count ${v}`, (b) => { const at = find(b, 'stco'); if (at < 0) return false; be32(b, at + 8, v); });
        mp4Variant(`stts entry count ${v}`, (b) => { const at = find(b, 'stts'); if (at < 0) return false; be32(b, at + 8, v); });
        mp4Variant(`stts first delta ${v}`, (b) => { const at = find(b, 'stts'); if (at < 0) return false; be32(b, at + 16, v); });
        mp4Variant(`stsc entry count ${v}`, (b) => { const at = find(b, 'stsc'); if (at < 0) return false; be32(b, at + 8, v); });
        mp4Variant(`mdhd time scale ${v}`, (b) => { const at = find(b, 'mdhd'); if (at < 0) return false; be32(b, at + 16, v); });
        mp4Variant(`mdhd duration ${v}`, (b) => { const at = find(b, 'mdhd'); if (at < 0) return false; be32(b, at + 20, v); });
      }
      mp4Variant('stco offsets past the end', (b) => {
        const at = find(b, 'stco');
        if (at < 0) return false;
        const n = b.readUInt32BE(at + 8);
        for (let i = 0; i < n && at + 12 + 4 * i + 4 <= b.length; i++) be32(b, at + 12 + 4 * i, 0xfffffff0);
      });
      mp4Variant('every sample size 0', (b) => {
        const at = find(b, 'stsz');
        if (at < 0) return false;
        const n = b.readUInt32BE(at + 12);
        for (let i = 0; i < n && at + 16 + 4 * i + 4 <= b.length; i++) be32(b, at + 16 + 4 * i, 0);
      });
    }

    // MP3: ID3v2 size, Xing frame/byte counts, frame header fields.
    {
      const mp3 = src.mp3.data;
      const mp3Variant = (why, edit, expect) => {
        const b = Buffer.from(mp3);
        if (edit(b) === false) return;
        add(`lie-mp3-${manifest.length}`, b, `MP3: ${why}`, { expect });
      };
      mp3Variant('ID3v2 size 0x0fffffff (syncsafe max)', (b) => { if (b.toString('latin1', 0, 3) !== 'ID3') return false; b.writeUInt32BE(0x7f7f7f7f, 6); });
      mp3Variant('ID3v2 size 0', (b) => { if (b.toString('latin1', 0, 3) !== 'ID3') return false; b.writeUInt32BE(0, 6); });
      const xing = Math.max(find(mp3, 'Xing'), find(mp3, 'Info'));
      for (const v of [0, 1, 0x7fffffff, 0xffffffff]) {
        mp3Variant(`Xing frame count ${v}`, (b) => { if (xing < 0) return false; be32(b, xing + 8, v); });
        mp3Variant(`Xing byte count ${v}`, (b) => { if (xing < 0) return false; be32(b, xing + 12, v); });
      }
      // First frame header after the tag: bitrate index 15 (forbidden), 0 (free format), sample rate index 3.
      const first = (b) => { for (let i = 0; i + 1 < b.length; i++) if (b[i] === 0xff && (b[i + 1] & 0xe0) === 0xe0) return i; return -1; };
      mp3Variant('bitrate index 15 in every frame header', (b) => {
        let n = 0;
        for (let i = first(b); i >= 0 && i + 2 < b.length; i++) if (b[i] === 0xff && (b[i + 1] & 0xe0) === 0xe0) { b[i + 2] |= 0xf0; n++; }
        return n > 0;
      });
      mp3Variant('bitrate index 0 (free format) in the first header', (b) => { const i = first(b); if (i < 0) return false; b[i + 2] &= 0x0f; });
      mp3Variant('reserved sample rate index in the first header', (b) => { const i = first(b); if (i < 0) return false; b[i + 2] |= 0x0c; });
      // A stream of frame headers with nothing after them.
      const i = first(mp3);
      const header = mp3.subarray(i, i + 4);
      add('zero-mp3-headers-only', Buffer.concat(Array.from({ length: 200 }, () => header)), 'MP3: 200 frame headers, no frame data');
    }

    // Ogg/Opus: OpusHead fields, page granule positions and segment tables.
    {
      const opus = src.opus.data;
      const head = find(opus, 'OpusHead');
      const oggVariant = (why, edit) => {
        const b = Buffer.from(opus);
        edit(b);
        add(`lie-opus-${manifest.length}`, b, `Ogg/Opus: ${why}`);
      };
      for (const v of [0, 3, 9, 255]) oggVariant(`OpusHead ${v} channels`, (b) => { b[head + 9] = v; });
      oggVariant('OpusHead pre-skip 65535', (b) => b.writeUInt16LE(65535, head + 10));
      oggVariant('OpusHead input rate 0', (b) => le32(b, head + 12, 0));
      oggVariant('OpusHead mapping family 255', (b) => { b[head + 18] = 255; });
      oggVariant('OpusHead mapping family 1 without a table', (b) => { b[head + 18] = 1; });
      oggVariant('OpusHead version 255', (b) => { b[head + 8] = 255; });
      oggVariant('every page granule position 2^63-1', (b) => { for (let at = find(b, 'OggS'); at >= 0; at = find(b, 'OggS', at + 4)) b.writeBigInt64LE((1n << 63n) - 1n, at + 6); });
      oggVariant('every page granule position -2', (b) => { for (let at = find(b, 'OggS'); at >= 0; at = find(b, 'OggS', at + 4)) b.writeBigInt64LE(-2n, at + 6); });
      oggVariant('second page claims 255 segments of 255', (b) => {
        const at = find(b, 'OggS', 4);
        b[at + 26] = 255;
        for (let k = 0; k < 255 && at + 27 + k < b.length; k++) b[at + 27 + k] = 255;
      });
      oggVariant('pages with zero segments', (b) => { for (let at = find(b, 'OggS', 4); at >= 0; at = find(b, 'OggS', at + 4)) b[at + 26] = 0; });
      const vorbis = Buffer.from(src.ogg.data);
      const vh = find(vorbis, 'vorbis');
      vorbis[vh + 10] = 0; // channels
      add('lie-vorbis-0-channels', vorbis, 'Ogg/Vorbis: identification header says 0 channels');
    }

    // ADTS: frame length and sampling index; zero-length frames.
    {
      const aac = src.aac.data;
      const setLen = (b, at, len) => {
        b[at + 3] = (b[at + 3] & 0xfc) | ((len >> 11) & 0x03);
        b[at + 4] = (len >> 3) & 0xff;
        b[at + 5] = (b[at + 5] & 0x1f) | ((len & 0x07) << 5);
      };
      for (const len of [0, 6, 7, 8, 8191]) {
        const b = Buffer.from(aac);
        setLen(b, 0, len);
        add(`lie-adts-len-${len}`, b, `ADTS: first frame length ${len}`);
      }
      for (const idx of [12, 13, 15]) {
        const b = Buffer.from(aac);
        b[2] = (b[2] & 0xc3) | (idx << 2);
        add(`lie-adts-rate-${idx}`, b, `ADTS: sampling frequency index ${idx}`);
      }
      {
        const b = Buffer.from(aac);
        b[2] &= 0x3f; // profile 0 (AAC Main) with LC data
        add('lie-adts-profile', b, 'ADTS: profile Main on LC data');
      }
      const header = Buffer.from(aac.subarray(0, 7));
      header[1] |= 0x01; // no CRC
      setLen(header, 0, 7);
      add('zero-adts-empty-frames', Buffer.concat(Array.from({ length: 300 }, () => header)), 'ADTS: 300 frames with no payload');
    }

    // AU (big-endian: '.snd' offset size encoding rate channels).
    {
      const au = src.au.data;
      const auVariant = (why, at, v, expect) => {
        const b = Buffer.from(au);
        be32(b, at, v);
        add(`lie-au-${manifest.length}`, b, `AU: ${why}`, { expect });
      };
      for (const v of [0, 65, 437, 0xffffffff]) auVariant(`${v} channels`, 20, v, v > 64 || v === 0 ? 'reject' : undefined);
      for (const v of [0, 1, 0x7fffffff]) auVariant(`sample rate ${v}`, 16, v, v > 768000 || v === 0 ? 'reject' : undefined);
      for (const v of [0, 0xffffffff]) auVariant(`data offset ${v}`, 4, v);
      for (const v of [0, 0x7fffffff]) auVariant(`data size ${v}`, 8, v);
      for (const v of [0, 999]) auVariant(`encoding ${v}`, 12, v);
    }

    // W64: GUID chunks; the fmt fields follow a 16-byte GUID and an 8-byte size.
    {
      const w64 = src.w64.data;
      const at = find(w64, 'fmt ') + 24;
      const w64Variant = (why, edit, expect) => {
        const b = Buffer.from(w64);
        edit(b);
        add(`lie-w64-${manifest.length}`, b, `W64: ${why}`, { expect });
      };
      // ~453 MHz: the resampler's filter bank took 1.4 GB and seconds to build (found by the fuzzer).
      w64Variant('sample rate 453000832', (b) => le32(b, at + 4, 453000832), 'ERR_TTSAV_UNSUPPORTED');
      w64Variant('65535 channels', (b) => le16(b, at + 2, 65535), 'reject');
      w64Variant('fmt chunk size 2^63', (b) => b.writeBigUInt64LE(1n << 63n, at - 8));
    }
    // AU with 437 channels, as the fuzzer found it: the filter graph failed and it was called an options error.
    {
      const b = Buffer.from(src.au.data);
      be32(b, 20, 437);
      add('au-437-channels', b, 'AU declaring 437 channels', { expect: 'ERR_TTSAV_UNSUPPORTED' });
    }

    // 4. Wrong format hints, and a right but unusual one (WavPack read with its hint crashed the core once).
    const wrong = {
      mp3: ['wav', 'flac', 'ogg', 'aac', 'mov', 'matroska'], wav: ['mp3', 'flac', 'aac', 'ogg'], flac: ['mp3', 'wav', 'ogg'],
      opus: ['mp3', 'matroska', 'flac', 'wav'], ogg: ['flac', 'mov'], m4a: ['aac', 'mp3', 'matroska', 'wav'], aac: ['mov', 'mp3', 'wav'],
      wv: ['wav', 'mp3'], au: ['wav', 'aiff'], w64: ['wav'], aiff: ['wav', 'caf'],
    };
    for (const [name, hints] of Object.entries(wrong)) {
      for (const hint of hints) add(`hint-${hint}-for-${name}`, src[name].data, `${name} read as ${hint}`, { hint });
    }
    for (const [name, { data }] of Object.entries(src)) {
      // Any even number of bytes is audio to it (an odd count leaves half a sample: invalid data).
      add(`hint-s16le-for-${name}`, data, `${name} read as raw PCM`, { hint: 's16le', expect: data.length % 2 ? 'settle' : 'resolve' });
    }
    add('wavpack-with-hint.wv', src.wv.data, 'valid WavPack with inputFormat wv (sample format unknown until decoding)', { hint: 'wv', expect: 'resolve' });

    // 5. Demuxers that follow references: pointed at real local media, they must not read it.
    const local = path.join(tmp, 'local.wav');
    writeFileSync(local, src.wav.data);
    // The temporary directory is removed after generation: keep a copy the lists can name while the corpus lives.
    const keep = path.join(dir, 'referenced-local.wav.bin');
    writeFileSync(keep, src.wav.data);
    const concatList = Buffer.from(`ffconcat version 1.0\nfile '${keep}'\nfile '${keep}'\n`);
    add('ref-concat-hinted.ffconcat', concatList, 'concat list naming a local WAV, inputFormat concat', { hint: 'concat', expect: 'reject' });
    add('ref-concat-probed.ffconcat', concatList, 'concat list naming a local WAV, probed', { expect: 'reject' });
    const m3u8 = Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\nfile://${keep}\n#EXTINF:1,\n${keep}\n#EXT-X-ENDLIST\n`);
    add('ref-hls-hinted.m3u8', m3u8, 'HLS playlist naming a local WAV, inputFormat hls', { hint: 'hls', expect: 'reject' });
    add('ref-hls-probed.m3u8', m3u8, 'HLS playlist naming a local WAV, probed', { expect: 'reject' });

    // 6. Not media at all.
    const r = rng(42);
    add('empty', Buffer.alloc(0), 'zero bytes', { expect: 'ERR_TTSAV_INVALID_DATA' });
    add('one-byte', Buffer.from([0xff]), 'one byte', { expect: 'reject' });
    add('zeros-64k', Buffer.alloc(65536), '64 KiB of zeros', { expect: 'reject' });
    add('ff-64k', Buffer.alloc(65536, 0xff), '64 KiB of 0xff (looks like sync words)');
    add('random-64k', Buffer.from(Array.from({ length: 65536 }, () => Math.floor(r() * 256))), '64 KiB of noise');
    add('text.txt', Buffer.from('Hello, this is not audio.\n'.repeat(200)), 'plain text', { expect: 'reject' });
    add('json.json', Buffer.from(JSON.stringify({ audio: 'nope', data: Array.from({ length: 500 }, (_, k) => k) })), 'JSON', { expect: 'reject' });
    ff(['-f', 'lavfi', '-i', 'color=c=blue:s=32x32', '-frames:v', '1', path.join(tmp, 'img.png')]);
    add('image.png', readFileSync(path.join(tmp, 'img.png')), 'a PNG image', { expect: 'reject' });
    add('image-as-mp3.mp3', readFileSync(path.join(tmp, 'img.png')), 'a PNG image with an mp3 hint', { hint: 'mp3', expect: 'reject' });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}

// ---- running ----

// ERR_TTSAV_NO_MEMORY is not among them: a file declaring sizes libav will not allocate (an MP4 table of 2^31
// entries) is bad data, and saying "out of memory" would send the caller looking for a leak.
const GOOD_CODES = new Set(['ERR_TTSAV_INVALID_DATA', 'ERR_TTSAV_UNSUPPORTED', 'ERR_TTSAV_LIMIT']);

const WARNING_CODES = new Set(['DURATION_MISMATCH', 'TRAILING_DATA', 'JUNK_SKIPPED', 'GUESSED_LAYOUT', 'DECODE_ERRORS_CONCEALED']);

export async function run(dir, { passes = 3, timeoutMs = 20_000, decodeErrors = 'fail' } = {}) {
  const require = createRequire(import.meta.url);
  const lib = require(path.join(ROOT, 'dist', 'index.js'));
  const { transcode, probe, TtsavError } = lib;
  // A hint naming a demuxer this libav lacks (the bundled build has no concat or hls: they follow references) is an
  // invalid option here, and must be refused as one, before any byte is read.
  const addon = require(path.join(ROOT, 'dist', 'native.js')).loadNative();
  const demuxers = new Set(addon.demuxers());
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const inputs = manifest.map((m) => ({ ...m, data: readFileSync(path.join(dir, m.file)) }));
  const outcomes = {};
  const probeOutcomes = {};
  const violations = [];
  const warnings = {};
  const memory = [];
  let slowest = { ms: 0, file: '' };
  const gc = globalThis.gc ?? (() => {});

  const settle = async (fn) => {
    const start = performance.now();
    try {
      const value = await fn();
      return { ok: true, value, ms: performance.now() - start };
    } catch (err) {
      return { ok: false, err, ms: performance.now() - start };
    }
  };

  for (let pass = 0; pass < passes; pass++) {
    for (const [i, item] of inputs.entries()) {
      const opts = {
        format: i % 2 ? 'adts' : 'm4a', channels: 1, sampleRate: 22050, bitrate: '48k', aacCoder: 'fast',
        maxDurationSeconds: 60, timeoutMs, decodeErrors, ...(item.hint ? { inputFormat: item.hint } : {}),
      };
      const t = await settle(() => transcode(item.data, opts));
      const p = await settle(() => probe(item.data, { timeoutMs, ...(item.hint ? { inputFormat: item.hint } : {}) }));
      if (t.ms > slowest.ms) slowest = { ms: Math.round(t.ms), file: item.file };
      if (pass > 0) continue; // outcomes are judged once; later passes measure memory
      const code = t.ok ? 'resolved' : t.err instanceof TtsavError ? t.err.code : `not a TtsavError: ${t.err}`;
      outcomes[code] = (outcomes[code] ?? 0) + 1;
      const pcode = p.ok ? 'resolved' : p.err instanceof TtsavError ? p.err.code : `not a TtsavError: ${p.err}`;
      probeOutcomes[pcode] = (probeOutcomes[pcode] ?? 0) + 1;
      const bad = (why) => violations.push({ file: item.file, why: item.why, problem: why, code, message: t.err?.message });
      if (item.hint && !demuxers.has(item.hint)) {
        if (code !== 'ERR_TTSAV_OPTIONS') bad(`hint ${item.hint} names no demuxer of this libav: expected ERR_TTSAV_OPTIONS`);
        if (pcode !== 'ERR_TTSAV_OPTIONS') bad(`probe: hint ${item.hint} names no demuxer of this libav: expected ERR_TTSAV_OPTIONS`);
        continue;
      }
      if (t.ms > timeoutMs + 2000) bad(`settled after ${Math.round(t.ms)} ms, past its ${timeoutMs} ms timeout`);
      if (t.ok) {
        if (!(t.value.data instanceof Uint8Array) || t.value.data.length === 0 && t.value.samples > 0) bad('resolved without output');
        if (!(t.value.input.samples > 0)) bad('resolved with no audio decoded');
        if (!Array.isArray(t.value.warnings)) bad('resolved without a warnings array');
        for (const w of t.value.warnings ?? []) {
          if (!WARNING_CODES.has(w.code) || typeof w.message !== 'string' || w.message === '') bad(`malformed warning ${JSON.stringify(w)}`);
          if (w.code === 'DECODE_ERRORS_CONCEALED' && decodeErrors !== 'conceal') bad('concealed a decode error without being asked');
          warnings[w.code] = (warnings[w.code] ?? 0) + 1;
        }
      } else if (!(t.err instanceof TtsavError)) bad('rejected with something other than a TtsavError');
      else if (!GOOD_CODES.has(t.err.code)) bad(`rejected with ${t.err.code} (valid options, so only data/limit codes belong here)`);
      if (item.expect === 'reject' && t.ok) bad('resolved but must be refused');
      if (item.expect === 'resolve' && !t.ok) bad('rejected but is valid');
      if (item.expect.startsWith('ERR_') && code !== item.expect) bad(`expected ${item.expect}`);
      if (!p.ok && !(p.err instanceof TtsavError)) bad(`probe rejected with something other than a TtsavError: ${p.err}`);
      else if (!p.ok && !GOOD_CODES.has(p.err.code)) bad(`probe rejected with ${p.err.code}`);
      if (p.ms > timeoutMs + 2000) bad(`probe settled after ${Math.round(p.ms)} ms`);
    }
    for (let k = 0; k < 4; k++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    const m = process.memoryUsage();
    // rss - heapTotal: what the process holds outside V8's heap (native code's memory, libav's, Buffers'),
    // without the steps V8 takes when it resizes its heap.
    // malloc: the bytes the C allocator has out (null where the C library cannot say): the leak measure that page
    // moves of the allocator do not disturb.
    memory.push({
      pass, rss: m.rss, native: m.rss - m.heapTotal, malloc: addon.mallocInUse(), heapUsed: m.heapUsed,
      external: m.external + m.arrayBuffers,
    });
  }
  return { files: inputs.length, passes, decodeErrors, outcomes, warnings, probe: probeOutcomes, violations, memory, slowest };
}

const [cmd, dir, ...rest] = process.argv.slice(2);
if (cmd === 'generate' && dir) {
  const manifest = generate(path.resolve(dir));
  console.log(`corpus-bad: ${manifest.length} files in ${dir}`);
} else if (cmd === 'run' && dir) {
  const arg = (name, def) => {
    const i = rest.indexOf(name);
    return i >= 0 ? Number(rest[i + 1]) : def;
  };
  const mode = rest.includes('--decode-errors') ? rest[rest.indexOf('--decode-errors') + 1] : 'fail';
  const summary = await run(path.resolve(dir), { passes: arg('--passes', 3), timeoutMs: arg('--timeout-ms', 20_000), decodeErrors: mode });
  console.log(JSON.stringify(summary));
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.error('usage: node scripts/corpus-bad.mjs generate <dir> | node --expose-gc scripts/corpus-bad.mjs run <dir> [--passes N] [--timeout-ms MS] [--decode-errors fail|conceal]');
  process.exitCode = 2;
}
