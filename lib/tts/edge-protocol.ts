/**
 * The EdgeTTS ("Read Aloud") wire protocol: URLs and the Sec-MS-GEC token, the messages a client sends, parsing
 * what the service sends back, and splitting long text into requests the service accepts.
 */
import { createHash, randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { TtsavError } from '../errors';
import { invalidOption, object } from '../validate';

export const TRUSTED_CLIENT_TOKEN = '6A5AA1D4EAFF4E9FB37E23D68491D6F4';
export const DEFAULT_ENDPOINT = 'wss://speech.platform.bing.com';
export const SYNTHESIZE_PATH = '/consumer/speech/synthesize/readaloud/edge/v1';
export const VOICES_PATH = '/consumer/speech/synthesize/readaloud/voices/list';
/**
 * The Edge browser version the client presents (User-Agent, Sec-CH-UA and Sec-MS-GEC-Version all derive from it).
 * The service refuses versions it considers too old (HTTP 403): in January 2026 it began refusing 130.0.2849.68.
 * Overridable without a release: edge({ clientVersion }) or env TTSAV_EDGE_CLIENT_VERSION.
 */
export const EDGE_CLIENT_VERSION = '143.0.3650.75';
export const OUTPUT_FORMAT = 'audio-24khz-48kbitrate-mono-mp3';
export const ORIGIN = 'chrome-extension://jdiccldimpdaibmpdkjnbmckianbfold';

const CLIENT_VERSION_RE = /^\d{1,4}\.\d{1,4}\.\d{1,5}\.\d{1,5}$/;

/** Checks an Edge version string like '143.0.3650.75'. */
export function checkClientVersion(value: unknown, name = 'clientVersion'): string {
  if (typeof value !== 'string' || !CLIENT_VERSION_RE.test(value.trim()))
    throw invalidOption(name, `an Edge browser version like '${EDGE_CLIENT_VERSION}'`, value);
  return value.trim();
}

export function secMsGecVersion(clientVersion: string): string {
  return `1-${clientVersion}`;
}

function major(clientVersion: string): string {
  return clientVersion.split('.', 1)[0]!;
}

export function userAgent(clientVersion: string): string {
  const m = major(clientVersion);
  return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${m}.0.0.0 Safari/537.36 Edg/${m}.0.0.0`;
}

export function secChUa(clientVersion: string): string {
  const m = major(clientVersion);
  return `" Not;A Brand";v="99", "Microsoft Edge";v="${m}", "Chromium";v="${m}"`;
}

/** A fresh `muid` cookie value: 16 random bytes as 32 uppercase hex digits (the browser's machine id). */
export function muid(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

/** Seconds between 1601-01-01 (Windows file time epoch) and 1970-01-01. */
const WINDOWS_EPOCH_OFFSET = 11644473600n;

/**
 * The Sec-MS-GEC token: SHA-256 of the Windows file time (100 ns ticks since 1601) rounded down to 5 minutes,
 * followed by the trusted client token, as uppercase hex. `nowMs` is the (skew-corrected) Unix time in ms.
 */
export function secMsGec(nowMs: number, token = TRUSTED_CLIENT_TOKEN): string {
  let seconds = BigInt(Math.floor(nowMs / 1000)) + WINDOWS_EPOCH_OFFSET;
  seconds -= seconds % 300n;
  return createHash('sha256').update(`${seconds * 10_000_000n}${token}`, 'ascii').digest('hex').toUpperCase();
}

export interface Endpoint {
  /** 'wss:' or 'ws:' */
  scheme: 'ws' | 'wss';
  /** host[:port] */
  host: string;
}

/** Parses `ws://host:port` or `wss://host[:port]` (a trailing '/' is allowed; a path is not: the protocol's stays). */
export function parseEndpoint(value: unknown, name = 'endpoint'): Endpoint {
  const m = typeof value === 'string' ? /^(wss?):\/\/([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?\/?$/.exec(value.trim()) : null;
  if (!m) throw invalidOption(name, "a URL like 'wss://speech.platform.bing.com' or 'ws://127.0.0.1:8080' (scheme, host and port only)", value);
  const port = m[3] ? Number(m[3].slice(1)) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) throw invalidOption(name, 'a port between 1 and 65535', value);
  return { scheme: m[1] as 'ws' | 'wss', host: `${m[2]}${m[3] ?? ''}` };
}

export function connectionId(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, '');
}

export function synthesizeUrl(ep: Endpoint, nowMs: number, clientVersion: string, connId = connectionId()): string {
  return (
    `${ep.scheme}://${ep.host}${SYNTHESIZE_PATH}?TrustedClientToken=${TRUSTED_CLIENT_TOKEN}` +
    `&Sec-MS-GEC=${secMsGec(nowMs)}&Sec-MS-GEC-Version=${secMsGecVersion(clientVersion)}&ConnectionId=${connId}`
  );
}

export function voicesUrl(ep: Endpoint, nowMs: number, clientVersion: string): string {
  const scheme = ep.scheme === 'ws' ? 'http' : 'https';
  return (
    `${scheme}://${ep.host}${VOICES_PATH}?trustedclienttoken=${TRUSTED_CLIENT_TOKEN}` +
    `&Sec-MS-GEC=${secMsGec(nowMs)}&Sec-MS-GEC-Version=${secMsGecVersion(clientVersion)}`
  );
}

/** zstd is offered only where this Node can decode it (zlib.zstdDecompress: Node >= 22.15). */
const CAN_ZSTD = typeof (zlib as unknown as { zstdDecompressSync?: unknown }).zstdDecompressSync === 'function';

/**
 * Headers of the websocket upgrade, as current clients send them: the browser's User-Agent, the extension's
 * Origin, a fresh muid cookie per connection, and `extra` (edge({ headers })) last, so they override.
 * Accept-Encoding names zstd like the browser does; it is only a capability claim on a websocket (frames are not
 * content-encoded and per-message deflate stays off).
 */
export function websocketHeaders(clientVersion: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    Pragma: 'no-cache',
    'Cache-Control': 'no-cache',
    Origin: ORIGIN,
    'User-Agent': userAgent(clientVersion),
    'Accept-Encoding': 'gzip, deflate, br, zstd',
    'Accept-Language': 'en-US,en;q=0.9',
    Cookie: `muid=${muid()};`,
    ...extra,
  };
}

/** Headers of the voice-list GET: the browser's fetch headers and a fresh muid; zstd only where Node decodes it. */
export function voiceListHeaders(clientVersion: string, host: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    Authority: host,
    'Sec-CH-UA': secChUa(clientVersion),
    'Sec-CH-UA-Mobile': '?0',
    'User-Agent': userAgent(clientVersion),
    Accept: '*/*',
    'Sec-Fetch-Site': 'none',
    'Sec-Fetch-Mode': 'cors',
    'Sec-Fetch-Dest': 'empty',
    'Accept-Encoding': CAN_ZSTD ? 'gzip, deflate, br, zstd' : 'gzip, deflate, br',
    'Accept-Language': 'en-US,en;q=0.9',
    Cookie: `muid=${muid()};`,
    ...extra,
  };
}

/** Decodes an HTTP body by its Content-Encoding (identity, gzip, deflate, br, zstd where Node has it). */
export function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  try {
    if (e === '' || e === 'identity') return body;
    if (e === 'gzip' || e === 'x-gzip') return zlib.gunzipSync(body);
    if (e === 'deflate') return zlib.inflateSync(body);
    if (e === 'br') return zlib.brotliDecompressSync(body);
    if (e === 'zstd' && CAN_ZSTD) return (zlib as unknown as { zstdDecompressSync(b: Buffer): Buffer }).zstdDecompressSync(body);
  } catch (err) {
    throw new TtsavError('ERR_TTSAV_TTS', `EdgeTTS voices list: the ${e} body does not decode: ${(err as Error).message}`);
  }
  throw new TtsavError('ERR_TTSAV_TTS', `EdgeTTS voices list: the service answered with Content-Encoding '${e}', which was not offered`);
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_HEADERS = new Set(['host', 'connection', 'upgrade', 'content-length', 'transfer-encoding', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);

/** Checks edge({ headers }): names are HTTP tokens, values have no line breaks, transport headers stay ours. */
export function checkExtraHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  const headers = object('headers', value, 'an object of header names to string values');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!HEADER_NAME.test(k)) throw invalidOption('headers', 'HTTP header names (letters, digits and -)', k);
    if (RESERVED_HEADERS.has(k.toLowerCase())) throw invalidOption('headers', `headers other than ${[...RESERVED_HEADERS].join(', ')} (the transport sets those)`, k);
    if (typeof v !== 'string' || /[\r\n\0]/.test(v)) throw invalidOption(`headers['${k}']`, 'a string without line breaks', v);
    out[k] = v;
  }
  return out;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** The X-Timestamp the browser sends: 'Thu Nov 28 2026 12:00:00 GMT+0000 (Coordinated Universal Time)'. */
export function timestamp(nowMs: number): string {
  const d = new Date(nowMs);
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT+0000 (Coordinated Universal Time)`
  );
}

export function speechConfigMessage(nowMs: number): string {
  const config = {
    context: {
      synthesis: {
        audio: {
          metadataoptions: { sentenceBoundaryEnabled: 'false', wordBoundaryEnabled: 'true' },
          outputFormat: OUTPUT_FORMAT,
        },
      },
    },
  };
  return (
    `X-Timestamp:${timestamp(nowMs)}\r\nContent-Type:application/json; charset=utf-8\r\nPath:speech.config\r\n\r\n` +
    `${JSON.stringify(config)}\r\n`
  );
}

/** 'en-US-AriaNeural' → 'Microsoft Server Speech Text to Speech Voice (en-US, AriaNeural)'. */
export function fullVoiceName(voice: string): string {
  if (voice.startsWith('Microsoft Server Speech Text to Speech Voice (')) return voice;
  const i = voice.lastIndexOf('-');
  return `Microsoft Server Speech Text to Speech Voice (${voice.slice(0, i)}, ${voice.slice(i + 1)})`;
}

const SHORT_VOICE = /^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){1,3}-[A-Za-z0-9]+Neural$/;
const FULL_VOICE = /^Microsoft Server Speech Text to Speech Voice \([a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){1,3}, [A-Za-z0-9]+Neural\)$/;

export function checkEdgeVoice(voice: unknown): string {
  if (typeof voice !== 'string' || !(SHORT_VOICE.test(voice) || FULL_VOICE.test(voice)))
    throw invalidOption('voice', "an EdgeTTS voice name like 'en-US-AriaNeural' or 'zh-CN-XiaoxiaoNeural'", voice);
  return voice;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function ssmlMessage(requestId: string, nowMs: number, voice: string, prosody: { rate: string; pitch: string; volume: string }, escapedText: string): string {
  return (
    `X-RequestId:${requestId}\r\nContent-Type:application/ssml+xml\r\nX-Timestamp:${timestamp(nowMs)}Z\r\nPath:ssml\r\n\r\n` +
    `<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang='en-US'>` +
    `<voice name='${escapeXml(fullVoiceName(voice))}'><prosody pitch='${prosody.pitch}' rate='${prosody.rate}' volume='${prosody.volume}'>` +
    `${escapedText}</prosody></voice></speak>`
  );
}

/** The five predefined XML entities back to characters (the service sends WordBoundary text as it sits in SSML). */
export function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!);
}

/** Splits a text message into its header map and body. */
export function parseTextMessage(data: string): { headers: Record<string, string>; body: string } {
  const split = data.indexOf('\r\n\r\n');
  const head = split < 0 ? data : data.slice(0, split);
  const body = split < 0 ? '' : data.slice(split + 4);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

/** A binary message: [uint16 BE header length][headers][payload]. */
export function parseBinaryMessage(data: Buffer): { headers: Record<string, string>; payload: Buffer } {
  if (data.length < 2) throw new TtsavError('ERR_TTSAV_TTS', 'EdgeTTS sent a binary message shorter than its header length field');
  const len = data.readUInt16BE(0);
  if (2 + len > data.length) throw new TtsavError('ERR_TTSAV_TTS', `EdgeTTS sent a binary message whose header length (${len}) exceeds it (${data.length} bytes)`);
  return { headers: parseTextMessage(data.toString('utf8', 2, 2 + len)).headers, payload: data.subarray(2 + len) };
}

export interface RawWordBoundary {
  text: string;
  /** 100 ns ticks */
  offset: number;
  duration: number;
}

/** Reads the WordBoundary entries of an audio.metadata body. */
export function parseMetadata(body: string): RawWordBoundary[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new TtsavError('ERR_TTSAV_TTS', 'EdgeTTS sent audio.metadata that is not JSON');
  }
  const out: RawWordBoundary[] = [];
  const list = (json as { Metadata?: unknown }).Metadata;
  if (!Array.isArray(list)) return out;
  for (const m of list as { Type?: string; Data?: { Offset?: number; Duration?: number; text?: { Text?: string } } }[]) {
    if (m.Type !== 'WordBoundary' || !m.Data) continue;
    const { Offset, Duration, text } = m.Data;
    if (typeof Offset !== 'number' || typeof Duration !== 'number' || typeof text?.Text !== 'string') continue;
    out.push({ text: unescapeXml(text.Text), offset: Offset, duration: Duration });
  }
  return out;
}

// Characters XML 1.0 does not allow (the service rejects the request), replaced by spaces.
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const SENTENCE_END = /[.!?。！？；;…]/;

function escapedBytes(ch: string): number {
  switch (ch) {
    case '&':
      return 5;
    case '<':
    case '>':
      return 4;
    case '"':
    case "'":
      return 6;
    default:
      return Buffer.byteLength(ch, 'utf8');
  }
}

/**
 * Splits text into pieces whose XML-escaped UTF-8 size is at most maxBytes, cutting at the last line break or
 * sentence end in the second half of the window, else at the last space, else at a sentence end anywhere, else
 * between characters (never inside a surrogate pair or an escape). Line breaks become spaces within a piece.
 */
export function splitText(text: string, maxBytes: number): string[] {
  const clean = text.replace(INVALID_XML, ' ').replace(/\r\n?/g, '\n');
  const chars = Array.from(clean);
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let bytes = 0;
    let end = start;
    while (end < chars.length && bytes + escapedBytes(chars[end]!) <= maxBytes) bytes += escapedBytes(chars[end++]!);
    if (end === start) end = start + 1; // one character over the limit on its own: cannot happen for maxBytes >= 6
    let cut = end;
    if (end < chars.length) {
      let lastBreak = -1;
      let lastSpace = -1;
      for (let i = end - 1; i > start; i--) {
        const c = chars[i]!;
        if (lastBreak < 0 && (c === '\n' || SENTENCE_END.test(c))) lastBreak = i + 1;
        if (lastSpace < 0 && /\s/.test(c)) lastSpace = i + 1;
        if (lastBreak >= 0 && lastSpace >= 0) break;
      }
      const half = start + (end - start) / 2;
      if (lastBreak > half) cut = lastBreak;
      else if (lastSpace > start) cut = lastSpace;
      else if (lastBreak > start) cut = lastBreak;
    }
    const piece = chars.slice(start, cut).join('').replace(/\s*\n\s*/g, ' ').replace(/[ \t]+/g, ' ').trim();
    if (piece !== '') pieces.push(piece);
    start = cut;
  }
  return pieces;
}
