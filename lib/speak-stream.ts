/**
 * speakStream(): text in, AAC out as the TTS engine's audio arrives. EdgeTTS audio frames are pushed into a
 * streaming transcoder as they come off the socket, so a listener hears the first words while the rest of the
 * sentence is still being synthesized; engines that make their audio in one go (espeak-ng) are streamed when done.
 */
import { TtsavError, stoppedError } from './errors';
import { trackTtsWorkers, type Pool } from './pool';
import { resolveEngine, type EngineName } from './speak';
import { TranscodeStream, type TranscodeStreamOptions } from './stream';
import { parseWav } from './tts/espeak';
import type { TtsEngine } from './tts/types';
import { withMethods } from './validate';

export interface SpeakStreamOptions extends Omit<TranscodeStreamOptions, 'inputFormat'> {
  /** 'espeak' (offline, the default), 'edge' (online), or an engine instance. */
  engine?: EngineName | TtsEngine;
  voice?: string;
  rate?: string;
  pitch?: string;
  volume?: string;
  /** Run under this pool's admission (createPool()): the stream waits for a slot before synthesizing, holds it
   *  until the stream closes, and is refused with ERR_TTSAV_BUSY like a transcode when the queue is full. */
  pool?: Pool;
}

/** A Readable (a TranscodeStream) of encoded audio — ADTS by default — for `text`. Errors are 'error' events. */
export function speakStream(text: string, options: SpeakStreamOptions = {}): TranscodeStream {
  const { engine: engineOption, voice, rate, pitch, volume, pool, ...transcodeOptions } = options;
  const engine = resolveEngine(engineOption);
  if (pool !== undefined) withMethods('pool', pool, ['run'], 'a pool from createPool()');
  trackTtsWorkers(pool, engine);
  const synthesis = { voice, rate, pitch, volume, signal: transcodeOptions.signal };
  for (const key of Object.keys(synthesis) as (keyof typeof synthesis)[]) if (synthesis[key] === undefined) delete synthesis[key];
  engine.validate(synthesis);
  const f = engine.format;
  const wav = f.container === 'wav';
  const out = new TranscodeStream({
    ...transcodeOptions,
    inputFormat: wav ? { codec: 'pcm_s16le', sampleRate: f.sampleRate, channels: f.channels } : 'mp3',
  });
  const write = (chunk: Buffer): void => {
    if (!out.destroyed && !out.writableEnded) out.write(chunk);
  };
  const start = (signal: AbortSignal | undefined): void => {
    const own = signal ? { ...synthesis, signal } : synthesis;
    engine
      .synthesize(text, wav ? own : { ...own, onAudio: write })
      .then((result) => {
        if (out.destroyed) return;
        if (wav) for (const chunk of result.chunks) write(parseWav(chunk).data);
        out.end();
      })
      .catch((err: unknown) => {
        out.destroy(err instanceof TtsavError ? err : new TtsavError('ERR_TTSAV_TTS', String((err as Error)?.message ?? err), { cause: err }));
      });
  };
  if (!pool) {
    start(undefined);
    return out;
  }
  // Under the pool: synthesis starts once admitted; the slot is held until the stream closes (read to the end,
  // failed or destroyed), and the pool's signal (close({ cancel }), the caller's signal) stops it.
  let failure: unknown;
  out.once('error', (err: unknown) => {
    failure = err;
  });
  pool
    .run(
      (signal) =>
        new Promise<void>((resolve, reject) => {
          const onAbort = (): void => {
            out.destroy(stoppedError(signal.reason, 'the stream'));
          };
          signal.addEventListener('abort', onAbort, { once: true });
          const finished = (): void => {
            signal.removeEventListener('abort', onAbort);
            if (failure !== undefined) reject(failure);
            else resolve();
          };
          if (out.closed) return finished();
          out.once('close', finished);
          start(signal);
        }),
      transcodeOptions.signal ? { signal: transcodeOptions.signal } : {},
    )
    .catch((err: unknown) => {
      if (!out.destroyed) out.destroy(err instanceof TtsavError ? err : new TtsavError('ERR_TTSAV_INTERNAL', String(err), { cause: err }));
    });
  return out;
}
