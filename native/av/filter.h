// The filter graph is both resampler and re-chunker: abuffer -> aformat(encoder's format, rate, layout) ->
// abuffersink, with the sink cut to the encoder's frame size (MP3 frames are 1152 samples, AAC takes 1024).
#pragma once

#include <string>

#include "raii.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

namespace ttsav::av {

struct AudioFormat {
  AVSampleFormat sampleFormat = AV_SAMPLE_FMT_NONE;
  int sampleRate = 0;
  AVChannelLayout layout{};
};

class AudioFilter {
 public:
  // `in` is the decoder's output; `out` what the encoder takes.
  AudioFilter(const AVCodecContext* in, const AudioFormat& out);
  AudioFilter(const AudioFilter&) = delete;
  AudioFilter& operator=(const AudioFilter&) = delete;

  // Every frame pulled holds exactly `samples` per channel, except the last one.
  void SetFrameSize(int samples);
  // Takes a decoded frame (its data is referenced, not copied); nullptr signals the end of input.
  void Push(AVFrame* frame);
  // Returns true with a frame, false when the graph needs more input or is drained.
  bool Pull(AVFrame* frame);
  AVRational OutputTimeBase() const;

 private:
  GraphPtr graph_;
  AVFilterContext* src_ = nullptr;
  AVFilterContext* sink_ = nullptr;
};

// "stereo", "mono", or "N channels" when no standard layout describes it.
std::string DescribeLayout(const AVChannelLayout& layout);

}  // namespace ttsav::av
