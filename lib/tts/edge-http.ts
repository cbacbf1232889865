/** EdgeTTS over plain HTTP(S): the voice list's GET, and the refusal error both the list and synthesis report. */
import http from 'node:http';
import https from 'node:https';
import { TtsavError } from '../errors';
import { abortedError } from './prosody';

export interface HttpAnswer {
  status: number;
  date?: string;
  encoding?: string;
  body: Buffer;
}

/** A 401/403 that a corrected clock did not cure: the service refuses this client. Not retried. */
export function refusedError(what: string, status: number, version: string, attempts: number): TtsavError {
  return new TtsavError(
    'ERR_TTSAV_TTS',
    `${what}: the service refused the client (HTTP ${status}) after ${attempts} attempt(s), clock corrected. It refuses ` +
      `browser versions it considers too old and requests without the headers current browsers send. This client ` +
      `presented Edge ${version}: set a current Edge version with edge({ clientVersion: '…' }) or env ` +
      `TTSAV_EDGE_CLIENT_VERSION, and add headers with edge({ headers }), before upgrading ttsav.`,
    { detail: `HTTP ${status}`, reason: 'client-refused' },
  );
}

/** An HTTP(S) GET for the voice list under a total deadline, cancellable; the body is capped at 16 MB. */
export function httpGet(url: string, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal, 'the voices request'));
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { headers }, (res) => {
      const body: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > 16 << 20) done(new TtsavError('ERR_TTSAV_TTS', 'EdgeTTS voices list: the answer is larger than 16 MB'));
        else body.push(d);
      });
      res.on('end', () => {
        const answer: HttpAnswer = { status: res.statusCode ?? 0, body: Buffer.concat(body) };
        if (typeof res.headers.date === 'string') answer.date = res.headers.date;
        if (typeof res.headers['content-encoding'] === 'string') answer.encoding = res.headers['content-encoding'];
        done(undefined, answer);
      });
      res.on('error', (err) => done(new TtsavError('ERR_TTSAV_TTS', `EdgeTTS voices list: ${err.message}`)));
    });
    const timer = setTimeout(() => done(new TtsavError('ERR_TTSAV_TTS_TIMEOUT', `EdgeTTS voices list: no answer within timeoutMs (${timeoutMs} ms)`)), timeoutMs);
    const onAbort = (): void => done(abortedError(signal!, 'the voices request'));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => done(new TtsavError('ERR_TTSAV_TTS', `EdgeTTS voices list: ${err.message}`)));
    let settled = false;
    function done(err: Error | undefined, value?: HttpAnswer): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    }
  });
}
