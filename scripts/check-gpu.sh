#!/usr/bin/env bash
# Runs ttsav's H.264 hardware paths on a machine with an NVIDIA GPU and says which encoder ran:
#   1. voiceover() with subtitles: 'burn' and hwaccel: 'cuda' (the only voice-over path that re-encodes the video);
#   2. the publish() video path: a still image encoded as the live feed's H.264 loop with hwaccel: 'cuda'.
# h264_nvenc is expected on a GPU; otherwise each path prints the encoder that ran instead and why (the reason the
# hardware encoder could not open, from the same H264Encoder code both paths use).
#
# Each path runs with every addon that can be built here: the default one against the bundled LGPL FFmpeg
# (build/Release; it has h264_nvenc but no H.264 decoder and no drawtext, so it cannot burn subtitles and says so)
# and the one against the system FFmpeg (build-cmake/Release, TTSAV_FFMPEG=system; Debian's has h264_nvenc, the
# H.264 decoder and drawtext). Builds what is missing first (dist/ with tsc, the addons with node-gyp / cmake-js).
# The test video is made by ttsav itself (a generated PNG encoded as H.264), so no ffmpeg CLI is needed.
#
# Without an NVIDIA GPU (no nvidia-smi, or it lists no device) the script says "no GPU", still runs both paths to show
# the software fallback and its reason, and exits 0; with --require-gpu it exits 3 instead. With a GPU, a path that
# did not run h264_nvenc fails the script (exit 1); so does an error on any path, GPU or not.
# Usage: bash scripts/check-gpu.sh [--require-gpu]
set -uo pipefail
cd "$(dirname "$0")/.."

require=0
[ "${1:-}" = "--require-gpu" ] && require=1

gpu=""
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu="$(nvidia-smi -L 2>/dev/null | head -1)"
  [ -n "$gpu" ] && echo "check-gpu: GPU: $gpu (driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1))"
fi
if [ -z "$gpu" ]; then
  echo "check-gpu: no GPU: $(command -v nvidia-smi >/dev/null 2>&1 && echo 'nvidia-smi lists no device' || echo 'nvidia-smi not found') — the hardware paths below can only fall back to software"
  if [ $require -eq 1 ]; then exit 3; fi
fi

# What the check needs: the compiled TypeScript and at least one addon.
if [ ! -f dist/index.js ]; then
  echo "check-gpu: building dist/ (npm run build:ts)"
  npm run --silent build:ts >/dev/null || { echo "check-gpu: npm run build:ts failed"; exit 2; }
fi
addons=()
if [ -f build/Release/ttsav.node ] || { echo "check-gpu: building the bundled-FFmpeg addon (npm run build:native)"; nice npm run --silent build:native >/tmp/check-gpu-native.log 2>&1; }; then
  addons+=(build/Release/ttsav.node)
else
  echo "check-gpu: the bundled-FFmpeg addon did not build (see /tmp/check-gpu-native.log); skipping it"
fi
if [ -f build-cmake/Release/ttsav.node ] || { echo "check-gpu: building the system-FFmpeg addon (TTSAV_FFMPEG=system npm run build:cmake)"; TTSAV_FFMPEG=system nice npm run --silent build:cmake >/tmp/check-gpu-cmake.log 2>&1; }; then
  addons+=(build-cmake/Release/ttsav.node)
else
  echo "check-gpu: the system-FFmpeg addon did not build (see /tmp/check-gpu-cmake.log: needs libav*-dev, cmake); skipping it"
fi
[ ${#addons[@]} -gt 0 ] || { echo "check-gpu: no addon to run"; exit 2; }

fail=0
for addon in "${addons[@]}"; do
  echo
  echo "== $addon"
  TTSAV_ADDON="$PWD/$addon" GPU="$gpu" node - <<'EOF' || fail=1
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const root = process.cwd();
const { voiceover, versions, hwDevices } = require(path.join(root, 'dist', 'index.js'));
const { loadNative } = require(path.join(root, 'dist', 'native.js'));
const { burnSupport } = require(path.join(root, 'dist', 'voiceover.js'));
const gpu = process.env.GPU !== '';

// A 1280x720 RGB PNG (a gradient), made here: the still the H.264 paths start from.
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = y * (width * 3 + 1) + 1 + x * 3;
      rows[o] = (x * 255) / width;
      rows[o + 1] = (y * 255) / height;
      rows[o + 2] = 128;
    }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

function verdict(what, encoder, reason) {
  const ok = encoder === 'h264_nvenc';
  console.log(`${what}: ${encoder}${ok ? ' (hardware)' : ` — fell back${reason ? `: ${reason}` : ''}`}`);
  return ok || !gpu;
}

(async () => {
  const v = versions();
  console.log(`FFmpeg ${v.ffmpeg} (${v.build}, ${v.license})`);
  const devices = await hwDevices();
  const cuda = devices.find((d) => d.type === 'cuda');
  console.log(`hwDevices: ${devices.map((d) => `${d.type}=${d.available ? 'yes' : `no (${d.reason})`}`).join(', ') || 'none'}`);
  let ok = true;

  // The publish() video path: the same call publish() makes for video.image, with hwaccel 'cuda'.
  const native = loadNative();
  let still;
  try {
    still = native.encodeStill(png(1280, 720), { width: 1280, height: 720, fps: 30, seconds: 2, hwaccel: 'cuda' });
    ok = verdict('publish video (still loop, hwaccel cuda)', still.encoder, still.fallback || (cuda && !cuda.available ? cuda.reason : ''));
  } catch (err) {
    console.log(`publish video (still loop, hwaccel cuda): ERROR ${err.code ?? ''} ${err.message}`);
    ok = false;
  }

  // The voice-over burn-in path over that clip (H.264 in FLV, 2 s): decoded, subtitles drawn, encoded again.
  const missing = burnSupport(native, 'cuda');
  if (missing) {
    console.log(`voiceover burn (hwaccel cuda): not possible with this FFmpeg: ${missing}`);
  } else if (still) {
    try {
      const r = await voiceover({
        video: still.data,
        voice: fs.readFileSync(path.join(root, 'samples', 'hello.mp3')),
        subtitles: 'burn',
        hwaccel: 'cuda',
        cues: [{ startMs: 200, endMs: 1800, text: 'check-gpu: burned in' }],
      });
      const reason = r.video.encoder === 'h264_nvenc' ? '' : still.fallback || (cuda && !cuda.available ? cuda.reason : '');
      ok = verdict(`voiceover burn (hwaccel cuda, ${r.video.width}x${r.video.height}, ${r.video.packets} packets, ${r.timings.total.toFixed(0)} ms)`, r.video.encoder, reason) && ok;
    } catch (err) {
      console.log(`voiceover burn (hwaccel cuda): ERROR ${err.code ?? ''} ${err.message}`);
      ok = false;
    }
  }
  process.exitCode = ok ? 0 : 1;
})();
EOF
done

echo
if [ $fail -ne 0 ]; then
  echo "check-gpu: FAILED: a path errored$([ -n "$gpu" ] && echo ' or did not run h264_nvenc') (see above)"
  exit 1
fi
if [ -z "$gpu" ]; then
  echo "check-gpu: no GPU on this machine: only the software fallbacks ran (see above)."
  exit 0
fi
echo "check-gpu: OK, h264_nvenc ran on every path each build can run"
