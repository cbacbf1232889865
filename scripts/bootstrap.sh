#!/usr/bin/env bash
# Installs what ttsav needs from Debian/Ubuntu packages, skipping what is already there:
# the FFmpeg development libraries and pkg-config (to build the addon), a C++ toolchain and CMake (node-gyp and
# cmake-js builds), the ffmpeg/ffprobe CLIs, espeak-ng and sox (test oracle and fixture generation), and clang with
# its sanitizer and libFuzzer runtimes (the fuzz test), redis-server (the ttsav/queue tests start their own on a
# loopback port), nginx with the RTMP module and stunnel4 (the publish() tests run a real RTMP server on loopback),
# and nasm (scripts/build-ffmpeg.sh, the bundled FFmpeg).
set -euo pipefail

PACKAGES=(
  pkg-config libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libswresample-dev libavutil-dev
  g++ make cmake python3
  ffmpeg espeak-ng sox
  clang libclang-rt-14-dev
  nginx libnginx-mod-rtmp stunnel4
  redis-server
  nasm
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
