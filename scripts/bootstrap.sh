#!/usr/bin/env bash
# Installs what ttsav's development needs from Debian/Ubuntu packages, skipping what is already there:
# a C++ toolchain, CMake, nasm and pkg-config (the default build: the addon against the bundled FFmpeg that
# scripts/build-ffmpeg.sh builds from Debian's source packages, so no FFmpeg package is needed for it), the FFmpeg
# development libraries (only for the TTSAV_FFMPEG=system build, which npm test's pretest keeps
# compiling with cmake-js and test/package.test.ts and test/install.test.ts run), the ffmpeg/ffprobe CLIs, espeak-ng
# and sox (fixture generation, decoding and probing in tests), clang with its sanitizer and libFuzzer runtimes (the
# fuzz test), redis-server (the ttsav/queue tests start their own on a loopback port), nginx with the RTMP module
# and stunnel4 (the publish() tests run a real RTMP server on loopback), chromium (test/voiceover-chromium.test.ts
# plays a voice-over in headless Chromium through playwright-core), and debootstrap (scripts/check-bare-install.sh,
# the bare-machine install proof).
set -euo pipefail

PACKAGES=(
  g++ make cmake python3 nasm pkg-config
  libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libswresample-dev libavutil-dev
  ffmpeg espeak-ng sox
  clang libclang-rt-14-dev
  nginx libnginx-mod-rtmp stunnel4
  redis-server
  chromium
  debootstrap
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all system packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
