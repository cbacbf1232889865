// Compiler and linker flags for the FFmpeg that ttsav links, for binding.gyp and CMakeLists.txt:
//   node scripts/ffmpeg-flags.js cflags|libs|defines|mode
// TTSAV_FFMPEG=bundled (the default): the static LGPL build of scripts/build-ffmpeg.sh (built on first use), its
// archives linked into the addon with their symbols hidden (-Wl,--exclude-libs,ALL), so a host that loads another
// libav cannot clash with ours.
// TTSAV_FFMPEG=system: the system's FFmpeg through pkg-config (libav*-dev), linked dynamically.
// `mode` prints which of the two applies (CMakeLists.txt asks it, so both build systems share one default).
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const LIBS = ['libavformat', 'libavcodec', 'libavfilter', 'libswresample', 'libavutil'];
const mode = (process.env.TTSAV_FFMPEG || 'bundled').trim().toLowerCase();
const what = process.argv[2];

function fail(message) {
  process.stderr.write(`ttsav: ${message}\n`);
  process.exit(1);
}

function pkgConfig(args, env) {
  try {
    return execFileSync('pkg-config', args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    if (err.code === 'ENOENT') fail('pkg-config is missing (Debian/Ubuntu: apt-get install pkg-config)');
    return null;
  }
}

if (!['cflags', 'libs', 'defines', 'mode'].includes(what)) fail('usage: node scripts/ffmpeg-flags.js cflags|libs|defines|mode');
if (mode !== 'system' && mode !== 'bundled') fail(`TTSAV_FFMPEG must be 'bundled' or 'system', not '${mode}'`);
if (what === 'mode') {
  process.stdout.write(mode);
  process.exit(0);
}

if (mode === 'system') {
  if (what === 'defines') process.exit(0);
  const out = pkgConfig([what === 'cflags' ? '--cflags' : '--libs', ...LIBS], process.env);
  if (out === null)
    fail(
      "the system FFmpeg's development files were not found by pkg-config. Install them (Debian/Ubuntu: apt-get " +
        'install libavformat-dev libavcodec-dev libavfilter-dev libswresample-dev libavutil-dev pkg-config) or use ' +
        'the bundled FFmpeg (TTSAV_FFMPEG=bundled, the default; needs nasm and a C compiler).',
    );
  process.stdout.write(out);
  process.exit(0);
}

let prefix;
try {
  const printed = execFileSync('bash', [path.join(__dirname, 'build-ffmpeg.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  prefix = printed.trim().split('\n').pop();
} catch {
  fail('the bundled FFmpeg could not be built (the line above says why)');
}
if (what === 'defines') {
  process.stdout.write('TTSAV_FFMPEG_BUNDLED=1');
  process.exit(0);
}
const pc = path.join(prefix, 'lib', 'pkgconfig');
const env = { ...process.env, PKG_CONFIG_PATH: pc, PKG_CONFIG_LIBDIR: pc };
if (what === 'cflags') {
  process.stdout.write(pkgConfig(['--cflags', ...LIBS], env) ?? fail(`no pkg-config files in ${pc}`));
  process.exit(0);
}
// Static archives by full path (never a same-named shared library elsewhere on the path), system libraries as -l.
const flags = (pkgConfig(['--static', '--libs', ...LIBS], env) ?? fail(`no pkg-config files in ${pc}`)).split(/\s+/);
const out = ['-Wl,--exclude-libs,ALL'];
for (const f of flags) {
  if (f.startsWith('-L')) continue;
  if (f.startsWith('-l')) {
    const archive = path.join(prefix, 'lib', `lib${f.slice(2)}.a`);
    out.push(fs.existsSync(archive) ? archive : f);
  } else if (f) out.push(f);
}
process.stdout.write(out.join(' '));
