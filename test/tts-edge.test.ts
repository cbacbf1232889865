/** The EdgeTTS engine against a fake service on 127.0.0.1 that speaks the real protocol and misbehaves on command. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { speak } from '../lib/speak';
import { edge } from '../lib/tts/edge';
import { EDGE_CLIENT_VERSION, secMsGec, splitText } from '../lib/tts/edge-protocol';
import { espeak } from '../lib/tts/espeak';
import { checkEdge } from '../lib/cli/edge-check';
import { mp3Info } from '../lib/tts/mp3';
import { refusedPort, serviceGec, startFakeEdgeServer, type FakeEdgeServer } from './helpers/fake-edge-server';
import { decodedSamples, ffprobe } from './helpers/media';
import { rejection } from './helpers/rejection';

let server: FakeEdgeServer;
beforeAll(async () => {
  server = await startFakeEdgeServer();
});
afterAll(() => server.close());
afterEach(() => {
  server.clearPlan();
  server.clockOffsetMs = 0;
  server.messageDelayMs = 0;
  server.rule = undefined;
  server.minClientVersion = '143.0.3650.75';
  delete process.env.TTSAV_EDGE_ENDPOINT;
  delete process.env.TTSAV_EDGE_CLIENT_VERSION;
});


const fast = { retryDelayMs: 20, maxRetryDelayMs: 200 };

describe('EdgeTTS protocol', () => {
  it('Sec-MS-GEC is SHA-256 of the Windows file time rounded to 5 minutes plus the token, uppercase hex', () => {
    // 2024-01-01T00:02:31Z → rounded down to 00:00:00 → 133485408000000000 ticks since 1601.
    const t = Date.UTC(2024, 0, 1, 0, 2, 31);
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const expected = createHash('sha256').update('1334854080000000006A5AA1D4EAFF4E9FB37E23D68491D6F4').digest('hex').toUpperCase();
    expect(secMsGec(t)).toBe(expected);
    expect(secMsGec(Date.UTC(2024, 0, 1, 0, 4, 59))).toBe(expected);
    expect(secMsGec(Date.UTC(2024, 0, 1, 0, 5, 0))).not.toBe(expected);
  });

  it('splits text under the byte limit after escaping, at sentence ends, then spaces; newlines handled', () => {
    const line = 'Tom & Jerry said "hi" <loudly>. '.repeat(200); // escapes grow it
    const text = `Short first line\n${line}\n${'x'.repeat(5000)}`;
    const pieces = splitText(text, 4096);
    for (const p of pieces) {
      expect(Buffer.byteLength(p.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;'))).toBeLessThanOrEqual(4096);
      expect(p).not.toMatch(/\n/);
    }
    expect(pieces.join('').replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
    expect(pieces[0]!.endsWith('.')).toBe(true); // cut after a sentence, not mid-word
    const cjk = '你好世界。'.repeat(2000);
    const cjkPieces = splitText(cjk, 4096);
    expect(cjkPieces.every((p) => p.endsWith('。'))).toBe(true);
    expect(cjkPieces.join('')).toBe(cjk);
  });
});

describe('edge engine against the fake service', () => {
  it('happy path: the audio decodes, word boundaries become correct SRT/VTT', async () => {
    const engine = edge({ endpoint: server.url });
    const text = 'Hello there, general Kenobi. You are a bold one!';
    const r = await speak(text, { engine, voice: 'en-GB-SoniaNeural', rate: '+10%', pitch: '-5Hz', format: 'm4a', channels: 1, sampleRate: 24000, bitrate: '64k', subtitles: { maxWords: 4 } });
    const exp = server.expected(text);
    const log = server.requests.at(-1)!;
    expect(log.voice).toBe('en-GB-SoniaNeural');
    expect([log.rate, log.pitch, log.volume]).toEqual(['+10%', '-5Hz', '+0%']);
    expect(r.tts.requests).toBe(1);
    expect(r.tts.durationSeconds).toBeCloseTo(exp.durationSeconds, 6);
    expect(r.tts.words).toEqual(exp.words.map((w) => ({ text: w.text, offsetMs: w.offset / 1e4, durationMs: w.duration / 1e4 })));
    expect(ffprobe(r.audio).codec).toBe('aac');
    // Every MP3 sample came through: the AAC decodes to the MP3's length.
    expect(r.transcode.input.samples).toBe(exp.frames * 576);
    expect(r.transcode.samples).toBe(exp.frames * 576);
    expect(Math.abs(decodedSamples(r.audio, 1) - exp.frames * 576)).toBeLessThan(1024);
    // Words: Hello(14 frames) there,(14) general(18) Kenobi.(16) | You(10) are(10) a(6) bold(12) one!(10), 4 lead frames.
    const ms = (frames: number): number => frames * 24;
    const cues = r.subtitles!.cues;
    expect(cues.map((c) => c.text)).toEqual(['Hello there, general Kenobi.', 'You are a bold', 'one!']);
    expect(cues[0]!.startMs).toBe(ms(4));
    expect(cues[0]!.endMs).toBe(ms(4 + 14 + 14 + 18 + 15));
    expect(cues[1]!.startMs).toBe(ms(4 + 14 + 14 + 18 + 16));
    expect(r.subtitles!.srt.split('\n').slice(0, 3)).toEqual(['1', '00:00:00,096 --> 00:00:01,560', 'Hello there, general Kenobi.']);
    expect(r.subtitles!.vtt.split('\n').slice(0, 4)).toEqual(['WEBVTT', '', '00:00:00.096 --> 00:00:01.560', 'Hello there, general Kenobi.']);
    const lastCue = cues.at(-1)!;
    expect(lastCue.endMs).toBeLessThanOrEqual(r.durationSeconds * 1000);
  });

  it('reads TTSAV_EDGE_ENDPOINT when a request starts', async () => {
    const engine = edge(fast);
    process.env.TTSAV_EDGE_ENDPOINT = server.url;
    const before = server.stats.upgrades;
    const s = await engine.synthesize('From the environment.');
    expect(server.stats.upgrades).toBe(before + 1);
    expect(s.words.map((w) => w.text)).toEqual(['From', 'the', 'environment']);
    process.env.TTSAV_EDGE_ENDPOINT = 'http://nope';
    expect((await rejection(engine.synthesize('x'))).message).toMatch(/for TTSAV_EDGE_ENDPOINT/);
  });

  it('403 with a skewed Date: the clock skew is corrected from the Date header and the request retried once', async () => {
    server.clockOffsetMs = 3 * 3600_000; // the server is 3 hours ahead: our Sec-MS-GEC is stale
    const engine = edge({ endpoint: server.url, ...fast });
    const upgrades = server.stats.upgrades;
    const s = await engine.synthesize('Clock skew test.');
    expect(server.stats.upgrades - upgrades).toBe(2);
    expect(server.stats.rejected.at(-1)).toBe(403);
    expect(s.requests).toBe(2);
    expect(server.stats.refusals.at(-1)).toBe('gec'); // the fake checked the stale token with its own code
    expect(engine.stats()).toMatchObject({ clockSkewRetries: 1, refused: 0, failed: 0 });
    expect(Math.abs(engine.clockSkewMs - 3 * 3600_000)).toBeLessThan(2000);
    // The correction sticks: the next request goes through at once.
    const again = await engine.synthesize('Again.');
    expect(again.requests).toBe(1);
  });

  it('403 again after the correction → ERR_TTSAV_TTS with the status, no endless retries', async () => {
    const engine = edge({ endpoint: server.url, ...fast });
    server.plan({ status: 403 }, { status: 403 }, { status: 403 });
    const err = await rejection(engine.synthesize('Forbidden.'));
    expect(err.code).toBe('ERR_TTSAV_TTS');
    expect(err.detail).toBe('HTTP 403');
    expect(err.message).toMatch(/HTTP 403.*after 2 attempt/);
    server.plan();
  });

  it('429 twice then success: retried with backoff', async () => {
    const engine = edge({ endpoint: server.url, retryDelayMs: 100, maxRetryDelayMs: 1000 });
    server.plan({ status: 429 }, { status: 429 });
    const upgrades = server.stats.upgrades;
    const started = performance.now();
    const s = await engine.synthesize('Rate limited.');
    const ms = performance.now() - started;
    expect(server.stats.upgrades - upgrades).toBe(3);
    expect(s.requests).toBe(3);
    // Backoff 100 ms then 200 ms, each with jitter ×0.5–1: at least 150 ms waited.
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(s.words.map((w) => w.text)).toEqual(['Rate', 'limited']);
  });

  it('429 and 503 beyond maxRetries → ERR_TTSAV_TTS with the last status', async () => {
    const engine = edge({ endpoint: server.url, maxRetries: 2, ...fast });
    server.plan({ status: 503 }, { status: 429, retryAfter: 0 }, { status: 429 });
    const err = await rejection(engine.synthesize('Busy.'));
    expect(err.code).toBe('ERR_TTSAV_TTS');
    expect(err.detail).toBe('HTTP 429');
    expect(err.message).toMatch(/after 3 attempt/);
  });

  it('a stalled server → ERR_TTSAV_TTS_TIMEOUT within the idle deadline, and the server sees the socket closed', async () => {
    const engine = edge({ endpoint: server.url, idleTimeoutMs: 300, ...fast });
    server.plan('stall');
    const closed = server.nextSocketClose();
    const started = performance.now();
    const err = await rejection(engine.synthesize('Nobody answers.'));
    const failedAt = performance.now();
    expect(err.code).toBe('ERR_TTSAV_TTS_TIMEOUT');
    expect(err.detail).toBe('idle');
    expect(failedAt - started).toBeGreaterThanOrEqual(290);
    expect(failedAt - started).toBeLessThan(300 + 1500);
    expect((await closed) - failedAt).toBeLessThan(100);
  });

  it('a server that stalls mid-audio, or never answers the upgrade, or is too slow overall → timeouts', async () => {
    server.plan('stall-mid-audio');
    const idle = await rejection(edge({ endpoint: server.url, idleTimeoutMs: 200 }).synthesize('Half of the audio then nothing at all.'));
    expect([idle.code, idle.detail]).toEqual(['ERR_TTSAV_TTS_TIMEOUT', 'idle']);
    server.plan('hang-upgrade');
    const connect = await rejection(edge({ endpoint: server.url, connectTimeoutMs: 200 }).synthesize('Never upgraded.'));
    expect([connect.code, connect.detail]).toEqual(['ERR_TTSAV_TTS_TIMEOUT', 'connect']);
    server.messageDelayMs = 50;
    const total = await rejection(edge({ endpoint: server.url, timeoutMs: 250 }).synthesize('Slow but steady words keep arriving here.'));
    expect([total.code, total.detail]).toEqual(['ERR_TTSAV_TTS_TIMEOUT', 'total']);
  });

  it('connection dropped mid-audio → retried; the result is the whole audio once, not duplicated or truncated', async () => {
    const engine = edge({ endpoint: server.url, ...fast });
    const text = 'This turn is cut in the middle of its audio, then sent again in full.';
    server.plan('drop-mid-audio');
    const s = await engine.synthesize(text);
    const exp = server.expected(text);
    expect(s.requests).toBe(2);
    expect(Buffer.concat(s.chunks).equals(exp.audio)).toBe(true);
    expect(s.words.length).toBe(exp.words.length);
    expect(mp3Info(Buffer.concat(s.chunks)).frames).toBe(exp.frames);
  });

  it('a turn without audio is retried; always without audio → ERR_TTSAV_TTS', async () => {
    const engine = edge({ endpoint: server.url, maxRetries: 1, ...fast });
    server.plan('no-audio');
    expect((await engine.synthesize('Second time lucky.')).requests).toBe(2);
    server.plan('no-audio', 'no-audio');
    const err = await rejection(engine.synthesize('Never any audio.'));
    expect(err.code).toBe('ERR_TTSAV_TTS');
    expect(err.message).toMatch(/without audio/);
  });

  it('abort closes the socket: the server sees it within 100 ms', async () => {
    const engine = edge({ endpoint: server.url });
    server.plan('stall');
    const controller = new AbortController();
    const pending = rejection(engine.synthesize('Abort me.', { signal: controller.signal }));
    await server.nextRequest();
    const closed = server.nextSocketClose();
    const abortedAt = performance.now();
    controller.abort();
    const err = await pending;
    expect(err.code).toBe('ERR_TTSAV_ABORTED');
    const closeMs = (await closed) - abortedAt;
    expect(closeMs).toBeLessThan(100);
    console.log(`abort → server saw the socket close after ${closeMs.toFixed(2)} ms`);
  });

  it('a refused port → ERR_TTSAV_TTS at once, no hang, no retries', async () => {
    const port = await refusedPort();
    const started = performance.now();
    const err = await rejection(edge({ endpoint: `ws://127.0.0.1:${port}` }).synthesize('Anyone there?'));
    expect(err.code).toBe('ERR_TTSAV_TTS');
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.message).toMatch(/after 1 attempt/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('20 KB of text with newlines → split under 4 KB, synthesized, joined; durations and words add up', async () => {
    const engine = edge({ endpoint: server.url });
    const paragraph = 'The river & the <old> mill turned "slowly" in the evening light, and nobody minded. ';
    let text = '';
    while (Buffer.byteLength(text) < 20_000) text += `${paragraph.repeat(3)}\n`;
    text += `\n${'Onewordwithoutanyspaceatall'.repeat(200)}`; // a newline followed by >4096 bytes: the known bug
    const first = server.requests.length;
    const s = await engine.synthesize(text);
    const logs = server.requests.slice(first);
    expect(logs.length).toBeGreaterThanOrEqual(6);
    expect(s.requests).toBe(logs.length);
    for (const l of logs) expect(Buffer.byteLength(l.text.replace(/&/g, '&amp;').replace(/[<>]/g, '&lt;').replace(/"/g, '&quot;'))).toBeLessThanOrEqual(4096);
    // Durations add up: the joined MP3 is the sum of the turns, to the sample, and decodes (ffmpeg) as one stream.
    const total = logs.reduce((n, l) => n + l.durationSeconds, 0);
    expect(s.durationSeconds).toBeCloseTo(total, 6);
    const joined = Buffer.concat(s.chunks);
    expect(mp3Info(joined).samples).toBe(logs.reduce((n, l) => n + l.frames * 576, 0));
    expect(decodedSamples(joined, 1)).toBe(logs.reduce((n, l) => n + l.frames * 576, 0));
    // Words: all of them, in order, with offsets shifted by the audio before them.
    const expectedWords = logs.flatMap((l) => l.words.map((w) => w.text));
    expect(s.words.map((w) => w.text)).toEqual(expectedWords);
    // Nothing lost or repeated at the cuts (the one 5 KB "word" had to be cut inside).
    expect(expectedWords.join('')).toBe(text.replace(/[^A-Za-z]/g, ''));
    let shift = 0;
    let k = 0;
    for (const l of logs) {
      for (const w of l.words) expect(s.words[k++]!.offsetMs).toBeCloseTo(shift + w.offset / 1e4, 6);
      shift += l.durationSeconds * 1000;
    }
    console.log(`20 KB text: ${logs.length} requests, ${s.words.length} words, ${(total / 60).toFixed(1)} min of audio`);
  });

  it('validates voice, rate, pitch, volume and the endpoint before connecting', async () => {
    const upgrades = server.stats.upgrades;
    const engine = edge({ endpoint: server.url });
    expect((await rejection(engine.synthesize('x', { voice: 'Aria' }))).message).toBe(
      "Expected an EdgeTTS voice name like 'en-US-AriaNeural' or 'zh-CN-XiaoxiaoNeural' for voice but received \"Aria\" of type string",
    );
    expect((await rejection(engine.synthesize('x', { rate: '+300%' }))).message).toBe(
      "Expected a string like '+10%' (-50% to +100%) for rate but received \"+300%\" of type string",
    );
    expect((await rejection(engine.synthesize('x', { pitch: '+10' }))).code).toBe('ERR_TTSAV_OPTIONS');
    expect((await rejection(engine.synthesize('x', { volume: 50 as unknown as string }))).message).toMatch(/for volume but received 50 of type number/);
    expect(() => edge({ endpoint: 'wss://host/with/path' })).toThrow(/for endpoint/);
    expect(() => edge({ endpoint: 'https://host' })).toThrow(/for endpoint/);
    expect(() => edge({ idleTimeoutMs: 0 })).toThrow(/integer between 1 and 600000 for idleTimeoutMs/);
    expect(() => edge({ bogus: 1 } as never)).toThrow(/Unknown edge\(\) option 'bogus'/);
    expect((await engine.synthesize('Full name works.', { voice: 'Microsoft Server Speech Text to Speech Voice (zh-CN, XiaoxiaoNeural)' })).voice).toMatch(/Xiaoxiao/);
    expect(server.stats.upgrades).toBe(upgrades + 1);
  });

  it('voices() lists over HTTP on the same endpoint, cached', async () => {
    const engine = edge({ endpoint: server.url });
    const hits = server.stats.voicesHits;
    const [a, b] = await Promise.all([engine.voices(), engine.voices()]);
    const c = await engine.voices();
    expect(server.stats.voicesHits - hits).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(a.map((v) => v.name)).toEqual(['en-US-AriaNeural', 'zh-CN-XiaoxiaoNeural']);
    expect(a[1]).toMatchObject({ locale: 'zh-CN', gender: 'Female' });
    await engine.voices({ refresh: true });
    expect(server.stats.voicesHits - hits).toBe(2);
  });
});

describe('the handshake as the service checks it (edge-tts 7.2.7 era)', () => {
  it('Sec-MS-GEC test vector, computed outside this code (sha256sum of the ticks and the token)', () => {
    // 2026-01-15T12:32:30Z → window 12:30:00Z = 1768480200 s → (1768480200 + 11644473600) × 10^7 ticks.
    // printf '%s6A5AA1D4EAFF4E9FB37E23D68491D6F4' 134129538000000000 | sha256sum
    const vector = '8B080C4B17637E85EADFC0FAFE4DB3FD8268E36753BB716A7BFD88563119D510';
    const t = Date.UTC(2026, 0, 15, 12, 32, 30);
    expect(secMsGec(t)).toBe(vector);
    expect(serviceGec(t)).toBe(vector); // the fake's own implementation agrees with the vector too
  });

  it('the websocket upgrade carries Edge 143, a fresh muid per connection, zstd in Accept-Encoding', async () => {
    const engine = edge({ endpoint: server.url });
    const before = server.stats.muids.length;
    await engine.synthesize('First.');
    const h = server.stats.lastUpgradeHeaders!;
    const url = new URL(server.stats.lastUpgradeUrl!, 'http://x');
    expect(EDGE_CLIENT_VERSION).toBe('143.0.3650.75');
    expect(url.searchParams.get('Sec-MS-GEC-Version')).toBe('1-143.0.3650.75');
    expect(h['user-agent']).toBe('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36 Edg/143.0.0.0');
    expect(h['accept-encoding']).toBe('gzip, deflate, br, zstd');
    expect(h.origin).toBe('chrome-extension://jdiccldimpdaibmpdkjnbmckianbfold');
    expect(h.cookie).toMatch(/^muid=[0-9A-F]{32};$/);
    await engine.synthesize('Second.');
    const muids = server.stats.muids.slice(before);
    expect(muids).toHaveLength(2);
    expect(muids[0]).not.toBe(muids[1]);
  });

  it('an old client version is refused: 403 → one clock-skew retry → ERR_TTSAV_TTS naming the override, counted, not retried further', async () => {
    const engine = edge({ endpoint: server.url, clientVersion: '130.0.2849.68', ...fast });
    const upgrades = server.stats.upgrades;
    const err = await rejection(engine.synthesize('Old client.'));
    expect(err.code).toBe('ERR_TTSAV_TTS');
    expect(err.detail).toBe('HTTP 403');
    expect(err.reason).toBe('client-refused');
    expect(err.message).toMatch(/refused the client \(HTTP 403\) after 2 attempt/);
    expect(err.message).toMatch(/Edge 130\.0\.2849\.68/);
    expect(err.message).toMatch(/clientVersion/);
    expect(err.message).toMatch(/TTSAV_EDGE_CLIENT_VERSION/);
    expect(server.stats.upgrades - upgrades).toBe(2);
    expect(server.stats.refusals.slice(-2)).toEqual(['version', 'version']);
    expect(engine.stats()).toMatchObject({ requests: 1, attempts: 2, refused: 1, clockSkewRetries: 1, failed: 1, retries: 0 });
    expect(engine.stats().httpStatus).toEqual({ 403: 2 });
  });

  it('the version override works without a release: edge({ clientVersion }) and TTSAV_EDGE_CLIENT_VERSION', async () => {
    server.minClientVersion = '150.0.3700.1'; // the service moved on
    expect((await rejection(edge({ endpoint: server.url, ...fast }).synthesize('Default.'))).message).toMatch(/refused the client/);
    const byOption = await edge({ endpoint: server.url, clientVersion: '150.0.3700.1' }).synthesize('By option.');
    expect(byOption.bytes).toBeGreaterThan(0);
    expect(new URL(server.stats.lastUpgradeUrl!, 'http://x').searchParams.get('Sec-MS-GEC-Version')).toBe('1-150.0.3700.1');
    expect(server.stats.lastUpgradeHeaders!['user-agent']).toMatch(/Edg\/150\.0\.0\.0$/);
    const engine = edge({ endpoint: server.url, ...fast });
    process.env.TTSAV_EDGE_CLIENT_VERSION = '150.0.3700.1';
    expect((await engine.synthesize('By environment.')).bytes).toBeGreaterThan(0);
    expect(engine.clientVersion()).toBe('150.0.3700.1');
    process.env.TTSAV_EDGE_CLIENT_VERSION = 'latest';
    expect((await rejection(engine.synthesize('x'))).message).toMatch(/Edge browser version like '143\.0\.3650\.75' for TTSAV_EDGE_CLIENT_VERSION/);
    expect(() => edge({ clientVersion: '143' })).toThrow(/for clientVersion/);
  });

  it('a missing muid cookie is refused; extra headers arrive; transport headers and line breaks are refused', async () => {
    const noCookie = edge({ endpoint: server.url, headers: { Cookie: 'other=1' }, ...fast });
    expect((await rejection(noCookie.synthesize('No muid.'))).message).toMatch(/refused the client/);
    expect(server.stats.refusals.at(-1)).toBe('muid');
    await edge({ endpoint: server.url, headers: { 'X-Trace': 'abc' } }).synthesize('Extra header.');
    expect(server.stats.lastUpgradeHeaders!['x-trace']).toBe('abc');
    expect(() => edge({ headers: { Host: 'x' } })).toThrow(/for headers/);
    expect(() => edge({ headers: { 'X-A': 'a\r\nX-B: b' } })).toThrow(/without line breaks/);
    expect(() => edge({ headers: { 'bad name': 'x' } })).toThrow(/for headers/);
  });

  it('a 403 without a Date header fails at once (nothing to correct), with the refusal message', async () => {
    const engine = edge({ endpoint: server.url, ...fast });
    const upgrades = server.stats.upgrades;
    server.plan({ status: 403, date: '' });
    const err = await rejection(engine.synthesize('No date.'));
    expect(err.message).toMatch(/refused the client \(HTTP 403\) after 1 attempt/);
    expect(server.stats.upgrades - upgrades).toBe(1);
  });

  it('WordBoundary text arrives XML-escaped and comes out as written', async () => {
    const engine = edge({ endpoint: server.url });
    const s = await engine.synthesize(`Don't stop R&D "now" <ok>`);
    expect(s.words.map((w) => w.text)).toEqual(["Don't", 'stop', 'R&D', 'now', 'ok']);
    const r = await speak(`Don't stop R&D.`, { engine, subtitles: true, format: 'adts' });
    expect(r.subtitles!.srt).toContain("Don't stop R&D.");
    expect(r.subtitles!.srt).not.toMatch(/&(amp|apos);/);
  });

  it("prosody in the service's documented forms only: whole +N% rate/volume, +NHz pitch", async () => {
    const engine = edge({ endpoint: server.url });
    expect((await rejection(engine.synthesize('x', { pitch: '+10%' }))).message).toBe(
      "Expected a string like '+0Hz' (-100Hz to +100Hz) for pitch but received \"+10%\" of type string",
    );
    expect((await rejection(engine.synthesize('x', { rate: '+1.5%' }))).code).toBe('ERR_TTSAV_OPTIONS');
    expect((await rejection(engine.synthesize('x', { volume: '+0.5%' }))).code).toBe('ERR_TTSAV_OPTIONS');
    expect(() => edge({ pitch: '+5%' })).toThrow(/for pitch/);
    const s = await engine.synthesize('Signed.', { rate: '10%', pitch: '-5Hz' });
    expect(s.bytes).toBeGreaterThan(0);
    expect([server.requests.at(-1)!.rate, server.requests.at(-1)!.pitch]).toEqual(['+10%', '-5Hz']);
    espeak().validate({ pitch: '+10%' }); // espeak-ng keeps its percent pitch
  });

  it('the voice list sends the browser fetch headers and a muid, decodes a compressed answer; refused → clear error, counted', async () => {
    const engine = edge({ endpoint: server.url });
    const list = await engine.voices();
    expect(list).toHaveLength(2);
    const h = server.stats.lastVoicesHeaders!;
    expect(h['sec-ch-ua']).toBe('" Not;A Brand";v="99", "Microsoft Edge";v="143", "Chromium";v="143"');
    expect(h['sec-ch-ua-mobile']).toBe('?0');
    expect(h.accept).toBe('*/*');
    expect([h['sec-fetch-site'], h['sec-fetch-mode'], h['sec-fetch-dest']]).toEqual(['none', 'cors', 'empty']);
    expect(h.cookie).toMatch(/^muid=[0-9A-F]{32};$/);
    expect(h['accept-encoding']).toMatch(/^gzip, deflate, br/);
    expect(new URL(server.stats.lastVoicesUrl!, 'http://x').searchParams.get('Sec-MS-GEC-Version')).toBe('1-143.0.3650.75');
    const old = edge({ endpoint: server.url, clientVersion: '130.0.2849.68' });
    const err = await rejection(old.voices());
    expect(err.message).toMatch(/^EdgeTTS voices list: the service refused the client \(HTTP 403\)/);
    expect(old.stats()).toMatchObject({ voiceLists: 1, voiceListsRefused: 1, clockSkewRetries: 1 });
  });

  it('doctor --edge says ACCEPTED against a service that accepts us and REFUSED (with the next step) when it does not', async () => {
    const ok = await checkEdge({ endpoint: server.url });
    expect(ok).toMatchObject({ verdict: 'accepted', clientVersion: '143.0.3650.75', voices: { ok: true, count: 2 }, synthesis: { ok: true } });
    server.minClientVersion = '150.0.0.0';
    const refused = await checkEdge({ endpoint: server.url });
    expect(refused.verdict).toBe('refused');
    expect(refused.advice).toMatch(/TTSAV_EDGE_CLIENT_VERSION/);
    process.env.TTSAV_EDGE_CLIENT_VERSION = '150.0.0.0';
    expect((await checkEdge({ endpoint: server.url })).verdict).toBe('accepted');
    const down = await checkEdge({ endpoint: `ws://127.0.0.1:${await refusedPort()}`, timeoutMs: 3000 });
    expect(down.verdict).toBe('unreachable');
  });
});
