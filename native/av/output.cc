#include "output.h"

#include <algorithm>
#include <cmath>
#include <string>

extern "C" {
#include <libavcodec/version.h>
#include <libavutil/opt.h>
}

#include "clock.h"

namespace ttsav::av {
namespace {

bool SupportsRate(const AVCodec* codec, int rate) {
  if (codec->supported_samplerates == nullptr) return true;
  for (const int* r = codec->supported_samplerates; *r != 0; r++)
    if (*r == rate) return true;
  return false;
}

const AVCodec* FindEncoder(const std::string& name) {
  const AVCodec* codec = avcodec_find_encoder_by_name(name.c_str());
  if (codec == nullptr)
    throw Error(ErrorCode::Unsupported, Stage::Encode, "no encoder named '" + name + "' in this libav");
  return codec;
}

// Planar float when the encoder takes it (what the filters work in), else interleaved float, else its first.
AVSampleFormat PickSampleFormat(const AVCodec* codec) {
  if (codec->sample_fmts == nullptr) return AV_SAMPLE_FMT_FLTP;
  for (AVSampleFormat want : {AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT})
    for (const AVSampleFormat* f = codec->sample_fmts; *f != AV_SAMPLE_FMT_NONE; f++)
      if (*f == want) return want;
  return codec->sample_fmts[0];
}

}  // namespace

int ResolveSampleRate(const TranscodeOptions& options, int sourceRate) {
  const AVCodec* codec = FindEncoder(options.codec);
  if (options.sampleRate > 0) {
    if (!SupportsRate(codec, options.sampleRate))
      throw Error(ErrorCode::Options, Stage::Encode,
                  "encoder '" + options.codec + "' does not take sampleRate " + std::to_string(options.sampleRate));
    return options.sampleRate;
  }
  return SupportsRate(codec, sourceRate) ? sourceRate : options.fallbackSampleRate;
}

Output::Output(const TranscodeOptions& options, int sampleRate, int channels, MemoryWriter& writer,
               const AVFormatContext* input, const AVStream* inputStream, int bitsPerRawSample)
    : options_(options), writer_(writer), pkt_(NewPacket()) {
  const AVOutputFormat* ofmt = av_guess_format(options.container.c_str(), nullptr, nullptr);
  if (ofmt == nullptr)
    throw Error(ErrorCode::Unsupported, Stage::Mux, "no muxer named '" + options.container + "' in this libav");
  const AVCodec* codec = FindEncoder(options.codec);
  if (!SupportsRate(codec, sampleRate))
    throw Error(ErrorCode::Options, Stage::Encode,
                "encoder '" + options.codec + "' does not take sampleRate " + std::to_string(sampleRate));

  AVFormatContext* raw = nullptr;
  Check(avformat_alloc_output_context2(&raw, ofmt, nullptr, nullptr), Stage::Mux, "cannot create the muxer");
  fmt_.reset(raw);
  fmt_->pb = writer.Context();
  fmt_->flags |= AVFMT_FLAG_CUSTOM_IO;
  fmt_->url = av_strdup("ttsav-memory-output");
  if (fmt_->url == nullptr) throw std::bad_alloc();
  writer.ServeReopen(fmt_.get());

  // Tags: like the ffmpeg CLI, carry the input's global and stream tags over, minus these.
  if (input != nullptr) {
    av_dict_copy(&fmt_->metadata, input->metadata, AV_DICT_DONT_OVERWRITE);
    for (const char* key : {"creation_time", "company_name", "product_name", "product_version"})
      av_dict_set(&fmt_->metadata, key, nullptr, 0);
  }

  stream_ = avformat_new_stream(fmt_.get(), nullptr);
  if (stream_ == nullptr) throw std::bad_alloc();
  if (inputStream != nullptr) av_dict_copy(&stream_->metadata, inputStream->metadata, AV_DICT_DONT_OVERWRITE);

  enc_.reset(avcodec_alloc_context3(codec));
  if (!enc_) throw std::bad_alloc();
  format_.sampleFormat = PickSampleFormat(codec);
  format_.sampleRate = sampleRate;
  av_channel_layout_default(&format_.layout, channels);

  enc_->sample_fmt = format_.sampleFormat;
  enc_->sample_rate = sampleRate;
  Check(av_channel_layout_copy(&enc_->ch_layout, &format_.layout), Stage::Encode, "cannot set channel layout");
  enc_->time_base = AVRational{1, sampleRate};
  enc_->bit_rate = options.bitrate;
  enc_->thread_count = 1;
  int rawBits = av_get_bytes_per_sample(enc_->sample_fmt) * 8;
  enc_->bits_per_raw_sample = bitsPerRawSample > 0 && bitsPerRawSample < rawBits ? bitsPerRawSample : rawBits;
  // Without this MP4 gets no AudioSpecificConfig and players hear silence.
  if (ofmt->flags & AVFMT_GLOBALHEADER) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

  Dict encOpts;
  if (!options.aacCoder.empty()) encOpts.Set("aac_coder", options.aacCoder.c_str());
  int ret = avcodec_open2(enc_.get(), codec, encOpts.Addr());
  if (ret < 0) ThrowAv(ret, Stage::Encode, "cannot open encoder '" + options.codec + "'");
  if (av_dict_count(encOpts.Get()) != 0)
    throw Error(ErrorCode::Options, Stage::Encode, "encoder '" + options.codec + "' ignored an option");

  Check(avcodec_parameters_from_context(stream_->codecpar, enc_.get()), Stage::Mux, "cannot set stream parameters");
  stream_->time_base = enc_->time_base;
  std::string encoderTag = std::string(LIBAVCODEC_IDENT " ") + codec->name;
  av_dict_set(&stream_->metadata, "encoder", encoderTag.c_str(), 0);
}

int Output::FrameSize() const {
  if (enc_->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) return 0;
  return enc_->frame_size;
}

void Output::CheckWriter(int ret, const char* what) {
  if (writer_.LimitHit())
    throw LimitError(Stage::Mux, "output exceeds maxOutputBytes (" + std::to_string(options_.maxOutputBytes) + ")",
                     "output-size");
  if (ret < 0) ThrowAv(ret, Stage::Mux, what);
  if (fmt_->pb != nullptr && fmt_->pb->error < 0) ThrowAv(fmt_->pb->error, Stage::Mux, what);
}

void Output::WriteHeader() {
  Dict muxOpts;
  if (options_.container == "mp4" && options_.fragmented) {
    // Fragmented MP4: an empty moov up front, then self-contained moof+mdat fragments of about a second each,
    // written in order with no seeking back: it can be streamed and cut at any fragment boundary.
    // delay_moov: the moov waits for the first fragment, so it can carry the edit list that hides the encoder's
    // priming samples (players that honour edit lists in fragmented files then start exactly on time).
    muxOpts.Set("movflags", "+empty_moov+default_base_moof+delay_moov");
    muxOpts.Set("frag_duration", static_cast<int64_t>(options_.fragmentMs) * 1000);
  } else if (options_.container == "mp4" && options_.faststart) {
    muxOpts.Set("movflags", "+faststart");
  }
  int ret = avformat_write_header(fmt_.get(), muxOpts.Addr());
  CheckWriter(ret, "cannot write the header");
}

namespace {

// Float samples past this are garbage from corrupt input, not audio (+30 dBFS).
constexpr float kMaxSample = 32.0f;

// Encoders trust their input: libmp3lame asserts (aborting the whole process) on NaN, infinite or absurdly large
// samples, and AAC refuses NaN. Corrupt input can decode to such values, so float audio is checked before any
// encoder sees it: non-finite samples fail the job, out-of-range ones are clamped.
void GuardSamples(AVFrame* frame) {
  auto fmt = static_cast<AVSampleFormat>(frame->format);
  if (fmt != AV_SAMPLE_FMT_FLT && fmt != AV_SAMPLE_FMT_FLTP) return;
  bool planar = fmt == AV_SAMPLE_FMT_FLTP;
  int planes = planar ? frame->ch_layout.nb_channels : 1;
  size_t perPlane = static_cast<size_t>(frame->nb_samples) * (planar ? 1 : frame->ch_layout.nb_channels);
  bool clamp = false;
  for (int p = 0; p < planes; p++) {
    const float* x = reinterpret_cast<const float*>(frame->extended_data[p]);
    for (size_t i = 0; i < perPlane; i++) {
      if (!std::isfinite(x[i]))
        throw Error(ErrorCode::InvalidData, Stage::Encode, "the decoded audio holds NaN or infinite samples");
      if (x[i] > kMaxSample || x[i] < -kMaxSample) clamp = true;
    }
  }
  if (!clamp) return;
  Check(av_frame_make_writable(frame), Stage::Encode, "cannot prepare a frame");
  for (int p = 0; p < planes; p++) {
    float* x = reinterpret_cast<float*>(frame->extended_data[p]);
    for (size_t i = 0; i < perPlane; i++) x[i] = std::min(kMaxSample, std::max(-kMaxSample, x[i]));
  }
}

}  // namespace

void Output::Encode(AVFrame* frame, double* encodeMs, double* muxMs) {
  auto start = Clock::now();
  if (frame != nullptr) GuardSamples(frame);
  // The encoder took the caller's options when it opened: audio it refuses now (AAC refuses NaN/Inf samples,
  // which corrupt float input decodes to; the error may surface on send or receive) is the input's fault.
  auto fail = [](int err) {
    if (err == AVERROR(EINVAL))
      throw Error(ErrorCode::InvalidData, Stage::Encode, "cannot encode the decoded audio: " + AvErrorString(err), err);
    ThrowAv(err, Stage::Encode, "cannot encode");
  };
  int ret = avcodec_send_frame(enc_.get(), frame);
  if (ret < 0) fail(ret);
  for (;;) {
    ret = avcodec_receive_packet(enc_.get(), pkt_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
    if (ret < 0) fail(ret);
    *encodeMs += MsSince(start);
    auto muxStart = Clock::now();
    payloadBytes_ += pkt_->size;
    pkt_->stream_index = stream_->index;
    av_packet_rescale_ts(pkt_.get(), enc_->time_base, stream_->time_base);
    ret = av_interleaved_write_frame(fmt_.get(), pkt_.get());  // takes the packet's reference
    CheckWriter(ret, "cannot write a packet");
    *muxMs += MsSince(muxStart);
    start = Clock::now();
  }
  *encodeMs += MsSince(start);
}

void Output::WritePacket(AVPacket* pkt) {
  int ret = av_interleaved_write_frame(fmt_.get(), pkt);
  CheckWriter(ret, "cannot write a packet");
}

void Output::WriteTrailer() {
  int ret = av_write_trailer(fmt_.get());
  CheckWriter(ret, "cannot finish the output");
}

}  // namespace ttsav::av
