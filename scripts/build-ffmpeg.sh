#!/usr/bin/env bash
# Builds the minimal, static, LGPL-only FFmpeg that ttsav links when TTSAV_FFMPEG=bundled, with lame (LGPL),
# opus (BSD), zlib (zlib licence; PNG), openh264 (BSD; the H.264 encoder for still-image video), mbedtls (Apache-2.0;
# TLS for rtmps://, which makes the build "LGPL version 3 or later") and NVIDIA's nv-codec-headers (MIT; NVENC/CUDA
# loaded at run time when a GPU driver is present, nothing needed when not), all built from their Debian source
# packages (-fPIC: Debian's own .a files are PIE and refuse to go into a shared object), and the ffmpeg CLI from the
# same source and configuration (the tests' oracle; never shipped).
#
#   bash scripts/build-ffmpeg.sh            # build once; later runs print the prefix and exit
#   bash scripts/build-ffmpeg.sh --prefix   # print the prefix only (fails if not built)
#   TTSAV_FFMPEG_PGO=0 bash scripts/build-ffmpeg.sh   # without profile-guided optimization (see below)
#
# The result lives in .ffmpeg/<key>/prefix (git-ignored), where <key> hashes this script, the PGO setting and (with
# PGO) the training signal generator: changing a version, a configure flag or the training makes a new prefix, never
# a half-reused one. A build is only trusted once its `.complete` stamp exists; a failed or interrupted build (a
# failed training run included) leaves no stamp and is started over.
#
# PGO (TTSAV_FFMPEG_PGO=1, the default; 0 turns it off): after the normal build, the AAC encoder's objects
# (PGO_OBJECTS below) are rebuilt instrumented (gcc -fprofile-generate), the CLI encodes a training set to AAC with
# the presets' settings (synthetic speech, tonal, noise and mixed signals that scripts/pgo-signals.c writes, mono and
# stereo, 22.05-48 kHz; samples/hello.mp3 when present), and those objects are rebuilt once more with -fprofile-use
# -fprofile-partial-training. Everything else (the rest of FFmpeg, lame, opus, openh264, mbedtls) is built as
# without PGO. The profile lives in the build folder only (never in git). Floating-point semantics do not change: the AAC
# output is byte-identical to the build without PGO (bench/ffmpeg-builds.mjs checks it; bench/RESULTS.md, issue 12).
#
# Sources come from Debian's source packages: a private apt directory with deb-src entries derived from this
# machine's own apt sources (its Debian mirror, with the suite that carries FFmpeg 7.1), /etc untouched. apt checks
# the files against the signed Sources index; we check the .dsc's SHA-256 sums again before unpacking.
set -euo pipefail

FFMPEG_DEB_VERSION="7:7.1.5-0+deb13u1"
LAME_DEB_VERSION="3.100-6"
OPUS_DEB_VERSION="1.5.2-2"
OPENH264_DEB_VERSION="2.6.0+dfsg-2"
MBEDTLS_DEB_VERSION="3.6.6-0.1~deb13u1"
NVCODEC_DEB_VERSION="12.1.14.0-1"
ZLIB_DEB_VERSION="1:1.3.dfsg+really1.3.1-1+deb13u1"
SOURCE_SUITE="trixie"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PGO="${TTSAV_FFMPEG_PGO:-1}"
TRAIN_SRC="$ROOT/scripts/pgo-signals.c"
case "$PGO" in
  0 | 1) ;;
  *) echo "build-ffmpeg: TTSAV_FFMPEG_PGO must be 0 or 1, not '$PGO'" >&2 && exit 1 ;;
esac
if [ "$PGO" = 1 ] && [ ! -f "$TRAIN_SRC" ]; then
  echo "build-ffmpeg: $TRAIN_SRC is missing (the PGO training needs it): restore it, or set TTSAV_FFMPEG_PGO=0" >&2
  exit 1
fi
KEY="$({ cat "$0"; echo "pgo=$PGO"; if [ "$PGO" = 1 ]; then cat "$TRAIN_SRC"; fi; } | sha256sum | cut -c1-12)"
BASE="$ROOT/.ffmpeg"
DIR="$BASE/ffmpeg-7.1-$KEY"
PREFIX="$DIR/prefix"

die() {
  echo "build-ffmpeg: $*" >&2
  exit 1
}

if [ "${1:-}" = "--prefix" ]; then
  [ -f "$DIR/.complete" ] || die "not built yet: run bash scripts/build-ffmpeg.sh"
  echo "$PREFIX"
  exit 0
fi
if [ -f "$DIR/.complete" ]; then
  echo "$PREFIX"
  exit 0
fi

command -v nasm >/dev/null || die "nasm is missing (without it the AAC encoder is slower and its bitstream differs): apt-get install nasm"
command -v cc >/dev/null || command -v gcc >/dev/null || die "no C compiler: apt-get install build-essential"
command -v make >/dev/null || die "make is missing: apt-get install make"
command -v cmake >/dev/null || die "cmake is missing (mbedtls builds with it): apt-get install cmake"
command -v c++ >/dev/null || command -v g++ >/dev/null || die "no C++ compiler (openh264 is C++): apt-get install g++"
command -v apt-get >/dev/null || die "apt-get is missing: the sources come from Debian's source packages"

JOBS="${TTSAV_BUILD_JOBS:-$(nproc)}"
rm -rf "$DIR"
mkdir -p "$DIR/apt/lists/partial" "$DIR/apt/cache/archives/partial" "$DIR/apt/etc/sources.list.d" "$DIR/dl" "$DIR/src" "$PREFIX"

# deb-src entries from this machine's Debian mirrors (deb822 .sources and one-line .list files).
mirrors() {
  {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' || true
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' || true
  } | grep -E '/debian/?$' | sort -u || true
}
MIRRORS="$(mirrors)"
[ -n "$MIRRORS" ] || die "no Debian mirror in /etc/apt sources to derive a deb-src entry from"
{
  echo "Types: deb-src"
  echo "URIs: $(echo $MIRRORS)"
  echo "Suites: $SOURCE_SUITE"
  echo "Components: main"
  echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
} > "$DIR/apt/etc/sources.list.d/ttsav-src.sources"
: > "$DIR/apt/etc/sources.list"
APT=(-o "Dir::Etc::SourceList=$DIR/apt/etc/sources.list" -o "Dir::Etc::SourceParts=$DIR/apt/etc/sources.list.d"
  -o "Dir::State::Lists=$DIR/apt/lists" -o "Dir::Cache=$DIR/apt/cache" -o "APT::Sandbox::User=root")
apt-get "${APT[@]}" -qq update || die "apt-get update of the private deb-src list failed (network? mirror?)"

fetch() { # package version
  # apt checks what it downloads against the signed Sources index. Only the upstream (orig) tarball is used: some
  # mirrors lack a .dsc or Debian's packaging tarball, so a failed download is fine as long as the orig tarball came,
  # and its SHA-256 is checked again against the Sources index entry for exactly this version.
  (cd "$DIR/dl" && apt-get "${APT[@]}" -qq source --download-only "$1=$2" >/dev/null 2>&1) || true
  local orig want
  orig="$(ls "$DIR/dl/$1_"*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -1 || true)"
  [ -n "$orig" ] || die "cannot download the $1 $2 source package"
  want="$(apt-cache "${APT[@]}" showsrc "$1" | awk -v v="$2" -v f="$(basename "$orig")" '
    /^Version:/ { cur = $2 } /^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 }
    on && cur == v && $3 == f && !done { print $1; done = 1 }')"
  [ -n "$want" ] || die "no checksum for $(basename "$orig") in the Sources index"
  echo "$want  $orig" | sha256sum --quiet -c - || die "checksum mismatch in the $1 source package: delete $DIR and retry"
}

unpack() { # package → directory
  local orig
  orig="$(ls "$DIR/dl/$1_"*.orig.tar.* | grep -v '\.asc$' | head -1)"
  mkdir -p "$DIR/src/$1"
  tar -xf "$orig" -C "$DIR/src/$1" --strip-components=1
  echo "$DIR/src/$1"
}

fetch ffmpeg "$FFMPEG_DEB_VERSION"
fetch lame "$LAME_DEB_VERSION"
fetch opus "$OPUS_DEB_VERSION"
fetch openh264 "$OPENH264_DEB_VERSION"
fetch mbedtls "$MBEDTLS_DEB_VERSION"
fetch nv-codec-headers "$NVCODEC_DEB_VERSION"
fetch zlib "$ZLIB_DEB_VERSION"

export CFLAGS="-O2 -fPIC -fvisibility=hidden"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"

echo "build-ffmpeg: lame" >&2
src="$(unpack lame)"
(cd "$src" && ./configure --prefix="$PREFIX" --enable-static --disable-shared --with-pic --disable-frontend \
  --disable-decoder --disable-gtktest --enable-nasm >"$DIR/lame.log" 2>&1 && make -j"$JOBS" >>"$DIR/lame.log" 2>&1 &&
  make install >>"$DIR/lame.log" 2>&1) || die "lame failed to build: see $DIR/lame.log"

echo "build-ffmpeg: opus" >&2
src="$(unpack opus)"
(cd "$src" && ./configure --prefix="$PREFIX" --enable-static --disable-shared --with-pic --disable-doc \
  --disable-extra-programs >"$DIR/opus.log" 2>&1 && make -j"$JOBS" >>"$DIR/opus.log" 2>&1 &&
  make install >>"$DIR/opus.log" 2>&1) || die "opus failed to build: see $DIR/opus.log"

echo "build-ffmpeg: zlib" >&2
src="$(unpack zlib)"
(cd "$src" && ./configure --static --prefix="$PREFIX" >"$DIR/zlib.log" 2>&1 && make -j"$JOBS" libz.a >>"$DIR/zlib.log" 2>&1 &&
  make install >>"$DIR/zlib.log" 2>&1) || die "zlib failed to build: see $DIR/zlib.log"

echo "build-ffmpeg: openh264" >&2
src="$(unpack openh264)"
(cd "$src" && make -j"$JOBS" PREFIX="$PREFIX" CFLAGS_OPT="-O3 -fvisibility=hidden" install-static \
  >"$DIR/openh264.log" 2>&1) || die "openh264 failed to build: see $DIR/openh264.log"

echo "build-ffmpeg: mbedtls" >&2
src="$(unpack mbedtls)"
(cd "$src" && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF \
  -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF >"$DIR/mbedtls.log" 2>&1 &&
  cmake --build build -j"$JOBS" >>"$DIR/mbedtls.log" 2>&1 && cmake --install build >>"$DIR/mbedtls.log" 2>&1) ||
  die "mbedtls failed to build: see $DIR/mbedtls.log"

echo "build-ffmpeg: nv-codec-headers" >&2
src="$(unpack nv-codec-headers)"
(cd "$src" && make PREFIX="$PREFIX" install >"$DIR/nv-codec-headers.log" 2>&1) ||
  die "nv-codec-headers failed to install: see $DIR/nv-codec-headers.log"

# What ttsav uses, and nothing else (see native/ and lib/options.ts). Audio in: the containers and codecs
# EdgeTTS, TTS engines, phones and editors produce; out: AAC (mp4/adts), Opus (ogg/webm), MP3. Video: stream copy of
# H.264/HEVC/VP8/VP9/AV1 (parsers, bitstream filters; no video decoders: video is never decoded), PNG/JPEG stills
# decoded (zlib for PNG) and encoded
# H.264 (openh264, or NVENC on a GPU); subtitles as mov_text/WebVTT; RTMP(S) over TCP/TLS for live publishing.
DEMUXERS=image2,image_png_pipe,image_jpeg_pipe,webvtt,srt,aac,ac3,aiff,amr,ape,au,caf,eac3,flac,flv,live_flv,matroska,mov,mp3,mpegts,ogg,w64,wav,wv,
DEMUXERS+=pcm_alaw,pcm_f32be,pcm_f32le,pcm_f64le,pcm_mulaw,pcm_s16be,pcm_s16le,pcm_s24le,pcm_s32le,pcm_s8,pcm_u8
DECODERS=png,mjpeg,movtext,webvtt,subrip,aac,aac_latm,ac3,alac,amrnb,amrwb,ape,eac3,flac,mp1,mp1float,mp2,mp2float,mp3,mp3float,opus,vorbis,wavpack,
DECODERS+=adpcm_ima_wav,adpcm_ms,gsm_ms,pcm_alaw,pcm_f32be,pcm_f32le,pcm_f64le,pcm_mulaw,pcm_s16be,pcm_s16le,
DECODERS+=pcm_s24be,pcm_s24le,pcm_s32le,pcm_s8,pcm_u8
PARSERS=aac,aac_latm,ac3,flac,mpegaudio,opus,vorbis,h264,hevc,vp8,vp9,av1,png,mjpeg
ENCODERS=aac,libmp3lame,libopus,pcm_s16le,pcm_f32le,libopenh264,h264_nvenc,movtext,webvtt
MUXERS=adts,ipod,matroska,mov,mp3,mp4,ogg,opus,webm,wav,flv,mpegts,webvtt,framemd5,null,pcm_f32le,pcm_s16le
BSFS=aac_adtstoasc,h264_mp4toannexb,hevc_mp4toannexb,extract_extradata,vp9_superframe,av1_frame_merge
FILTERS=aformat,aresample,atempo,volume,highpass,lowpass,afade,apad,atrim,asetpts,silenceremove,
FILTERS+=loudnorm,ebur128,concat,aecho,anull,null,format,scale,crop,trim,asetnsamples,amix,sidechaincompress,
FILTERS+=acompressor,alimiter,asplit,amerge,pan,volumedetect,adelay,aloop,anullsrc,astats,
FILTERS+=fps,loop,pad,setsar,setpts,hwupload,hwupload_cuda
PROTOCOLS=file,pipe,tcp,tls,rtmp,rtmps

echo "build-ffmpeg: ffmpeg $FFMPEG_DEB_VERSION" >&2
src="$(unpack ffmpeg)"
# configure ignores a component name it does not know (raw PCM muxers are pcm_f32le, not f32le): refuse one here.
check_names() { # kind list
  local known name
  known="$(cd "$src" && ./configure --list-"$1"s | tr -s ' \t' '\n')"
  for name in ${2//,/ }; do
    grep -qx "$name" <<<"$known" || die "FFmpeg 7.1 has no $1 named '$name' (see ./configure --list-$1s)"
  done
}
check_names demuxer "$DEMUXERS"; check_names decoder "$DECODERS"; check_names parser "$PARSERS"
check_names encoder "$ENCODERS"; check_names muxer "$MUXERS"; check_names bsf "$BSFS"
check_names filter "$FILTERS"; check_names protocol "$PROTOCOLS"
(cd "$src" && ./configure --prefix="$PREFIX" --pkg-config-flags=--static \
  --extra-cflags="-I$PREFIX/include -fPIC" --extra-ldflags="-L$PREFIX/lib" \
  --enable-static --disable-shared --enable-pic --disable-autodetect --disable-everything --disable-doc \
  --disable-debug --disable-avdevice --disable-postproc --enable-network --enable-version3 \
  --enable-avformat --enable-avcodec --enable-avfilter --enable-swresample --enable-swscale \
  --enable-ffmpeg --disable-ffplay --disable-ffprobe --enable-pthreads \
  --enable-libmp3lame --enable-libopus --enable-libopenh264 --enable-mbedtls --enable-zlib \
  --enable-ffnvcodec --enable-cuda --enable-nvenc --extra-libs="-lstdc++ -ldl" \
  --enable-demuxer="$DEMUXERS" --enable-decoder="$DECODERS" --enable-parser="$PARSERS" \
  --enable-encoder="$ENCODERS" --enable-muxer="$MUXERS" --enable-bsf="$BSFS" --enable-filter="$FILTERS" \
  --enable-protocol="$PROTOCOLS" >"$DIR/ffmpeg-configure.log" 2>&1) ||
  die "FFmpeg's configure failed: see $DIR/ffmpeg-configure.log (and $src/ffbuild/config.log)"
grep -q -- '--enable-gpl\|--enable-nonfree' "$src/ffbuild/config.mak" && die "the configuration is not LGPL-only"

(cd "$src" && make -j"$JOBS" >"$DIR/ffmpeg-build.log" 2>&1) || die "FFmpeg failed to build: see $DIR/ffmpeg-build.log"

# PGO, for the AAC encoder's own objects only (what the AAC path spends its time in: the coder, quantizer, psy
# model, TNS/IS/LTP/prediction, LPC, MDCT, float DSP, resampler). Profiling the whole of FFmpeg made the stripped
# addon 2.1 MB larger (-fprofile-use turns on loop unrolling and peeling everywhere, trained or not), past the
# 8 MiB limit. The flags go in through make's ECFLAGS (FFmpeg's hook for them), not configure, so the configuration
# string that versions() and `ttsav doctor` report is the same with and without PGO.
PGO_OBJECTS=(libavcodec/aaccoder.o libavcodec/aacenc.o libavcodec/aacenc_is.o libavcodec/aacenc_ltp.o
  libavcodec/aacenc_pred.o libavcodec/aacenc_tns.o libavcodec/aacpsy.o libavcodec/psymodel.o libavcodec/iirfilter.o
  libavcodec/lpc.o libavcodec/x86/aacencdsp_init.o libavutil/float_dsp.o libavutil/tx.o libavutil/tx_float.o
  libswresample/resample.o libswresample/swresample.o libswresample/audioconvert.o libswresample/rematrix.o)
if [ "$PGO" = 1 ]; then
  PROFILE="$DIR/pgo/profile"
  mkdir -p "$PROFILE"
  # Objects of another architecture's build (libavcodec/x86/ on x86 only) are left out; the coder must be there.
  present=()
  for o in "${PGO_OBJECTS[@]}"; do [ ! -f "$src/$o" ] || present+=("$o"); done
  PGO_OBJECTS=("${present[@]}")
  [ -f "$src/libavcodec/aaccoder.o" ] || die "PGO: libavcodec/aaccoder.o was not built (FFmpeg's file names changed?): update PGO_OBJECTS"
  echo "build-ffmpeg: PGO: the AAC encoder instrumented" >&2
  started=$SECONDS
  # prefer-atomic: the CLI runs decoding, filtering, encoding and muxing on separate threads; exact counts keep
  # -fprofile-use from rejecting a profile as inconsistent. The CLI's link needs -fprofile-generate too (libgcov):
  # added to configure's LDEXEFLAGS (empty today).
  ldexe="$(sed -n 's/^LDEXEFLAGS=//p' "$src/ffbuild/config.mak") -fprofile-generate"
  (cd "$src" && rm -f "${PGO_OBJECTS[@]}" && make -j"$JOBS" ECFLAGS="-fprofile-generate=$PROFILE -fprofile-update=prefer-atomic" \
    LDEXEFLAGS="$ldexe" ffmpeg >"$DIR/pgo-instrumented.log" 2>&1) ||
    die "the instrumented FFmpeg (PGO) failed to build: see $DIR/pgo-instrumented.log (TTSAV_FFMPEG_PGO=0 builds without PGO)"
  "$(command -v cc || command -v gcc)" -O2 -o "$DIR/pgo/pgo-signals" "$TRAIN_SRC" -lm >"$DIR/pgo-train.log" 2>&1 ||
    die "scripts/pgo-signals.c failed to compile: see $DIR/pgo-train.log (TTSAV_FFMPEG_PGO=0 builds without PGO)"
  echo "build-ffmpeg: PGO training" >&2
  # The training set: what ttsav's presets do (lib/options.ts: balanced 192k 44.1 kHz stereo twoloop,
  # high_quality 256k 48 kHz stereo twoloop, high_speed 128k 44.1 kHz stereo fast, speech 64k mono fast at the
  # source's rate), on mono TTS-like input (resampled, upmixed) and stereo input, into mp4 and ADTS.
  train() { # signal rate channels seconds -- ffmpeg output options
    local wav="$DIR/pgo/$1-$2-$3.wav"
    [ -f "$wav" ] || "$DIR/pgo/pgo-signals" "$1" "$2" "$3" "$4" "$wav" || return 1
    shift 5
    "$src/ffmpeg" -nostdin -hide_banner -v error -y -i "$wav" -threads 1 "$@"
  }
  train_all() {
    local o="$DIR/pgo/out"
    train speech 24000 1 20 -- -c:a aac -aac_coder fast -b:a 64k -ac 1 -f adts "$o.aac" || return 1
    train speech 24000 1 20 -- -c:a aac -aac_coder twoloop -b:a 192k -ar 44100 -ac 2 -f mp4 "$o.m4a" || return 1
    train speech 22050 1 10 -- -c:a aac -aac_coder twoloop -b:a 96k -ar 44100 -ac 1 -f mp4 "$o.m4a" || return 1
    train mixed 44100 2 15 -- -c:a aac -aac_coder twoloop -b:a 192k -f mp4 "$o.m4a" || return 1
    train tonal 48000 2 10 -- -c:a aac -aac_coder twoloop -b:a 256k -f mp4 "$o.m4a" || return 1
    train noise 44100 2 6 -- -c:a aac -aac_coder twoloop -b:a 192k -f adts "$o.aac" || return 1
    train noise 44100 2 6 -- -c:a aac -aac_coder fast -b:a 128k -f mp4 "$o.m4a" || return 1
    train tonal 44100 1 6 -- -c:a aac -aac_coder fast -b:a 64k -f adts "$o.aac" || return 1
    if [ -f "$ROOT/samples/hello.mp3" ]; then
      "$src/ffmpeg" -nostdin -hide_banner -v error -y -i "$ROOT/samples/hello.mp3" -threads 1 \
        -c:a aac -b:a 192k -ar 44100 -ac 2 -f mp4 "$o.m4a" || return 1
    fi
  }
  train_all >>"$DIR/pgo-train.log" 2>&1 ||
    die "the PGO training run failed: see $DIR/pgo-train.log (TTSAV_FFMPEG_PGO=0 builds without PGO)"
  [ -n "$(find "$PROFILE" -name '*aaccoder.gcda' -print -quit)" ] ||
    die "the PGO training wrote no profile for the AAC encoder (in $PROFILE): TTSAV_FFMPEG_PGO=0 builds without PGO"
  echo "build-ffmpeg: PGO: rebuilding the AAC encoder with the profile" >&2
  # -fprofile-partial-training: functions of these files the training never ran are optimized as without PGO.
  # A profile that does not match the source is an error (gcc's -Wcoverage-mismatch default), never silently used.
  (cd "$src" && rm -f "${PGO_OBJECTS[@]}" ffmpeg ffmpeg_g &&
    make -j"$JOBS" ECFLAGS="-fprofile-use=$PROFILE -fprofile-partial-training" >"$DIR/pgo-use.log" 2>&1) ||
    die "FFmpeg failed to build with the PGO profile: see $DIR/pgo-use.log (TTSAV_FFMPEG_PGO=0 builds without PGO)"
  echo "build-ffmpeg: PGO added $((SECONDS - started)) s" >&2
fi
(cd "$src" && make install >>"$DIR/ffmpeg-build.log" 2>&1) || die "FFmpeg failed to install: see $DIR/ffmpeg-build.log"
"$PREFIX/bin/ffmpeg" -hide_banner -L 2>/dev/null | grep -q 'Lesser General Public' || die "the built ffmpeg does not report the LGPL"

touch "$DIR/.complete"
echo "$PREFIX"
