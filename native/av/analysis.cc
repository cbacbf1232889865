#include "analysis.h"

#include <cmath>
#include <cstdlib>
#include <limits>

extern "C" {
#include <libavutil/dict.h>
}

namespace ttsav::av {
namespace {

AudioFormat Same(const AudioFormat& f) { return f; }

double MetaNumber(const AVFrame* frame, const char* key, double fallback) {
  const AVDictionaryEntry* e = av_dict_get(frame->metadata, key, nullptr, 0);
  if (e == nullptr) return fallback;
  char* end = nullptr;
  double v = std::strtod(e->value, &end);
  return end == e->value ? fallback : v;
}

}  // namespace

LoudnessMeter::LoudnessMeter(const AudioFormat& format)
    : graph_(format, "ebur128=metadata=1:peak=true", Same(format)), frame_(NewFrame()) {}

void LoudnessMeter::Feed(const AVFrame* frame) {
  graph_.Push(const_cast<AVFrame*>(frame));  // KEEP_REF: the caller's frame is not consumed
  Drain();
}

void LoudnessMeter::Drain() {
  while (graph_.Pull(frame_.get())) {
    if (frame_->metadata != nullptr) {
      integrated_ = MetaNumber(frame_.get(), "lavfi.r128.I", integrated_);
      lra_ = MetaNumber(frame_.get(), "lavfi.r128.LRA", lra_);
      truePeak_ = MetaNumber(frame_.get(), "lavfi.r128.true_peak", truePeak_);
      any_ = true;
    }
    av_frame_unref(frame_.get());
  }
}

Loudness LoudnessMeter::Finish() {
  graph_.Push(nullptr);
  Drain();
  Loudness l;
  l.integrated = integrated_;
  l.lra = lra_;
  l.truePeak = truePeak_ > 0 ? 20 * std::log10(truePeak_) : -std::numeric_limits<double>::infinity();
  if (!any_) l.integrated = -std::numeric_limits<double>::infinity();
  return l;
}

SoundBounds::SoundBounds(double thresholdDb) : threshold_(static_cast<float>(std::pow(10.0, thresholdDb / 20))) {}

void SoundBounds::Feed(const AVFrame* frame) {
  int channels = frame->ch_layout.nb_channels;
  for (int i = 0; i < frame->nb_samples; i++) {
    for (int c = 0; c < channels; c++) {
      float v = reinterpret_cast<const float*>(frame->extended_data[c])[i];
      if (std::fabs(v) > threshold_) {
        if (first_ < 0) first_ = samples_ + i;
        end_ = samples_ + i + 1;
        break;
      }
    }
  }
  samples_ += frame->nb_samples;
}

}  // namespace ttsav::av
