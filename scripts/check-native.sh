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

# The publisher's sessions under LeakSanitizer: reconnect cycles against a local nginx-rtmp restarted under it, plain
# and behind a stunnel TLS front, and close/recreate cycles (where the servers are installed, as the RTMP tests need).
RTMP_MOD=/usr/lib/nginx/modules/ngx_rtmp_module.so
if [ -x /usr/sbin/nginx ] && [ -f "$RTMP_MOD" ] && command -v ffmpeg >/dev/null; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  NG="$WORK/nginx"
  mkdir -p "$NG"
  cat > "$NG/nginx.conf" <<CONF
load_module $RTMP_MOD;
daemon off; master_process off; worker_processes 1; pid $NG/nginx.pid; error_log $NG/error.log warn;
events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:$PORT; chunk_size 4096; application live { live on; } } }
CONF
  cat > "$NG/ctl.sh" <<'CTL'
#!/usr/bin/env bash
# ctl.sh start|stop|restart DIR PORT: nginx in the background, its pid in DIR/npid; start waits for the port.
d=$2 p=$3
start() {
  /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" </dev/null >/dev/null 2>&1 &
  echo $! > "$d/npid"
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
stop() {
  local pid; pid=$(cat "$d/npid")
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}
case $1 in start) start ;; stop) stop ;; restart) stop; sleep "${4:-0}"; start ;; esac
CTL
  chmod +x "$NG/ctl.sh"
  ffmpeg -v error -y -f lavfi -i sine=f=440:d=3 -ar 48000 -ac 2 -c:a aac -f adts "$WORK/tone.aac"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=30 -t 2.5 -c:v libx264 -preset veryfast -g 30 -bf 2 \
    -pix_fmt yuv420p "$WORK/loop.mp4" 2>/dev/null || ffmpeg -v error -y -f lavfi -i testsrc2=size=320x180:rate=30 \
    -t 2.5 -c:v libopenh264 -g 30 "$WORK/loop.mp4"
  "$NG/ctl.sh" start "$NG" "$PORT"
  PBIN=build-asan/ttsav-core-publish
  RESTART="$NG/ctl.sh restart $NG $PORT 1"
  BIN=$PBIN run "$WORK/tone.aac" "rtmp://127.0.0.1:$PORT/live/a" cycles=4 send_ms=500 "video=$WORK/loop.mp4" "drop_cmd=$RESTART"
  BIN=$PBIN run "$WORK/tone.aac" "rtmp://127.0.0.1:$PORT/live/b" cycles=3 send_ms=500 "video=$WORK/loop.mp4"
  STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
  if [ -n "$STUNNEL" ] && command -v openssl >/dev/null; then
    TPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$NG/key.pem" -out "$NG/cert.pem" -days 1 -subj /CN=localhost \
      -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
    printf 'foreground = yes\npid =\n[rtmps]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\nkey = %s\n' \
      "$TPORT" "$PORT" "$NG/cert.pem" "$NG/key.pem" > "$NG/stunnel.conf"
    "$STUNNEL" "$NG/stunnel.conf" </dev/null >/dev/null 2>&1 &
    SPID=$!
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$TPORT") 2>/dev/null && break; sleep 0.05; done
    BIN=$PBIN run "$WORK/tone.aac" "rtmps://127.0.0.1:$TPORT/live/c" cycles=4 send_ms=500 "video=$WORK/loop.mp4" \
      "ca=$NG/cert.pem" "drop_cmd=$RESTART"
    kill "$SPID" 2>/dev/null || true
  fi
  "$NG/ctl.sh" stop "$NG" "$PORT"
fi

echo "check-native: $runs runs, $fail sanitizer failures"
[ $fail -eq 0 ]
