/**
 * The README as documentation that cannot rot: its examples marked `runnable` (```js runnable, ```sh runnable;
 * docs/ pages may mark theirs too) run against the built package from a fresh folder holding only `samples/` and a
 * `node_modules/ttsav` link to this checkout (so `require('ttsav')` and `npx ttsav` resolve as they do for a dependent), and every audio file they
 * write is decoded by ffprobe; the error-code table lists every code the types declare; and the relative links of
 * the markdown the package ships (README, docs/, LICENSES/) point at files the package ships, and at headings that
 * exist; docs/cli.md has a section for every command, naming every flag its --help prints.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Block {
  lang: string;
  code: string;
  line: number;
}

function runnableBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const re = /^```(\w+) runnable\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown))
    blocks.push({ lang: m[1]!, code: m[2]!, line: markdown.slice(0, m.index).split('\n').length });
  return blocks;
}

const AUDIO = /\.(m4a|mp4|aac|ogg|webm|mp3)$/;

/** Every audio file under dir except the inputs in samples/ and what node_modules links to. */
function audioFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (r === 'samples' || r === 'node_modules') continue;
    if (e.isDirectory()) out.push(...audioFiles(dir, r));
    else if (AUDIO.test(e.name)) out.push(r);
  }
  return out.sort();
}

let base: string;
beforeAll(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'ttsav-readme-'));
});
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** A folder as a dependent's app sees the package: samples/ beside it, the package and its bin in node_modules. */
function app(name: string): string {
  const dir = path.join(base, name);
  mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  cpSync(path.join(ROOT, 'samples'), path.join(dir, 'samples'), { recursive: true });
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'ttsav'), 'dir');
  // What npm's bin link does (dist/cli.js is not executable in a checkout: npm sets the mode at install).
  writeFileSync(path.join(dir, 'node_modules', '.bin', 'ttsav'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(dir, 'node_modules', 'ttsav', 'dist', 'cli.js')}" "$@"\n`, { mode: 0o755 });
  return dir;
}

describe('README examples marked runnable', () => {
  const blocks = runnableBlocks(README);

  it('there are the five: transcode, stream, speak, pool (js) and the CLI (sh)', () => {
    expect(blocks.map((b) => b.lang)).toEqual(['js', 'js', 'js', 'js', 'sh']);
    for (const [i, name] of ['transcode(', 'createTranscodeStream(', 'speak(', 'createPool('].entries()) expect(blocks[i]!.code).toContain(name);
    expect(blocks[4]!.code).toMatch(/^npx ttsav /m);
  });

  // docs/ pages may mark examples runnable too; they run the same way.
  const docBlocks = readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .flatMap((f) => runnableBlocks(readFileSync(path.join(ROOT, 'docs', f), 'utf8')).map((b) => ({ ...b, page: `docs/${f}` })));

  for (const block of [...blocks.map((b) => ({ ...b, page: 'README.md' })), ...docBlocks]) {
    it(`${block.page}:${block.line} (${block.lang}) runs and writes decodable audio`, () => {
      const dir = app(`${block.page.replace(/\W/g, '-')}-${block.line}`);
      const r =
        block.lang === 'js'
          ? spawnSync(process.execPath, ['-e', block.code], { cwd: dir, encoding: 'utf8', timeout: 50_000 })
          : spawnSync('bash', ['-euo', 'pipefail', '-c', block.code], {
              cwd: dir,
              encoding: 'utf8',
              timeout: 50_000,
              env: { ...process.env, PATH: `${path.join(dir, 'node_modules', '.bin')}:${path.dirname(process.execPath)}:${process.env.PATH}`, npm_config_offline: 'true', npm_config_update_notifier: 'false' },
            });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      if (block.lang === 'js') expect(r.stderr).toBe('');
      const written = audioFiles(dir);
      expect(written.length, 'the example writes audio').toBeGreaterThan(0);
      for (const f of written) {
        const p = ffprobe(readFileSync(path.join(dir, f)));
        expect(p.duration, f).toBeGreaterThan(0.5);
        expect(['aac', 'opus'], f).toContain(p.codec);
      }
    }, 60_000);
  }
});

describe('README error codes', () => {
  it('the table lists every code the published types declare, and no other', () => {
    const dts = readdirSync(path.join(ROOT, 'dist'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.d.ts'))
      .map((f) => readFileSync(path.join(ROOT, 'dist', f), 'utf8'))
      .join('\n');
    const declared = [...new Set(dts.match(/ERR_TTSAV_[A-Z_]+/g))].sort();
    const section = README.slice(README.indexOf('## Errors'), README.indexOf('\n## ', README.indexOf('## Errors') + 1));
    const listed = [...section.matchAll(/^\| `(ERR_TTSAV_[A-Z_]+)` \|/gm)].map((m) => m[1]!).sort();
    expect(declared.length).toBeGreaterThan(10);
    expect(listed).toEqual(declared);
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const m = !fence && /^#{1,6} (.*)$/.exec(line);
    if (m) out.add(m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
  }
  return out;
}

describe('links in the shipped markdown', () => {
  it('point at files the package ships, and at headings that exist', () => {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } }),
    ) as { files: { path: string }[] }[];
    const shipped = new Set(packed[0]!.files.map((f) => f.path));
    const pages = [...shipped].filter((f) => f.endsWith('.md') && (f === 'README.md' || f.startsWith('docs/') || f.startsWith('LICENSES/')));
    expect(pages).toContain('README.md');
    expect(pages.some((p) => p.startsWith('docs/api/'))).toBe(true);
    expect(pages.some((p) => p.startsWith('LICENSES/'))).toBe(true);
    const bad: string[] = [];
    for (const page of pages) {
      const text = readFileSync(path.join(ROOT, page), 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue; // https:, mailto:
        const [file, hash] = link.split('#') as [string, string | undefined];
        const target = file ? path.posix.normalize(path.posix.join(path.posix.dirname(page), file)) : page;
        const isDir = file.endsWith('/') && statSync(path.join(ROOT, target), { throwIfNoEntry: false })?.isDirectory();
        if (!isDir && !shipped.has(target)) {
          bad.push(`${page}: ${link} (not in the package)`);
          continue;
        }
        if (hash && !page.startsWith('docs/api/') && target.endsWith('.md') && !anchors(readFileSync(path.join(ROOT, target), 'utf8')).has(hash))
          bad.push(`${page}: ${link} (no such heading)`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('docs/cli.md', () => {
  const CLI = readFileSync(path.join(ROOT, 'docs', 'cli.md'), 'utf8');
  const help = (args: string[]): string => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], { encoding: 'utf8' });
    return `${r.stdout}${r.stderr}`;
  };
  /** The text under the heading for `ttsav <command>`, up to the next heading of the same or a higher level. */
  const section = (command: string): string | undefined => {
    const m = new RegExp(`^(#+) \`ttsav ${command}\`$`, 'm').exec(CLI);
    if (!m) return undefined;
    const rest = CLI.slice(m.index + m[0].length);
    const end = new RegExp(`^#{1,${m[1]!.length}} `, 'm').exec(rest);
    return end ? rest.slice(0, end.index) : rest;
  };

  it('has a section for every command, listing every flag its --help prints', () => {
    const commands = [...help(['--help']).split('Commands:')[1]!.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(8);
    const missing: string[] = [];
    for (const command of commands) {
      const text = section(command);
      if (text === undefined) {
        missing.push(`no section for ttsav ${command}`);
        continue;
      }
      const flags = new Set([...help([command, '--help']).matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
      flags.delete('--help');
      for (const flag of flags) if (!new RegExp(`(^|[^\\w-])${flag}(?![\\w-])`).test(text)) missing.push(`ttsav ${command} ${flag}`);
    }
    expect(missing).toEqual([]);
  });
});
