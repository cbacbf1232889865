#include "encoder_tail.h"

#include <algorithm>
#include <string>

#include "clock.h"

namespace ttsav::av {

bool FormatConverter::Accepts(const AVFrame* f) const {
  const AudioFormat& in = graph_.Input();
  return f->sample_rate == in.sampleRate && f->ch_layout.nb_channels == in.layout.nb_channels &&
         f->format == in.sampleFormat &&
         (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || av_channel_layout_compare(&f->ch_layout, &in.layout) == 0);
}

Error FormatConverter::FormatChanged() {
  return Error(ErrorCode::Unsupported, Stage::Decode,
               "input changes its sample rate, channel layout or sample format mid-stream");
}

EncoderTail::EncoderTail(const TranscodeOptions& options, int sourceRate, int sourceChannels, MemoryWriter& writer,
                         const AVFormatContext* input, const AVStream* inputStream, int bitsPerRawSample,
                         StageTimings* timings)
    : options_(options), timings_(timings != nullptr ? timings : &ownTimings_), filtered_(NewFrame()) {
  int rate = ResolveSampleRate(options, sourceRate);
  int channels = options.channels > 0 ? options.channels : std::min(sourceChannels, options.maxChannels);
  auto start = Clock::now();
  output_.emplace(options, rate, channels, writer, input, inputStream, bitsPerRawSample);
  timings_->encode += MsSince(start);
  common_.sampleFormat = AV_SAMPLE_FMT_FLTP;
  common_.sampleRate = rate;
  common_.layout = output_->EncoderFormat().layout;
}

void EncoderTail::Start(const Analysis* analysis, bool measure) {
  std::string chain = BuildTailChain(options_.filters, common_.sampleRate, analysis, &normalization_,
                                     DescribeLayout(common_.layout));
  Open(chain, !options_.filters.raw.empty(), measure);
}

void EncoderTail::StartChain(const std::string& chain, bool measure) { Open(chain, false, measure); }

void EncoderTail::Open(const std::string& chain, bool userChain, bool measure) {
  auto start = Clock::now();
  tail_.emplace(common_, chain, output_->EncoderFormat(), userChain);
  if (output_->FrameSize() > 0) tail_->SetFrameSize(output_->FrameSize());
  if (measure) meter_.emplace(output_->EncoderFormat());
  timings_->filter += MsSince(start);
  start = Clock::now();
  output_->WriteHeader();
  timings_->mux += MsSince(start);
}

void EncoderTail::Push(AVFrame* frame, JobControl* control) {
  frame->pts = tailPts_;
  tailPts_ += frame->nb_samples;
  auto start = Clock::now();
  tail_->Push(frame);
  timings_->filter += MsSince(start);
  Drain(control);
}

void EncoderTail::Finish(JobControl* control) {
  auto start = Clock::now();
  tail_->Push(nullptr);
  timings_->filter += MsSince(start);
  Drain(control);
  if (control != nullptr) control->ThrowIfStopped(Stage::Encode);
  output_->Encode(nullptr, &timings_->encode, &timings_->mux);
  start = Clock::now();
  output_->WriteTrailer();
  timings_->mux += MsSince(start);
}

void EncoderTail::Drain(JobControl* control) {
  for (;;) {
    auto start = Clock::now();
    bool got = tail_->Pull(filtered_.get());
    timings_->filter += MsSince(start);
    if (!got) return;
    if (control != nullptr) control->ThrowIfStopped(Stage::Encode);
    // The encoder's clock is the count of samples it has been given.
    filtered_->pts = outSamples_;
    outSamples_ += filtered_->nb_samples;
    if (meter_) meter_->Feed(filtered_.get());
    output_->Encode(filtered_.get(), &timings_->encode, &timings_->mux);
    av_frame_unref(filtered_.get());
  }
}

std::optional<Loudness> EncoderTail::MeasuredLoudness() {
  if (!meter_) return std::nullopt;
  return meter_->Finish();
}

}  // namespace ttsav::av
