/**
 * `ttsav doctor --edge`: asks the EdgeTTS service (or TTSAV_EDGE_ENDPOINT / --endpoint) for its voice list and one
 * short synthesis, and says plainly whether it accepted this client — the check to run the day the service starts
 * answering 403, before and after setting TTSAV_EDGE_CLIENT_VERSION.
 */
import { TtsavError } from '../errors';
import { edge, type EdgeStats } from '../tts/edge';

export type EdgeVerdict = 'accepted' | 'refused' | 'unreachable' | 'failed';

export interface EdgeCheck {
  endpoint: string;
  clientVersion: string;
  verdict: EdgeVerdict;
  voices: { ok: true; count: number; ms: number } | { ok: false; code: string; message: string };
  synthesis: { ok: true; bytes: number; seconds: number; ms: number } | { ok: false; code: string; message: string } | { ok: false; skipped: true };
  stats: EdgeStats;
  /** What to do next, in words. */
  advice?: string;
}

function failure(err: unknown): { ok: false; code: string; message: string } {
  return { ok: false, code: err instanceof TtsavError ? err.code : 'ERR_TTSAV_INTERNAL', message: (err as Error).message ?? String(err) };
}

export async function checkEdge(options: { endpoint?: string; timeoutMs?: number } = {}): Promise<EdgeCheck> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const engine = edge({ ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}), timeoutMs, connectTimeoutMs: Math.min(10_000, timeoutMs), maxRetries: 1 });
  const ep = engine.endpoint();
  const report: EdgeCheck = {
    endpoint: `${ep.scheme}://${ep.host}`,
    clientVersion: engine.clientVersion(),
    verdict: 'failed',
    voices: { ok: false, code: '', message: '' },
    synthesis: { ok: false, skipped: true },
    stats: engine.stats(),
  };
  let t = performance.now();
  try {
    const list = await engine.voices({ signal: AbortSignal.timeout(timeoutMs) });
    report.voices = { ok: true, count: list.length, ms: Math.round(performance.now() - t) };
  } catch (err) {
    report.voices = failure(err);
  }
  const refusedVoices = engine.stats().voiceListsRefused > 0;
  if (!refusedVoices) {
    t = performance.now();
    try {
      const s = await engine.synthesize('Checking the connection.', { signal: AbortSignal.timeout(timeoutMs) });
      report.synthesis = { ok: true, bytes: s.bytes, seconds: Math.round(s.durationSeconds * 1000) / 1000, ms: Math.round(performance.now() - t) };
    } catch (err) {
      report.synthesis = failure(err);
    }
  }
  report.stats = engine.stats();
  const refused = report.stats.refused > 0 || report.stats.voiceListsRefused > 0;
  if (report.voices.ok && report.synthesis.ok) report.verdict = 'accepted';
  else if (refused) {
    report.verdict = 'refused';
    report.advice =
      `The service refused Edge ${report.clientVersion}. Find the current stable Edge version (edge://version, or the ` +
      `version current edge-tts clients send) and retry with TTSAV_EDGE_CLIENT_VERSION=<version> ttsav doctor --edge; ` +
      `if that works, pass edge({ clientVersion }) or keep the variable set, and report it so the default moves.`;
  } else {
    const messages = [report.voices, report.synthesis].filter((r): r is { ok: false; code: string; message: string } => !r.ok && 'message' in r).map((r) => r.message);
    report.verdict = messages.some((m) => /cannot connect|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|connect/i.test(m)) ? 'unreachable' : 'failed';
    if (report.verdict === 'unreachable') report.advice = 'No connection to the service: check the network, a proxy, or TTSAV_EDGE_ENDPOINT.';
  }
  return report;
}

export function formatEdgeCheck(c: EdgeCheck): string[] {
  const out = [`edge         ${c.endpoint} as Edge ${c.clientVersion}: ${c.verdict.toUpperCase()}`];
  out.push(c.voices.ok ? `  voice list   ok, ${c.voices.count} voices in ${c.voices.ms} ms` : `  voice list   ${c.voices.code}: ${c.voices.message}`);
  if (c.synthesis.ok) out.push(`  synthesis    ok, ${c.synthesis.bytes} bytes of MP3 (${c.synthesis.seconds} s) in ${c.synthesis.ms} ms`);
  else if ('skipped' in c.synthesis) out.push('  synthesis    skipped (the voice list was refused)');
  else out.push(`  synthesis    ${c.synthesis.code}: ${c.synthesis.message}`);
  if (c.advice) out.push(`  next step    ${c.advice}`);
  return out;
}
