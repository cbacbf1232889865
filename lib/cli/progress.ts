/** Progress and summary output of `ttsav transcode` over many files. */

export interface Tally {
  total: number;
  ok: number;
  skipped: number;
  failed: number;
  audioSeconds: number;
  outputBytes: number;
  startedAt: number;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A one-line bar on a terminal, redrawn at most 10 times a second. */
export class ProgressBar {
  private last = 0;
  private drawn = false;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(t: Tally, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const done = t.ok + t.failed + t.skipped;
    const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 60));
    const filled = t.total > 0 ? Math.round((done / t.total) * width) : 0;
    const elapsed = now - t.startedAt;
    const processed = t.ok + t.failed;
    const remaining = t.total - done;
    const eta = processed > 0 ? (elapsed / processed) * remaining : NaN;
    const speed = elapsed > 0 ? t.audioSeconds / (elapsed / 1000) : 0;
    const line =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${t.total}` +
      (t.failed ? ` ${t.failed} failed` : '') +
      ` ${t.audioSeconds.toFixed(1)} s audio ${speed.toFixed(1)}x ETA ${formatDuration(eta)}`;
    const cols = this.stream.columns ?? 80;
    this.stream.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the bar so that a normal line can be printed. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

/** The table printed after a batch. */
export function summaryTable(t: Tally, wallMs: number): string {
  const realtime = wallMs > 0 ? t.audioSeconds / (wallMs / 1000) : 0;
  const head = ['files', 'ok', 'skipped', 'failed', 'audio', 'wall', 'x realtime', 'output'];
  const row = [
    String(t.total),
    String(t.ok),
    String(t.skipped),
    String(t.failed),
    `${t.audioSeconds.toFixed(1)} s`,
    `${(wallMs / 1000).toFixed(2)} s`,
    `${realtime.toFixed(1)}x`,
    formatBytes(t.outputBytes),
  ];
  const widths = head.map((h, i) => Math.max(h.length, row[i]!.length));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return `${fmt(head)}\n${fmt(row)}`;
}
