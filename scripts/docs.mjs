#!/usr/bin/env node
// Regenerates the API reference (docs/api/) from the TSDoc in lib/ with TypeDoc + typedoc-plugin-markdown
// (typedoc.json). `--check`: generates into a temporary folder instead and fails, naming the files, when docs/api/
// differs — so the reference and the types cannot drift (test/docs.test.ts runs it). The output carries no dates
// and no source links (typedoc.json: disableSources, disableGit, hideGenerator), so it changes only with the API.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const API = path.join(ROOT, 'docs', 'api');
const check = process.argv.includes('--check');

function typedoc(out, quiet) {
  const bin = path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const args = [bin, '--options', path.join(ROOT, 'typedoc.json'), '--out', out];
  if (quiet) args.push('--logLevel', 'Error');
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) {
    if (quiet) process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    console.error(`docs: typedoc failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

/** Relative paths of every file under dir, sorted ('' when dir is missing). */
function files(dir) {
  const out = [];
  const walk = (d, rel) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

if (!check) {
  typedoc(API, false);
  process.exit(0);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-docs-'));
try {
  typedoc(tmp, true);
  const want = files(tmp);
  const have = files(API);
  const problems = [];
  for (const f of want) {
    if (!have.includes(f)) problems.push(`missing ${f}`);
    else if (!readFileSync(path.join(tmp, f)).equals(readFileSync(path.join(API, f)))) problems.push(`stale   ${f}`);
  }
  for (const f of have) if (!want.includes(f)) problems.push(`extra   ${f}`);
  if (problems.length) {
    console.error(`docs/api/ does not match lib/'s TSDoc (${problems.length} file(s)); run \`npm run docs\` and commit:`);
    for (const p of problems.slice(0, 20)) console.error(`  ${p}`);
    if (problems.length > 20) console.error(`  … and ${problems.length - 20} more`);
    process.exit(1);
  }
  console.log(`docs/api/ is up to date (${want.length} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
