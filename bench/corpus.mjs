// The benchmark corpus: EdgeTTS-like voice lines (24 kHz mono 48 kb/s MP3) of espeak-ng speech, generated from a
// fixed seed so every run and every machine gets the same texts, voices and lengths. Nothing is committed: the files
// live under .tmp/bench/corpus-<version>/ and are reused while the manifest is there.
//
//   clips    100 lines of 1.5–15 s (uniform), varied text, voice, speed and pitch — the typical TTS workload
//   phrases  100 lines of ~1 s (0.8–1.2 s) — chat replies, names, short alerts
//   long      10 lines of ~60 s (58–62 s) — a paragraph read in one go
//
// Generation runs two espeak-ng → ffmpeg chains at a time (the bench machine has 2 cores, shared).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CORPUS_VERSION = 'v1';
export const SETS = {
  clips: { count: 100, min: 1.5, max: 15 },
  phrases: { count: 100, min: 0.8, max: 1.2 },
  long: { count: 10, min: 58, max: 62 },
};

const VOICES = ['en-us', 'en-gb', 'en-gb-x-rp', 'en-029', 'en-gb-scotland', 'en-us+f3', 'en-gb+f2'];
const WORDS = (
  'the stream tonight brings a new song from the studio and a message for everyone who joined early thanks for ' +
  'the follow welcome back to the channel today we are building a small city in the valley next to the river ' +
  'weather update light rain in the morning clearing by noon with a gentle breeze from the west remember to ' +
  'hydrate and take a break every hour the next match starts in five minutes our guest speaker will talk about ' +
  'batteries solar panels and the price of copper please subscribe if you enjoy these videos quick tip press the ' +
  'space bar twice to pause and resume the recording breaking news the library opens a new reading room on ' +
  'saturday with free coffee for students numbers twelve forty seven three hundred and one million questions ' +
  'from the chat how long does it take to learn the piano what is your favourite book and why did the chicken ' +
  'cross the road goal scored in the ninetieth minute the crowd goes wild'
).split(' ');

/** Deterministic PRNG (mulberry32). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sentence(rand, words) {
  const out = [];
  for (let i = 0; i < words; i++) {
    let w = WORDS[Math.floor(rand() * WORDS.length)];
    if (i === 0) w = w[0].toUpperCase() + w.slice(1);
    out.push(w);
    if (i > 3 && i < words - 1 && rand() < 0.08) out[out.length - 1] += rand() < 0.5 ? ',' : '.';
  }
  return out.join(' ') + (rand() < 0.2 ? '?' : '.');
}

/** The plan of every file: pure function of the seed. */
export function plan(seed = 7) {
  const rand = prng(seed);
  const items = [];
  for (const [set, spec] of Object.entries(SETS)) {
    for (let i = 0; i < spec.count; i++) {
      const seconds = spec.min + (spec.max - spec.min) * rand();
      const speed = 150 + Math.floor(rand() * 41); // words per minute
      const pitch = 30 + Math.floor(rand() * 41);
      const voice = VOICES[Math.floor(rand() * VOICES.length)];
      // Enough words to outlast the target at this speed (pauses included); the MP3 is cut at `seconds`.
      const words = Math.max(2, Math.ceil((seconds * speed) / 60 * 1.3) + 2);
      items.push({ set, name: `${set}-${String(i).padStart(3, '0')}`, seconds, speed, pitch, voice, text: sentence(rand, words) });
    }
  }
  return items;
}

async function makeOne(dir, item) {
  const wav = path.join(dir, `${item.name}.wav`);
  const mp3 = path.join(dir, `${item.name}.mp3`);
  await run('espeak-ng', ['-v', item.voice, '-s', String(item.speed), '-p', String(item.pitch), '-w', wav, item.text]);
  // espeak-ng writes 22050 Hz 16-bit mono: its length is (bytes - 44) / 44100 s.
  const spoken = (statSync(wav).size - 44) / 44100;
  // EdgeTTS's default output: audio-24khz-48kbitrate-mono-mp3 (LAME, with a Xing/LAME tag).
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', wav, '-t', item.seconds.toFixed(3), '-ar', '24000',
    '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '48k', mp3]);
  rmSync(wav);
  return { set: item.set, name: item.name, file: `${item.name}.mp3`, seconds: Math.min(spoken, item.seconds), bytes: statSync(mp3).size };
}

/**
 * Makes the corpus under `root` (or reuses it). Returns the manifest: { version, dir, files: [{set, name, file,
 * seconds, bytes}] }. `jobs` bounds how many espeak-ng/ffmpeg chains run at once.
 */
export async function ensureCorpus(root, { jobs = 2, log = console.error } = {}) {
  const dir = path.join(root, `corpus-${CORPUS_VERSION}`);
  const manifestPath = path.join(dir, 'manifest.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (manifest.files.every((f) => existsSync(path.join(dir, f.file)))) return { ...manifest, dir };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const items = plan();
  const files = new Array(items.length);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      files[i] = await makeOne(dir, items[i]);
      if (++done % 50 === 0) log(`corpus: ${done}/${items.length} files`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  const manifest = { version: CORPUS_VERSION, files };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 1));
  log(`corpus: ${items.length} files in ${((performance.now() - t0) / 1000).toFixed(1)} s under ${dir}`);
  return { ...manifest, dir };
}

/** Per-set summary: count, total and range of audio seconds, total MP3 bytes. */
export function summarize(manifest) {
  const out = {};
  for (const set of Object.keys(SETS)) {
    const fs = manifest.files.filter((f) => f.set === set);
    const secs = fs.map((f) => f.seconds);
    out[set] = {
      count: fs.length,
      audioSeconds: secs.reduce((a, b) => a + b, 0),
      min: Math.min(...secs),
      max: Math.max(...secs),
      bytes: fs.reduce((a, f) => a + f.bytes, 0),
    };
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '.tmp', 'bench');
  const manifest = await ensureCorpus(root);
  console.log(JSON.stringify(summarize(manifest), null, 1));
}
