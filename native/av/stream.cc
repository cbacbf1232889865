#include "stream.h"

#include <algorithm>
#include <cstring>
#include <new>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/samplefmt.h>
}

#include "init.h"
#include "log.h"

namespace ttsav::av {
namespace {

AVCodecID CodecIdOf(const std::string& name) {
  if (name == "mp3") return AV_CODEC_ID_MP3;
  if (name == "aac") return AV_CODEC_ID_AAC;
  if (name == "pcm_s16le") return AV_CODEC_ID_PCM_S16LE;
  if (name == "pcm_f32le") return AV_CODEC_ID_PCM_F32LE;
  throw Error(ErrorCode::Options, Stage::Probe, "streaming input codec must be mp3, aac, pcm_s16le or pcm_f32le");
}

AudioFormat FrameFormat(const AVFrame* f) {
  AudioFormat a;
  a.sampleFormat = static_cast<AVSampleFormat>(f->format);
  a.sampleRate = f->sample_rate;
  if (f->ch_layout.order == AV_CHANNEL_ORDER_NATIVE)
    a.layout = f->ch_layout;
  else
    av_channel_layout_default(&a.layout, f->ch_layout.nb_channels);
  return a;
}

// A copy of `src` without its first `skip` samples.
FramePtr DropHead(const AVFrame* src, int skip) {
  FramePtr out = NewFrame();
  out->format = src->format;
  out->sample_rate = src->sample_rate;
  out->nb_samples = src->nb_samples - skip;
  Check(av_channel_layout_copy(&out->ch_layout, &src->ch_layout), Stage::Decode, "cannot copy a frame");
  Check(av_frame_get_buffer(out.get(), 0), Stage::Decode, "cannot copy a frame");
  av_samples_copy(out->extended_data, src->extended_data, 0, skip, out->nb_samples, src->ch_layout.nb_channels,
                  static_cast<AVSampleFormat>(src->format));
  return out;
}

}  // namespace

StreamSession::StreamSession(const TranscodeOptions& options, const StreamInput& input)
    : options_(options),
      input_(input),
      pkt_(NewPacket()),
      decoded_(NewFrame()),
      converted_(NewFrame()),
      writer_(options.maxOutputBytes) {
  InitLibav();
  writer_.MakeStreaming();
  AVCodecID id = CodecIdOf(input.codec);
  const AVCodec* codec = avcodec_find_decoder(id);
  if (codec == nullptr) throw Error(ErrorCode::Unsupported, Stage::Probe, "no decoder for " + input.codec);
  dec_.reset(avcodec_alloc_context3(codec));
  if (!dec_) throw std::bad_alloc();
  dec_->thread_count = 1;
  if (id == AV_CODEC_ID_PCM_S16LE || id == AV_CODEC_ID_PCM_F32LE) {
    if (input.sampleRate < 1000 || input.sampleRate > 768000 || input.channels < 1 || input.channels > 8)
      throw Error(ErrorCode::Options, Stage::Probe, "PCM input needs a sampleRate (1000-768000) and channels (1-8)");
    dec_->sample_rate = input.sampleRate;
    av_channel_layout_default(&dec_->ch_layout, input.channels);
  } else {
    parser_ = av_parser_init(id);
    if (parser_ == nullptr) throw Error(ErrorCode::Unsupported, Stage::Probe, "no parser for " + input.codec);
  }
  Check(avcodec_open2(dec_.get(), codec, nullptr), Stage::Probe, "cannot open the decoder");
  headDone_ = id != AV_CODEC_ID_MP3;
}

StreamSession::~StreamSession() { av_parser_close(parser_); }

OwnedBytes StreamSession::Push(const uint8_t* data, size_t size, JobControl& control) {
  if (finished_) throw Error(ErrorCode::Options, Stage::None, "the stream has ended");
  JobLog log;
  ScopedJobLog scope(&log);
  control_ = &control;
  try {
    control.ThrowIfStopped(Stage::Decode);
    if (!headDone_) {
      // Hold bytes until we know whether an ID3v2 tag leads the stream, and how long it is.
      head_.insert(head_.end(), data, data + size);
      if (head_.size() < 10) return {};
      headDone_ = true;
      if (std::memcmp(head_.data(), "ID3", 3) == 0) {
        id3Skip_ = 10 + ((head_[6] & 0x7f) << 21 | (head_[7] & 0x7f) << 14 | (head_[8] & 0x7f) << 7 | (head_[9] & 0x7f));
        if (head_[5] & 0x10) id3Skip_ += 10;  // footer
      }
      std::vector<uint8_t> held;
      held.swap(head_);
      return Push(held.data(), held.size(), control);
    }
    if (id3Skip_ > 0) {
      size_t n = static_cast<size_t>(std::min<int64_t>(id3Skip_, static_cast<int64_t>(size)));
      id3Skip_ -= static_cast<int64_t>(n);
      data += n;
      size -= n;
    }
    if (size > 0) Parse(data, size, false);
    return writer_.TakeWritten();
  } catch (...) {
    finished_ = true;
    throw;
  }
}

OwnedBytes StreamSession::Finish(JobControl& control) {
  if (finished_) throw Error(ErrorCode::Options, Stage::None, "the stream has ended");
  JobLog log;
  ScopedJobLog scope(&log);
  control_ = &control;
  finished_ = true;
  if (!headDone_ && !head_.empty()) {
    headDone_ = true;
    std::vector<uint8_t> held;
    held.swap(head_);
    Parse(held.data(), held.size(), false);
  }
  if (parser_ != nullptr) Parse(nullptr, 0, true);
  Decode(nullptr);
  if (!tail_) throw Error(ErrorCode::InvalidData, Stage::Decode, "no audio decoded: the stream ended without any audio");
  converter_->Push(nullptr);
  DrainConverter();
  tail_->Finish(nullptr);
  return writer_.TakeWritten();
}

void StreamSession::Parse(const uint8_t* data, size_t size, bool flush) {
  if (parser_ == nullptr) {
    // PCM: whole sample frames go to the decoder, a partial one waits for the next chunk.
    int frameBytes = av_get_bytes_per_sample(dec_->sample_fmt) * dec_->ch_layout.nb_channels;
    pcmRemainder_.insert(pcmRemainder_.end(), data, data + size);
    size_t whole = pcmRemainder_.size() / frameBytes * frameBytes;
    if (whole == 0) return;
    pkt_->data = pcmRemainder_.data();
    pkt_->size = static_cast<int>(whole);
    Decode(pkt_.get());
    pcmRemainder_.erase(pcmRemainder_.begin(), pcmRemainder_.begin() + static_cast<std::ptrdiff_t>(whole));
    return;
  }
  // av_parser_parse2 may read up to AV_INPUT_BUFFER_PADDING_SIZE bytes past the end of what it is given (its
  // bitstream readers work a word at a time), and the caller's chunk has no such padding: the parser gets a padded
  // copy. (Found by the fuzzer's streaming mode: a 1-byte chunk read 65 bytes.)
  if (size > 0) {
    parseBuf_.assign(data, data + size);
    parseBuf_.resize(size + AV_INPUT_BUFFER_PADDING_SIZE, 0);
    data = parseBuf_.data();
  }
  while (size > 0 || flush) {
    uint8_t* out = nullptr;
    int outSize = 0;
    int used = av_parser_parse2(parser_, dec_.get(), &out, &outSize, data, static_cast<int>(size), AV_NOPTS_VALUE,
                                AV_NOPTS_VALUE, 0);
    if (used < 0) ThrowAv(used, Stage::Decode, "cannot parse the input");
    data += used;
    size -= static_cast<size_t>(used);
    if (outSize > 0) {
      pkt_->data = out;
      pkt_->size = outSize;
      if (input_.codec == "mp3")
        HandleMp3Packet(pkt_.get());
      else
        Decode(pkt_.get());
    }
    if (flush && outSize == 0) break;
  }
}

void StreamSession::HandleMp3Packet(AVPacket* pkt) {
  if (firstFrameSeen_) return Decode(pkt);
  firstFrameSeen_ = true;
  const uint8_t* d = pkt->data;
  if (pkt->size < 4) return Decode(pkt);
  bool mpeg1 = ((d[1] >> 3) & 3) == 3;
  bool mono = ((d[3] >> 6) & 3) == 3;
  int off = 4 + (mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17));
  if (pkt->size < off + 8 || (std::memcmp(d + off, "Xing", 4) != 0 && std::memcmp(d + off, "Info", 4) != 0))
    return Decode(pkt);
  // A Xing/Info frame holds no audio: drop it, and use its LAME tag's delay and padding as the demuxer does.
  auto rb32 = [&](int at) { return static_cast<uint32_t>(d[at] << 24 | d[at + 1] << 16 | d[at + 2] << 8 | d[at + 3]); };
  int p = off + 4;
  uint32_t flags = rb32(p);
  p += 4;
  int64_t frames = -1;
  if (flags & 1) {
    if (pkt->size < p + 4) return;
    frames = rb32(p);
    p += 4;
  }
  if (flags & 2) p += 4;
  if (flags & 4) p += 100;
  if (flags & 8) p += 4;
  if (pkt->size < p + 24) return;
  if (std::memcmp(d + p, "LAME", 4) != 0 && std::memcmp(d + p, "Lavf", 4) != 0 && std::memcmp(d + p, "Lavc", 4) != 0)
    return;
  int v = d[p + 21] << 16 | d[p + 22] << 8 | d[p + 23];
  int startPad = v >> 12, endPad = v & 4095;
  skipSamples_ = startPad + 529;
  if (frames > 0) keepSamples_ = frames * (mpeg1 ? 1152 : 576) - startPad - endPad;
}

void StreamSession::Conceal(const Error& e) {
  if (!options_.concealDecodeErrors) throw e;
  if (concealed_++ > 0) return;
  firstConcealed_ = e.what();
  if (!e.detail.empty()) firstConcealed_ += " (" + e.detail + ")";
}

void StreamSession::Decode(AVPacket* pkt) {
  int ret = avcodec_send_packet(dec_.get(), pkt);
  if (ret < 0 && ret != AVERROR_EOF) return Conceal(AvError(ret, Stage::Decode, "cannot decode the input"));
  for (;;) {
    ret = avcodec_receive_frame(dec_.get(), decoded_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
    if (ret < 0) return Conceal(AvError(ret, Stage::Decode, "cannot decode the input"));
    AVFrame* f = decoded_.get();
    FramePtr trimmed;
    if (skipSamples_ > 0) {
      int n = static_cast<int>(std::min<int64_t>(skipSamples_, f->nb_samples));
      skipSamples_ -= n;
      if (n == f->nb_samples) {
        av_frame_unref(f);
        continue;
      }
      trimmed = DropHead(f, n);
      f = trimmed.get();
    }
    if (keepSamples_ >= 0) {
      int64_t left = keepSamples_ - decodedKept_;
      if (left <= 0) {
        av_frame_unref(decoded_.get());
        continue;
      }
      if (f->nb_samples > left) f->nb_samples = static_cast<int>(left);
    }
    decodedKept_ += f->nb_samples;
    Deliver(f);
    av_frame_unref(decoded_.get());
  }
}

void StreamSession::Deliver(AVFrame* frame) {
  control_->ThrowIfStopped(Stage::Decode);
  if (!tail_) Start(frame);
  // Conceal mode drops the odd frame (a flipped ADTS header looks the same) and counts it.
  if (!converter_->Accepts(frame)) return Conceal(FormatConverter::FormatChanged());
  inSamples_ += frame->nb_samples;
  if (options_.maxDurationSeconds > 0 &&
      static_cast<double>(inSamples_) / frame->sample_rate > options_.maxDurationSeconds)
    throw LimitError(Stage::Decode, "decoded audio exceeds maxDurationSeconds", "duration");
  frame->pts = inSamples_ - frame->nb_samples;
  converter_->Push(frame);
  DrainConverter();
}

void StreamSession::Start(const AVFrame* first) {
  RefuseUnconvertible(first->sample_rate, first->ch_layout, Stage::Decode);
  tail_.emplace(options_, first->sample_rate, first->ch_layout.nb_channels, writer_);
  converter_.emplace(FrameFormat(first), tail_->Common());
  tail_->Start(nullptr);  // no first pass: nothing to analyse ahead
}

void StreamSession::DrainConverter() {
  while (converter_->Pull(converted_.get())) {
    // No stop check per encoded frame: Deliver checks once per decoded frame.
    tail_->Push(converted_.get(), nullptr);
    av_frame_unref(converted_.get());
  }
}

}  // namespace ttsav::av
