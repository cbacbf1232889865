// libFuzzer target over the pure C++ core: fuzz bytes -> av::Transcode (then av::Probe), with the job's options
// drawn from the first kHeaderBytes bytes of the input and the rest handed to the pipeline as the media file(s).
//
// Built by CMakeLists.txt with clang (-DTTSAV_FUZZ=ON) under -fsanitize=fuzzer,address,undefined; run by
// scripts/fuzz.sh (`npm run fuzz -- <seconds>`), seeded by scripts/fuzz-corpus.sh. Any crash, sanitizer report,
// leak, uncaught exception or broken invariant below is a finding.
//
// Header layout (scripts/fuzz-corpus.sh writes the same bytes in front of every seed):
//   byte 0: bits 0-2 output (kOutputs), bit 3 faststart off, bits 4-7 inputFormat hint (kHints)
//   byte 1: sampleRate, an index into the output codec's rates (0 = keep the source's)
//   byte 2: bits 0-1 maxDurationSeconds {0.1, 0.25, 0.5, 1}, bit 2 aac_coder=fast, bits 3-5 bitrate index,
//           bits 6-7 == 3: a maxOutputBytes limit of byte 3 * 64 + 1
//   byte 3: see byte 2
//   byte 4: bits 0-2 channels {keep, 1, 2, 6, 1, 2, 8, keep}, bit 3 trimStart, bit 4 trimEnd, bit 5 loudness,
//           bit 6 measure, bit 7 fade in 10 ms / out 50 ms
//   byte 5: bits 0-2 tempo (kTempos), bits 3-4 volume {0, -6, +6, +20} dB, bit 5 pad 20 ms before and after,
//           bits 6-7 silence threshold {-50, -30, -70, -90} dB
//   byte 6: bit 0 two inputs (concat), bits 1-2 gap {0, 10, 100, 0} ms, bits 3-5 raw filter chain (kRawChains),
//           bit 6 streaming mode (below), bit 7 decodeErrors 'conceal'
//   byte 7: where the rest splits into the two inputs, in 256ths
// Streaming mode (byte 6 bit 6) puts the rest through a StreamSession instead, as createTranscodeStream() does:
// ADTS out (fragmented MP4 when byte 0 picks an MP4 output), trimEnd, fade-out and measure off (streams refuse
// them), no concat; byte 7 then gives bits 0-1 the input {mp3, aac (ADTS), pcm_s16le, pcm_f32le} and bits 2-7
// the size of the chunks pushed (1 + 37 * value bytes); PCM input is at kPcmRates[byte 1 & 7] with the output's
// channel count (1 when kept).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <new>
#include <vector>

#include "av/probe.h"
#include "av/stream.h"
#include "av/transcode.h"

using namespace ttsav::av;

namespace {

constexpr size_t kHeaderBytes = 8;

// "" probes. The rest name demuxers a caller may pass as inputFormat, including ones that would follow
// references to other files (concat, hls): the pipeline must refuse every nested open.
const char* const kHints[16] = {"",    "",         "mp3",  "wav", "flac", "ogg",    "mov",  "aac",
                                "matroska", "aiff", "caf", "asf", "ac3",  "concat", "hls", "s16le"};

struct OutputKind {
  const char* container;
  const char* codec;
  bool fragmented;
  int maxChannels;
  int fallbackRate;
  const int* rates;  // 0-terminated; the first entry 0 = keep the source's rate
};
const int kAacRates[] = {0, 7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000, 0};
const int kOpusRates[] = {0, 8000, 12000, 16000, 24000, 48000, 0};
const int kMp3Rates[] = {0, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 0};
const OutputKind kOutputs[8] = {
    {"mp4", "aac", false, 8, 44100, kAacRates},        {"adts", "aac", false, 8, 44100, kAacRates},
    {"mp4", "aac", true, 8, 44100, kAacRates},         {"ogg", "libopus", false, 2, 48000, kOpusRates},
    {"webm", "libopus", false, 2, 48000, kOpusRates},  {"mp3", "libmp3lame", false, 2, 44100, kMp3Rates},
    {"mp4", "aac", false, 8, 44100, kAacRates},        {"adts", "aac", false, 8, 44100, kAacRates},
};
const int kChannels[8] = {0, 1, 2, 6, 1, 2, 8, 0};
const double kMaxDuration[4] = {0.1, 0.25, 0.5, 1.0};
const int64_t kBitrates[8] = {8000, 16000, 32000, 48000, 64000, 96000, 128000, 192000};
const double kTempos[8] = {1, 1, 1, 0.5, 0.8, 1.5, 2.5, 4};
const double kVolumes[4] = {0, -6, 6, 20};
const double kThresholds[4] = {-50, -30, -70, -90};
const double kGaps[4] = {0, 10, 100, 0};
// Raw chains a caller may pass; the last one names a filter that is refused (it would read a file).
const char* const kRawChains[8] = {"", "", "", "lowpass=f=3000", "highpass=f=200,volume=2", "aecho=0.8:0.9:40:0.4",
                                   "apad=pad_len=100", "amovie=/etc/hostname"};
constexpr int kRefusedChain = 7;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "transcode_fuzzer: invariant broken: %s\n", what);
  std::abort();
}

// Every option the fuzzer sets is valid (except the refused raw chain): whatever goes wrong is the input's fault,
// so an options, internal, abort or timeout error is a finding.
void CheckError(const Error& e, bool refusedChain, const char* where) {
  const char* broken = nullptr;
  if (e.what() == nullptr || e.what()[0] == '\0') broken = "error without a message";
  else if (e.code == ErrorCode::Aborted || e.code == ErrorCode::Timeout) broken = "aborted or timed out with no cancel";
  else if (e.code == ErrorCode::Options && !refusedChain) broken = "bad input reported as an options error";
  else if (e.code == ErrorCode::Internal) broken = "bad input reported as an internal error";
  if (broken == nullptr) return;
  std::fprintf(stderr, "transcode_fuzzer: %s: %s (stage %s): %s | %s\n", where, CodeName(e.code), StageName(e.stage),
               e.what(), e.detail.c_str());
  Fail(broken);
}

const char* const kStreamCodecs[4] = {"mp3", "aac", "pcm_s16le", "pcm_f32le"};
const int kPcmRates[8] = {8000, 16000, 22050, 24000, 44100, 48000, 11025, 96000};

void FuzzStream(const uint8_t* h, const uint8_t* body, size_t n, TranscodeOptions o, bool refusedChain) {
  if (o.container != "mp4") {
    o.container = "adts";
    o.codec = "aac";
    o.maxChannels = 8;
    o.fallbackSampleRate = 44100;  // the Opus and MP3 rate tables hold only rates AAC takes too
  }
  o.fragmented = o.container == "mp4";
  o.faststart = false;
  o.fragmentMs = 200;
  o.filters.trimEnd = false;
  o.filters.fadeOutMs = 0;
  o.measure = false;
  StreamInput in;
  in.codec = kStreamCodecs[h[7] & 3];
  if (in.codec.rfind("pcm", 0) == 0) {
    in.sampleRate = kPcmRates[h[1] & 7];
    in.channels = o.channels > 0 ? o.channels : 1;
  }
  const size_t chunk = 1 + static_cast<size_t>(h[7] >> 2) * 37;

  std::vector<uint8_t> out;
  int64_t lastOutputSamples = 0;
  try {
    StreamSession session(o, in);
    JobControl control;
    for (size_t at = 0; at < n; at += chunk) {
      // A heap copy of exactly this chunk, so that ASan sees any read past its end.
      const size_t len = std::min(chunk, n - at);
      std::vector<uint8_t> piece(body + at, body + at + len);
      OwnedBytes got = session.Push(piece.data(), piece.size(), control);
      if (got.size > 0) out.insert(out.end(), got.data, got.data + got.size);
      std::free(got.data);
      if (session.OutputSamples() < lastOutputSamples) Fail("stream: output samples went down");
      lastOutputSamples = session.OutputSamples();
    }
    OwnedBytes last = session.Finish(control);
    if (last.size > 0) out.insert(out.end(), last.data, last.data + last.size);
    std::free(last.data);
    if (o.sampleRate > 0 && session.SampleRate() != o.sampleRate) Fail("stream: sampleRate differs from the requested one");
    if (o.channels > 0 && session.Channels() != o.channels) Fail("stream: channels differ from the requested ones");
    if (session.InputSamples() < 0 || session.OutputSamples() < 0) Fail("stream: negative sample count");
    if (static_cast<double>(session.InputSamples()) > o.maxDurationSeconds * 768000 + 1)
      Fail("stream: decoded more than maxDurationSeconds allows");
    if (o.container == "mp4" && (out.size() < 8 || std::memcmp(out.data() + 4, "ftyp", 4) != 0))
      Fail("stream: fMP4 output does not start with ftyp");
    if (o.container == "adts" && !out.empty() && (out.size() < 7 || out[0] != 0xFF || (out[1] & 0xF0) != 0xF0))
      Fail("stream: adts output does not start with a sync word");
  } catch (const Error& e) {
    CheckError(e, refusedChain, "stream");
  } catch (const std::bad_alloc&) {
  }
}

void CheckResult(const TranscodeOptions& o, const TranscodeResult& r) {
  if (o.sampleRate > 0 && r.sampleRate != o.sampleRate) Fail("result sampleRate differs from the requested one");
  if (r.sampleRate <= 0) Fail("result sampleRate not positive");
  if (o.channels > 0 && r.channels != o.channels) Fail("result channels differ from the requested ones");
  if (r.channels <= 0 || r.channels > 8) Fail("result channels out of range");
  if (r.samples < 0 || r.inputSamples < 0) Fail("negative sample count");
  if (r.inputSampleRate <= 0 || r.inputChannels <= 0) Fail("input rate or channels not positive");
  // The decode cap is checked after every decoded frame: a finished job stayed within it.
  if (r.inputs == 1 && static_cast<double>(r.inputSamples) > o.maxDurationSeconds * r.inputSampleRate)
    Fail("decoded more than maxDurationSeconds allows");
  if (o.maxOutputBytes != 0 && r.data.size > o.maxOutputBytes) Fail("output larger than maxOutputBytes");
  if (r.data.size > 0 && r.data.data == nullptr) Fail("output size without data");
  if (o.container == "mp4") {
    if (r.data.size < 8 || std::memcmp(r.data.data + 4, "ftyp", 4) != 0) Fail("mp4 output does not start with ftyp");
  } else if (o.container == "adts" && r.data.size > 0) {
    if (r.data.size < 7 || r.data.data[0] != 0xFF || (r.data.data[1] & 0xF0) != 0xF0)
      Fail("adts output does not start with a sync word");
  } else if (o.container == "ogg") {
    if (r.data.size < 4 || std::memcmp(r.data.data, "OggS", 4) != 0) Fail("ogg output does not start with OggS");
  } else if (o.container == "webm") {
    if (r.data.size < 4 || std::memcmp(r.data.data, "\x1a\x45\xdf\xa3", 4) != 0) Fail("webm output has no EBML header");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return -1;  // not in the corpus
  const uint8_t* h = data;
  const OutputKind& out = kOutputs[h[0] & 7];
  TranscodeOptions o;
  o.container = out.container;
  o.codec = out.codec;
  o.fragmented = out.fragmented;
  o.faststart = (h[0] & 8) == 0;
  o.inputFormat = kHints[h[0] >> 4];
  int nRates = 1;
  while (out.rates[nRates] != 0) nRates++;
  o.sampleRate = out.rates[h[1] % nRates];
  o.fallbackSampleRate = out.fallbackRate;
  o.maxDurationSeconds = kMaxDuration[h[2] & 3];
  if ((h[2] & 4) && o.codec == "aac") o.aacCoder = "fast";
  o.bitrate = kBitrates[(h[2] >> 3) & 7];
  if ((h[2] >> 6) == 3) o.maxOutputBytes = static_cast<size_t>(h[3]) * 64 + 1;
  o.channels = std::min(kChannels[h[4] & 7], out.maxChannels);
  o.maxChannels = out.maxChannels;
  FilterOptions& f = o.filters;
  f.trimStart = (h[4] & 8) != 0;
  f.trimEnd = (h[4] & 16) != 0;
  f.loudness = (h[4] & 32) != 0;
  o.measure = (h[4] & 64) != 0;
  if (h[4] & 128) {
    f.fadeInMs = 10;
    f.fadeOutMs = 50;
  }
  f.tempo = kTempos[h[5] & 7];
  f.volumeDb = f.loudness ? 0 : kVolumes[(h[5] >> 3) & 3];
  if (h[5] & 32) f.padBeforeMs = f.padAfterMs = 20;
  f.trimThresholdDb = kThresholds[h[5] >> 6];
  const bool concat = (h[6] & 1) != 0;
  o.gapMs = kGaps[(h[6] >> 1) & 3];
  const int rawChain = (h[6] >> 3) & 7;
  f.raw = kRawChains[rawChain];
  o.concealDecodeErrors = (h[6] & 128) != 0;

  const uint8_t* body = data + kHeaderBytes;
  const size_t n = size - kHeaderBytes;
  if (h[6] & 64) {
    FuzzStream(h, body, n, o, rawChain == kRefusedChain);
    return 0;
  }

  // Hand the pipeline heap copies of exactly the media bytes, so that ASan sees any read past their end.
  const size_t split = concat ? n * h[7] / 256 : n;
  uint8_t* first = static_cast<uint8_t*>(std::malloc(split ? split : 1));
  uint8_t* second = static_cast<uint8_t*>(std::malloc(n - split ? n - split : 1));
  if (first == nullptr || second == nullptr) std::abort();
  if (split) std::memcpy(first, body, split);
  if (n - split) std::memcpy(second, body + split, n - split);
  std::vector<InputBytes> inputs{{first, split}};
  if (concat) inputs.push_back({second, n - split});

  JobControl control;  // no deadline: libFuzzer's -timeout catches hangs deterministically
  try {
    TranscodeResult r = Transcode(inputs, o, control);
    CheckResult(o, r);
    std::free(r.data.data);
  } catch (const Error& e) {
    CheckError(e, rawChain == kRefusedChain, "transcode");
  } catch (const std::bad_alloc&) {
    // The documented other outcome of Transcode (an allocation failed).
  }

  // probe() reads the same bytes through its own path (headers and a bounded look at the first packets).
  JobControl probeControl;
  try {
    ProbeResult p = Probe(first, split, o, probeControl);
    if (p.container.empty()) Fail("probe resolved without a container name");
    if (p.channels < 0 || p.sampleRate < 0) Fail("probe reported negative rate or channels");
  } catch (const Error& e) {
    if (e.code == ErrorCode::Options || e.code == ErrorCode::Internal || e.code == ErrorCode::Aborted ||
        e.code == ErrorCode::Timeout) {
      std::fprintf(stderr, "transcode_fuzzer: probe: %s (stage %s): %s | %s\n", CodeName(e.code), StageName(e.stage),
                   e.what(), e.detail.c_str());
      Fail("probe: bad input reported as an options/internal error");
    }
  } catch (const std::bad_alloc&) {
  }
  std::free(first);
  std::free(second);
  return 0;
}
