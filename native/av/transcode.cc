#include "transcode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "analysis.h"
#include "clock.h"
#include "encoder_tail.h"
#include "filter.h"
#include "input.h"
#include "io.h"
#include "init.h"
#include "log.h"
#include "raii.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/samplefmt.h>
}

namespace ttsav::av {
namespace {

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

// Re-throws an input's error with the input's position in the message (concat jobs).
[[noreturn]] void RethrowForInput(const Error& e, size_t index, size_t count) {
  if (count <= 1) throw e;
  Error tagged(e.code, e.stage, "input " + std::to_string(index) + ": " + e.what(), e.averror);
  tagged.detail = e.detail;
  tagged.reason = e.reason;
  throw tagged;
}

class Pipeline {
 public:
  Pipeline(const std::vector<InputBytes>& inputs, const TranscodeOptions& options, JobControl& control)
      : inputs_(inputs), options_(options), control_(control), writer_(options.maxOutputBytes) {
    if (inputs.empty()) throw Error(ErrorCode::Options, Stage::Probe, "no input to transcode");
  }

  TranscodeResult Run() {
    auto first = Open(0);
    const AVCodecContext* dec = first->Decoder();
    tail_.emplace(options_, dec->sample_rate, dec->ch_layout.nb_channels, writer_, first->Format(), first->Stream(),
                  dec->bits_per_raw_sample, &timings_);
    common_ = tail_->Common();
    gapSamples_ = inputs_.size() > 1 ? MsToSamples(options_.gapMs, common_.sampleRate) : 0;

    std::optional<Analysis> analysis;
    if (options_.filters.NeedsAnalysis()) {
      auto start = Clock::now();
      analysis = Analyze(std::move(first));
      timings_.analyze = MsSince(start);
    }
    tail_->Start(analysis ? &*analysis : nullptr, options_.measure);

    decodedSeconds_ = 0;
    inSamples_ = 0;
    auto toTail = [&](AVFrame* f) { tail_->Push(f, &control_); };
    for (size_t i = 0; i < inputs_.size(); i++) {
      if (i > 0 && gapSamples_ > 0) ForEachSilence(gapSamples_, toTail);
      std::unique_ptr<Input> in = (i == 0 && first) ? std::move(first) : Open(i);
      DecodeAll(*in, i, toTail);
    }
    tail_->Finish(&control_);

    TranscodeResult result;
    const AVCodecContext* enc = tail_->Encoder();
    const int64_t outSamples = tail_->OutputSamples();
    result.codec = enc->codec->name;
    result.sampleRate = enc->sample_rate;
    result.channels = enc->ch_layout.nb_channels;
    result.bitrate = enc->bit_rate;
    result.samples = outSamples;
    result.durationSeconds = static_cast<double>(outSamples) / enc->sample_rate;
    if (outSamples > 0) result.averageBitrate = tail_->PayloadBytes() * 8.0 / result.durationSeconds;
    result.inputFormat = firstFormat_;
    result.inputCodec = firstCodec_;
    result.inputSampleRate = firstRate_;
    result.inputChannels = firstChannels_;
    result.inputSamples = inSamples_;
    result.inputs = static_cast<int>(inputs_.size());
    result.timings = timings_;
    if (std::optional<Loudness> measured = tail_->MeasuredLoudness()) {
      result.hasLoudness = true;
      result.loudness = *measured;
    }
    result.normalization = tail_->Normalization();
    if (concealed_ > 0)
      warnings_.push_back({kWarningDecodeErrors, std::to_string(concealed_) + " decode error" +
                                                    (concealed_ == 1 ? "" : "s") + " concealed; the first: " +
                                                    firstConcealed_});
    result.warnings = std::move(warnings_);
    result.data = writer_.Release();
    return result;
  }

 private:
  std::unique_ptr<Input> Open(size_t i) {
    auto start = Clock::now();
    std::unique_ptr<Input> in;
    try {
      in = std::make_unique<Input>(inputs_[i].data, inputs_[i].size, options_, control_);
      CheckDeclaredDuration(*in);
    } catch (const Error& e) {
      RethrowForInput(e, i, inputs_.size());
    }
    for (const std::string& line : TakeJobNotices()) {
      long long bytes = 0, at = 0;
      size_t k = line.find("Skipping ");
      if (k != std::string::npos && std::sscanf(line.c_str() + k, "Skipping %lld bytes of junk at %lld", &bytes, &at) == 2)
        Warn(i, kWarningJunkSkipped,
             "skipped " + std::to_string(bytes) + " bytes of junk before the first frame (at byte " + std::to_string(at) + ")");
    }
    const AVChannelLayout& layout = in->Decoder()->ch_layout;
    if (layout.order != AV_CHANNEL_ORDER_NATIVE && layout.nb_channels > 2) {
      AVChannelLayout guess{};
      av_channel_layout_default(&guess, layout.nb_channels);
      Warn(i, kWarningGuessedLayout,
           "the input does not say which channels its " + std::to_string(layout.nb_channels) +
               " channels are; read them as " + DescribeLayout(guess));
    }
    if (i == 0 && firstFormat_.empty()) {
      const AVCodecContext* dec = in->Decoder();
      firstFormat_ = in->Format()->iformat->name;
      firstCodec_ = dec->codec->name;
      firstRate_ = dec->sample_rate;
      firstChannels_ = dec->ch_layout.nb_channels;
    }
    timings_.probe += MsSince(start);
    return in;
  }

  // A container that declares a duration beyond the cap is refused before any decoding.
  void CheckDeclaredDuration(const Input& in) {
    double declared = in.DeclaredSeconds();
    if (options_.maxDurationSeconds > 0 && declared > options_.maxDurationSeconds + 1.0)
      throw LimitError(Stage::Probe,
                       "input declares " + Seconds(declared) + " of audio, over maxDurationSeconds (" +
                           Seconds(options_.maxDurationSeconds) + ")",
                       "duration");
  }

  // An input whose length libav could only estimate from its bitrate (size × 8 / bitrate: a CBR MP3 without a
  // Xing/VBRI header), estimated over the cap: once kProbeSeconds of it are decoded, the bytes those took say
  // whether the bitrate holds (constant bitrate so far). If it does, the input's length is its audio bytes over
  // that rate, and an input over the cap (with a 10% + 1 s margin) is refused then, not after decoding up to the
  // cap. A variable-bitrate input (the rates disagree) is left to the decoding cap.
  class EarlyDurationCheck {
   public:
    static constexpr double kProbeSeconds = 10.0;
    EarlyDurationCheck(const Input& in, double cap) : size_(in.Size()), cap_(cap) {
      bool estimated = false;
      estimate_ = in.ContainerSeconds(&estimated);
      armed_ = cap > 0 && estimated && estimate_ > cap * 1.1 + 1.0;
    }
    void Packet(const AVPacket* pkt) {
      if (!armed_ || pkt->pos < 0) return;
      if (firstPos_ < 0) firstPos_ = pkt->pos;
      endPos_ = pkt->pos + pkt->size;
    }
    void Check(double decodedSeconds) {
      if (!armed_ || decodedSeconds < kProbeSeconds || firstPos_ < 0) return;
      armed_ = false;  // once
      double rate = static_cast<double>(endPos_ - firstPos_) / decodedSeconds;  // bytes per second so far
      if (rate <= 0) return;
      double projected = static_cast<double>(static_cast<int64_t>(size_) - firstPos_) / rate;
      bool constant = std::abs(projected - estimate_) <= 0.05 * estimate_;
      if (constant && projected > cap_ * 1.1 + 1.0)
        throw LimitError(Stage::Decode,
                         "input holds about " + Seconds(projected) + " of constant-bitrate audio (its size over its "
                         "bitrate), over maxDurationSeconds (" + Seconds(cap_) + ")",
                         "duration");
    }

   private:
    size_t size_;
    double cap_;
    double estimate_ = -1;
    bool armed_ = false;
    int64_t firstPos_ = -1;
    int64_t endPos_ = -1;
  };

  // A file whose audio stops well short of the duration its container declares was cut: refuse it rather than
  // pass a partial result off as whole.
  // In conceal mode it is reported instead. Either way a decoded length more than 5% off the declared one is a
  // warning. Samples the container itself asks to drop (encoder delay and padding, edit lists) count as decoded.
  void CheckWhole(const Input& in, size_t index, int64_t decodedSamples, int64_t discardedSamples) {
    double declared = in.DeclaredSeconds();
    if (declared <= 0) return;
    int rate = in.Decoder()->sample_rate;
    double decoded = static_cast<double>(decodedSamples) / rate;
    double withDiscarded = static_cast<double>(decodedSamples + discardedSamples) / rate;
    std::string said = "decoded " + Seconds(decoded) + " of the " + Seconds(declared) + " its container declares";
    if (decoded < declared * 0.9 - 0.1) {
      if (!options_.concealDecodeErrors) throw Error(ErrorCode::InvalidData, Stage::Decode, "input is truncated: " + said);
      Warn(index, kWarningDurationMismatch, "input is truncated: " + said);
      return;
    }
    // 50 ms at least: a clip of a few codec frames is declared to the sample and decoded to the frame.
    auto off = [&](double d) { return std::fabs(d - declared) > std::max(declared * 0.05, 0.05); };
    if (off(decoded) && off(withDiscarded)) Warn(index, kWarningDurationMismatch, said);
  }

  // Records a warning about input `index` (named when several inputs are joined).
  void Warn(size_t index, const char* code, const std::string& message) {
    if (warnings_.size() >= 32) return;
    warnings_.push_back({code, inputs_.size() > 1 ? "input " + std::to_string(index) + ": " + message : message});
  }

  // Conceal mode: a decode error that is counted, not thrown.
  void Conceal(const Error& e, size_t index) {
    if (concealed_++ > 0) return;
    firstConcealed_ = e.what();
    if (!e.detail.empty()) firstConcealed_ += " (" + e.detail + ")";
    if (inputs_.size() > 1) firstConcealed_ = "input " + std::to_string(index) + ": " + firstConcealed_;
  }

  // Decodes all of input `index`, converting it to the common format, and hands each frame to `sink` (the
  // frame is only valid during the call).
  void DecodeAll(Input& in, size_t index, const std::function<void(AVFrame*)>& sink) {
    try {
      DecodeAllUnchecked(in, index, sink);
    } catch (const Error& e) {
      RethrowForInput(e, index, inputs_.size());
    }
  }

  void DecodeAllUnchecked(Input& in, size_t index, const std::function<void(AVFrame*)>& sink) {
    const bool conceal = options_.concealDecodeErrors;
    AVCodecContext* dec = in.Decoder();
    AudioFormat inFormat = FormatOf(dec);
    auto start = Clock::now();
    FormatConverter converter(inFormat, common_);
    timings_.filter += MsSince(start);
    auto pkt = NewPacket();
    auto decoded = NewFrame();
    auto converted = NewFrame();
    int64_t samples = 0;
    int64_t discarded = 0;  // samples the container marks for dropping (skip-samples side data)
    int64_t nextPts = 0;
    // A packet that failed to decode is judged once we know whether another follows: then it was damage in the
    // middle (the job fails, or the error is concealed); if it was the last, it is data after the last whole
    // frame (a file cut inside its final frame), reported as a warning.
    std::optional<Error> pending;
    int pendingBytes = 0;
    auto failed = [&](int ret, const AVPacket* packet) {
      Error e = AvError(ret, Stage::Decode, "cannot decode the input");
      if (packet == nullptr) {
        if (!conceal) throw e;
        Conceal(e, index);
        return;
      }
      pending.emplace(std::move(e));
      pendingBytes = packet->size;
    };
    int64_t rescaleLast = AV_NOPTS_VALUE;

    auto drainConverter = [&] {
      for (;;) {
        auto t = Clock::now();
        bool got = converter.Pull(converted.get());
        timings_.filter += MsSince(t);
        if (!got) return;
        sink(converted.get());
        av_frame_unref(converted.get());
      }
    };
    auto decode = [&](AVPacket* packet) {
      auto t = Clock::now();
      int ret = avcodec_send_packet(dec, packet);
      if (ret < 0 && ret != AVERROR_EOF) {
        timings_.decode += MsSince(t);
        failed(ret, packet);
        return;
      }
      for (;;) {
        ret = avcodec_receive_frame(dec, decoded.get());
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
        if (ret < 0) {
          failed(ret, packet);
          break;
        }
        timings_.decode += MsSince(t);
        AVFrame* f = decoded.get();
        // (A layout change with the same channel count, an ADTS stream switching channel configurations, is one:
        // found by the fuzzer.)
        if (!converter.Accepts(f)) {
          Error e = FormatConverter::FormatChanged();
          if (!conceal) throw e;
          // Damage (a flipped ADTS header) looks the same: in conceal mode the odd frame is dropped and counted.
          Conceal(e, index);
          av_frame_unref(f);
          t = Clock::now();
          continue;
        }
        samples += f->nb_samples;
        inSamples_ += f->nb_samples;
        decodedSeconds_ += static_cast<double>(f->nb_samples) / inFormat.sampleRate;
        if (options_.maxDurationSeconds > 0 && decodedSeconds_ > options_.maxDurationSeconds)
          throw LimitError(Stage::Decode,
                           "decoded audio exceeds maxDurationSeconds (" + Seconds(options_.maxDurationSeconds) + ")",
                           "duration");
        // Timestamps as the ffmpeg CLI makes them: in 1/sample_rate, with sub-sample rounding carried over.
        AVRational tb = in.Stream()->time_base;
        int64_t pts = f->best_effort_timestamp;
        if (pts == AV_NOPTS_VALUE && packet != nullptr) pts = packet->pts;
        if (pts == AV_NOPTS_VALUE) {
          pts = nextPts;
          tb = AVRational{1, inFormat.sampleRate};
        }
        AVRational sampleTb{1, inFormat.sampleRate};
        f->pts = av_rescale_delta(tb, pts, sampleTb, f->nb_samples, &rescaleLast, sampleTb);
        nextPts = f->pts + f->nb_samples;
        auto tf = Clock::now();
        converter.Push(f);
        timings_.filter += MsSince(tf);
        av_frame_unref(f);
        drainConverter();
        t = Clock::now();
      }
      timings_.decode += MsSince(t);
    };

    const AVCodecParameters* par = in.Stream()->codecpar;
    const bool pcm = par->codec_id >= AV_CODEC_ID_FIRST_AUDIO && par->codec_id < AV_CODEC_ID_ADPCM_IMA_QT;
    int64_t lastPacketBytes = 0;
    bool firstPacket = true;
    EarlyDurationCheck early(in, options_.maxDurationSeconds);
    for (;;) {
      control_.ThrowIfStopped(Stage::Decode);
      auto t = Clock::now();
      bool more;
      try {
        more = in.ReadPacket(pkt.get());
      } catch (const Error& e) {
        // The ffmpeg CLI takes a read error for the end of the input; so does conceal mode.
        if (!conceal || e.code != ErrorCode::InvalidData) throw;
        Conceal(e, index);
        more = false;
      }
      timings_.decode += MsSince(t);
      if (pending && more) {
        if (!conceal) throw *pending;
        Conceal(*pending, index);
        pending.reset();
      }
      if (!more) break;
      if (firstPacket) {
        firstPacket = false;
        CheckLeadingJunk(in, index, pkt.get());
      }
      size_t sideSize = 0;
      const uint8_t* side = av_packet_get_side_data(pkt.get(), AV_PKT_DATA_SKIP_SAMPLES, &sideSize);
      if (side != nullptr && sideSize >= 8) discarded += static_cast<int64_t>(AV_RL32(side)) + AV_RL32(side + 4);
      lastPacketBytes = pkt->size;
      early.Packet(pkt.get());
      decode(pkt.get());
      av_packet_unref(pkt.get());
      early.Check(static_cast<double>(samples) / inFormat.sampleRate);
    }
    if (pending && pcm && par->block_align > 0 && pendingBytes % par->block_align != 0) {
      // The PCM decoder decodes the whole sample frames and then fails on the rest.
      Warn(index, kWarningTrailingData,
           "the last " + std::to_string(pendingBytes % par->block_align) +
               " bytes are less than a whole sample frame and were dropped");
      pending.reset();
    } else if (pending) {
      Warn(index, kWarningTrailingData,
           "the last " + std::to_string(pendingBytes) + " bytes (an incomplete or damaged final frame) were not decoded: " +
               pending->what() + (pending->detail.empty() ? "" : " (" + pending->detail + ")"));
      pending.reset();
    } else if (pcm && par->block_align > 0 && lastPacketBytes % par->block_align != 0) {
      Warn(index, kWarningTrailingData,
           "the last " + std::to_string(lastPacketBytes % par->block_align) +
               " bytes are less than a whole sample frame and were dropped");
    }
    decode(nullptr);  // flush the decoder
    // A header that declares audio but holds none (a 44-byte WAV) would otherwise "succeed" as an empty file.
    if (samples == 0) throw Error(ErrorCode::InvalidData, Stage::Decode, "no audio decoded");
    CheckWhole(in, index, samples, discarded);
    auto t = Clock::now();
    converter.Push(nullptr);
    timings_.filter += MsSince(t);
    drainConverter();
  }

  // An ADTS stream's demuxer skips bytes before the first frame without a word; the first packet's position
  // tells how many (after an ID3v2 tag, which is no junk). The MP3 demuxer logs its own skip (see Open).
  void CheckLeadingJunk(const Input& in, size_t index, const AVPacket* pkt) {
    if (std::strcmp(in.Format()->iformat->name, "aac") != 0 || pkt->pos <= 0) return;
    const InputBytes& bytes = inputs_[index];
    int64_t start = 0;
    if (bytes.size >= 10 && std::memcmp(bytes.data, "ID3", 3) == 0) {
      const uint8_t* h = bytes.data;
      start = 10 + ((h[6] & 0x7f) << 21 | (h[7] & 0x7f) << 14 | (h[8] & 0x7f) << 7 | (h[9] & 0x7f));
      if (h[5] & 0x10) start += 10;
    }
    if (pkt->pos > start)
      Warn(index, kWarningJunkSkipped,
           "skipped " + std::to_string(pkt->pos - start) + " bytes of junk before the first frame");
  }

  // Calls `sink` with frames of silence in the common format, `count` samples in all.
  void ForEachSilence(int64_t count, const std::function<void(AVFrame*)>& sink) {
    auto frame = NewFrame();
    while (count > 0) {
      int n = static_cast<int>(std::min<int64_t>(count, 4096));
      frame->format = common_.sampleFormat;
      frame->sample_rate = common_.sampleRate;
      frame->nb_samples = n;
      Check(av_channel_layout_copy(&frame->ch_layout, &common_.layout), Stage::Filter, "cannot make silence");
      Check(av_frame_get_buffer(frame.get(), 0), Stage::Filter, "cannot make silence");
      av_samples_set_silence(frame->extended_data, 0, n, common_.layout.nb_channels, common_.sampleFormat);
      sink(frame.get());
      av_frame_unref(frame.get());
      count -= n;
    }
  }

  // First pass: decode everything once (decoding costs ~1% of encoding) to learn where the sound is and how
  // loud it is. The tail's analysis sees what the tail will see: all inputs in the common format, gaps included.
  Analysis Analyze(std::unique_ptr<Input> first) {
    const FilterOptions& f = options_.filters;
    SoundBounds bounds(f.trimThresholdDb);
    std::optional<LoudnessMeter> meter;
    if (f.loudness) meter.emplace(common_);
    auto feed = [&](AVFrame* frame) {
      control_.ThrowIfStopped(Stage::Filter);
      bounds.Feed(frame);
      if (meter) meter->Feed(frame);
    };
    for (size_t i = 0; i < inputs_.size(); i++) {
      if (i > 0 && gapSamples_ > 0) ForEachSilence(gapSamples_, feed);
      std::unique_ptr<Input> in = i == 0 ? std::move(first) : Open(i);
      DecodeAll(*in, i, feed);
    }
    // The second pass reads the same inputs again and notices the same things.
    warnings_.clear();
    concealed_ = 0;
    firstConcealed_.clear();
    Analysis a;
    a.samples = bounds.Samples();
    a.soundStart = bounds.First();
    a.soundEnd = bounds.End();
    if (meter) a.loudness = meter->Finish();
    return a;
  }

  const std::vector<InputBytes>& inputs_;
  const TranscodeOptions& options_;
  JobControl& control_;
  MemoryWriter writer_;
  std::optional<EncoderTail> tail_;
  AudioFormat common_;  // tail_->Common()
  int64_t gapSamples_ = 0;
  std::string firstFormat_, firstCodec_;
  int firstRate_ = 0, firstChannels_ = 0;
  int64_t inSamples_ = 0;
  double decodedSeconds_ = 0;
  StageTimings timings_;
  std::vector<Warning> warnings_;
  int64_t concealed_ = 0;
  std::string firstConcealed_;
};

}  // namespace

TranscodeResult Transcode(const std::vector<InputBytes>& inputs, const TranscodeOptions& options,
                          JobControl& control) {
  InitLibav();
  JobLog log;
  ScopedJobLog scope(&log);
  auto start = Clock::now();
  control.ThrowIfStopped(Stage::None);
  Pipeline pipeline(inputs, options, control);
  TranscodeResult result = pipeline.Run();
  result.timings.total = MsSince(start);
  return result;
}

}  // namespace ttsav::av
