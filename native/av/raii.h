// Owning pointers for libav objects: everything the pipeline allocates is freed on every path.
#pragma once

#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
}

namespace ttsav::av {

struct InputFormatDeleter {
  void operator()(AVFormatContext* ctx) const { avformat_close_input(&ctx); }
};
struct OutputFormatDeleter {
  void operator()(AVFormatContext* ctx) const { avformat_free_context(ctx); }
};
struct CodecDeleter {
  void operator()(AVCodecContext* ctx) const { avcodec_free_context(&ctx); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct GraphDeleter {
  void operator()(AVFilterGraph* g) const { avfilter_graph_free(&g); }
};

using InputFormatPtr = std::unique_ptr<AVFormatContext, InputFormatDeleter>;
using OutputFormatPtr = std::unique_ptr<AVFormatContext, OutputFormatDeleter>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using GraphPtr = std::unique_ptr<AVFilterGraph, GraphDeleter>;

// An AVDictionary freed at scope exit.
class Dict {
 public:
  Dict() = default;
  ~Dict() { av_dict_free(&dict_); }
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  void Set(const char* key, const char* value) { av_dict_set(&dict_, key, value, 0); }
  void Set(const char* key, int64_t value) { av_dict_set_int(&dict_, key, value, 0); }
  AVDictionary** Addr() { return &dict_; }
  AVDictionary* Get() const { return dict_; }

 private:
  AVDictionary* dict_ = nullptr;
};

FramePtr NewFrame();
PacketPtr NewPacket();

}  // namespace ttsav::av
