// Per-file time of ttsav's transcode() against spawning the ffmpeg CLI per file (the seed approach), one job at
// a time, same settings (AAC-LC 192k, 44.1 kHz, stereo, MP4), alternating contenders so drift hits both.
// Clips are generated here (espeak-ng speech as 24 kHz mono 48k MP3, like EdgeTTS); files live on /dev/shm
// when it exists so the spawn side pays no disk cost. Usage: node bench/spawn-vs-transcode.mjs [rounds]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { transcode } from '../dist/index.js';

const rounds = Number(process.argv[2] ?? 5);
const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const dir = mkdtempSync(path.join(base, 'ttsav-bench-'));

const SENTENCE = 'The quick brown fox jumps over the lazy dog while the stream keeps talking to its viewers. ';
function makeClip(name, seconds) {
  const wav = path.join(dir, `${name}.wav`);
  const mp3 = path.join(dir, `${name}.mp3`);
  execFileSync('espeak-ng', ['-w', wav, SENTENCE.repeat(Math.max(1, Math.ceil(seconds / 5)))]);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', wav, '-t', String(seconds), '-ar', '24000',
    '-ac', '1', '-b:a', '48k', mp3]);
  return { name, seconds, file: mp3, data: readFileSync(mp3) };
}

function spawnFfmpeg(input, output) {
  return new Promise((resolve, reject) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', input, '-c:a', 'aac', '-b:a', '192k',
      '-ar', '44100', '-ac', '2', '-f', 'mp4', output], { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const clips = [makeClip('short', 1), makeClip('typical', 8.5), makeClip('long', 60)];
  await transcode(clips[0].data); // load the addon outside the timings
  console.log(`rounds=${rounds}, one job at a time, files on ${base}`);
  console.log('clip     audio   spawn ffmpeg (ms)   ttsav transcode (ms)   ratio (spawn / ttsav)');
  for (const clip of clips) {
    const spawnMs = [];
    const ttsavMs = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which contender goes first.
      const order = r % 2 === 0 ? ['spawn', 'ttsav'] : ['ttsav', 'spawn'];
      for (const who of order) {
        const t0 = performance.now();
        if (who === 'spawn') await spawnFfmpeg(clip.file, path.join(dir, `${clip.name}.m4a`));
        else writeFileSync(path.join(dir, `${clip.name}.ttsav.m4a`), (await transcode(clip.data, { faststart: false })).data);
        (who === 'spawn' ? spawnMs : ttsavMs).push(performance.now() - t0);
      }
    }
    const s = median(spawnMs);
    const t = median(ttsavMs);
    console.log(`${clip.name.padEnd(8)} ${String(clip.seconds).padStart(5)} s ${s.toFixed(1).padStart(14)} ${t.toFixed(1).padStart(20)} ${(s / t).toFixed(2).padStart(18)}x`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
