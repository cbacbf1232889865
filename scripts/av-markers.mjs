// Content-based A/V drift measure for publish(): a loop video whose first frame is white (the others black) and a
// click clip exactly one loop long (a 20 ms chirp at sample 0, silence after), played back to back by the feed.
// From what a server recorded or a viewer received, each marker frame's pts (video, decoded) is paired with the
// nearest click's pts (audio, decoded, onset refined by cross-correlation with the chirp); the offset between them
// stays constant within a session unless the loop's timestamp rewriting (or the audio clock) drifts.
// Used by scripts/live-soak.mjs (--markers) and test/publish-drift.test.ts. Needs the ffmpeg/ffprobe CLIs.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const CHIRP_MS = 20;
const CHIRP_AMP = 0.5;

/**
 * The loop video: `frames` frames at `fps` (160x120 H.264, B-frames, a keyframe a second), frame 0 white, the rest
 * black, in the container `file`'s extension names. Its span is frames / fps: exactly in an MP4 (its time base is a
 * multiple of fps); FLV and Matroska round timestamps to milliseconds. `ffmpeg` needs an H.264
 * encoder (the system CLI's libx264 by default; the bundled CLI's libopenh264 works too, without B-frames).
 */
export function makeMarkerLoop(file, { frames = 219, fps = 30, ffmpeg = 'ffmpeg', encoder = 'libx264' } = {}) {
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=black:s=160x120:r=${fps}`, '-frames:v', String(frames),
    '-vf', "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(n,0)'", '-c:v', encoder, '-g', String(fps), '-pix_fmt', 'yuv420p'];
  if (encoder === 'libx264') args.push('-preset', 'ultrafast', '-bf', '2', '-tune', 'zerolatency', '-x264-params', 'bframes=2:b-adapt=0');
  if (file.endsWith('.mp4')) args.push('-video_track_timescale', String(fps * 512));
  execFileSync(ffmpeg, [...args, file]);
  return { file, frames, fps, spanSeconds: frames / fps };
}

/** The click: a 20 ms linear chirp (1 -> 8 kHz), starting at its peak so the onset is sharp. */
export function clickTemplate(sampleRate) {
  const n = Math.round((sampleRate * CHIRP_MS) / 1000);
  const t = new Float32Array(n);
  const f0 = 1000;
  const f1 = 8000;
  const dur = n / sampleRate;
  for (let i = 0; i < n; i++) {
    const x = i / sampleRate;
    t[i] = CHIRP_AMP * Math.cos(2 * Math.PI * (f0 * x + ((f1 - f0) * x * x) / (2 * dur)));
  }
  return t;
}

/** A WAV (16-bit PCM) of exactly `samples` frames: the click at sample 0, silence after, on every channel. */
export function makeClickClip({ sampleRate, channels, samples }) {
  if (!Number.isInteger(samples) || samples <= 0) throw new Error(`a click clip needs a whole number of samples, not ${samples}`);
  const click = clickTemplate(sampleRate);
  const data = Buffer.alloc(samples * channels * 2);
  for (let i = 0; i < Math.min(click.length, samples); i++) {
    const v = Math.round(click[i] * 32767);
    for (let c = 0; c < channels; c++) data.writeInt16LE(v, (i * channels + c) * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/**
 * Keeps `count` clips queued ahead of the feed (no silence between clips: they play back to back). Returns a stop
 * function. Clips are decoded on the threadpool; the ones in flight count as queued.
 */
export function keepFed(feed, clip, { count = 3, everyMs = 250 } = {}) {
  let inFlight = 0;
  const top = () => {
    while (feed.queued + inFlight < count) {
      inFlight++;
      feed.enqueue(clip).then(() => inFlight--, () => inFlight--);
    }
  };
  top();
  const timer = setInterval(top, everyMs);
  return () => clearInterval(timer);
}

/** Audio packets of `file` (first audio stream): pts in seconds, as stored. */
function audioPackets(file, ffprobe) {
  const out = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file],
    { encoding: 'utf8', maxBuffer: 256 << 20 });
  // One line per packet (a side-data line may follow one: it starts with no number).
  return out.split('\n').filter((l) => /^-?\d/.test(l)).map((l) => Number(l.split(',')[0]));
}

/**
 * Click onsets in `file`'s first audio stream, in seconds on the file's own timestamps. The decoded audio (channel
 * 0) is streamed: a sample over a third of the chirp's amplitude after >= minGap s of quiet starts a candidate, then
 * the onset is the lag (within +-4 ms, parabolic sub-sample) where the chirp correlates best. Sample n of a
 * contiguous run of AAC packets (1024 samples each, timestamps within 1 ms of their nominal place) lies at
 * run start + n / rate; a gap starts a new run.
 */
export async function findClicks(file, { sampleRate, ffmpeg = 'ffmpeg', ffprobe = 'ffprobe', minGap = 1 } = {}) {
  const pts = audioPackets(file, ffprobe);
  const frameS = 1024 / sampleRate;
  const runs = []; // [first packet index, pts of it]
  for (let k = 0; k < pts.length; k++) {
    const run = runs[runs.length - 1];
    if (!run || Math.abs(pts[k] - (run[1] + (k - run[0]) * frameS)) > 0.0015) runs.push([k, pts[k]]);
  }
  const timeOf = (n) => {
    const k = Math.floor(n / 1024);
    let run = runs[0];
    for (const r of runs) if (r[0] <= k) run = r;
    return run[1] + (n - run[0] * 1024) / sampleRate;
  };
  const tmpl = clickTemplate(sampleRate);
  const T = tmpl.length;
  const R = Math.round(sampleRate * 0.004);
  const RING = 1 << 15;
  const ring = new Float32Array(RING);
  const thr = CHIRP_AMP / 3;
  const gap = Math.round(minGap * sampleRate);
  let n = 0;
  let quietSince = -gap;
  const pending = [];
  const onsets = [];
  const refine = (n0) => {
    let best = -Infinity;
    let bestLag = 0;
    const score = [];
    for (let lag = -R; lag <= R; lag++) {
      let s = 0;
      const at = n0 + lag;
      for (let i = 0; i < T; i++) s += ring[(at + i) & (RING - 1)] * tmpl[i];
      score.push(s);
      if (s > best) (best = s), (bestLag = lag);
    }
    const i = bestLag + R;
    let frac = 0;
    if (i > 0 && i < score.length - 1) {
      const a = score[i - 1], b = score[i], c = score[i + 1];
      const d = a - 2 * b + c;
      if (d < 0) frac = (0.5 * (a - c)) / d;
    }
    return n0 + bestLag + frac;
  };
  const proc = spawn(ffmpeg, ['-v', 'error', '-nostdin', '-i', file, '-map', '0:a:0', '-af', 'pan=mono|c0=c0', '-f', 'f32le', '-ar', String(sampleRate), '-'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (c) => (err += c));
  let carry = Buffer.alloc(0);
  for await (const chunk of proc.stdout) {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = buf.length - (buf.length % 4);
    for (let o = 0; o < whole; o += 4) {
      const x = buf.readFloatLE(o);
      ring[n & (RING - 1)] = x;
      if (Math.abs(x) > thr) {
        if (n - quietSince >= gap) pending.push(n);
        quietSince = n;
      }
      n++;
      while (pending.length && n >= pending[0] + R + T) onsets.push(refine(pending.shift()));
    }
    carry = buf.subarray(whole);
  }
  const code = await new Promise((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once('close', r)));
  if (code !== 0) throw new Error(`ffmpeg could not decode the audio of ${file}: ${err.slice(-500)}`);
  return { clicks: onsets.map(timeOf), samples: n, packets: pts.length, runs: runs.length };
}

/** Marker frames (mean luma over half scale) in `file`'s first video stream: their pts in seconds, as stored. */
export function findMarkers(file, { ffmpeg = 'ffmpeg', ffprobe = 'ffprobe', tmpDir = path.dirname(file) } = {}) {
  // The filter prints pts_time with 6 significant digits (10 ms steps past 1000 s): the integer pts is used, with
  // the stream's time base (what the decoder's frames carry).
  const [num, den] = execFileSync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=time_base', '-of', 'csv=p=0', file],
    { encoding: 'utf8' }).trim().split('/').map(Number);
  const meta = path.join(tmpDir, `${path.basename(file)}.${process.pid}.yavg.txt`);
  if (/[:,;'\\[\]]/.test(meta)) throw new Error(`a path libavfilter cannot take: ${meta}`);
  execFileSync(ffmpeg, ['-v', 'error', '-nostdin', '-copyts', '-i', file, '-map', '0:v:0', '-vf',
    `signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG:file=${meta}`, '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = fs.readFileSync(meta, 'utf8').split('\n');
  fs.rmSync(meta, { force: true });
  const markers = [];
  let t = NaN;
  let frames = 0;
  for (const line of lines) {
    const m = /pts:\s*(-?\d+)/.exec(line);
    if (m) {
      t = (Number(m[1]) * num) / den;
      frames++;
      continue;
    }
    const y = /YAVG=([\d.]+)/.exec(line);
    if (y && Number(y[1]) > 128 && Number.isFinite(t)) markers.push(t);
  }
  return { markers, frames };
}

/**
 * Pairs each marker with the nearest click: offset = marker pts - click pts (ms), folded by the loop span onto the
 * first one's branch. drift = the largest |offset - first offset|; slope by least squares over the pairs.
 * Click spacing (should be one span exactly: clips back to back) is reported to tell a starved feed from drift.
 */
export function pairOffsets(markers, clicks, spanSeconds) {
  const offs = [];
  let first;
  for (const m of markers) {
    let lo = 0;
    let hi = clicks.length - 1;
    if (hi < 0) break;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (clicks[mid] < m) lo = mid + 1;
      else hi = mid;
    }
    let c = clicks[lo];
    if (lo > 0 && Math.abs(clicks[lo - 1] - m) < Math.abs(c - m)) c = clicks[lo - 1];
    if (Math.abs(m - c) > spanSeconds * 0.75) continue; // no click near this marker (an end of the recording)
    let o = (m - c) * 1000;
    // The same branch for all: the first offset folded into [-span/2, span/2), the others onto it.
    o -= spanSeconds * 1000 * Math.round((o - (first ?? 0)) / (spanSeconds * 1000));
    first ??= o;
    offs.push({ t: m, offsetMs: o });
  }
  const spacing = [];
  for (let i = 1; i < clicks.length; i++) spacing.push((clicks[i] - clicks[i - 1] - spanSeconds) * 1000);
  if (offs.length === 0) return { pairs: 0, clicks: clicks.length, markers: markers.length };
  const vals = offs.map((x) => x.offsetMs);
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const { t, offsetMs } of offs) (sx += t), (sy += offsetMs), (sxx += t * t), (sxy += t * offsetMs);
  const k = offs.length;
  const den = k * sxx - sx * sx;
  const slope = den > 0 ? (k * sxy - sx * sy) / den : 0; // ms per second
  const r2 = (x) => Math.round(x * 100) / 100;
  return {
    pairs: k,
    markers: markers.length,
    clicks: clicks.length,
    firstOffsetMs: r2(vals[0]),
    offsetRangeMs: [r2(Math.min(...vals)), r2(Math.max(...vals))],
    driftMs: r2(Math.max(...vals.map((v) => Math.abs(v - vals[0])))),
    slopeMsPerHour: r2(slope * 3600),
    lastOffsetMs: r2(vals[vals.length - 1]),
    coveredSeconds: r2(offs[offs.length - 1].t - offs[0].t),
    clickSpacingErrorMs: spacing.length ? [r2(Math.min(...spacing)), r2(Math.max(...spacing))] : [],
  };
}

/**
 * Interleave of a file holding both tracks, in its packet order (a server's recording: the order it received
 * them): the largest |last audio ts - last video ts| once both have started, by dts (what the muxer orders by) and
 * by pts (a B-frame's pts is up to the reorder delay past its dts).
 */
export function interleave(file, { ffprobe = 'ffprobe' } = {}) {
  const out = execFileSync(ffprobe, ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time,dts_time', '-of', 'csv=p=0', file],
    { encoding: 'utf8', maxBuffer: 512 << 20 });
  let a, v, vp, dts = 0, pts = 0;
  for (const line of out.split('\n')) {
    const [type, p, d] = line.split(',');
    if (type === 'audio') a = Number(d);
    else if (type === 'video') (v = Number(d)), (vp = Number(p));
    else continue;
    if (a === undefined || v === undefined) continue;
    dts = Math.max(dts, Math.abs(a - v));
    pts = Math.max(pts, Math.abs(a - vp));
  }
  return { maxInterleaveDtsMs: Math.round(dts * 1000), maxInterleavePtsMs: Math.round(pts * 1000) };
}

/** Decodes one file's two tracks and pairs them (`audioFile` when the audio was received into its own file). */
export async function measureFile(file, { spanSeconds, sampleRate, audioFile = file, ffmpeg, ffprobe }) {
  const { markers, frames } = findMarkers(file, { ffmpeg, ffprobe });
  const a = await findClicks(audioFile, { sampleRate, ffmpeg, ffprobe });
  const both = audioFile === file ? interleave(file, { ffprobe }) : {};
  return { ...pairOffsets(markers, a.clicks, spanSeconds), videoFrames: frames, audioPackets: a.packets, audioRuns: a.runs, ...both };
}

/**
 * A viewer: the ffmpeg CLI pulling `url` (rtmp_live), copying the audio and the video into two FLV files (one
 * output per track, so nothing re-interleaves them) with the stream's own timestamps (-copyts), while this side
 * logs, per FLV tag as it arrives, `wallMs,a|v,dtsMs,ptsMs` to `<prefix>.csv` (wallMs: Date.now()).
 * Files: <prefix>-a.flv, <prefix>-v.flv. stop() asks ffmpeg to end; done resolves when it has.
 */
export function pullReceiver(url, prefix, { ffmpeg = 'ffmpeg' } = {}) {
  const out = ['-c', 'copy', '-flush_packets', '1', '-f', 'flv'];
  const proc = spawn(ffmpeg, ['-v', 'error', '-nostdin', '-copyts', '-rtmp_live', 'live', '-analyzeduration', '1000000', '-i', url,
    '-map', '0:a:0', ...out, 'pipe:1', '-map', '0:v:0', ...out, 'pipe:3'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const log = fs.createWriteStream(`${prefix}.csv`);
  let errors = '';
  proc.stderr.on('data', (c) => (errors += c));
  const track = (stream, kind) => {
    const file = fs.createWriteStream(`${prefix}-${kind}.flv`);
    let buf = Buffer.alloc(0);
    let at = 13; // FLV header (9) + the first PreviousTagSize (4)
    stream.on('data', (chunk) => {
      const wall = Date.now();
      file.write(chunk);
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let lines = '';
      while (buf.length >= at + 11) {
        const size = buf.readUIntBE(at + 1, 3);
        if (buf.length < at + 11 + size + 4) break;
        const type = buf[at];
        const dts = (buf.readUIntBE(at + 4, 3) | (buf[at + 7] << 24)) >>> 0;
        const body = at + 11;
        // AAC raw (not the sequence header) / AVC NALUs (not the sequence header), with the composition offset.
        if (type === 8 && size > 2 && buf[body + 1] === 1) lines += `${wall},a,${dts},${dts}\n`;
        else if (type === 9 && size > 5 && buf[body + 1] === 1) {
          const cts = (buf.readIntBE(body + 2, 3));
          lines += `${wall},v,${dts},${dts + cts}\n`;
        }
        at += 11 + size + 4;
      }
      buf = buf.subarray(at);
      at = 0;
      if (lines) log.write(lines);
    });
    return new Promise((r) => stream.once('end', () => file.end(r)));
  };
  const files = Promise.all([track(proc.stdout, 'a'), track(proc.stdio[3], 'v')]);
  const done = new Promise((resolve) =>
    proc.once('close', (code) => files.then(() => log.end(() => resolve({ code, errors })))),
  );
  const stop = () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGINT');
    setTimeout(() => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'), 3000).unref();
  };
  return { done, stop, audio: `${prefix}-a.flv`, video: `${prefix}-v.flv`, log: `${prefix}.csv` };
}

/**
 * From a receiver's arrival log, after its first `settleS` seconds (ffmpeg's probing holds the first second, then
 * hands it over in a burst): how media time advanced against the wall clock (rate error in ppm, least squares over
 * audio tags; media minus wall from the first to the last) and the spread of arrival lag (wall - pts, from the first
 * one's). Interleave is not measured here: the two tracks come through two pipes, read in turns.
 */
export function arrivalStats(csvFile, { settleS = 5 } = {}) {
  const all = fs.readFileSync(csvFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(',').map((x, i) => (i === 1 ? x : Number(x))));
  if (all.length === 0) return { audioTags: 0 };
  const from = all[0][0] + settleS * 1000;
  const rows = all.filter((r) => r[0] >= from);
  const audio = rows.filter((r) => r[1] === 'a');
  if (audio.length < 2) return { audioTags: audio.length };
  const w0 = audio[0][0];
  const p0 = audio[0][3];
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  let lagMin = Infinity, lagMax = -Infinity;
  for (const r of audio) {
    const x = (r[0] - w0) / 1000;
    const y = (r[3] - p0) / 1000;
    (sx += x), (sy += y), (sxx += x * x), (sxy += x * y);
    const lag = r[0] - w0 - (r[3] - p0);
    (lagMin = Math.min(lagMin, lag)), (lagMax = Math.max(lagMax, lag));
  }
  const k = audio.length;
  const slope = (k * sxy - sx * sy) / (k * sxx - sx * sx);
  const last = audio[k - 1];
  return {
    audioTags: k,
    videoTags: rows.length - k,
    wallSeconds: Math.round((last[0] - w0) / 100) / 10,
    mediaMinusWallMs: last[3] - p0 - (last[0] - w0),
    rateErrorPpm: Math.round((slope - 1) * 1e6 * 10) / 10,
    lagSpreadMs: [lagMin, lagMax],
    firstTag: audio[0].slice(0, 4),
    lastTag: last.slice(0, 4),
  };
}
