// One cell of the throughput table, in a fresh Node process: one contender, one corpus, one concurrency.
// bench/run.mjs starts it as `node cell.mjs '<json>'` and reads one JSON line from stdout.
//
// config: { kind: 'spawn' | 'ttsav' | 'pool' | 'nodeav' | 'nodeav-sync', settings: 'seed' | 'speech', conc: number | 'auto',
//           list: file with one input path a line, repeat?: times through the list (default 1),
//           outDir?: where spawned ffmpeg writes (a tmpfs), ttsav?: path of ttsav's dist/index.js,
//           sampleMs?: RSS sampling period (0: none) }
//
// Everything is loaded and warmed up (one untimed job) before the clock starts. Reported: files, wallMs, cpuMs
// (this process: main thread + libuv pool), childCpuMs (reaped children: the ffmpeg processes), peakRssKB (this
// process's VmHWM), sampledPeakRssKB (max of periodic samples, when sampleMs > 0), outBytes.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const config = JSON.parse(process.argv[2]);
const paths = readFileSync(config.list, 'utf8').split('\n').filter(Boolean);
const repeat = config.repeat ?? 1;
const total = paths.length * repeat;

/** CPU of this process and of its reaped children, from /proc/self/stat (clock ticks of 10 ms). */
function procCpu() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime = field 14, stime 15, cutime 16, cstime 17.
  const tick = 10; // ms; sysconf(_SC_CLK_TCK) = 100 on Linux
  return { self: (Number(f[11]) + Number(f[12])) * tick, children: (Number(f[13]) + Number(f[14])) * tick };
}

function rssKB(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** The seed recipe and the speech preset, spelled for each contender. */
const SETTINGS = {
  seed: {
    // `ffmpeg -i in.mp3 -c:a aac -b:a 192k -ar 44100 -ac 2 -f mp4 out.m4a`: balanced preset, no faststart.
    ttsav: { faststart: false },
    ffmpeg: ['-c:a', 'aac', '-b:a', '192k', '-ar', '44100', '-ac', '2', '-f', 'mp4'],
    nodeav: { sampleRate: 44100, channels: 2, bitrate: 192000, aacCoder: 'twoloop' },
  },
  speech: {
    ttsav: { preset: 'speech' },
    ffmpeg: ['-c:a', 'aac', '-aac_coder', 'fast', '-b:a', '64k', '-ac', '1', '-movflags', '+faststart', '-f', 'mp4'],
    nodeav: { sampleRate: 0, channels: 1, bitrate: 64000, aacCoder: 'fast', faststart: true }, // (sync contender only)
  },
};
const settings = SETTINGS[config.settings];

/** Runs `job(i)` for i in [0, total) with at most `limit` in flight (a plain semaphore of async workers). */
async function limited(limit, job) {
  let next = 0;
  const worker = async () => {
    for (let i; (i = next++) < total; ) await job(i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, total) }, worker));
}

let outBytes = 0;
let busyMs = 0; // ttsav: the jobs' own time on their threads (result.timings.total), summed
let runBatch;
let warm;
let cleanup; // what keeps the process alive after the batch (worker threads)

if (config.kind === 'spawn') {
  const outDir = path.join(config.outDir, `out-${process.pid}`);
  mkdirSync(outDir, { recursive: true });
  const spawnOne = (i) =>
    new Promise((resolve, reject) => {
      const input = paths[i % paths.length];
      const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', input, ...settings.ffmpeg,
        path.join(outDir, `${i % paths.length}.m4a`)], { stdio: 'ignore' });
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code} on ${input}`))));
    });
  warm = () => spawnOne(0);
  runBatch = () => limited(config.conc, spawnOne);
  process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));
} else {
  const inputs = paths.map((p) => readFileSync(p));
  if (config.kind === 'nodeav') {
    const { nodeAvTranscode } = await import('./nodeav.mjs');
    const one = async (i) => {
      const data = await nodeAvTranscode(inputs[i % inputs.length], settings.nodeav);
      outBytes += data.length; // (not `outBytes += await …`: that reads outBytes before the await)
    };
    warm = () => one(0);
    runBatch = () => limited(config.conc, one);
  } else if (config.kind === 'nodeav-sync') {
    // node-av's sync API on worker_threads: one job per thread, as many threads as the concurrency. Every thread is
    // started and warmed up (one job each) before the clock starts, as ttsav's threadpool is.
    const { createNodeAvSyncWorkers } = await import('./nodeav-sync.mjs');
    const workers = createNodeAvSyncWorkers(config.conc, settings.nodeav);
    const one = async (i) => {
      const data = await workers.transcode(inputs[i % inputs.length]);
      outBytes += data.length;
    };
    warm = () => Promise.all(Array.from({ length: config.conc }, () => one(0)));
    runBatch = () => limited(config.conc, one);
    cleanup = () => workers.close();
  } else {
    const ttsav = createRequire(import.meta.url)(config.ttsav ?? '../dist/index.js');
    if (config.kind === 'ttsav') {
      const one = async (i) => {
        const { data, timings } = await ttsav.transcode(inputs[i % inputs.length], settings.ttsav);
        outBytes += data.length;
        busyMs += timings.total;
      };
      warm = () => one(0);
      runBatch = () => limited(config.conc, one);
    } else if (config.kind === 'pool') {
      const pool = ttsav.createPool({ concurrency: config.conc, defaults: settings.ttsav });
      warm = async () => {
        const { data } = await pool.transcode(inputs[0]);
        outBytes += data.length;
      };
      runBatch = async () => {
        // A lazy source, as a service reading clips as they come: the pool pulls with bounded read-ahead.
        function* items() {
          for (let i = 0; i < total; i++) yield inputs[i % inputs.length];
        }
        for await (const item of pool.transcodeMany(items(), { ordered: false, total })) {
          if (item.error) throw item.error;
          outBytes += item.result.data.length;
          busyMs += item.result.timings.total;
        }
      };
    } else throw new Error(`unknown kind ${config.kind}`);
  }
}

await warm();
outBytes = 0;
busyMs = 0;
let sampledPeak = 0;
const t0 = performance.now();
const trace = [];
const sampler = config.sampleMs > 0
  ? setInterval(() => {
      const rss = rssKB('VmRSS');
      sampledPeak = Math.max(sampledPeak, rss);
      if (config.trace) trace.push([Math.round(performance.now() - t0), rss, Math.round(process.memoryUsage().external / 1024), Math.round(process.memoryUsage().heapUsed / 1024)]);
    }, config.sampleMs)
  : undefined;
const cpu0 = procCpu();
const u0 = process.cpuUsage();
await runBatch();
const wallMs = performance.now() - t0;
const u1 = process.cpuUsage(u0);
const cpu1 = procCpu();
if (sampler) clearInterval(sampler);
process.stdout.write(
  JSON.stringify({
    files: total,
    wallMs,
    cpuMs: (u1.user + u1.system) / 1000,
    childCpuMs: cpu1.children - cpu0.children,
    peakRssKB: rssKB('VmHWM'),
    sampledPeakRssKB: sampledPeak || undefined,
    outBytes,
    busyMs: busyMs || undefined,
    trace: config.trace ? trace : undefined,
  }) + '\n',
);
await cleanup?.();
