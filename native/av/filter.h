// Filter graphs: abuffer -> [chain] -> aformat(out format, rate, layout) -> abuffersink, optionally cut to a fixed
// frame size (the encoder's: MP3 frames are 1152 samples, AAC takes 1024). The aformat step makes libavfilter
// insert the resampler; the sink's frame size makes the graph the re-chunker too.
#pragma once

#include <string>
#include <vector>

#include "error.h"
#include "raii.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

namespace ttsav::av {

struct AudioFormat {
  AVSampleFormat sampleFormat = AV_SAMPLE_FMT_NONE;
  int sampleRate = 0;
  AVChannelLayout layout{};  // always a native-order layout here (no heap data)
};

// The decoder's output format; an input without a channel order (e.g. a WAV without a channel mask) gets the
// default layout for its channel count, as the ffmpeg CLI does.
AudioFormat FormatOf(const AVCodecContext* dec);

// Refuses (ERR_TTSAV_UNSUPPORTED at `stage`) decoded audio the conversion graph cannot take, before a graph is built
// for it — otherwise the graph fails as if the caller's options were wrong: rates over 768 kHz (the resampler's
// filter grows with the rate ratio: a header declaring ~450 MHz made it allocate 1.4 GB), more than 64 channels
// (libswresample's SWR_CH_MAX), and channels in no standard order whose count has no default layout to remix from
// (9-15, 17+ …: a WAV without a channel mask, AU, an AAC program config element).
void RefuseUnconvertible(int sampleRate, const AVChannelLayout& layout, Stage stage);

class AudioFilter {
 public:
  // `chain` is a libavfilter chain (e.g. "atempo=1.5,volume=3dB") or empty. `userChain` marks it as coming from
  // the caller: parse failures and refused filters are then option errors.
  AudioFilter(const AudioFormat& in, const std::string& chain, const AudioFormat& out, bool userChain = false);
  AudioFilter(const AudioFilter&) = delete;
  AudioFilter& operator=(const AudioFilter&) = delete;

  // Every frame pulled holds exactly `samples` per channel, except the last one.
  void SetFrameSize(int samples);
  // Takes a frame (its data is referenced, not copied); nullptr signals the end of input.
  void Push(AVFrame* frame);
  // Returns true with a frame, false when the graph needs more input or is drained.
  bool Pull(AVFrame* frame);
  AVRational OutputTimeBase() const;
  const AudioFormat& Input() const { return in_; }

 private:
  GraphPtr graph_;
  AudioFormat in_;
  AVFilterContext* src_ = nullptr;
  AVFilterContext* sink_ = nullptr;
};

// A graph with several audio sources, all in one format, and one sink: `description` is a filtergraph whose open
// inputs are labelled with the sources' names ([voice], [music] …) and whose one open output is labelled [out].
// Frames pushed are queued (not run) until pulled. Feed the sources in time order, a frame at a time, pulling as
// you go (as a player would): mixers such as amix misbehave when one input arrives whole before the others.
class MixGraph {
 public:
  MixGraph(const std::vector<std::string>& sources, const AudioFormat& in, const std::string& description,
           const AudioFormat& out);
  MixGraph(const MixGraph&) = delete;
  MixGraph& operator=(const MixGraph&) = delete;

  // Takes a frame for source `index` (its data is referenced, not copied); nullptr ends that source.
  void Push(size_t index, AVFrame* frame);
  // Returns true with a frame, false when the graph needs more input or is drained.
  bool Pull(AVFrame* frame);

 private:
  GraphPtr graph_;
  std::vector<AVFilterContext*> sources_;
  AVFilterContext* sink_ = nullptr;
};

// A number as filter arguments (and messages) take it: %.6g.
std::string Num(double v);

// "stereo", "mono", or "N channels" when no standard layout describes it.
std::string DescribeLayout(const AVChannelLayout& layout);

}  // namespace ttsav::av
