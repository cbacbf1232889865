#include "still.h"

#include <algorithm>
#include <new>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include "error.h"
#include "h264.h"
#include "init.h"
#include "input.h"
#include "log.h"

namespace ttsav::av {
namespace {

constexpr int kMaxSide = 4096;

[[noreturn]] void Corrupt(int averror = 0) {
  throw Error(ErrorCode::InvalidData, Stage::Decode, "the image is truncated or corrupt", averror);
}

struct SwsDeleter {
  void operator()(SwsContext* c) const { sws_freeContext(c); }
};

int Even(int v) { return std::max(2, v & ~1); }

// The output size: as asked, or the picture's, or one side from the other by the picture's aspect.
void OutputSize(const AVFrame* pic, const StillOptions& o, int* w, int* h) {
  if (o.width < 0 || o.height < 0 || o.width > kMaxSide || o.height > kMaxSide)
    throw Error(ErrorCode::Options, Stage::Encode, "video width and height must be 2 to 4096");
  if (o.width && o.height) {
    *w = o.width;
    *h = o.height;
  } else if (o.width) {
    *w = o.width;
    *h = static_cast<int>(static_cast<int64_t>(o.width) * pic->height / pic->width);
  } else if (o.height) {
    *h = o.height;
    *w = static_cast<int>(static_cast<int64_t>(o.height) * pic->width / pic->height);
  } else {
    *w = std::min(pic->width, kMaxSide);
    *h = std::min(pic->height, kMaxSide);
  }
  *w = Even(std::min(*w, kMaxSide));
  *h = Even(std::min(*h, kMaxSide));
}

// The picture scaled to fit w×h (aspect kept, centred on black) in `format` (yuv420p or nv12).
FramePtr Letterbox(const AVFrame* pic, int w, int h, AVPixelFormat format) {
  FramePtr out = NewFrame();
  out->format = format;
  out->width = w;
  out->height = h;
  Check(av_frame_get_buffer(out.get(), 0), Stage::Encode, "cannot allocate a video frame");
  ptrdiff_t lines[4] = {out->linesize[0], out->linesize[1], out->linesize[2], out->linesize[3]};
  Check(av_image_fill_black(out->data, lines, format, AVCOL_RANGE_MPEG, w, h), Stage::Encode, "cannot clear the frame");
  // Fit: the larger of the two scale factors that still fits.
  int sw = w, sh = h;
  if (static_cast<int64_t>(pic->width) * h > static_cast<int64_t>(pic->height) * w)
    sh = static_cast<int>(static_cast<int64_t>(w) * pic->height / pic->width);
  else
    sw = static_cast<int>(static_cast<int64_t>(h) * pic->width / pic->height);
  sw = Even(sw);
  sh = Even(sh);
  const int x = ((w - sw) / 2) & ~1, y = ((h - sh) / 2) & ~1;
  uint8_t* dst[4] = {out->data[0] + y * out->linesize[0] + x, nullptr, nullptr, nullptr};
  if (format == AV_PIX_FMT_NV12) {
    dst[1] = out->data[1] + (y / 2) * out->linesize[1] + x;
  } else {
    dst[1] = out->data[1] + (y / 2) * out->linesize[1] + x / 2;
    dst[2] = out->data[2] + (y / 2) * out->linesize[2] + x / 2;
  }
  std::unique_ptr<SwsContext, SwsDeleter> sws(sws_getContext(pic->width, pic->height, static_cast<AVPixelFormat>(pic->format),
                                                             sw, sh, format, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!sws) throw Error(ErrorCode::Unsupported, Stage::Encode, "cannot convert the image's pixel format");
  sws_scale(sws.get(), pic->data, pic->linesize, 0, pic->height, dst, out->linesize);
  return out;
}

}  // namespace

FramePtr DecodePicture(const uint8_t* data, size_t size) {
  if (size == 0) throw Error(ErrorCode::InvalidData, Stage::Probe, "the image is empty");
  JobLog log;
  ScopedJobLog scope(&log);
  MemoryReader reader(data, size);
  InputFormatPtr fmt = OpenMemoryInput(reader, "image");
  Check(avformat_find_stream_info(fmt.get(), nullptr), Stage::Probe, "cannot read the image");
  int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0) throw Error(ErrorCode::InvalidData, Stage::Probe, "the image holds no picture");
  const AVCodec* codec = avcodec_find_decoder(fmt->streams[index]->codecpar->codec_id);
  if (codec == nullptr) throw Error(ErrorCode::Unsupported, Stage::Probe, "no decoder for this image format");
  CodecPtr dec(avcodec_alloc_context3(codec));
  if (!dec) throw std::bad_alloc();
  Check(avcodec_parameters_to_context(dec.get(), fmt->streams[index]->codecpar), Stage::Probe, "cannot read the image");
  dec->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM;
  Check(avcodec_open2(dec.get(), codec, nullptr), Stage::Probe, "cannot open the image decoder");
  PacketPtr pkt = NewPacket();
  FramePtr frame = NewFrame();
  bool got = false;
  while (!got) {
    int ret = av_read_frame(fmt.get(), pkt.get());
    if (ret == AVERROR_EOF) break;
    if (ret < 0) Corrupt(ret);
    if (pkt->stream_index != index) {
      av_packet_unref(pkt.get());
      continue;
    }
    ret = avcodec_send_packet(dec.get(), pkt.get());
    av_packet_unref(pkt.get());
    if (ret < 0) Corrupt(ret);
    ret = avcodec_receive_frame(dec.get(), frame.get());
    if (ret == 0) got = true;
    else if (ret != AVERROR(EAGAIN)) Corrupt(ret);
  }
  if (!got) {
    avcodec_send_packet(dec.get(), nullptr);
    got = avcodec_receive_frame(dec.get(), frame.get()) == 0;
  }
  if (!got || frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT)) Corrupt();
  if (!log.LastLine().empty() && log.LastLine().find("rror") != std::string::npos) Corrupt();
  if (frame->width <= 0 || frame->height <= 0) Corrupt();
  return frame;
}

void CheckImage(const uint8_t* data, size_t size, int* width, int* height) {
  InitLibav();
  FramePtr pic = DecodePicture(data, size);
  *width = pic->width;
  *height = pic->height;
}

StillVideo EncodeStill(const uint8_t* data, size_t size, const StillOptions& o) {
  InitLibav();
  if (o.fps < 1 || o.fps > 120) throw Error(ErrorCode::Options, Stage::Encode, "video fps must be 1 to 120");
  if (!(o.seconds >= 0.1 && o.seconds <= 10)) throw Error(ErrorCode::Options, Stage::Encode, "the still GOP must be 0.1 to 10 s");
  FramePtr pic = DecodePicture(data, size);
  StillVideo out;
  OutputSize(pic.get(), o, &out.width, &out.height);
  out.frames = std::max(1, static_cast<int>(o.seconds * o.fps + 0.5));

  JobLog log;
  ScopedJobLog scope(&log);
  H264Options ho;
  ho.width = out.width;
  ho.height = out.height;
  ho.fps = o.fps;
  ho.gop = out.frames;
  ho.hwaccel = o.hwaccel;
  ho.globalHeader = true;  // FLV carries SPS/PPS in its sequence header
  H264Encoder enc(ho);
  out.encoder = enc.EncoderName();
  out.fallback = enc.FallbackReason();
  FramePtr frame = Letterbox(pic.get(), out.width, out.height, enc.SoftwareFormat());
  pic.reset();

  MemoryWriter writer(0);
  AVFormatContext* raw = nullptr;
  Check(avformat_alloc_output_context2(&raw, nullptr, "flv", nullptr), Stage::Mux, "no FLV muxer in this build");
  OutputFormatPtr mux(raw);
  mux->pb = writer.Context();
  mux->flags |= AVFMT_FLAG_CUSTOM_IO;
  AVStream* st = avformat_new_stream(mux.get(), nullptr);
  if (st == nullptr) throw std::bad_alloc();
  Check(avcodec_parameters_from_context(st->codecpar, enc.Context()), Stage::Mux, "cannot describe the video stream");
  st->time_base = AVRational{1, 1000};
  Check(avformat_write_header(mux.get(), nullptr), Stage::Mux, "cannot start the still video");

  PacketPtr pkt = NewPacket();
  int packets = 0;
  auto drain = [&] {
    while (enc.Receive(pkt.get())) {
      if (packets == 0 && !(pkt->flags & AV_PKT_FLAG_KEY))
        throw Error(ErrorCode::Internal, Stage::Encode, "the H.264 encoder did not start with a keyframe");
      av_packet_rescale_ts(pkt.get(), enc.Context()->time_base, st->time_base);
      pkt->stream_index = st->index;
      Check(av_interleaved_write_frame(mux.get(), pkt.get()), Stage::Mux, "cannot write the still video");
      ++packets;
    }
  };
  for (int i = 0; i < out.frames; ++i) {
    frame->pts = i;
    frame->pict_type = i == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    enc.Send(frame.get());
    drain();
  }
  enc.Send(nullptr);
  drain();
  if (packets != out.frames)
    throw Error(ErrorCode::Internal, Stage::Encode, "the H.264 encoder dropped frames of the still picture");
  Check(av_write_trailer(mux.get()), Stage::Mux, "cannot finish the still video");
  out.flv = writer.Release();
  return out;
}

}  // namespace ttsav::av
