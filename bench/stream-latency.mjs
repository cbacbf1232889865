// Added latency of createTranscodeStream: for each write that completes an AAC frame's worth of input, the time
// from that write to the encoded bytes being readable. MP3 (as EdgeTTS sends it) is written one MP3 frame at a
// time, each write awaited, so the figure is ttsav's own (threadpool hop + decode + resample + encode + mux),
// not input pacing. Usage: node bench/stream-latency.mjs [clips]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTranscodeStream } from '../dist/index.js';

const clips = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-latency-'));
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

async function measure(input, options, frameBytes) {
  const s = createTranscodeStream(options);
  const latencies = [];
  let writeStart; // set while a write is in flight
  let firstData; // when the in-flight write's output became readable
  s.on('data', () => {
    if (writeStart !== undefined && firstData === undefined) firstData = performance.now();
  });
  const ended = new Promise((resolve, reject) => s.on('end', resolve).on('error', reject));
  for (let off = 0; off < input.length; off += frameBytes) {
    writeStart = performance.now();
    firstData = undefined;
    await new Promise((resolve, reject) => s.write(input.subarray(off, off + frameBytes), (err) => (err ? reject(err) : resolve())));
    if (firstData !== undefined) latencies.push(firstData - writeStart);
    writeStart = undefined;
  }
  s.end();
  await ended;
  return latencies;
}

try {
  const wav = path.join(dir, 'speech.wav');
  const mp3 = path.join(dir, 'speech.mp3');
  execFileSync('espeak-ng', ['-w', wav, 'Live streams read their lines as they are written. '.repeat(6)]);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, '-ar', '24000', '-ac', '1', '-b:a', '48k', '-write_xing', '0', '-id3v2_version', '0', mp3]);
  const input = readFileSync(mp3);
  const rows = [];
  for (const [label, options] of [
    ['adts, balanced (192k stereo 44.1 kHz)', {}],
    ['adts, speech (64k mono 24 kHz)', { preset: 'speech' }],
    ['fmp4 200 ms fragments, speech', { preset: 'speech', format: 'fmp4', fragmentMs: 200 }],
  ]) {
    const all = [];
    for (let i = 0; i < clips; i++) all.push(...(await measure(input, options, 144)));
    rows.push([label, all.length, quantile(all, 0.5), quantile(all, 0.99)]);
  }
  console.log(`${clips} passes over ${(input.length / 6000).toFixed(1)} s of 24 kHz 48k MP3, written one 144-byte MP3 frame at a time`);
  console.log('output                                   writes with output   median ms   p99 ms');
  for (const [label, n, p50, p99] of rows)
    console.log(`${label.padEnd(40)} ${String(n).padStart(19)} ${p50.toFixed(2).padStart(11)} ${p99.toFixed(2).padStart(8)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
