#!/usr/bin/env bash
# Runs the pure C++ core under AddressSanitizer + UndefinedBehaviorSanitizer (leak checking on) over the test
# fixtures, mangled and truncated copies of them, a sample of the bad-input corpus, limits, cancellation and
# timeouts. Any sanitizer report fails.
# Needs the fixtures (npm test generates them into .tmp/fixtures). Usage: bash scripts/check-native.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FX=.tmp/fixtures
[ -f "$FX/edge.mp3" ] || { echo "no fixtures: run npm test first"; exit 2; }

cmake -S . -B build-asan -DTTSAV_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
BIN=build-asan/ttsav-core-transcode
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98
runs=0
fail=0
run() {
  runs=$((runs + 1))
  local out rc=0
  out=$("$BIN" "$@" 2>&1) || rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
    fail=$((fail + 1))
    echo "SANITIZER FAILURE (rc=$rc): $BIN $*"
    echo "$out" | head -40
  fi
}

# Whole inputs, several settings.
for f in edge.mp3 speech.wav stereo48k.wav speech.flac speech.opus speech.m4a; do
  run "$FX/$f" "$WORK/out.m4a"
  run "$FX/$f" "$WORK/out.m4a" faststart=0
  run "$FX/$f" "$WORK/out.aac" container=adts channels=1 rate=24000 bitrate=64000 coder=fast
done
# Bad inputs.
: > "$WORK/empty"
head -c 65536 /dev/urandom > "$WORK/random"
for f in "$WORK/empty" "$WORK/random" "$FX/cut37.mp3" "$FX/image.png" "$FX/video-only.mp4"; do run "$f"; done
run "$WORK/random" - hint=mp3
# Truncations and byte flips of every input format.
for f in edge.mp3 speech.wav speech.flac speech.opus speech.m4a; do
  size=$(stat -c %s "$FX/$f")
  for pct in 1 5 20 50 90 99; do
    head -c $((size * pct / 100)) "$FX/$f" > "$WORK/cut"
    run "$WORK/cut" - container=adts
    run "$WORK/cut" - container=adts conceal=1
  done
  for seed in 1 2 3 4 5 6 7 8; do
    python3 - "$FX/$f" "$WORK/flip" "$seed" <<'PY'
import random, sys
data = bytearray(open(sys.argv[1], 'rb').read())
rng = random.Random(int(sys.argv[3]))
for _ in range(rng.randint(1, 60)):
    data[rng.randrange(len(data))] = rng.randrange(256)
open(sys.argv[2], 'wb').write(data)
PY
    run "$WORK/flip" - container=adts
    run "$WORK/flip" -
    run "$WORK/flip" - conceal=1
  done
done
# Every 6th file of the bad-input corpus (scripts/corpus-bad.mjs: truncations, flips, lying headers, wrong hints).
node scripts/corpus-bad.mjs generate "$WORK/bad" >/dev/null
while read -r f hint; do
  if [ -n "$hint" ]; then run "$WORK/bad/$f" - container=adts channels=1 maxdur=60 "hint=$hint"
  else run "$WORK/bad/$f" - container=adts channels=1 maxdur=60; fi
  run "$WORK/bad/$f" - container=adts channels=1 maxdur=60 conceal=1 ${hint:+"hint=$hint"}
done < <(node -e "require('$WORK/bad/manifest.json').forEach((m, i) => i % 6 === 0 && console.log(m.file, m.hint || ''))")
# Limits, cancellation, timeouts at several points.
run "$FX/bomb.flac" - maxdur=60
run "$FX/bomb-undeclared.flac" - maxdur=10
run "$FX/edge.mp3" - maxout=20000
run "$FX/edge.mp3" - maxout=20000 faststart=0
for ms in 0 1 5 20 80; do
  run "$FX/long.mp3" - cancel_after_ms=$ms
  run "$FX/long.mp3" - timeout=$((ms + 1))
done

echo "check-native: $runs runs, $fail sanitizer failures"
[ $fail -eq 0 ]
