// Streaming soak: (1) an hour of input through one stream, sampling RSS every 5 minutes of audio; (2) thousands of
// streams fed and destroyed mid-way, RSS before and after. Prints the figures. Runs against dist/.
// Usage: node --expose-gc scripts/stream-soak.mjs [minutes=60] [destroyed=2000]
import { once } from 'node:events';
import { createTranscodeStream } from '../dist/index.js';

const minutes = Number(process.argv[2] ?? 60);
const destroyedCount = Number(process.argv[3] ?? 2000);
const mb = (n) => (n / 1048576).toFixed(1);
const gc = globalThis.gc ?? (() => {});

const rate = 24000;
const second = Buffer.alloc(rate * 2);
for (let i = 0; i < rate; i++) second.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / rate) * (1 + 0.3 * Math.sin(i / 900))), i * 2);

if (minutes > 0) {
  const s = createTranscodeStream({ preset: 'speech', inputFormat: { codec: 'pcm_s16le', sampleRate: rate, channels: 1 } });
  let bytes = 0;
  s.on('data', (c) => (bytes += c.length));
  const samples = [];
  const started = performance.now();
  for (let t = 0; t < minutes * 60; t++) {
    if (!s.write(second)) await once(s, 'drain');
    if ((t + 1) % 300 === 0) {
      gc();
      samples.push(process.memoryUsage().rss);
    }
  }
  s.end();
  await once(s, 'end');
  console.log(`${minutes} min of 24 kHz PCM through one stream (speech preset) in ${((performance.now() - started) / 1000).toFixed(1)} s, ${mb(bytes)} MB of ADTS out`);
  console.log(`RSS every 5 min of audio (MB): ${samples.map(mb).join(' ')}`);
  if (samples.length > 1) console.log(`growth after the first sample: ${mb(Math.max(...samples) - samples[0])} MB`);
}

{
  gc();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < destroyedCount; i++) {
    const s = createTranscodeStream({ inputFormat: { codec: 'pcm_s16le', sampleRate: rate, channels: 1 } });
    s.on('data', () => {});
    s.on('error', () => {});
    await new Promise((resolve) => s.write(second, resolve));
    s.write(second);
    s.destroy();
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const after = process.memoryUsage().rss;
  console.log(`${destroyedCount} streams fed and destroyed mid-way: RSS ${mb(before)} -> ${mb(after)} MB`);
}
