#include "input.h"

#include <new>
#include <string>

#include "filter.h"

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace ttsav::av {

InputFormatPtr OpenMemoryInput(const MemoryReader& reader, const char* what, const AVInputFormat* hint,
                               AVDictionary** options, JobControl* control) {
  InputFormatPtr fmt(avformat_alloc_context());
  if (!fmt) throw std::bad_alloc();
  fmt->pb = reader.Context();
  fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  if (control != nullptr) {
    fmt->interrupt_callback.callback = &JobControl::InterruptCallback;
    fmt->interrupt_callback.opaque = control;
  }
  RefuseNestedOpens(fmt.get());
  // avformat_open_input takes the context over: on failure it frees it (and nulls the pointer) itself.
  AVFormatContext* raw = fmt.release();
  int ret = avformat_open_input(&raw, nullptr, hint, options);
  if (ret < 0) {
    if (control != nullptr) control->ThrowIfStopped(Stage::Probe);
    if (ret == AVERROR_INVALIDDATA)
      throw Error(ErrorCode::InvalidData, Stage::Probe, std::string(what) + " is not a media file libav can read", ret);
    ThrowAv(ret, Stage::Probe, std::string("cannot open the ") + what);
  }
  fmt.reset(raw);
  return fmt;
}

void SetProbingBounds(Dict& dict, const TranscodeOptions& options) {
  dict.Set("probesize", options.probeSize);
  dict.Set("formatprobesize", options.probeSize);
  dict.Set("analyzeduration", options.analyzeDurationUs);
}

const AVInputFormat* InputFormatHint(const TranscodeOptions& options) {
  if (options.inputFormat.empty()) return nullptr;
  const AVInputFormat* hint = av_find_input_format(options.inputFormat.c_str());
  if (hint == nullptr)
    throw Error(ErrorCode::Options, Stage::Probe, "no demuxer named '" + options.inputFormat + "' in this libav");
  return hint;
}

Input::Input(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control)
    : reader_(data, size), control_(control), size_(size) {
  if (size == 0) throw Error(ErrorCode::InvalidData, Stage::Probe, "input is empty");

  const AVInputFormat* hint = InputFormatHint(options);
  Dict opts;
  SetProbingBounds(opts, options);
  fmt_ = OpenMemoryInput(reader_, "input", hint, opts.Addr(), &control);
  int ret = 0;

  // With a hint the header usually tells all we need; probe further only when it does not.
  bool needInfo = hint == nullptr;
  if (!needInfo) {
    int audio = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (audio < 0) {
      needInfo = true;
    } else {
      const AVCodecParameters* p = fmt_->streams[audio]->codecpar;
      needInfo = p->codec_id == AV_CODEC_ID_NONE || p->sample_rate <= 0 || p->ch_layout.nb_channels <= 0 ||
                 p->format < 0;  // e.g. WavPack: the sample format is known only from a decoded frame
    }
  }
  if (needInfo) {
    ret = avformat_find_stream_info(fmt_.get(), nullptr);
    control.ThrowIfStopped(Stage::Probe);
    if (ret < 0) ThrowAv(ret, Stage::Probe, "cannot read stream information");
  }

  const AVCodec* decoder = nullptr;
  int index = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &decoder, 0);
  if (index == AVERROR_STREAM_NOT_FOUND)
    throw Error(ErrorCode::Unsupported, Stage::Probe, "input has no audio stream", index);
  if (index == AVERROR_DECODER_NOT_FOUND || (index >= 0 && decoder == nullptr)) {
    int any = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    std::string name = any >= 0 ? avcodec_get_name(fmt_->streams[any]->codecpar->codec_id) : "unknown";
    throw Error(ErrorCode::Unsupported, Stage::Probe, "no decoder for audio codec '" + name + "' in this libav",
                AVERROR_DECODER_NOT_FOUND);
  }
  if (index < 0) ThrowAv(index, Stage::Probe, "cannot select an audio stream");
  stream_ = fmt_->streams[index];
  for (unsigned i = 0; i < fmt_->nb_streams; i++)
    if (static_cast<int>(i) != index) fmt_->streams[i]->discard = AVDISCARD_ALL;

  dec_.reset(avcodec_alloc_context3(decoder));
  if (!dec_) throw std::bad_alloc();
  Check(avcodec_parameters_to_context(dec_.get(), stream_->codecpar), Stage::Probe, "cannot configure decoder");
  dec_->pkt_timebase = stream_->time_base;
  dec_->thread_count = 1;  // audio decoders gain nothing from threads; parallelism comes from jobs
  ret = avcodec_open2(dec_.get(), decoder, nullptr);
  if (ret < 0) ThrowAv(ret, Stage::Probe, std::string("cannot open decoder '") + decoder->name + "'");
  if (dec_->sample_rate <= 0 || dec_->ch_layout.nb_channels <= 0 || dec_->sample_fmt == AV_SAMPLE_FMT_NONE)
    throw Error(ErrorCode::InvalidData, Stage::Probe,
                "audio stream declares no sample rate, channel count or sample format");
  RefuseUnconvertible(dec_->sample_rate, dec_->ch_layout, Stage::Probe);

  // Like the ffmpeg CLI: timestamps start at zero.
  if (fmt_->start_time != AV_NOPTS_VALUE)
    tsOffset_ = -av_rescale_q(fmt_->start_time, AV_TIME_BASE_Q, stream_->time_base);

  if (fmt_->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
    if (stream_->duration != AV_NOPTS_VALUE && stream_->duration > 0)
      declaredSeconds_ = static_cast<double>(stream_->duration) * av_q2d(stream_->time_base);
    else if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0)
      declaredSeconds_ = static_cast<double>(fmt_->duration) / AV_TIME_BASE;
  }
}

bool Input::ReadPacket(AVPacket* pkt) {
  for (;;) {
    int ret = av_read_frame(fmt_.get(), pkt);
    if (ret == AVERROR_EOF) return false;
    if (ret < 0) {
      control_.ThrowIfStopped(Stage::Decode);
      // A read that fails at the end of the bytes is the end of input; whether the file was whole is
      // judged later against its declared duration.
      if (fmt_->pb != nullptr && avio_feof(fmt_->pb)) return false;
      ThrowAv(ret, Stage::Decode, "cannot read input");
    }
    if (pkt->stream_index != stream_->index) {
      av_packet_unref(pkt);
      continue;
    }
    if (pkt->pts != AV_NOPTS_VALUE) pkt->pts += tsOffset_;
    if (pkt->dts != AV_NOPTS_VALUE) pkt->dts += tsOffset_;
    return true;
  }
}

}  // namespace ttsav::av

namespace ttsav::av {

double Input::ContainerSeconds(bool* estimated) const {
  *estimated = fmt_->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
  if (stream_->duration != AV_NOPTS_VALUE && stream_->duration > 0)
    return static_cast<double>(stream_->duration) * av_q2d(stream_->time_base);
  if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0) return static_cast<double>(fmt_->duration) / AV_TIME_BASE;
  return -1;
}

}  // namespace ttsav::av
