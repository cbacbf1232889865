/** The offline engine: espeak-ng in WebAssembly, compiled once, run on worker threads, audio handed to transcode(). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { speak } from '../lib/speak';
import { espeak, espeakStats, parseWav } from '../lib/tts/espeak';
import { leanEspeakWasm } from '../lib/tts/espeak-wasm';
import { decodedSamples, ffprobe } from './helpers/media';
import { rejection } from './helpers/rejection';

const ROOT = path.resolve(__dirname, '..');
const WASM = path.join(path.dirname(createRequire(__filename).resolve('espeak-ng')), 'espeak-ng.wasm');
// lib ES2022 has no WebAssembly types.
const wasmValid = (bytes: Uint8Array): boolean => (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(bytes);

const engine = espeak({ workers: 2 });
afterAll(() => engine.close());


describe('espeak engine', () => {
  it('English text → WAV with estimated word boundaries → valid AAC whose length matches', async () => {
    const text = 'Hello, this is an offline voice line. The quick brown fox jumps over the lazy dog.';
    const r = await speak(text, { engine, format: 'm4a', channels: 1, sampleRate: 24000, bitrate: '64k', subtitles: true });
    const probe = ffprobe(r.audio);
    expect(probe.codec).toBe('aac');
    expect(probe.channels).toBe(1);
    expect(probe.sampleRate).toBe(24000);
    expect(r.tts.format).toEqual({ container: 'wav', codec: 'pcm_s16le', sampleRate: 22050, channels: 1 });
    expect(r.tts.durationSeconds).toBeGreaterThan(3);
    // Decoding the AAC gives the synthesized duration (resampled), within an AAC frame.
    expect(Math.abs(decodedSamples(r.audio, 1) / 24000 - r.tts.durationSeconds)).toBeLessThan(1024 / 24000 + 0.005);
    expect(r.durationSeconds).toBeCloseTo(r.tts.durationSeconds, 2);
    expect(r.tts.words.map((w) => w.text)).toEqual(['Hello', 'this', 'is', 'an', 'offline', 'voice', 'line', 'The', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog']);
    expect(r.tts.words.every((w) => w.estimated)).toBe(true);
    for (let i = 1; i < r.tts.words.length; i++) expect(r.tts.words[i]!.offsetMs).toBeGreaterThanOrEqual(r.tts.words[i - 1]!.offsetMs);
    const last = r.tts.words[r.tts.words.length - 1]!;
    expect(last.offsetMs + last.durationMs).toBeLessThanOrEqual(r.durationSeconds * 1000 + 1);
    expect(r.subtitles!.srt).toMatch(/^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\nHello, this is an offline voice line\.?/);
    expect(r.subtitles!.vtt.startsWith('WEBVTT\n\n')).toBe(true);
  });

  it('Chinese text picks the cmn voice and gives valid AAC', async () => {
    const r = await speak('你好，世界。今天天气很好，我们去公园散步吧。', { engine, format: 'adts', channels: 1, sampleRate: 22050, bitrate: '48k', subtitles: true });
    expect(r.tts.voice).toBe('cmn');
    const probe = ffprobe(r.audio);
    expect(probe.codec).toBe('aac');
    expect(probe.formatName).toBe('aac');
    expect(r.tts.durationSeconds).toBeGreaterThan(1.5);
    expect(Math.abs(decodedSamples(r.audio, 1) / 22050 - r.tts.durationSeconds)).toBeLessThan(0.1);
    expect(r.tts.words.length).toBe(18); // one per Han character
    expect(r.subtitles!.cues[0]!.text.startsWith('你好')).toBe(true);
  });

  it('compiles the WASM module once per process, runs off the main thread', async () => {
    const other = espeak({ workers: 1 });
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    const before = espeakStats();
    const started = performance.now();
    await Promise.all(['One.', 'Two words.', 'Three more words.', 'And a fourth one.'].map((t, i) => (i % 2 ? other : engine).synthesize(t)));
    const wall = performance.now() - started;
    clearInterval(interval);
    await other.close();
    const after = espeakStats();
    expect(after.compiles).toBe(1);
    expect(after.runs - before.runs).toBe(4);
    // While four syntheses ran, the main thread kept serving 1 ms timers: the WASM ran on workers.
    expect(ticks).toBeGreaterThan(wall / 20);
    console.log(
      `espeak-ng WASM: compiled once in ${after.compileMs.toFixed(1)} ms; ${after.runs} runs, ` +
        `mean instantiate ${(after.instantiateMs / after.runs).toFixed(1)} ms, mean run ${(after.runMs / after.runs).toFixed(1)} ms; ` +
        `4 syntheses in ${wall.toFixed(0)} ms wall, ${ticks} timer ticks meanwhile`,
    );
  });

  it('validates voice, rate, pitch and volume with clear errors', async () => {
    expect((await rejection(engine.synthesize('hi', { rate: 'fast' }))).message).toBe(
      "Expected a string like '+10%' (-50% to +100%) for rate but received \"fast\" of type string",
    );
    expect((await rejection(engine.synthesize('hi', { volume: '+300%' }))).code).toBe('ERR_TTSAV_OPTIONS');
    expect((await rejection(engine.synthesize('hi', { voice: 'xx-nothing' }))).message).toMatch(/Expected an espeak-ng voice .* for voice but received "xx-nothing"/);
    expect((await rejection(speak('', { engine }))).code).toBe('ERR_TTSAV_OPTIONS');
    expect((await rejection(speak('hi', { engine, pitch: 3 as unknown as string }))).message).toMatch(/for pitch but received 3 of type number/);
    const fr = await engine.synthesize('Bonjour tout le monde.', { voice: 'fr', rate: '+20%', pitch: '+10Hz', volume: '-20%' });
    expect(fr.voice).toBe('fr');
    expect(fr.durationSeconds).toBeGreaterThan(0.5);
  });

  it('abort stops the run (the worker is replaced) and the engine keeps working', async () => {
    const controller = new AbortController();
    const p = engine.synthesize('This sentence is long enough to still be running when the abort comes in. '.repeat(5), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect((await rejection(p)).code).toBe('ERR_TTSAV_ABORTED');
    const again = await engine.synthesize('Still alive.');
    expect(again.durationSeconds).toBeGreaterThan(0.3);
  });

  it('long text is split into runs and joined: the words and samples add up', async () => {
    const sentence = 'This is sentence number one of a long passage.\n';
    const text = sentence.repeat(60); // ~2.8 KB: two runs at the default 2000-byte pieces
    const whole = await engine.synthesize(text);
    expect(whole.requests).toBe(2);
    expect(whole.words.length).toBe(60 * 9);
    const single = await engine.synthesize(sentence.trim());
    expect(whole.durationSeconds).toBeGreaterThan(single.durationSeconds * 50);
    for (let i = 1; i < whole.words.length; i++) expect(whole.words[i]!.offsetMs).toBeGreaterThanOrEqual(whole.words[i - 1]!.offsetMs);
  });

  it('lists its voices', async () => {
    const voices = await engine.voices();
    expect(voices.length).toBeGreaterThan(50);
    expect(voices.find((v) => v.name === 'cmn')).toBeTruthy();
    expect(voices.find((v) => v.name === 'en-us')?.description).toMatch(/English/);
  });

  it("compiles a module without the embedded data files and speaks exactly what espeak-ng's own build speaks", async () => {
    const lean = leanEspeakWasm(WASM)!;
    expect(lean).toBeTruthy();
    // 445 files, 18 MB, left out; what stays (code and espeak-ng's static data) is under 1 MB.
    expect(lean.files.length).toBeGreaterThan(100);
    expect(lean.files.find((f) => f.name.endsWith('/phondata'))).toBeTruthy();
    expect(lean.omittedBytes).toBeGreaterThan(15e6);
    expect(lean.bytes.length).toBeLessThan(1e6);
    expect(wasmValid(lean.bytes)).toBe(true);
    const ours = await engine.synthesize('The lean module reads its dictionary on demand.', { voice: 'en-us' });
    const fr = await engine.synthesize('Le module allégé lit son dictionnaire à la demande.', { voice: 'fr' });
    expect(espeakStats().moduleBytes).toBe(lean.bytes.length);
    // The oracle: espeak-ng's glue instantiating its full .wasm by itself, in the main thread.
    const before = new Set(Reflect.ownKeys(globalThis));
    const glue: string = 'espeak-ng';
    const factory = ((await import(glue)) as { default: (m: object) => Promise<{ FS: { readFile(p: string): Uint8Array } }> }).default;
    const full = async (text: string, voice: string): Promise<Buffer> => {
      const m: Record<string, unknown> = { arguments: ['-v', voice, '-s', '175', '-p', '50', '-a', '100', '-w', '/out.wav', '-f', '/in.txt'], print: () => {}, printErr: () => {} };
      m.preRun = [() => (m.FS as { writeFile(p: string, d: string): void }).writeFile('/in.txt', text)];
      const instance = await factory(m);
      return Buffer.from(instance.FS.readFile('/out.wav'));
    };
    try {
      expect(parseWav(ours.chunks[0]!).data.equals(parseWav(await full('The lean module reads its dictionary on demand.', 'en-us')).data)).toBe(true);
      expect(parseWav(fr.chunks[0]!).data.equals(parseWav(await full('Le module allégé lit son dictionnaire à la demande.', 'fr')).data)).toBe(true);
    } finally {
      for (const key of Reflect.ownKeys(globalThis)) if (!before.has(key)) delete (globalThis as Record<PropertyKey, unknown>)[key];
    }
  });

  it('a build laid out differently is compiled as it is (no lean module)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ttsav-wasm-'));
    try {
      const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
      // A valid module with a memory and one data segment, but no table of embedded files.
      const noTable = Buffer.from([...header, 5, 3, 1, 0, 1, 11, 9, 1, 0, 0x41, 0, 0x0b, 3, 1, 2, 3]);
      expect(wasmValid(noTable)).toBe(true);
      const cases = { 'header.wasm': Buffer.from(header), 'no-table.wasm': noTable, 'garbage.wasm': Buffer.from('not a module at all'), 'cut.wasm': noTable.subarray(0, 14) };
      for (const [name, bytes] of Object.entries(cases)) {
        writeFileSync(path.join(dir, name), bytes);
        expect(leanEspeakWasm(path.join(dir, name)), name).toBeUndefined();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs at most min(2, cores) syntheses at once by default', async () => {
    const e = espeak();
    let most = 0;
    const runs = Promise.all(['One.', 'Two.', 'Three.', 'Four.', 'Five.'].map((t) => e.synthesize(t)));
    while (most === 0 || e.workerStats().running > 0) {
      most = Math.max(most, e.workerStats().workers);
      await new Promise((r) => setTimeout(r, 5));
    }
    await runs;
    expect(most).toBe(Math.min(2, os.availableParallelism()));
    await e.close();
    expect(e.workerStats().workers).toBe(0);
  });

  it.runIf(process.platform === 'linux')('an idle worker keeps no dead WASM instance alive (dist build, own process)', () => {
    // Each instance maps its 32 MiB linear memory. The glue's globalThis getters used to keep the worker's first
    // and latest instances alive for good (and more until a collection). Counted in /proc/self/smaps after 6 runs
    // on one worker that is still alive: once its collections have run (one right after each reply, one after 250 ms
    // idle: about one time in ten the first ran while the run's promise jobs still held its instance, which then
    // stayed mapped for good), none is left. Waits up to 5 s for them.
    const code = `const { espeak } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const fs = require('node:fs');
      const count = () => fs.readFileSync('/proc/self/smaps', 'utf8').split('\\n').filter((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l))
        .filter((l) => { const [a, b] = l.split(' ')[0].split('-').map((x) => parseInt(x, 16)); return b - a === 32 * 1024 * 1024; }).length;
      (async () => {
        const base = count();
        const e = espeak({ workers: 1, idleTimeoutMs: 60000 });
        for (let i = 0; i < 6; i++) await e.synthesize('Run number ' + i + '.');
        let live = count() - base;
        for (let i = 0; i < 100 && live > 0; i++) { await new Promise((r) => setTimeout(r, 50)); live = count() - base; }
        console.log(JSON.stringify({ live, workers: e.workerStats().workers }));
        await e.close();
      })();`;
    const r = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, timeout: 60_000 });
    expect(r.stderr.toString()).toBe('');
    expect(JSON.parse(r.stdout.toString().trim())).toEqual({ live: 0, workers: 1 });
  });
});
