// What one transcode is asked to do and what it reports. Plain data: the binding fills TranscodeOptions from
// the (already validated) JS options on the main thread; the pipeline never sees JS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io.h"

namespace ttsav::av {

struct TranscodeOptions {
  std::string container = "mp4";  // libavformat muxer name: "mp4" or "adts"
  std::string codec = "aac";       // encoder name
  int64_t bitrate = 192000;        // bit/s
  int sampleRate = 44100;
  int channels = 2;
  std::string aacCoder;            // "" = encoder default (twoloop), or "twoloop" / "fast"
  bool faststart = true;           // moov before mdat (mp4 only)
  std::string inputFormat;         // demuxer name; "" = probe
  int64_t probeSize = 5000000;     // bytes the prober may read
  int64_t analyzeDurationUs = 5000000;
  size_t maxOutputBytes = 0;       // 0 = no limit
  double maxDurationSeconds = 0;   // decoded audio; 0 = no limit
};

struct StageTimings {
  double probe = 0, decode = 0, filter = 0, encode = 0, mux = 0, total = 0;  // milliseconds
};

struct TranscodeResult {
  OwnedBytes data;              // malloc-owned; whoever takes it frees it
  std::string codec;            // encoder name
  int sampleRate = 0;
  int channels = 0;
  int64_t bitrate = 0;
  int64_t samples = 0;          // output samples per channel, as fed to the encoder
  double durationSeconds = 0;   // samples / sampleRate
  std::string inputFormat;      // demuxer that read the input
  std::string inputCodec;
  int inputSampleRate = 0;
  int inputChannels = 0;
  int64_t inputSamples = 0;     // decoded samples per channel
  StageTimings timings;
};

}  // namespace ttsav::av
