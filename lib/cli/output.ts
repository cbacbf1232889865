/**
 * Writing outputs so that no data is ever lost: the bytes go to a hidden temporary name in the target's
 * directory, are flushed to disk, then take the final name in one step. A crash or a kill at any point leaves
 * either the old state or the whole new file under the final name, never a partial one (at worst a
 * `.<name>.<pid>.<random>.partial` file is left behind). An existing file is only replaced with `force`.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

export class OutputExistsError extends Error {
  readonly code = 'EEXIST';
  constructor(readonly target: string) {
    super(`${target} exists; kept it (pass --force to overwrite)`);
  }
}

/** The temporary name used for `target` (exported for tests and docs). */
export function partialName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
}

export async function exists(target: string): Promise<boolean> {
  try {
    await stat(target);
    return true;
  } catch {
    return false;
  }
}

/**
 * The new name is durable only once the directory entry is: flush the directory (where the platform allows).
 * Writers into the same directory share flushes (group commit): a caller waits for a flush that started after its
 * call, i.e. after its rename, so one flush can make several renames durable; at most one runs per directory and
 * at most one more is queued behind it.
 */
const dirFlushes = new Map<string, { running: Promise<void>; queued?: Promise<void> }>();

function syncDirectory(dir: string): Promise<void> {
  const s = dirFlushes.get(dir);
  if (s) return (s.queued ??= s.running.catch(() => undefined).then(() => startFlush(dir, s)));
  const state: { running: Promise<void>; queued?: Promise<void> } = { running: Promise.resolve() };
  dirFlushes.set(dir, state);
  return startFlush(dir, state);
}

function startFlush(dir: string, s: { running: Promise<void>; queued?: Promise<void> }): Promise<void> {
  s.queued = undefined;
  const p: Promise<void> = flushDirectory(dir).finally(() => {
    if (s.running === p && s.queued === undefined) dirFlushes.delete(dir);
  });
  s.running = p;
  return p;
}

async function flushDirectory(dir: string): Promise<void> {
  let d;
  try {
    d = await open(dir, 'r');
  } catch {
    return; // platforms that cannot open a directory (Windows)
  }
  try {
    await d.sync();
  } catch {
    // file systems that refuse fsync on a directory
  } finally {
    await d.close();
  }
}

/** Writes `data` to `target` atomically and durably; refuses to replace an existing file unless `force`. */
export async function writeAtomic(target: string, data: Uint8Array, force: boolean): Promise<void> {
  await place(target, data, force);
  await syncDirectory(path.dirname(target));
}

async function place(target: string, data: Uint8Array, force: boolean): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = partialName(target);
  let placed = false;
  try {
    const fh = await open(tmp, 'wx', 0o666);
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    if (force) {
      await rename(tmp, target);
      placed = true;
      return;
    }
    try {
      // link() refuses an existing target atomically: no window in which another writer's file is replaced.
      await link(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new OutputExistsError(target);
      // File systems without hard links: check, then rename (a small race, but never a partial file).
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
      if (await exists(target)) throw new OutputExistsError(target);
      await rename(tmp, target);
      placed = true;
      return;
    }
    placed = true;
    await unlink(tmp).catch(() => undefined);
  } finally {
    if (!placed) await rm(tmp, { force: true });
  }
}
