#!/usr/bin/env bash
# The bare-machine proof: installs the packed tarball into a Debian minimal root (debootstrap --variant=minbase:
# no compiler, no pkg-config, no libav, no ffmpeg) that holds only this machine's node and npm, and runs a
# transcode, `ttsav speak` with the offline espeak-ng engine (the optional peer, installed beside it) and
# `ttsav doctor` there (chroot). Fails with one line naming the step that failed.
#
#   bash scripts/check-bare-install.sh              # packs the checkout (needs prebuilds/: npm run prebuilds)
#   bash scripts/check-bare-install.sh ttsav-X.tgz  # a tarball packed before
#
# Needs root (debootstrap, chroot, mount) and debootstrap. The root is built once from this machine's own Debian
# mirror (scripts/debian-mirrors.sh) and cached in .bare/ (git-ignored); each run works in a fresh copy of it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.bare"
BASE="$CACHE/bookworm-minbase"
WORK="$CACHE/run"
SUITE=bookworm
T0=$(date +%s)

die() {
  echo "check-bare-install: $*" >&2
  exit 1
}
step() { echo "check-bare-install: $* ($(($(date +%s) - T0)) s)" >&2; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount): run it as root or under sudo"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
mkdir -p "$CACHE"

if [ ! -f "$BASE/.complete" ]; then
  # shellcheck source=scripts/debian-mirrors.sh
  . "$ROOT/scripts/debian-mirrors.sh"
  MIRROR="$(debian_mirrors | head -1)"
  [ -n "$MIRROR" ] || die "no Debian mirror in /etc/apt sources to debootstrap from"
  step "debootstrap --variant=minbase $SUITE (once; cached in $BASE)"
  rm -rf "$BASE" "$BASE.tmp"
  debootstrap --variant=minbase "$SUITE" "$BASE.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap failed: see $CACHE/debootstrap.log"
  rm -f "$BASE.tmp"/var/cache/apt/archives/*.deb
  mv "$BASE.tmp" "$BASE"
  touch "$BASE/.complete"
fi

# The tarball: the one given, or the checkout packed now (with its prebuilt addon).
if [ -n "${1:-}" ]; then
  TGZ="$(realpath "$1")"
  [ -f "$TGZ" ] || die "no tarball at $1"
else
  ls "$ROOT"/prebuilds/linux-x64/*.node >/dev/null 2>&1 || die "no prebuilt addon in prebuilds/linux-x64: npm run prebuilds"
  [ -f "$ROOT/dist/index.js" ] || die "dist/ is missing: npm run build:ts"
  rm -f "$CACHE"/ttsav-*.tgz
  (cd "$ROOT" && npm pack --ignore-scripts --silent --pack-destination "$CACHE" >/dev/null) || die "npm pack failed"
  TGZ="$(ls "$CACHE"/ttsav-*.tgz | head -1)"
fi

cleanup() {
  umount "$WORK/proc" 2>/dev/null || true
  umount "$WORK/dev" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
rm -rf "$WORK"
cp -a "$BASE" "$WORK"

# Nothing to build with, and no FFmpeg: what the proof is about.
for tool in cc gcc c++ g++ clang make pkg-config nasm ffmpeg ffprobe espeak-ng; do
  chroot "$WORK" /bin/sh -c "command -v $tool" >/dev/null 2>&1 && die "the bare root has $tool: it is not bare"
done
if ls "$WORK"/usr/lib/*/libav* "$WORK"/usr/lib/*/libsw* >/dev/null 2>&1; then die "the bare root has a libav library"; fi

# This machine's node (a single binary: libc, libstdc++, libgcc_s) and npm (JavaScript).
NODE="$(command -v node)"
NPM_DIR="$(cd "$(dirname "$(realpath "$(command -v npm)")")/.." && pwd)"
mkdir -p "$WORK/usr/local/bin" "$WORK/usr/local/lib/node_modules"
cp "$NODE" "$WORK/usr/local/bin/node"
cp -a "$NPM_DIR" "$WORK/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$WORK/usr/local/bin/npm"

# The app: the tarball and espeak-ng unpacked with their dependencies here (the registry is reachable here, not
# there), with no install script run; `npm rebuild` inside the root then runs ttsav's install step there.
APP="$WORK/app"
mkdir -p "$APP"
echo '{ "name": "bare-app", "version": "1.0.0", "private": true }' >"$APP/package.json"
(cd "$APP" && npm install --ignore-scripts --no-audit --no-fund --silent "$TGZ" espeak-ng >"$CACHE/npm-install.log" 2>&1) ||
  die "npm install of the tarball (scripts off) failed here: see $CACHE/npm-install.log"
cp "$ROOT/samples/hello.mp3" "$APP/in.mp3"
step "root ready"

mount -t proc proc "$WORK/proc"
mount --bind /dev "$WORK/dev"
in_root() { chroot "$WORK" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 /bin/sh -c "cd /app && $1"; }

in_root "npm rebuild ttsav --foreground-scripts" >"$CACHE/rebuild.log" 2>&1 ||
  die "the install step (npm rebuild ttsav) failed in the bare root: $(grep -m1 'ttsav:' "$CACHE/rebuild.log" || tail -1 "$CACHE/rebuild.log")"
[ -e "$APP/node_modules/ttsav/build" ] && die "the install step compiled something: the prebuilt addon was not used"
step "installed (prebuilt addon loaded, nothing compiled)"

in_root "node_modules/.bin/ttsav transcode in.mp3 -o out.m4a" >"$CACHE/transcode.log" 2>&1 ||
  die "ttsav transcode failed in the bare root: $(tail -1 "$CACHE/transcode.log")"
in_root "node_modules/.bin/ttsav speak --text 'Hello from a bare Debian root.' -o speak.m4a" >"$CACHE/speak.log" 2>&1 ||
  die "ttsav speak (espeak-ng, offline) failed in the bare root: $(tail -1 "$CACHE/speak.log")"
in_root "node_modules/.bin/ttsav doctor" >"$CACHE/doctor.log" 2>&1 ||
  die "ttsav doctor failed in the bare root: see $CACHE/doctor.log"
grep -q bundled "$CACHE/doctor.log" || die "ttsav doctor in the bare root does not report the bundled FFmpeg: see $CACHE/doctor.log"

# The outputs, checked from outside with node (the library's own probe is what ran inside).
for f in out.m4a speak.m4a; do
  [ -s "$APP/$f" ] || die "$f is missing or empty"
done
in_root "node -e \"const t = require('ttsav'); const fs = require('fs');
  Promise.all(['out.m4a', 'speak.m4a'].map((f) => t.probe(fs.readFileSync(f)))).then((p) => {
    for (const x of p) if (x.codec !== 'aac' || !(x.durationSeconds > 0.3)) throw new Error('bad output: ' + JSON.stringify(x));
    console.log(p.map((x) => x.codec + ' ' + x.durationSeconds.toFixed(2) + ' s').join(', '));
  })\"" >"$CACHE/probe.log" 2>&1 || die "the outputs do not probe as AAC: $(tail -1 "$CACHE/probe.log")"
step "transcode, speak and doctor ran in the bare root: $(cat "$CACHE/probe.log")"

# With no prebuilt addon for it, the install step there has nothing to build with: one line saying what is missing.
rm -rf "$APP/node_modules/ttsav/prebuilds"
in_root "npm rebuild ttsav --foreground-scripts" >"$CACHE/rebuild-source.log" 2>&1 &&
  die "the install step succeeded in the bare root without a prebuilt addon or a compiler"
grep -q '^ttsav: cannot build the addon from source: a C++ compiler, make, python3 missing' "$CACHE/rebuild-source.log" ||
  die "without a prebuilt addon the install step did not name what is missing: see $CACHE/rebuild-source.log"
step "without a prebuilt addon: $(grep -m1 '^ttsav: cannot' "$CACHE/rebuild-source.log" | cut -c1-90)…"
cleanup
rm -rf "$WORK"
echo "check-bare-install: ok in $(($(date +%s) - T0)) s" >&2
