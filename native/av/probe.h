// Probing: what an input is, from its headers and a bounded look at its first packets; no full decode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "job.h"
#include "options.h"

namespace ttsav::av {

struct ProbeResult {
  std::string container;      // demuxer name
  std::string codec;          // codec name (e.g. "mp3", "aac", "opus")
  std::string decoder;        // decoder libav would use
  int sampleRate = 0;
  int channels = 0;
  std::string layout;         // "mono", "stereo", ...
  int64_t bitrate = 0;        // bit/s, 0 when unknown
  double durationSeconds = -1;  // negative when unknown
  bool durationEstimated = false;  // guessed from the bitrate, not read from the file
  std::vector<std::pair<std::string, std::string>> tags;  // container tags, then the audio stream's
};

// Uses options.inputFormat and the probing bounds. Throws Error like Transcode.
ProbeResult Probe(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control);

// One stream of a container, as its header declares it.
struct ContainerStream {
  std::string type;            // "video", "audio", "subtitle", "data", "attachment", "unknown"
  std::string codec;           // codec name ("h264", "aac", ...; "none" when the header does not say)
  bool attachedPicture = false;  // a cover image, not a video
  double durationSeconds = -1;   // negative when the header declares none
};

// What a container's header declares: no packets read beyond what the demuxer's header reading needs, no decoder
// opened, no stream-info probing, nothing estimated from the bitrate. Works for any input (videos without audio too,
// unlike Probe). durationSeconds is the container's declared duration, else the longest declared stream duration;
// negative when neither is declared (MP3 without a Xing/Info header, WebM from MediaRecorder, raw streams).
struct ContainerInfo {
  std::string container;  // demuxer name
  double durationSeconds = -1;
  std::vector<ContainerStream> streams;
};

// Uses options.inputFormat and the probing bounds, like Probe. Throws Error (InvalidData for bytes libav cannot read).
ContainerInfo ProbeContainer(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control);

}  // namespace ttsav::av
