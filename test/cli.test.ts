/**
 * The ttsav CLI end to end on temporary directories: many inputs (files, directories, globs) into a directory,
 * outputs checked with ffprobe and the ffmpeg CLI, the summary, exit codes, --force, --json, probe and doctor,
 * and a SIGKILL in the middle of a batch leaving no partial file under a final name.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transcode } from '../lib/index';
import { decodedSamples, ffprobe, fixture, fixturePath } from './helpers/media';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');

function cli(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, maxBuffer: 1 << 26, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Every file under dir, relative, sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ttsav-cli-'));
  const input = path.join(tmp, 'in');
  mkdirSync(path.join(input, 'sub'), { recursive: true });
  copyFileSync(fixturePath('edge.mp3'), path.join(input, 'edge.mp3'));
  copyFileSync(fixturePath('speech.flac'), path.join(input, 'speech.flac'));
  copyFileSync(fixturePath('speech.opus'), path.join(input, 'sub', 'voice.opus'));
  copyFileSync(fixturePath('cut37.mp3'), path.join(input, 'sub', 'cut.mp3'));
  writeFileSync(path.join(input, 'notes.txt'), 'not audio, not picked up from a directory');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('ttsav transcode, many files', () => {
  it('transcodes a directory into another, keeping relative paths; failures listed, exit code 1', async () => {
    const out = path.join(tmp, 'out1');
    const r = cli(['transcode', 'in', '-o', out, '--preset', 'speech'], tmp);
    expect(r.status, r.stderr).toBe(1);
    expect(tree(out)).toEqual(['edge.m4a', 'speech.m4a', 'sub/voice.m4a']);
    // Each output decodes to the same audio as the library makes from that input.
    for (const [name, src] of [['edge.m4a', 'edge.mp3'], ['speech.m4a', 'speech.flac'], ['sub/voice.m4a', 'speech.opus']] as const) {
      const data = readFileSync(path.join(out, name));
      const expected = await transcode(fixture(src), { preset: 'speech' });
      expect(Buffer.compare(data, expected.data), name).toBe(0);
      expect(ffprobe(data)).toMatchObject({ codec: 'aac', channels: 1, sampleRate: expected.sampleRate });
      expect(Math.abs(decodedSamples(data, 1) - expected.samples)).toBeLessThanOrEqual(2048);
    }
    // Summary table and the reason for the failure.
    expect(r.stderr).toMatch(/files\s+ok\s+skipped\s+failed\s+audio\s+wall\s+x realtime\s+output/);
    expect(r.stderr).toMatch(/^\s+4\s+3\s+0\s+1\s+[\d.]+ s\s+[\d.]+ s\s+[\d.]+x\s+[\d.]+ KiB$/m);
    expect(r.stderr).toMatch(/1 failed:\n {2}in\/sub\/cut\.mp3: ERR_TTSAV_INVALID_DATA \[decode\]: input is truncated/);
    // Plain lines when stderr is not a terminal.
    expect(r.stderr).toMatch(/^ok {4}in\/edge\.mp3 -> .*edge\.m4a \([\d.]+ s, [\d.]+ KiB\)$/m);
  });

  it('keeps existing outputs unless --force, and a failed input deletes nothing', () => {
    const out = path.join(tmp, 'out2');
    const first = cli(['transcode', 'in/edge.mp3', 'in/speech.flac', '-o', out, '-f', 'adts', '-c', '1'], tmp);
    expect(first.status, first.stderr).toBe(0);
    const target = path.join(out, 'edge.aac');
    writeFileSync(target, 'precious'); // someone's file under an output name
    const again = cli(['transcode', 'in/edge.mp3', 'in/speech.flac', '-o', out, '-f', 'adts', '-c', '1'], tmp);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/skip {2}in\/edge\.mp3: .*edge\.aac exists \(pass --force to overwrite\)/);
    expect(again.stderr).toMatch(/^\s+2\s+0\s+2\s+0\s/m);
    expect(readFileSync(target, 'utf8')).toBe('precious');

    // A failing input whose output name exists: the existing file survives even with --force.
    copyFileSync(fixturePath('cut37.mp3'), path.join(tmp, 'in', 'edge2.mp3'));
    writeFileSync(path.join(out, 'edge2.aac'), 'keep me');
    const failing = cli(['transcode', 'in/edge2.mp3', 'in/edge.mp3', '-o', out, '-f', 'adts', '-c', '1', '--force'], tmp);
    rmSync(path.join(tmp, 'in', 'edge2.mp3'));
    expect(failing.status).toBe(1);
    expect(readFileSync(path.join(out, 'edge2.aac'), 'utf8')).toBe('keep me');
    expect(ffprobe(readFileSync(target))).toMatchObject({ codec: 'aac', channels: 1, formatName: 'aac' });
    expect(tree(out).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('expands glob patterns, writes a JSON report with --json, and honours --concurrency', () => {
    const out = path.join(tmp, 'out3');
    const r = cli(['transcode', 'in/**/*.{opus,flac}', '-o', out, '-f', 'ogg', '-b', '32k', '--json', '-j', '1'], tmp);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(tree(out)).toEqual(['speech.opus', 'sub/voice.opus']);
    const report = JSON.parse(r.stdout) as { summary: Record<string, number>; files: { input: string; output: string; status: string }[] };
    expect(report.summary).toMatchObject({ files: 2, ok: 2, failed: 0, skipped: 0 });
    expect(report.summary.audioSeconds).toBeGreaterThan(15);
    expect(report.files.map((f) => f.status)).toEqual(['ok', 'ok']);
    expect(ffprobe(readFileSync(path.join(out, 'sub/voice.opus')))).toMatchObject({ codec: 'opus', formatName: 'ogg' });
  });

  it('leaves its own outputs alone when the output directory is inside an input directory', () => {
    const dir = path.join(tmp, 'nested');
    mkdirSync(dir);
    copyFileSync(fixturePath('edge.mp3'), path.join(dir, 'a.mp3'));
    const r1 = cli(['transcode', dir, '-o', path.join(dir, 'out'), '-f', 'mp3', '-b', '32k'], tmp);
    expect(r1.status, r1.stderr).toBe(0);
    const r2 = cli(['transcode', dir, '-o', path.join(dir, 'out'), '-f', 'mp3', '-b', '32k'], tmp);
    expect(r2.stderr).toMatch(/^\s+1\s+0\s+1\s+0\s/m); // a.mp3 only (skipped): out/a.mp3 was not taken as an input
    expect(tree(dir)).toEqual(['a.mp3', 'out/a.mp3']);
  });

  it('draws a progress bar on a terminal', () => {
    const out = path.join(tmp, 'out-tty');
    const r = spawnSync('script', ['-qec', `${process.execPath} ${CLI} transcode in -o ${out} -f adts --preset speech`, '/dev/null'], { cwd: tmp });
    const text = r.stdout.toString();
    expect(text).toMatch(/\r\[#*\.*\] \d+\/4/);
    expect(text).toMatch(/files\s+ok\s+skipped\s+failed/);
    expect(text).not.toMatch(/^ok {4}/m);
  });

  it('--max-input-bytes refuses large files before reading them, per file', () => {
    const out = path.join(tmp, 'out5');
    const limit = statSync(path.join(tmp, 'in', 'edge.mp3')).size;
    const r = cli(['transcode', 'in/edge.mp3', 'in/speech.flac', '-o', out, '-f', 'adts', '--max-input-bytes', String(limit)], tmp);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/in\/speech\.flac: ERR_TTSAV_LIMIT: input is \d+ bytes, over maxInputBytes/);
    expect(tree(out)).toEqual(['edge.aac']);
  });

  it('usage errors exit with 2', () => {
    expect(cli(['transcode', 'in/edge.mp3', 'in/speech.flac'], tmp).status).toBe(2);
    expect(cli(['transcode', 'in', '-o', 'x', '-j', '0'], tmp).status).toBe(2);
    expect(cli(['transcode', 'in', '-o', 'x', '-f', 'wav'], tmp).status).toBe(2);
    const r = cli(['transcode', 'in', '-o', 'x', '--sample-rate', '7'], tmp);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/sampleRate/);
    expect(cli(['transcode', 'in/edge.mp3', '-o', 'in/edge.mp3'], tmp).status).toBe(2);
  });

  it('a missing input or unmatched pattern is a failure with its reason; the rest still run', () => {
    const out = path.join(tmp, 'out4');
    const r = cli(['transcode', 'in/edge.mp3', 'in/nothing.mp3', 'in/*.wav', '-o', out, '-f', 'adts'], tmp);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/in\/nothing\.mp3: no such file or directory/);
    expect(r.stderr).toMatch(/in\/\*\.wav: no files match/);
    expect(tree(out)).toEqual(['edge.aac']);
  });

  it('a run killed with SIGKILL in the middle leaves no partial file under a final name', async () => {
    const dir = path.join(tmp, 'kill');
    const inDir = path.join(dir, 'in');
    mkdirSync(inDir, { recursive: true });
    for (let i = 0; i < 24; i++) copyFileSync(fixturePath('stereo48k.wav'), path.join(inDir, `clip${String(i).padStart(2, '0')}.wav`));
    const reference = (await transcode(fixture('stereo48k.wav'))).data;
    const out = path.join(dir, 'out');
    const child = spawn(process.execPath, [CLI, 'transcode', inDir, '-o', out, '-j', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if ((stderr.match(/^ok /gm) ?? []).length >= 3) resolve();
      });
      child.once('exit', () => reject(new Error(`exited before it could be killed: ${stderr}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const files = tree(out);
    const finals = files.filter((f) => !f.endsWith('.partial'));
    expect(finals.length).toBeGreaterThanOrEqual(3);
    expect(finals.length).toBeLessThan(24);
    // Whatever carries a final name is the whole output, byte for byte.
    for (const f of finals) {
      expect(f).toMatch(/^clip\d\d\.m4a$/);
      expect(statSync(path.join(out, f)).size, f).toBe(reference.length);
      expect(Buffer.compare(readFileSync(path.join(out, f)), reference), f).toBe(0);
    }
    // Anything else is a hidden temporary file.
    for (const f of files.filter((x) => x.endsWith('.partial'))) expect(f).toMatch(/^\.clip\d\d\.m4a\.\d+\.[0-9a-f]{8}\.partial$/);
    // Running again completes the batch: the finished files are kept, the rest are made.
    const again = cli(['transcode', inDir, '-o', out, '-j', '2'], dir);
    expect(again.status, again.stderr).toBe(0);
    const done = tree(out).filter((f) => !f.endsWith('.partial'));
    expect(done).toHaveLength(24);
    expect(again.stderr).toMatch(new RegExp(`^\\s+24\\s+${24 - finals.length}\\s+${finals.length}\\s+0\\s`, 'm'));
  });
});

describe('ttsav probe, doctor, help', () => {
  it('probe prints what an input is; --json gives the probe() result', () => {
    const text = cli(['probe', 'in/edge.mp3'], tmp);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/codec:\s+mp3/);
    expect(text.stdout).toMatch(/audio:\s+24000 Hz, 1 ch \(mono\)/);
    const json = cli(['probe', 'in/speech.flac', '--json'], tmp);
    expect(JSON.parse(json.stdout)).toMatchObject({ codec: 'flac', sampleRate: 22050, channels: 1 });
    const bad = cli(['probe', 'in/notes.txt'], tmp);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^ttsav: ERR_TTSAV_/);
  });

  it('doctor reports libav, formats, cores and the threadpool', () => {
    const r = cli(['doctor', '--json'], tmp, { UV_THREADPOOL_SIZE: '6' });
    expect(r.status, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.healthy).toBe(true);
    expect(d.cores).toBe(os.availableParallelism());
    expect(d.threadpool).toMatchObject({ UV_THREADPOOL_SIZE: '6', size: 6 });
    expect(d.versions.libraries.avcodec.compatible).toBe(true);
    expect(d.formats.find((f: { format: string }) => f.format === 'm4a').available).toBe(true);
    expect(Array.isArray(d.hwDevices)).toBe(true);
    const text = cli(['doctor'], tmp);
    expect(text.stdout).toMatch(/libavcodec\s+compiled [\d.]+, runtime [\d.]+/);
    expect(text.stdout).toMatch(/threadpool\s+UV_THREADPOOL_SIZE=/);
  });

  it('--help for every command', () => {
    for (const cmd of ['transcode', 'probe', 'doctor', 'versions']) {
      const r = cli([cmd, '--help'], tmp);
      expect(r.status, cmd).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: ttsav ${cmd}`));
    }
    const top = cli(['--help'], tmp);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/transcode .*\n(.*\n)*\s+probe .*\n(.*\n)*\s+doctor/);
    expect(cli([], tmp).status).toBe(2);
  });
});
