#!/usr/bin/env bash
# Builds the libFuzzer target (native/fuzz/transcode_fuzzer.cc; clang, ASan+UBSan) into build-fuzz/, replays the
# committed regression inputs (native/fuzz/regressions/: every input a fuzz run ever crashed on), then fuzzes for
# the given number of seconds from the generated seed corpus (scripts/fuzz-corpus.sh) plus the corpus kept in
# .tmp/fuzz/corpus from earlier runs. Crashing inputs land in .tmp/fuzz/artifacts/.
#   bash scripts/fuzz.sh [seconds (default 60)] [extra libFuzzer flags...]      (or: npm run fuzz -- 60)
# Prints "fuzz: <execs> execs in <s> s, cov <n> ft <n>, corpus <n>, <n> crashes" and exits non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
shift || true

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (Debian: apt-get install clang libclang-rt-14-dev)"; exit 2; }
# The fuzzer links the system libav (TTSAV_FFMPEG=system): it exercises ttsav's own code, and libFuzzer's driver
# reported a bad free of its own memory at exit when linked with the static bundled libs (2026-12-02, not yet
# understood; the ASan build of scripts/check-native.sh runs on the bundled build clean).
export TTSAV_FFMPEG=system
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DTTSAV_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target ttsav-fuzz-transcode >/dev/null
BIN=build-fuzz/ttsav-fuzz-transcode

F=.tmp/fuzz
mkdir -p "$F/corpus" "$F/artifacts"
bash scripts/fuzz-corpus.sh "$F/seeds" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1
# Limits: a job over at most 16 KiB of input and 1 s of audio has no business near these. ttsav caps a single libav
# allocation at 128 MiB (native/av/init.h), so a malloc over 512 MiB is a finding, and so is an RSS over 2 GiB (a
# WAV tag declaring 2.4 GB once took 2.3 GB before the cap).
LIMITS=(-max_len=16384 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512)

# 1. Regressions: each must run clean.
regressions=(native/fuzz/regressions/*)
if [ -e "${regressions[0]}" ]; then
  "$BIN" "${LIMITS[@]}" "${regressions[@]}" >"$F/regressions.log" 2>&1 || {
    tail -60 "$F/regressions.log"
    echo "fuzz: a regression input fails again (see $F/regressions.log)"
    exit 1
  }
  echo "fuzz: ${#regressions[@]} regression inputs clean"
fi

# 2. Fuzz.
LOG="$F/last-run.log"
rc=0
"$BIN" "${LIMITS[@]}" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 -artifact_prefix="$F/artifacts/" \
  "$@" "$F/corpus" "$F/seeds" >"$LOG" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)
last=$(grep -E '^#[0-9]+' "$LOG" | grep -E 'cov: ' | tail -1 || true)
cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corpus=$(find "$F/corpus" -type f | wc -l)
crashes=0
[ $rc -eq 0 ] || crashes=1
echo "fuzz: ${execs:-0} execs in ${SECONDS_TO_RUN} s, cov ${cov:-?} ft ${ft:-?}, corpus ${corpus}, ${crashes} crashes"
if [ $rc -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|transcode_fuzzer:|Test unit written' "$LOG" | head -20
  echo "fuzz: finding — reproduce with: $BIN <artifact>; full log in $LOG"
  exit 1
fi
