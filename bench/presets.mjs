// CPU cost of each preset relative to 'balanced' (the seed recipe), on the same EdgeTTS-like clips, one job at a
// time, contenders interleaved round by round so drift hits all alike. Clips are made here with espeak-ng.
// Usage: node bench/presets.mjs [rounds]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { presets, transcode } from '../dist/index.js';

const rounds = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-presets-'));
try {
  const clips = [3, 8, 15].map((seconds, i) => {
    const wav = path.join(dir, `${i}.wav`);
    const mp3 = path.join(dir, `${i}.mp3`);
    execFileSync('espeak-ng', ['-w', wav, 'A voice line for the stream, read by a synthetic voice. '.repeat(seconds / 3 + 1)]);
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wav, '-t', String(seconds), '-ar', '24000', '-ac', '1', '-b:a', '48k', mp3]);
    return readFileSync(mp3);
  });
  const names = Object.keys(presets);
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  const bitrate = Object.fromEntries(names.map((n) => [n, 0]));
  await transcode(clips[0]);
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      let ms = 0;
      let bits = 0;
      for (const clip of clips) {
        const res = await transcode(clip, { preset: name });
        ms += res.timings.total;
        bits = res.averageBitrate;
      }
      cpu[name].push(ms);
      bitrate[name] = bits;
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(cpu.balanced);
  console.log(`${rounds} rounds over 3 clips (3, 8, 15 s) of 24 kHz mono speech; job time on the worker thread`);
  console.log('preset        settings                              ms/round   cost vs balanced   avg bitrate on speech');
  for (const name of names) {
    const p = presets[name];
    const settings = `${p.bitrate / 1000}k ${p.sampleRate} ${p.channels === 1 ? 'mono' : 'stereo'} ${p.aacCoder}`;
    console.log(`${name.padEnd(13)} ${settings.padEnd(37)} ${median(cpu[name]).toFixed(1).padStart(8)} ${(median(cpu[name]) / base).toFixed(2).padStart(17)}x ${(bitrate[name] / 1000).toFixed(0).padStart(12)}k`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
