/** speakStream(): AAC out while the TTS engine is still speaking. */
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TtsavError, speakStream } from '../lib/index';
import { edge } from '../lib/tts';
import { decodeCheck } from './helpers/media';
import { startFakeEdgeServer, type FakeEdgeServer } from './helpers/fake-edge-server';

let server: FakeEdgeServer;
beforeAll(async () => {
  server = await startFakeEdgeServer();
});
afterAll(async () => {
  await server.close();
});

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await once(stream, 'end');
  return Buffer.concat(chunks);
}

describe('speakStream', () => {
  it('EdgeTTS: the first AAC bytes leave before the service has finished the turn', async () => {
    const framesPerMessage = server.framesPerMessage;
    server.messageDelayMs = 30; // the service sends its audio frames over time, as the real one does
    server.framesPerMessage = 4;
    try {
      const text = 'A live stream hears the first words while the rest of this sentence is still being spoken.';
      const stream = speakStream(text, { engine: edge({ endpoint: server.url }), preset: 'speech' });
      let firstAt: number | undefined;
      stream.once('data', () => (firstAt = performance.now()));
      const out = await collect(stream);
      const ended = performance.now();
      expect(firstAt).toBeDefined();
      const expected = server.expected(text);
      // The turn lasted frames/4 messages × 30 ms; the first output came well before its end.
      const turnMs = (expected.frames / 4) * 30;
      expect(ended - firstAt!).toBeGreaterThan(turnMs * 0.5);
      const d = decodeCheck(out, 1);
      expect(d.errors).toBe('');
      // Everything arrived: the stream's audio lasts as long as the service's (± the codec's frames).
      expect(Math.abs(d.samples / 24000 - expected.durationSeconds)).toBeLessThan(0.15);
    } finally {
      server.messageDelayMs = 0;
      server.framesPerMessage = framesPerMessage;
    }
  });

  it('EdgeTTS: a connection dropped after audio was streamed fails instead of repeating audio', async () => {
    server.plan('drop-mid-audio');
    const stream = speakStream('This line will be cut off in the middle of its audio.', {
      engine: edge({ endpoint: server.url, retryDelayMs: 1 }),
    });
    stream.on('data', () => {});
    const [err] = (await once(stream, 'error')) as [TtsavError];
    expect(err.code).toBe('ERR_TTSAV_TTS');
    expect(err.message).toMatch(/not retried/);
  });

  it('espeak-ng (offline): streams the synthesized WAV as PCM', async () => {
    const out = await collect(speakStream('Offline speech, streamed as AAC.', { preset: 'speech' }));
    const d = decodeCheck(out, 1);
    expect(d.errors).toBe('');
    expect(d.samples / 22050).toBeGreaterThan(1);
  });
});
