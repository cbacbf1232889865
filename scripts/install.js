#!/usr/bin/env node
// `npm install ttsav` runs this (package.json "install"). In order:
//   1. a prebuilt addon for this platform (prebuilds/<platform>-<arch>/, made by `npm run prebuild`) that loads:
//      done, nothing is compiled;
//   2. otherwise a source build with node-gyp against the bundled FFmpeg (scripts/build-ffmpeg.sh: static, LGPL),
//      when what that build needs is here (bash, a C/C++ compiler, make, python3, nasm, pkg-config, apt-get
//      with a Debian mirror);
//   3. otherwise, or when that build fails, against the system's FFmpeg through pkg-config (libav*-dev);
//   4. otherwise it stops with one line naming what is missing.
// TTSAV_FFMPEG=bundled|system skips the choice (and the prebuild); so does `npm install --build-from-source`
// (then the bundled FFmpeg is tried first, as above).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');

function say(line) {
  process.stderr.write(`ttsav: ${line}\n`);
}

function fail(line) {
  say(line);
  process.exit(1);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The prebuild (or an earlier build) that node-gyp-build picks, if it loads in a fresh process. */
function prebuildLoads() {
  const code = `require(${JSON.stringify(require.resolve('node-gyp-build'))})(${JSON.stringify(ROOT)})`;
  return spawnSync(process.execPath, ['-e', code], { stdio: 'ignore' }).status === 0;
}

/** What a node-gyp build of the addon needs, whichever FFmpeg: names of what is missing. */
function toolchainMissing() {
  const missing = [];
  if (!(process.env.CXX ? has(process.env.CXX.split(' ')[0]) : has('c++') || has('g++') || has('clang++'))) missing.push('a C++ compiler');
  if (!has('make')) missing.push('make');
  if (!has('python3') && !has('python')) missing.push('python3');
  return missing;
}

/** What scripts/build-ffmpeg.sh needs beyond the toolchain (its own checks say the same, one line each). */
function bundledMissing() {
  const missing = [];
  if (!has('bash')) missing.push('bash');
  if (!has('cc') && !has('gcc')) missing.push('a C compiler');
  if (!has('nasm')) missing.push('nasm');
  if (!has('pkg-config')) missing.push('pkg-config');
  if (!has('apt-get')) missing.push('apt-get (the FFmpeg sources come from Debian source packages)');
  return missing;
}

function systemMissing() {
  if (!has('pkg-config')) return ['pkg-config'];
  const libs = ['libavformat', 'libavcodec', 'libavfilter', 'libswresample', 'libavutil'];
  return spawnSync('pkg-config', ['--exists', ...libs], { stdio: 'ignore' }).status === 0 ? [] : ['the libav*-dev packages'];
}

function nodeGyp(mode) {
  say(`building the addon from source against the ${mode} FFmpeg (TTSAV_FFMPEG=${mode})`);
  const env = { ...process.env, TTSAV_FFMPEG: mode };
  // npm hands its bundled node-gyp to install scripts; outside npm, a node-gyp on the PATH or in node_modules.
  let cmd = 'node-gyp';
  let args = ['rebuild'];
  if (env.npm_config_node_gyp) {
    cmd = process.execPath;
    args = [env.npm_config_node_gyp, 'rebuild'];
  } else {
    try {
      args = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild'];
      cmd = process.execPath;
    } catch {
      /* the PATH's */
    }
  }
  const r = spawnSync(cmd, args, { cwd: ROOT, env, stdio: 'inherit' });
  if (r.error) say(`cannot run node-gyp (${r.error.message}): npm install -g node-gyp`);
  return r.status === 0;
}

function main() {
  const requested = (process.env.TTSAV_FFMPEG || '').trim().toLowerCase();
  if (requested && requested !== 'bundled' && requested !== 'system')
    fail(`TTSAV_FFMPEG must be 'bundled' or 'system', not '${requested}'`);
  const fromSource = process.env.npm_config_build_from_source === 'true' || Boolean(requested);
  if (!fromSource && prebuildLoads()) return;
  if (!fromSource) {
    const dir = `prebuilds/${process.platform}-${process.arch}`;
    say(fs.existsSync(path.join(ROOT, dir)) ? `the prebuilt addon in ${dir} does not load here; building from source` : `no prebuilt addon for ${process.platform}-${process.arch}; building from source`);
  }

  const toolchain = toolchainMissing();
  if (toolchain.length)
    fail(`cannot build the addon from source: ${toolchain.join(', ')} missing (Debian/Ubuntu: apt-get install g++ make python3, plus nasm for the bundled FFmpeg or pkg-config and the libav*-dev packages for the system one)`);

  const bundled = bundledMissing();
  const system = systemMissing();
  if (requested === 'bundled' && bundled.length) fail(`TTSAV_FFMPEG=bundled needs ${bundled.join(', ')} (Debian/Ubuntu: apt-get install nasm pkg-config)`);
  if (requested === 'system' && system.length)
    fail(`TTSAV_FFMPEG=system needs ${system.join(' and ')}: apt-get install pkg-config libavformat-dev libavcodec-dev libavfilter-dev libswresample-dev libavutil-dev`);

  if (requested !== 'system' && !bundled.length) {
    if (nodeGyp('bundled')) return;
    if (requested === 'bundled' || system.length) process.exit(1);
    say('the bundled FFmpeg build failed (see above); trying the system FFmpeg');
  }
  if (!system.length) {
    if (nodeGyp('system')) return;
    process.exit(1);
  }
  fail(
    `cannot build the addon from source: the bundled FFmpeg needs ${bundled.join(', ')}; the system FFmpeg needs ${system.join(' and ')}. ` +
      'Install one (Debian/Ubuntu: apt-get install nasm pkg-config — or — apt-get install pkg-config libavformat-dev libavcodec-dev libavfilter-dev libswresample-dev libavutil-dev) and run npm rebuild ttsav',
  );
}

main();
