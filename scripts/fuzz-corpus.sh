#!/usr/bin/env bash
# Generates the fuzzer's seed corpus (nothing is committed): short clips of every input format the pipeline
# accepts, made by the ffmpeg CLI, each written several times behind the 8 option bytes
# native/fuzz/transcode_fuzzer.cc reads first (probed or with its demuxer named as the hint; AAC in MP4 and ADTS,
# Opus, MP3; limits; filters; two inputs joined), plus text inputs for the demuxers that follow references
# (concat, hls), which must be refused.
# Usage: bash scripts/fuzz-corpus.sh [outdir]   (default .tmp/fuzz/seeds)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.tmp/fuzz/seeds}
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Hint indices, as kHints in the fuzzer.
declare -A HINT=([probe]=0 [mp3]=2 [wav]=3 [flac]=4 [ogg]=5 [mov]=6 [aac]=7 [matroska]=8 [aiff]=9 [caf]=10
  [asf]=11 [ac3]=12 [concat]=13 [hls]=14 [s16le]=15)

n=0
# seed <name> <file> <hint> <byte0 low nibble> <byte1> ... <byte7>   (see the header layout in the fuzzer)
seed() {
  local name=$1 file=$2 hint=$3
  shift 3
  local bytes=("$@") esc="" i
  bytes[0]=$(((HINT[$hint] << 4) | bytes[0]))
  for i in 0 1 2 3 4 5 6 7; do esc+=$(printf '\\x%02x' "${bytes[$i]:-0}"); done
  printf "$esc" > "$OUT/$name"
  cat "$file" >> "$OUT/$name"
  n=$((n + 1))
}

# One short clip, then seeds with different option bytes:
#   probe  m4a 44.1 kHz stereo 192k, probed              hint  ADTS 24 kHz mono 32k fast, hinted
#   lim    m4a 8 kHz no faststart, maxOutputBytes 2561   six   ADTS 48 kHz 6 channels
#   filt   Ogg/Opus, source rate, trim, loudness, measure, fades, tempo 1.5, pads, lowpass
#   mp3    MP3 mono +6 dB                                cat   the clip twice, joined with a 10 ms gap, fMP4
clip() {
  local name=$1 hint=$2
  shift 2
  local file="$WORK/$name"
  if ! ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi \
      -i "sine=frequency=330:sample_rate=16000:duration=0.12,volume=0.5" "$@" "$file" 2>/dev/null; then
    echo "fuzz-corpus: skipped $name (this ffmpeg cannot make it)" >&2
    return 0
  fi
  seed "probe-$name" "$file" probe 0 9 $(((7 << 3) | 2)) 0 2 0 0 0
  seed "hint-$name" "$file" "$hint" 1 7 $(((2 << 3) | 4 | 3)) 0 1 0 0 0
  seed "lim-$name" "$file" "$hint" 8 2 $(((3 << 6) | 3)) 40 0 0 0 0
  seed "six-$name" "$file" probe 1 10 $(((5 << 3) | 1)) 0 3 0 0 0
  seed "filt-$name" "$file" "$hint" 3 0 3 0 $((8 | 16 | 32 | 64 | 128)) $((5 | 32)) $((3 << 3)) 0
  seed "mp3-$name" "$file" probe 5 0 $(((3 << 3) | 2)) 0 1 $((2 << 3)) 0 0
  cat "$file" "$file" > "$WORK/twice"
  seed "cat-$name" "$WORK/twice" "$hint" 2 9 3 0 2 0 $((1 | (1 << 1))) 128
}

clip edge.mp3 mp3 -ar 24000 -ac 1 -c:a libmp3lame -b:a 48k
clip stereo.mp3 mp3 -ar 44100 -ac 2 -c:a libmp3lame -b:a 128k -metadata title=seed
clip layer2.mp2 mp3 -c:a mp2 -b:a 64k
clip s16.wav wav -c:a pcm_s16le
clip u8.wav wav -ar 8000 -c:a pcm_u8
clip f32.wav wav -ac 2 -c:a pcm_f32le
clip s24.wav wav -ar 48000 -c:a pcm_s24le
clip alaw.wav wav -ar 8000 -c:a pcm_alaw
clip adpcm.wav wav -c:a adpcm_ms
clip speech.flac flac -c:a flac
clip stereo.flac flac -ac 2 -ar 44100 -c:a flac -compression_level 0
clip speech.opus ogg -c:a libopus -b:a 24k
clip speech.ogg ogg -c:a libvorbis -q:a 0
clip flac.oga ogg -c:a flac -f ogg
clip speex.spx ogg -ar 16000 -c:a libspeex -f ogg
clip aac.m4a mov -c:a aac -b:a 64k
clip alac.m4a mov -c:a alac
clip pcm.mov mov -c:a pcm_s16be
clip mp3.mp4 mov -c:a libmp3lame -f mp4
clip aac.adts aac -c:a aac -b:a 64k -f adts
clip opus.mka matroska -c:a libopus -b:a 24k
clip vorbis.webm matroska -c:a libvorbis -f webm
clip pcm.mkv matroska -c:a pcm_s16le -f matroska
clip s16.aiff aiff -c:a pcm_s16be
clip alac.caf caf -c:a alac
clip pcm.caf caf -c:a pcm_s16le
clip wma.asf asf -c:a wmav2 -b:a 32k -f asf
clip speech.ac3 ac3 -c:a ac3 -b:a 64k
clip speech.eac3 ac3 -c:a eac3 -b:a 64k -f eac3
clip speech.au probe -c:a pcm_mulaw -ar 8000 -f au
clip speech.w64 probe -c:a pcm_s16le -f w64
clip speech.wv probe -c:a wavpack
clip speech.tta probe -c:a tta
clip speech.voc probe -c:a pcm_u8 -ar 8000 -f voc
clip speech.gsm probe -ar 8000 -c:a libgsm -f gsm
clip speech.dts probe -ar 48000 -ac 2 -c:a dca -b:a 384k -strict -2 -f dts
clip speech.mka2 matroska -c:a flac -f matroska
clip speech.nut probe -c:a pcm_s16le -f nut
clip speech.ts probe -c:a mp2 -f mpegts
clip speech.sox probe -c:a pcm_s32le -f sox

# Raw PCM for the s16le hint: any bytes are audio to it.
head -c 4000 /dev/urandom > "$WORK/raw.pcm"
seed hint-raw.s16le "$WORK/raw.pcm" s16le 0 9 2 0 2 0 0 0
# Streaming mode (byte 6 bit 6; byte 7: input codec and chunk size): MP3 as EdgeTTS sends it in 112-byte chunks
# to mono ADTS; the same to fMP4 with trim, loudness and a lowpass in 1-byte chunks; ADTS in 38-byte chunks;
# s16 PCM at 22.05 kHz and f32 PCM at 8 kHz.
[ -f "$WORK/edge.mp3" ] && seed stream-edge.mp3 "$WORK/edge.mp3" probe 1 0 $(((7 << 3) | 3)) 0 1 0 64 $((3 << 2))
[ -f "$WORK/edge.mp3" ] && seed stream-fmp4.mp3 "$WORK/edge.mp3" probe 2 0 3 0 $((8 | 32)) 0 $((64 | (3 << 3))) 0
[ -f "$WORK/aac.adts" ] && seed stream-aac.adts "$WORK/aac.adts" probe 1 9 3 0 2 0 64 $(((1 << 2) | 1))
seed stream-s16.pcm "$WORK/raw.pcm" probe 1 2 3 0 1 0 64 $(((10 << 2) | 2))
seed stream-f32.pcm "$WORK/raw.pcm" probe 1 0 3 0 2 $((128 | 5)) 64 $(((60 << 2) | 3))
# Reference-following demuxers: a concat list and an HLS playlist naming local files and a URL.
printf 'ffconcat version 1.0\nfile /etc/hostname\nfile %s\n' "$PWD/package.json" > "$WORK/list.ffconcat"
seed hint-list.ffconcat "$WORK/list.ffconcat" concat 0 9 2 0 2 0 0 0
seed probe-list.ffconcat "$WORK/list.ffconcat" probe 0 9 2 0 2 0 0 0
printf '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/hostname\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n' \
  > "$WORK/list.m3u8"
seed hint-list.m3u8 "$WORK/list.m3u8" hls 0 9 2 0 2 0 0 0
seed probe-list.m3u8 "$WORK/list.m3u8" probe 0 9 2 0 2 0 0 0
# A raw chain naming a refused filter (amovie reads a file).
seed refused-chain "$WORK/raw.pcm" s16le 0 9 2 0 2 0 $((7 << 3)) 0

echo "fuzz-corpus: $n seeds in $OUT"
