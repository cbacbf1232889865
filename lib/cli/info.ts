/** `ttsav probe` and `ttsav doctor`. */
import os from 'node:os';
import { formats, hwDevices } from '../capabilities';
import { defaultConcurrency } from '../pool';
import { probe } from '../probe';
import { versions } from '../versions';
import { checkEdge, formatEdgeCheck, type EdgeCheck } from './edge-check';
import { describeError, readInput } from './common';

export async function runProbe(file: string, flags: { json?: boolean; inputFormat?: string }): Promise<number> {
  try {
    const r = await probe(await readInput(file), flags.inputFormat ? { inputFormat: flags.inputFormat } : {});
    if (flags.json) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return 0;
    }
    const duration =
      r.durationSeconds === undefined ? 'unknown' : `${r.durationSeconds.toFixed(3)} s${r.durationEstimated ? ' (estimated from the bitrate)' : ''}`;
    const lines = [
      `file:      ${file}`,
      `container: ${r.container}`,
      `codec:     ${r.codec}`,
      `audio:     ${r.sampleRate} Hz, ${r.channels} ch (${r.layout})`,
      `bitrate:   ${r.bitrate ? `${Math.round(r.bitrate / 1000)} kb/s` : 'unknown'}`,
      `duration:  ${duration}`,
    ];
    const tags = Object.entries(r.tags);
    if (tags.length > 0) lines.push('tags:', ...tags.map(([k, v]) => `  ${k}: ${v}`));
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`ttsav: ${describeError(err)}\n`);
    return 1;
  }
}

/** What the machine offers ttsav. `userThreadpool` is UV_THREADPOOL_SIZE as the user set it (the CLI may raise it). */
export async function runDoctor(flags: { json?: boolean; edge?: boolean; endpoint?: string }, userThreadpool: string | undefined): Promise<number> {
  const report: Record<string, unknown> = {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    memory: { totalBytes: os.totalmem(), freeBytes: os.freemem() },
    threadpool: {
      UV_THREADPOOL_SIZE: userThreadpool ?? null,
      size: userThreadpool ? Number(userThreadpool) : 4,
      note: 'libuv threads shared by transcodes, fs, dns.lookup, zlib and crypto; set UV_THREADPOOL_SIZE before the pool is first used to change it',
    },
  };
  let healthy = true;
  try {
    const v = versions();
    report.versions = v;
    for (const lib of Object.values(v.libraries)) if (!lib.compatible) healthy = false;
    report.formats = formats();
    report.hwDevices = await hwDevices();
    report.defaultPoolConcurrency = Math.min(report.cores as number, userThreadpool ? Number(userThreadpool) || 4 : 4);
  } catch (err) {
    healthy = false;
    report.error = describeError(err);
  }
  if (flags.edge) {
    try {
      const c = await checkEdge(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {});
      report.edge = c;
      if (c.verdict !== 'accepted') healthy = false;
    } catch (err) {
      healthy = false;
      report.edge = { verdict: 'failed', error: describeError(err) };
    }
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify({ healthy, ...report }, null, 2) + '\n');
    return healthy ? 0 : 1;
  }
  const out: string[] = [];
  out.push(`node         ${report.node} (${report.platform})`);
  out.push(`cores        ${report.cores}`);
  out.push(`memory       ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free`);
  out.push(
    `threadpool   UV_THREADPOOL_SIZE=${userThreadpool ?? '(unset: 4)'}; createPool() default concurrency here: ` +
      `${report.defaultPoolConcurrency ?? defaultConcurrency()}`,
  );
  if (report.error) out.push(`ttsav        NOT USABLE: ${report.error as string}`);
  else {
    const v = report.versions as ReturnType<typeof versions>;
    out.push(`ttsav        ${v.ttsav} (N-API ${v.napi}), FFmpeg ${v.ffmpeg} (${v.build}, ${v.license})`);
    for (const [name, lib] of Object.entries(v.libraries))
      out.push(`  lib${name.padEnd(11)} compiled ${lib.compiled}, runtime ${lib.runtime}${lib.compatible ? '' : '  INCOMPATIBLE'}`);
    out.push('formats');
    for (const f of report.formats as ReturnType<typeof formats>)
      out.push(`  ${f.format.padEnd(6)} ${f.codec.padEnd(5)} .${f.extension.padEnd(5)} ${f.available ? 'ok' : `missing (${f.muxer} muxer / ${f.encoder} encoder)`}`);
    out.push('hardware devices (none is used for audio: no libav AAC/Opus/MP3 encoder or audio filter runs on one)');
    const hw = report.hwDevices as Awaited<ReturnType<typeof hwDevices>>;
    if (hw.length === 0) out.push('  (this libav supports none)');
    for (const d of hw) out.push(`  ${d.type.padEnd(12)} ${d.available ? 'available' : `unavailable${d.reason ? `: ${d.reason}` : ''}`}`);
  }
  if (report.edge) {
    const e = report.edge as EdgeCheck | { verdict: 'failed'; error: string };
    if ('error' in e) out.push(`edge         FAILED: ${e.error}`);
    else out.push(...formatEdgeCheck(e));
  }
  out.push(healthy ? 'ok' : 'problems found');
  process.stdout.write(out.join('\n') + '\n');
  return healthy ? 0 : 1;
}
