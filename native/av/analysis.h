// What the first pass learns about the audio before it is encoded: where the sound starts and ends (for
// trimming silence and placing a fade-out) and its EBU R128 loudness (for normalization).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "filter.h"
#include "options.h"

namespace ttsav::av {

// EBU R128 meter: libavfilter's ebur128 (K-weighted, gated, true peak by 4x oversampling) on a side graph.
class LoudnessMeter {
 public:
  // `truePeak`: also measure the true peak (4x oversampled: most of the meter's cost); without it Finish()
  // reports the true peak as NaN.
  explicit LoudnessMeter(const AudioFormat& format, bool truePeak = true);
  void Feed(const AVFrame* frame);
  Loudness Finish();

 private:
  void Drain();
  AudioFilter graph_;
  FramePtr frame_;
  double integrated_ = -70, lra_ = 0, truePeak_ = 0;  // truePeak_ linear
  bool any_ = false;
  bool measurePeak_ = true;
};

// Scans planar float audio for the first and last sample louder than a threshold.
class SoundBounds {
 public:
  explicit SoundBounds(double thresholdDb);
  void Feed(const AVFrame* frame);  // AV_SAMPLE_FMT_FLTP
  int64_t Samples() const { return samples_; }
  // First sample above the threshold, or -1 when all is quiet.
  int64_t First() const { return first_; }
  // One past the last sample above the threshold, or -1.
  int64_t End() const { return end_; }

 private:
  float threshold_;
  int64_t samples_ = 0;
  int64_t first_ = -1;
  int64_t end_ = -1;
};

// What the analysis pass found, in the tail's samples (output rate, gaps included).
struct Analysis {
  int64_t samples = 0;
  int64_t soundStart = -1;
  int64_t soundEnd = -1;
  std::optional<Loudness> loudness;
};

// `ms` milliseconds at `rate` Hz, in whole samples (rounded to the nearest).
int64_t MsToSamples(double ms, int rate);

// The tail's filter chain: trim silence -> tempo -> volume or loudness -> fades -> padding -> raw.
// `analysis` is what a first pass found; null when there is none (streaming: no lookahead), where trimming the
// end and fading out cannot be done (Options error) and loudness uses the dynamic normalizer alone.
// `layout` (e.g. "mono") is the chain's channel layout, pinned again after the dynamic normalizer's resampler.
std::string BuildTailChain(const FilterOptions& f, int rate, const Analysis* analysis, LoudnessApplied* normalization,
                           const std::string& layout = "");

}  // namespace ttsav::av
