// A still picture (PNG, JPEG) as video for live platforms, which will not take audio alone: decoded once, fitted into
// the output size (letterboxed, aspect kept), encoded into one short closed GOP of H.264 (h264.h picks the encoder)
// and muxed as FLV bytes in memory, which publish()'s VideoLoop then loops by stream copy like any loop video.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io.h"
#include "raii.h"

namespace ttsav::av {

// Decodes a whole still picture. InvalidData for an empty, truncated or corrupt picture; Unsupported without a decoder.
FramePtr DecodePicture(const uint8_t* data, size_t size);

// Checks that `data` is a whole still picture libav can decode and gives its size.
void CheckImage(const uint8_t* data, size_t size, int* width, int* height);

struct StillOptions {
  int width = 0;       // 0: the picture's (or from `height` and the picture's aspect); rounded down to even
  int height = 0;
  int fps = 30;
  double seconds = 2;  // length of the GOP that loops: one keyframe per pass
  std::string hwaccel; // "", "cuda", "qsv", "vaapi" (see h264.h)
};

struct StillVideo {
  OwnedBytes flv;        // malloc-owned (free with std::free)
  int width = 0;
  int height = 0;
  int frames = 0;
  std::string encoder;   // the encoder used
  std::string fallback;  // why a requested hardware encoder was not used, or ""
};

StillVideo EncodeStill(const uint8_t* data, size_t size, const StillOptions& options);

}  // namespace ttsav::av
