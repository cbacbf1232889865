/**
 * Turns the CLI's input arguments (files, directories, glob patterns) into a sorted list of files, each with the
 * path its output takes under the output directory.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import path from 'node:path';

/** Extensions picked up when walking a directory (a file named explicitly or by a glob is taken whatever its name). */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  '.mp3', '.wav', '.wave', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.m4b', '.aac', '.mp4', '.webm', '.weba', '.mka',
  '.wma', '.aif', '.aiff', '.aifc', '.au', '.caf', '.amr', '.ac3', '.spx', '.3gp', '.mp2', '.w64',
]);

export interface InputFile {
  /** The file to read. */
  path: string;
  /** Its path relative to the argument that named it (a directory, a glob's fixed prefix), for the output name. */
  relative: string;
}

export class InputError extends Error {}

function hasMagic(segment: string): boolean {
  return /[*?[{]/.test(segment);
}

/** Expands one level of `{a,b}` alternatives (nested braces are expanded recursively). */
function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  let close = -1;
  const commas: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      close = i;
      break;
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  if (close < 0 || commas.length === 0) return [pattern];
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = [open, ...commas, close];
  const out: string[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push(...expandBraces(head + pattern.slice(bounds[i]! + 1, bounds[i + 1]) + tail));
  return out;
}

/** A glob segment (no '/') as a regular expression: `*`, `?`, `[abc]`, `[!a-z]`; leading dots must be matched literally. */
function segmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = segment.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${segment.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Whether `p` is a directory (or a file): from the directory entry when it has one and is not a link, else
 *  from stat (following links); false when it does not exist. */
function is(kind: 'isDirectory' | 'isFile', p: string, entry?: Dirent): boolean {
  if (entry && !entry.isSymbolicLink()) return entry[kind]();
  try {
    return statSync(p)[kind]();
  } catch {
    return false;
  }
}

export const isDirectory = (p: string, entry?: Dirent): boolean => is('isDirectory', p, entry);
export const isFile = (p: string, entry?: Dirent): boolean => is('isFile', p, entry);

/** An -o that names a directory: ends with a separator, or is one. */
export function isDirectoryTarget(output: string | undefined): boolean {
  if (output === undefined || output === '-') return false;
  return output.endsWith('/') || output.endsWith(path.sep) || isDirectory(output);
}

/** Files matching a glob (`*`, `?`, `[...]`, `{a,b}`, `**` for any depth). Paths are relative to `base`. */
function globFiles(pattern: string, exclude: (p: string) => boolean): InputFile[] {
  const out: InputFile[] = [];
  for (const alt of expandBraces(pattern)) {
    const absolute = path.isAbsolute(alt);
    const segments = alt.split(/[\\/]+/).filter((s, i) => s !== '' || i === 0);
    let fixed = 0;
    while (fixed < segments.length - 1 && !hasMagic(segments[fixed]!)) fixed++;
    const baseParts = segments.slice(0, fixed);
    const base = baseParts.length === 0 ? '.' : absolute && baseParts.join('/') === '' ? '/' : baseParts.join('/') || '/';
    const rest = segments.slice(fixed);
    const walk = (dir: string, rel: string, i: number): void => {
      if (i === rest.length) return;
      const seg = rest[i]!;
      const last = i === rest.length - 1;
      if (seg === '**') {
        walk(dir, rel, i + 1); // zero directories
        for (const e of entries(dir)) {
          if (e.name.startsWith('.')) continue;
          const p = path.join(dir, e.name);
          if (isDirectory(p, e) && !exclude(p)) walk(p, rel ? `${rel}/${e.name}` : e.name, i);
        }
        return;
      }
      if (!hasMagic(seg)) {
        const p = path.join(dir, seg);
        const r = rel ? `${rel}/${seg}` : seg;
        if (last) {
          if (isFile(p) && !exclude(p)) out.push({ path: p, relative: r });
        } else if (isDirectory(p)) walk(p, r, i + 1);
        return;
      }
      const re = segmentRegExp(seg);
      for (const e of entries(dir)) {
        if (!re.test(e.name)) continue;
        const p = path.join(dir, e.name);
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (last) {
          if (isFile(p, e) && !exclude(p)) out.push({ path: p, relative: r });
        } else if (isDirectory(p, e) && !exclude(p)) walk(p, r, i + 1);
      }
    };
    walk(base, '', 0);
  }
  return out;
}

function walkDirectory(root: string, exclude: (p: string) => boolean): InputFile[] {
  const out: InputFile[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const e of entries(dir)) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (exclude(p)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (isDirectory(p, e)) walk(p, r);
      else if (AUDIO_EXTENSIONS.has(path.extname(e.name).toLowerCase()) && isFile(p, e)) out.push({ path: p, relative: r });
    }
  };
  walk(root, '');
  return out;
}

/**
 * Expands the arguments. A directory contributes its audio files (by extension, recursively, hidden entries
 * skipped); a pattern its matches; a file itself. Anything under `outputDir` is left out, so that writing into a
 * directory that is also an input never transcodes its own outputs. Duplicates are dropped; order is sorted.
 */
export function expandInputs(args: readonly string[], outputDir?: string): InputFile[] {
  const outAbs = outputDir ? path.resolve(outputDir) : undefined;
  const exclude = (p: string): boolean => {
    if (!outAbs) return false;
    const abs = path.resolve(p);
    return abs === outAbs || abs.startsWith(outAbs + path.sep);
  };
  const seen = new Set<string>();
  const out: InputFile[] = [];
  for (const arg of args) {
    let found: InputFile[];
    if (isFile(arg)) found = [{ path: arg, relative: path.basename(arg) }];
    else if (isDirectory(arg)) found = walkDirectory(arg, exclude);
    else if (hasMagic(arg)) found = globFiles(arg, exclude);
    else throw new InputError(`no such file or directory: ${arg}`);
    if (found.length === 0 && hasMagic(arg)) throw new InputError(`no files match ${arg}`);
    found.sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
    for (const f of found) {
      const key = path.resolve(f.path);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}

/** `dir/relative` with its extension replaced. */
export function outputPathFor(outputDir: string, relative: string, extension: string): string {
  const parsed = path.parse(relative);
  return path.join(outputDir, parsed.dir, `${parsed.name}.${extension}`);
}
