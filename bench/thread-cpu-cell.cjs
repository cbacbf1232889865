// One cell of bench/thread-cpu.mjs, in a fresh process: a batch of transcodes at concurrency 2 with each thread's
// on-CPU time (/proc/self/task/<tid>/schedstat) before and after. CommonJS on purpose: an ES module's loading uses
// the libuv threadpool, and this file must list the threads that exist before the threadpool starts.
'use strict';
const { readFileSync, readdirSync } = require('node:fs');

// Threads that exist before anything used the libuv threadpool (main, V8's platform workers, the inspector's):
// libuv starts its threadpool threads on first use, so any thread not in this set is one of them.
const startupThreads = new Set(readdirSync('/proc/self/task'));

const SETTINGS = { seed: { faststart: false }, speech: { preset: 'speech' } };

/** On-CPU ns of every thread of this process, by tid, with its name. */
function threads() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { ns, comm });
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function runCell(config) {
  const paths = readFileSync(config.list, 'utf8').split('\n').filter(Boolean);
  const inputs = paths.map((p) => readFileSync(p));
  const total = inputs.length * config.repeat;
  const ttsav = require(config.ttsav);
  const options = SETTINGS[config.settings];
  let batch;
  if (config.kind === 'pool') {
    const pool = ttsav.createPool({ concurrency: 2, defaults: options });
    await pool.transcode(inputs[0]);
    batch = async () => {
      function* items() {
        for (let i = 0; i < total; i++) yield inputs[i % inputs.length];
      }
      for await (const item of pool.transcodeMany(items(), { ordered: false, total })) if (item.error) throw item.error;
    };
  } else {
    // transcode() behind a semaphore: `inflight` calls out at once (2: awaited two at a time, as bench/cell.mjs;
    // more: concurrent calls queue).
    await ttsav.transcode(inputs[0], options);
    batch = async () => {
      let next = 0;
      const worker = async () => {
        for (let i; (i = next++) < total; ) await ttsav.transcode(inputs[i % inputs.length], options);
      };
      await Promise.all(Array.from({ length: config.inflight }, worker));
    };
  }
  const pid = String(process.pid);
  const mainStat = () => {
    const st = readFileSync(`/proc/self/task/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/self/task/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)[1]);
    // utime, stime: clock ticks of 10 ms.
    return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10, vol: field('voluntary_ctxt_switches'), invol: field('nonvoluntary_ctxt_switches') };
  };
  const m0 = mainStat();
  const before = threads();
  const t0 = performance.now();
  await batch();
  const wallMs = performance.now() - t0;
  const after = threads();
  const m1 = mainStat();
  const groups = { main: 0, libuv: 0, other: 0 };
  for (const [tid, { ns, comm }] of after) {
    const d = ns - (before.get(tid)?.ns ?? 0);
    if (tid === pid) groups.main += d;
    else if (!startupThreads.has(tid)) groups.libuv += d;
    else groups.other += d;
  }
  const perJob = (ns) => ns / 1e6 / total;
  const main = {
    userMs: (m1.user - m0.user) / total,
    sysMs: (m1.sys - m0.sys) / total,
    wakeups: (m1.vol - m0.vol) / total,
    preempted: (m1.invol - m0.invol) / total,
  };
  return { files: total, wallMs, mainMs: perJob(groups.main), libuvMs: perJob(groups.libuv), otherMs: perJob(groups.other), main };
}


runCell(JSON.parse(process.argv[2])).then((out) => process.stdout.write(JSON.stringify(out) + '\n'));
