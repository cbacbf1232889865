// H.264 encoding with the encoders ttsav may use: a hardware encoder (NVENC, QSV, VAAPI) through a device context
// when the caller asks for one and the machine has it, else libopenh264 (BSD; the software H.264 encoder an LGPL
// build can carry), else libx264 only when the linked libavcodec is itself GPL (a distribution's FFmpeg linked with
// TTSAV_FFMPEG=system): the bundled LGPL build never has it. Frames go in as software frames in the encoder's upload
// format (SoftwareFormat()); uploading to the device is done here.
#pragma once

#include <memory>
#include <string>

extern "C" {
#include <libavutil/pixfmt.h>
}

#include "raii.h"

struct AVBufferRef;

namespace ttsav::av {

struct H264Options {
  int width = 0;
  int height = 0;
  int fps = 30;                // frame rate (and time base 1/fps unless timeBase is set)
  AVRational timeBase{0, 1};   // the frames' pts unit; {0,1}: 1/fps
  AVRational sar{1, 1};        // sample aspect ratio
  int gop = 60;                // frames from one keyframe to the next; 0: the encoder's default
  int64_t bitRate = 2000000;
  std::string hwaccel;         // "", "cuda", "qsv" or "vaapi"
  bool globalHeader = false;   // SPS/PPS in extradata (MP4, FLV)
};

class H264Encoder {
 public:
  // Opens the encoder. A hardware `hwaccel` that is not usable here (no encoder in this build, no device) falls back
  // to libopenh264 and says why in FallbackReason(); with no encoder at all: Error(Unsupported) naming what is missing.
  explicit H264Encoder(const H264Options& options);
  ~H264Encoder();
  H264Encoder(const H264Encoder&) = delete;
  H264Encoder& operator=(const H264Encoder&) = delete;

  AVCodecContext* Context() const { return enc_.get(); }
  const char* EncoderName() const;
  const std::string& FallbackReason() const { return fallback_; }
  // The pixel format Send() takes (yuv420p for libopenh264, nv12 for hardware encoders).
  AVPixelFormat SoftwareFormat() const { return swFormat_; }

  // Sends one frame (nullptr: flush). The frame's pts is in the encoder's time base (1/fps).
  void Send(const AVFrame* frame);
  // Receives the next packet; false when the encoder needs more input or is drained.
  bool Receive(AVPacket* pkt);

 private:
  bool OpenHardware(const H264Options& o);
  void OpenSoftware(const H264Options& o);

  struct BufferUnref {
    void operator()(AVBufferRef* b) const;
  };
  // Owned from allocation, so a constructor that throws part-way frees them too.
  std::unique_ptr<AVBufferRef, BufferUnref> device_;
  std::unique_ptr<AVBufferRef, BufferUnref> frames_;
  CodecPtr enc_;  // declared last: freed first (it holds references to the contexts above)
  AVPixelFormat swFormat_ = AV_PIX_FMT_YUV420P;
  std::string fallback_;
};

// Names of the H.264 encoders this build can use, in preference order (for reporting).
std::string H264EncodersAvailable();

// Why no software H.264 encoder can be opened in this build ("" when one can): names what is missing.
std::string H264SoftwareMissing();

}  // namespace ttsav::av
