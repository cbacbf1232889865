#include "analysis.h"

#include "error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
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

LoudnessMeter::LoudnessMeter(const AudioFormat& format, bool truePeak)
    : graph_(format, truePeak ? "ebur128=metadata=1:peak=true" : "ebur128=metadata=1", Same(format)),
      frame_(NewFrame()),
      measurePeak_(truePeak) {}

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
  l.truePeak = !measurePeak_ ? std::numeric_limits<double>::quiet_NaN()
               : truePeak_ > 0 ? 20 * std::log10(truePeak_)
                               : -std::numeric_limits<double>::infinity();
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

namespace ttsav::av {

int64_t MsToSamples(double ms, int rate) { return static_cast<int64_t>(std::llround(ms * rate / 1000.0)); }

std::string BuildTailChain(const FilterOptions& f, int rate, const Analysis* analysis, LoudnessApplied* normalization,
                           const std::string& layout) {
  std::string chain;
  auto add = [&](const std::string& filter) {
    if (!chain.empty()) chain += ',';
    chain += filter;
  };
  // loudnorm works at 192 kHz. After its resampler, pin the format again: with a packed-format encoder (libopus
  // takes s16 first) and any filter after it, libavfilter 5.1 cannot pick the resampler's channel layout
  // ("Cannot select channel layout"; found by the fuzzer).
  auto backFromLoudnorm = [&] {
    add("aresample=" + std::to_string(rate));
    if (!layout.empty()) add("aformat=sample_fmts=fltp:channel_layouts=" + layout);
  };
  if (analysis == nullptr && (f.trimEnd || f.fadeOutMs > 0))
    throw Error(ErrorCode::Options, Stage::Filter, "trimming the end and fading out need the whole input (not streaming)");

  int64_t length = analysis ? analysis->samples : -1;  // samples at this point of the chain, when known
  if (f.trimStart && analysis == nullptr) {
    add("silenceremove=start_periods=1:start_threshold=" + Num(f.trimThresholdDb) + "dB");
  } else if (analysis && (f.trimStart || f.trimEnd) && analysis->soundStart >= 0) {
    int64_t from = f.trimStart ? analysis->soundStart : 0;
    int64_t to = f.trimEnd ? analysis->soundEnd : analysis->samples;
    add("atrim=start_sample=" + std::to_string(from) + ":end_sample=" + std::to_string(to));
    add("asetpts=N/SR/TB");
    length = to - from;
  }
  if (f.tempo != 1) {
    // atempo is best within 0.5-2: chain steps for factors beyond.
    double t = f.tempo;
    while (t > 2.0) {
      add("atempo=2");
      t /= 2.0;
    }
    while (t < 0.5) {
      add("atempo=0.5");
      t /= 0.5;
    }
    add("atempo=" + Num(t));
    if (length >= 0) length = static_cast<int64_t>(std::llround(static_cast<double>(length) / f.tempo));
  }
  if (f.volumeDb != 0) add("volume=" + Num(f.volumeDb) + "dB");
  if (f.loudness) {
    std::string dynamic = "loudnorm=I=" + Num(f.loudnessI) + ":TP=" + Num(f.loudnessTP) + ":LRA=" + Num(f.loudnessLRA);
    if (analysis == nullptr) {
      // No lookahead: libav's dynamic normalizer, which adapts as it goes.
      normalization->applied = true;
      normalization->mode = "dynamic";
      add(dynamic + ":linear=false");
      backFromLoudnorm();
    } else if (analysis->loudness && !std::isfinite(analysis->loudness->truePeak) && analysis->loudness->truePeak > 0) {
      throw Error(ErrorCode::InvalidData, Stage::Filter, "the decoded audio holds infinite samples");
    } else if (analysis->loudness && std::isfinite(analysis->loudness->integrated) &&
               analysis->loudness->integrated > -70 && std::isfinite(analysis->loudness->truePeak)) {
      // (At -70 LUFS and below everything is gated out as silence: there is nothing to normalize.)
      const Loudness& m = *analysis->loudness;
      normalization->applied = true;
      normalization->measured = m;
      double gain = f.loudnessI - m.integrated;
      if (m.truePeak + gain <= f.loudnessTP) {
        // Linear: one exact gain, the programme's dynamics untouched.
        normalization->mode = "linear";
        normalization->gainDb = gain;
        add("volume=" + Num(gain) + "dB");
      } else {
        // The gain would push true peaks past the target: libav's dynamic EBU R128 normalizer instead.
        normalization->mode = "dynamic";
        auto clamp = [](double v, double lo, double hi) { return std::min(hi, std::max(lo, v)); };
        add(dynamic + ":measured_I=" + Num(clamp(m.integrated, -99, 0)) + ":measured_TP=" + Num(clamp(m.truePeak, -99, 99)) +
            ":measured_LRA=" + Num(clamp(m.lra, 0, 99)) + ":linear=false");
        backFromLoudnorm();
      }
    }
  }
  if (f.fadeInMs > 0 || f.fadeOutMs > 0) add("asetpts=N/SR/TB");
  if (f.fadeInMs > 0) add("afade=t=in:start_sample=0:nb_samples=" + std::to_string(MsToSamples(f.fadeInMs, rate)));
  if (f.fadeOutMs > 0 && length > 0) {
    int64_t n = std::min(MsToSamples(f.fadeOutMs, rate), length);
    add("afade=t=out:start_sample=" + std::to_string(length - n) + ":nb_samples=" + std::to_string(n));
  }
  if (f.padBeforeMs > 0) add("adelay=delays=" + std::to_string(MsToSamples(f.padBeforeMs, rate)) + "S:all=1");
  if (f.padAfterMs > 0) add("apad=pad_len=" + std::to_string(MsToSamples(f.padAfterMs, rate)));
  if (!f.raw.empty()) add(f.raw);
  return chain;
}

}  // namespace ttsav::av
