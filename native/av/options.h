// What one transcode is asked to do and what it reports. Plain data: the binding fills TranscodeOptions from
// the (already validated) JS options on the main thread; the pipeline never sees JS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io.h"

namespace ttsav::av {

// The filter chain applied between decoding and the encoder's format conversion, in this order:
// trim silence -> tempo -> volume or loudness -> fades -> padding -> raw filter string.
struct FilterOptions {
  bool trimStart = false;           // drop leading audio quieter than trimThresholdDb
  bool trimEnd = false;             // drop trailing audio quieter than trimThresholdDb
  double trimThresholdDb = -50;     // dBFS
  double tempo = 1;                 // speed factor, pitch kept (0.5 - 4)
  double volumeDb = 0;              // fixed gain
  bool loudness = false;            // EBU R128 normalization (measure first, then linear gain, or dynamic)
  double loudnessI = -16;           // target integrated loudness, LUFS
  double loudnessTP = -1.5;         // target true peak, dBTP
  double loudnessLRA = 11;          // target loudness range, LU (dynamic mode)
  double fadeInMs = 0;
  double fadeOutMs = 0;
  double padBeforeMs = 0;           // silence before the audio
  double padAfterMs = 0;            // silence after the audio
  std::string raw;                  // libavfilter chain for power users, applied last

  // True when the audio must be analysed before it is encoded (a first decode pass).
  bool NeedsAnalysis() const { return trimStart || trimEnd || loudness || fadeOutMs > 0; }
};

struct TranscodeOptions {
  std::string container = "mp4";  // libavformat muxer name: "mp4", "adts", "ogg", "webm", "mp3"
  std::string codec = "aac";       // encoder name: "aac", "libopus", "libmp3lame"
  int64_t bitrate = 192000;        // bit/s
  int sampleRate = 44100;          // 0: keep the source's rate when the encoder takes it, else fallbackSampleRate
  int fallbackSampleRate = 44100;
  int channels = 2;                // 0: keep the source's channel count (up to maxChannels)
  int maxChannels = 8;
  std::string aacCoder;            // "" = encoder default (twoloop), or "twoloop" / "fast"
  bool faststart = true;           // moov before mdat (mp4 only)
  bool fragmented = false;         // fragmented MP4 (mp4 only): streamable, no seeking needed
  int fragmentMs = 1000;           // fragment duration for fragmented MP4
  std::string inputFormat;         // demuxer name; "" = probe
  int64_t probeSize = 5000000;     // bytes the prober may read
  int64_t analyzeDurationUs = 5000000;
  size_t maxOutputBytes = 0;       // 0 = no limit
  double maxDurationSeconds = 0;   // decoded audio, all inputs together; 0 = no limit
  double gapMs = 0;                // silence between inputs (concat)
  FilterOptions filters;
  bool measure = false;            // report the loudness of the audio fed to the encoder
  // decodeErrors: 'conceal' — a packet that fails to decode (or a read error) is skipped and counted, as the
  // ffmpeg CLI does, and a container cut short is reported rather than refused. false ('fail'): the job fails.
  bool concealDecodeErrors = false;
};

// Something the job noticed about its input while still succeeding (result.warnings). Codes: see kWarning*.
struct Warning {
  std::string code;
  std::string message;
};
inline constexpr const char* kWarningDurationMismatch = "DURATION_MISMATCH";  // declared vs decoded > 5%
inline constexpr const char* kWarningTrailingData = "TRAILING_DATA";          // bytes after the last whole frame
inline constexpr const char* kWarningJunkSkipped = "JUNK_SKIPPED";            // bytes before the first frame
inline constexpr const char* kWarningGuessedLayout = "GUESSED_LAYOUT";        // channels with no declared layout
inline constexpr const char* kWarningDecodeErrors = "DECODE_ERRORS_CONCEALED";  // conceal mode: count + first

// EBU R128 figures.
struct Loudness {
  double integrated = 0;  // LUFS
  double truePeak = 0;    // dBTP
  double lra = 0;         // LU
};

// What the loudness filter did.
struct LoudnessApplied {
  bool applied = false;
  std::string mode;       // "linear" or "dynamic"
  Loudness measured;      // of the audio before normalization
  double gainDb = 0;      // linear mode
};

struct StageTimings {
  double probe = 0, analyze = 0, decode = 0, filter = 0, encode = 0, mux = 0, total = 0;  // milliseconds
};

struct TranscodeResult {
  OwnedBytes data;              // malloc-owned; whoever takes it frees it
  std::string codec;            // encoder name
  int sampleRate = 0;
  int channels = 0;
  int64_t bitrate = 0;
  double averageBitrate = 0;    // of the encoded audio payload, bit/s
  int64_t samples = 0;          // output samples per channel, as fed to the encoder
  double durationSeconds = 0;   // samples / sampleRate
  std::string inputFormat;      // demuxer that read the input
  std::string inputCodec;
  int inputSampleRate = 0;
  int inputChannels = 0;
  int64_t inputSamples = 0;     // decoded samples per channel, all inputs
  int inputs = 0;               // number of inputs joined
  StageTimings timings;
  bool hasLoudness = false;     // options.measure
  Loudness loudness;            // of the audio fed to the encoder
  LoudnessApplied normalization;
  std::vector<Warning> warnings;  // empty on clean input
};

}  // namespace ttsav::av
