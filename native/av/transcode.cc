#include "transcode.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <new>
#include <optional>
#include <string>

#include "filter.h"
#include "input.h"
#include "io.h"
#include "log.h"
#include "output.h"
#include "raii.h"

namespace ttsav::av {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

class Pipeline {
 public:
  Pipeline(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control)
      : options_(options), control_(control), writer_(options.maxOutputBytes) {
    auto start = Clock::now();
    input_.emplace(data, size, options, control);
    const AVCodecContext* dec = input_->Decoder();
    inRate_ = dec->sample_rate;
    inChannels_ = dec->ch_layout.nb_channels;
    inFormat_ = dec->sample_fmt;
    CheckDeclaredDuration();
    timings_.probe = MsSince(start);

    start = Clock::now();
    output_.emplace(options, writer_, input_->Format(), input_->Stream(), dec->bits_per_raw_sample);
    timings_.encode += MsSince(start);

    start = Clock::now();
    filter_.emplace(dec, output_->EncoderFormat());
    if (output_->FrameSize() > 0) filter_->SetFrameSize(output_->FrameSize());
    outTimeBase_ = filter_->OutputTimeBase();
    timings_.filter += MsSince(start);

    start = Clock::now();
    output_->WriteHeader();
    timings_.mux += MsSince(start);
  }

  TranscodeResult Run() {
    auto pkt = NewPacket();
    auto decoded = NewFrame();
    auto filtered = NewFrame();
    for (;;) {
      control_.ThrowIfStopped(Stage::Decode);
      auto start = Clock::now();
      bool more = input_->ReadPacket(pkt.get());
      timings_.decode += MsSince(start);
      if (!more) break;
      Decode(pkt.get(), decoded.get(), filtered.get());
      av_packet_unref(pkt.get());
    }
    // Flush in order: decoder, filter graph, encoder, then the trailer.
    Decode(nullptr, decoded.get(), filtered.get());
    CheckWhole();
    auto start = Clock::now();
    filter_->Push(nullptr);
    timings_.filter += MsSince(start);
    Drain(filtered.get());
    control_.ThrowIfStopped(Stage::Encode);
    output_->Encode(nullptr, &timings_.encode, &timings_.mux);
    start = Clock::now();
    output_->WriteTrailer();
    timings_.mux += MsSince(start);

    TranscodeResult result;
    const AVCodecContext* enc = output_->Encoder();
    result.codec = enc->codec->name;
    result.sampleRate = enc->sample_rate;
    result.channels = enc->ch_layout.nb_channels;
    result.bitrate = enc->bit_rate;
    result.samples = outSamples_;
    result.durationSeconds = static_cast<double>(outSamples_) / enc->sample_rate;
    result.inputFormat = input_->Format()->iformat->name;
    result.inputCodec = input_->Decoder()->codec->name;
    result.inputSampleRate = inRate_;
    result.inputChannels = inChannels_;
    result.inputSamples = inSamples_;
    result.timings = timings_;
    result.data = writer_.Release();
    return result;
  }

 private:
  // A container that declares a duration beyond the cap is refused before any decoding.
  void CheckDeclaredDuration() {
    double declared = input_->DeclaredSeconds();
    if (options_.maxDurationSeconds > 0 && declared > options_.maxDurationSeconds + 1.0)
      throw Error(ErrorCode::Limit, Stage::Probe,
                  "input declares " + Seconds(declared) + " of audio, over maxDurationSeconds (" +
                      Seconds(options_.maxDurationSeconds) + ")");
  }

  // A file whose audio stops well short of the duration its container declares was cut: refuse it rather than
  // pass a partial result off as whole.
  void CheckWhole() {
    double declared = input_->DeclaredSeconds();
    if (declared <= 0) return;
    double decoded = static_cast<double>(inSamples_) / inRate_;
    if (decoded < declared * 0.9 - 0.1)
      throw Error(ErrorCode::InvalidData, Stage::Decode,
                  "input is truncated: decoded " + Seconds(decoded) + " of the " + Seconds(declared) +
                      " its container declares");
  }

  void Decode(AVPacket* pkt, AVFrame* decoded, AVFrame* filtered) {
    AVCodecContext* dec = input_->Decoder();
    auto start = Clock::now();
    int ret = avcodec_send_packet(dec, pkt);
    if (ret < 0 && ret != AVERROR_EOF) ThrowAv(ret, Stage::Decode, "cannot decode the input");
    for (;;) {
      ret = avcodec_receive_frame(dec, decoded);
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
      if (ret < 0) ThrowAv(ret, Stage::Decode, "cannot decode the input");
      timings_.decode += MsSince(start);
      Filter(decoded, pkt, filtered);
      av_frame_unref(decoded);
      start = Clock::now();
    }
    timings_.decode += MsSince(start);
  }

  void Filter(AVFrame* frame, const AVPacket* pkt, AVFrame* filtered) {
    if (frame->sample_rate != inRate_ || frame->ch_layout.nb_channels != inChannels_ || frame->format != inFormat_)
      throw Error(ErrorCode::Unsupported, Stage::Decode,
                  "input changes its sample rate, channel count or sample format mid-stream");
    inSamples_ += frame->nb_samples;
    if (options_.maxDurationSeconds > 0 &&
        static_cast<double>(inSamples_) > options_.maxDurationSeconds * inRate_)
      throw Error(ErrorCode::Limit, Stage::Decode,
                  "decoded audio exceeds maxDurationSeconds (" + Seconds(options_.maxDurationSeconds) + ")");

    // Timestamps as the ffmpeg CLI makes them: in 1/sample_rate, with sub-sample rounding carried over.
    AVRational tb = input_->Stream()->time_base;
    int64_t pts = frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE && pkt != nullptr) pts = pkt->pts;
    if (pts == AV_NOPTS_VALUE) {
      pts = nextPts_;
      tb = AVRational{1, inRate_};
    }
    AVRational sampleTb{1, inRate_};
    frame->pts = av_rescale_delta(tb, pts, sampleTb, frame->nb_samples, &rescaleLast_, sampleTb);
    nextPts_ = frame->pts + frame->nb_samples;

    auto start = Clock::now();
    filter_->Push(frame);
    timings_.filter += MsSince(start);
    Drain(filtered);
  }

  void Drain(AVFrame* filtered) {
    for (;;) {
      auto start = Clock::now();
      bool got = filter_->Pull(filtered);
      timings_.filter += MsSince(start);
      if (!got) return;
      control_.ThrowIfStopped(Stage::Encode);
      filtered->pts = av_rescale_q(filtered->pts, outTimeBase_, output_->Encoder()->time_base);
      outSamples_ += filtered->nb_samples;
      output_->Encode(filtered, &timings_.encode, &timings_.mux);
      av_frame_unref(filtered);
    }
  }

  const TranscodeOptions& options_;
  JobControl& control_;
  MemoryWriter writer_;
  std::optional<Input> input_;
  std::optional<Output> output_;
  std::optional<AudioFilter> filter_;
  int inRate_ = 0;
  int inChannels_ = 0;
  int inFormat_ = -1;
  AVRational outTimeBase_{1, 1};
  int64_t inSamples_ = 0;
  int64_t outSamples_ = 0;
  int64_t nextPts_ = 0;
  int64_t rescaleLast_ = AV_NOPTS_VALUE;
  StageTimings timings_;
};

}  // namespace

TranscodeResult Transcode(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control) {
  InstallLogRouting();
  JobLog log;
  ScopedJobLog scope(&log);
  auto start = Clock::now();
  control.ThrowIfStopped(Stage::None);
  Pipeline pipeline(data, size, options, control);
  TranscodeResult result = pipeline.Run();
  result.timings.total = MsSince(start);
  return result;
}

}  // namespace ttsav::av
