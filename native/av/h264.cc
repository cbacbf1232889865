#include "h264.h"

#include <cstring>
#include <new>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/buffer.h>
#include <libavutil/hwcontext.h>
}

#include "error.h"

namespace ttsav::av {
namespace {

struct HardwareEncoder {
  const char* hwaccel;
  const char* encoder;
  AVHWDeviceType device;
  AVPixelFormat format;
};

const HardwareEncoder kHardware[] = {
    {"cuda", "h264_nvenc", AV_HWDEVICE_TYPE_CUDA, AV_PIX_FMT_CUDA},
    {"qsv", "h264_qsv", AV_HWDEVICE_TYPE_QSV, AV_PIX_FMT_QSV},
    {"vaapi", "h264_vaapi", AV_HWDEVICE_TYPE_VAAPI, AV_PIX_FMT_VAAPI},
};

constexpr const char* kSoftware = "libopenh264";
constexpr const char* kGplSoftware = "libx264";

// libx264 is used only where libavcodec is GPL already (never in the LGPL bundled build).
const AVCodec* SoftwareEncoder() {
  if (const AVCodec* c = avcodec_find_encoder_by_name(kSoftware)) return c;
  const char* license = avcodec_license();
  if (std::strstr(license, "Lesser") == nullptr && std::strstr(license, "GPL") != nullptr)
    return avcodec_find_encoder_by_name(kGplSoftware);
  return nullptr;
}

void Configure(AVCodecContext* c, const H264Options& o) {
  c->width = o.width;
  c->height = o.height;
  c->time_base = o.timeBase.num > 0 ? o.timeBase : AVRational{1, o.fps};
  c->framerate = AVRational{o.fps, 1};
  c->sample_aspect_ratio = o.sar.num > 0 ? o.sar : AVRational{1, 1};
  c->thread_count = 1;  // parallelism comes from jobs
  if (o.gop > 0) c->gop_size = o.gop;
  c->max_b_frames = 0;  // pts == dts: loops and live muxers stay simple
  c->bit_rate = o.bitRate;
  if (o.globalHeader) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
}

}  // namespace

H264Encoder::H264Encoder(const H264Options& o) {
  if (o.width <= 0 || o.height <= 0 || (o.width & 1) || (o.height & 1) || o.fps <= 0 || o.gop < 0)
    throw Error(ErrorCode::Options, Stage::Encode, "H.264 needs an even width and height, fps > 0 and a GOP >= 0");
  if (!o.hwaccel.empty() && OpenHardware(o)) return;
  OpenSoftware(o);
}

H264Encoder::~H264Encoder() = default;

void H264Encoder::BufferUnref::operator()(AVBufferRef* b) const { av_buffer_unref(&b); }

const char* H264Encoder::EncoderName() const { return enc_ && enc_->codec ? enc_->codec->name : ""; }

bool H264Encoder::OpenHardware(const H264Options& o) {
  const HardwareEncoder* hw = nullptr;
  for (const HardwareEncoder& h : kHardware)
    if (o.hwaccel == h.hwaccel) hw = &h;
  if (hw == nullptr) throw Error(ErrorCode::Options, Stage::Encode, "hwaccel must be 'cuda', 'qsv' or 'vaapi'");
  const AVCodec* codec = avcodec_find_encoder_by_name(hw->encoder);
  if (codec == nullptr) {
    fallback_ = std::string("this FFmpeg build has no ") + hw->encoder;
    return false;
  }
  AVBufferRef* device = nullptr;
  int ret = av_hwdevice_ctx_create(&device, hw->device, nullptr, nullptr, 0);
  if (ret < 0) {
    fallback_ = std::string("cannot create a ") + hw->hwaccel + " device: " + AvErrorString(ret);
    return false;
  }
  device_.reset(device);
  frames_.reset(av_hwframe_ctx_alloc(device_.get()));
  if (!frames_) throw std::bad_alloc();
  auto* fc = reinterpret_cast<AVHWFramesContext*>(frames_->data);
  fc->format = hw->format;
  fc->sw_format = AV_PIX_FMT_NV12;
  fc->width = o.width;
  fc->height = o.height;
  fc->initial_pool_size = 8;
  ret = av_hwframe_ctx_init(frames_.get());
  if (ret >= 0) {
    enc_.reset(avcodec_alloc_context3(codec));
    if (!enc_) throw std::bad_alloc();
    Configure(enc_.get(), o);
    enc_->pix_fmt = hw->format;
    enc_->hw_frames_ctx = av_buffer_ref(frames_.get());
    if (enc_->hw_frames_ctx == nullptr) throw std::bad_alloc();
    ret = avcodec_open2(enc_.get(), codec, nullptr);
  }
  if (ret < 0) {
    fallback_ = std::string("cannot open ") + hw->encoder + ": " + AvErrorString(ret);
    enc_.reset();
    frames_.reset();
    device_.reset();
    return false;
  }
  swFormat_ = AV_PIX_FMT_NV12;
  return true;
}

void H264Encoder::OpenSoftware(const H264Options& o) {
  const AVCodec* codec = SoftwareEncoder();
  if (codec == nullptr) {
    std::string msg = "no H.264 encoder: " + H264SoftwareMissing();
    if (!fallback_.empty()) msg += ", and " + fallback_;
    throw Error(ErrorCode::Unsupported, Stage::Encode, msg);
  }
  enc_.reset(avcodec_alloc_context3(codec));
  if (!enc_) throw std::bad_alloc();
  Configure(enc_.get(), o);
  enc_->pix_fmt = AV_PIX_FMT_YUV420P;
  Dict opts;
  if (std::strcmp(codec->name, kGplSoftware) == 0) {
    opts.Set("preset", "veryfast");
    opts.Set("crf", "20");
  }
  Check(avcodec_open2(enc_.get(), codec, opts.Addr()), Stage::Encode, "cannot open the H.264 encoder");
  swFormat_ = AV_PIX_FMT_YUV420P;
}

void H264Encoder::Send(const AVFrame* frame) {
  if (frame == nullptr || !frames_) {
    Check(avcodec_send_frame(enc_.get(), frame), Stage::Encode, "the H.264 encoder refused a frame");
    return;
  }
  FramePtr hw = NewFrame();
  Check(av_hwframe_get_buffer(frames_.get(), hw.get(), 0), Stage::Encode, "cannot get a device frame");
  Check(av_hwframe_transfer_data(hw.get(), frame, 0), Stage::Encode, "cannot upload a frame to the device");
  hw->pts = frame->pts;
  hw->pict_type = frame->pict_type;
  Check(avcodec_send_frame(enc_.get(), hw.get()), Stage::Encode, "the H.264 encoder refused a frame");
}

bool H264Encoder::Receive(AVPacket* pkt) {
  int ret = avcodec_receive_packet(enc_.get(), pkt);
  if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return false;
  Check(ret, Stage::Encode, "H.264 encoding failed");
  return true;
}

std::string H264EncodersAvailable() {
  std::string out;
  for (const HardwareEncoder& h : kHardware)
    if (avcodec_find_encoder_by_name(h.encoder) != nullptr) out += std::string(out.empty() ? "" : ",") + h.encoder;
  if (const AVCodec* c = SoftwareEncoder()) out += std::string(out.empty() ? "" : ",") + c->name;
  return out;
}

std::string H264SoftwareMissing() {
  if (SoftwareEncoder() != nullptr) return "";
  return "this FFmpeg build has no libopenh264 (the LGPL-compatible software H.264 encoder)";
}

}  // namespace ttsav::av
