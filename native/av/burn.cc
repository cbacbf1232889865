#include "burn.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include "error.h"
#include "filter.h"
#include "voiceover.h"

namespace ttsav::av {
namespace {

constexpr const char* kEncoder = "libx264";

AVFilterContext* NewFilter(AVFilterGraph* graph, const char* filter, const char* name) {
  const AVFilter* f = avfilter_get_by_name(filter);
  if (f == nullptr) throw Error(ErrorCode::Unsupported, Stage::Filter, std::string("no ") + filter + " filter in this libav");
  AVFilterContext* ctx = avfilter_graph_alloc_filter(graph, f, name);
  if (ctx == nullptr) throw std::bad_alloc();
  return ctx;
}

void SetOpt(AVFilterContext* ctx, const char* key, const std::string& value) {
  Check(av_opt_set(ctx, key, value.c_str(), AV_OPT_SEARCH_CHILDREN), Stage::Filter,
        (std::string("cannot set ") + ctx->filter->name + " option " + key).c_str());
}

// buffer -> drawtext (one per cue, enabled over its time) -> format(yuv420p) -> buffersink. Options are set one by
// one (no filtergraph string): the cue text needs no escaping and is never expanded (expansion=none).
class DrawGraph {
 public:
  DrawGraph(const AVCodecContext* dec, AVRational timeBase, const std::vector<SubtitleCue>& cues)
      : graph_(avfilter_graph_alloc()) {
    if (!graph_) throw std::bad_alloc();
    graph_->nb_threads = 1;
    char args[256];
    AVRational sar = dec->sample_aspect_ratio.num > 0 ? dec->sample_aspect_ratio : AVRational{1, 1};
    std::snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d", dec->width,
                  dec->height, dec->pix_fmt, timeBase.num, timeBase.den, sar.num, sar.den);
    Check(avfilter_graph_create_filter(&src_, avfilter_get_by_name("buffer"), "in", args, nullptr, graph_.get()),
          Stage::Filter, "cannot create the video source");
    AVFilterContext* last = src_;
    int size = std::max(12, dec->height / 16);
    for (size_t i = 0; i < cues.size(); i++) {
      AVFilterContext* t = NewFilter(graph_.get(), "drawtext", ("cue" + std::to_string(i)).c_str());
      SetOpt(t, "text", cues[i].text);
      SetOpt(t, "expansion", "none");
      SetOpt(t, "fontsize", std::to_string(size));
      SetOpt(t, "fontcolor", "white");
      SetOpt(t, "box", "1");
      SetOpt(t, "boxcolor", "black@0.55");
      SetOpt(t, "boxborderw", std::to_string(size / 3));
      SetOpt(t, "x", "(w-text_w)/2");
      SetOpt(t, "y", "h-text_h-h/10");
      SetOpt(t, "enable", "between(t," + Num(cues[i].startSeconds) + "," + Num(cues[i].endSeconds) + ")");
      int ret = avfilter_init_str(t, nullptr);
      if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot set up drawtext (is a font installed?)");
      Check(avfilter_link(last, 0, t, 0), Stage::Filter, "cannot link the video graph");
      last = t;
    }
    AVFilterContext* format = nullptr;
    Check(avfilter_graph_create_filter(&format, avfilter_get_by_name("format"), "format", "pix_fmts=yuv420p", nullptr,
                                       graph_.get()),
          Stage::Filter, "cannot create the format filter");
    Check(avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr, graph_.get()),
          Stage::Filter, "cannot create the video sink");
    Check(avfilter_link(last, 0, format, 0), Stage::Filter, "cannot link the video graph");
    Check(avfilter_link(format, 0, sink_, 0), Stage::Filter, "cannot link the video graph");
    Check(avfilter_graph_config(graph_.get(), nullptr), Stage::Filter, "cannot configure the video graph");
  }

  void Push(AVFrame* frame) {
    Check(av_buffersrc_add_frame_flags(src_, frame, AV_BUFFERSRC_FLAG_KEEP_REF), Stage::Filter, "cannot feed the video graph");
  }
  bool Pull(AVFrame* frame) {
    int ret = av_buffersink_get_frame(sink_, frame);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return false;
    Check(ret, Stage::Filter, "cannot pull from the video graph");
    return true;
  }

 private:
  GraphPtr graph_;
  AVFilterContext* src_ = nullptr;
  AVFilterContext* sink_ = nullptr;
};

}  // namespace

std::string BurnUnsupported() {
  std::string missing;
  if (avcodec_find_encoder_by_name(kEncoder) == nullptr) missing = "an H.264 encoder (libx264)";
  if (avfilter_get_by_name("drawtext") == nullptr)
    missing += std::string(missing.empty() ? "" : " and ") + "the drawtext filter (libfreetype)";
  if (missing.empty()) return "";
  return "subtitles: 'burn' draws into the picture and re-encodes the video, which needs " + missing +
         ", and this libav has none (the bundled build ships without them: use the system FFmpeg); use 'soft', "
         "which keeps the video as is";
}

void BurnSubtitles(const AVStream* stream, std::vector<PacketPtr>& packets, const std::vector<SubtitleCue>& cues,
                   bool globalHeader, AVCodecParameters* params, JobControl& control) {
  std::string why = BurnUnsupported();
  if (!why.empty()) throw Error(ErrorCode::Unsupported, Stage::Encode, why);
  const AVCodec* decoder = avcodec_find_decoder(stream->codecpar->codec_id);
  if (decoder == nullptr)
    throw Error(ErrorCode::Unsupported, Stage::Decode,
                std::string("no decoder for video codec '") + avcodec_get_name(stream->codecpar->codec_id) + "'");
  CodecPtr dec(avcodec_alloc_context3(decoder));
  if (!dec) throw std::bad_alloc();
  Check(avcodec_parameters_to_context(dec.get(), stream->codecpar), Stage::Decode, "cannot configure the video decoder");
  dec->pkt_timebase = stream->time_base;
  dec->thread_count = 1;  // parallelism comes from jobs
  Check(avcodec_open2(dec.get(), decoder, nullptr), Stage::Decode, "cannot open the video decoder");

  const AVCodec* encoder = avcodec_find_encoder_by_name(kEncoder);
  CodecPtr enc;
  std::optional<DrawGraph> draw;
  std::vector<PacketPtr> out;
  auto frame = NewFrame();
  auto drawn = NewFrame();
  auto pkt = NewPacket();

  auto receive = [&] {
    for (;;) {
      int ret = avcodec_receive_packet(enc.get(), pkt.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      Check(ret, Stage::Encode, "cannot encode the video");
      out.push_back(NewPacket());
      av_packet_move_ref(out.back().get(), pkt.get());
    }
  };
  auto encode = [&](AVFrame* f) {
    Check(avcodec_send_frame(enc.get(), f), Stage::Encode, "cannot encode the video");
    receive();
  };
  auto drain = [&] {
    while (draw->Pull(drawn.get())) {
      control.ThrowIfStopped(Stage::Encode);
      drawn->pict_type = AV_PICTURE_TYPE_NONE;
      encode(drawn.get());
      av_frame_unref(drawn.get());
    }
  };
  auto decode = [&](AVPacket* p) {
    int ret = avcodec_send_packet(dec.get(), p);
    if (ret < 0 && ret != AVERROR_EOF) ThrowAv(ret, Stage::Decode, "cannot decode the video");
    for (;;) {
      ret = avcodec_receive_frame(dec.get(), frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      Check(ret, Stage::Decode, "cannot decode the video");
      frame->pts = frame->best_effort_timestamp;
      if (!enc) {  // opened on the first frame: its size and format are the decoder's now
        draw.emplace(dec.get(), stream->time_base, cues);
        enc.reset(avcodec_alloc_context3(encoder));
        if (!enc) throw std::bad_alloc();
        enc->width = frame->width;
        enc->height = frame->height;
        enc->pix_fmt = AV_PIX_FMT_YUV420P;
        enc->sample_aspect_ratio = frame->sample_aspect_ratio;
        enc->time_base = stream->time_base;
        enc->framerate = stream->avg_frame_rate;
        enc->thread_count = 1;
        if (globalHeader) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        Dict opts;
        opts.Set("preset", "veryfast");
        opts.Set("crf", "20");
        Check(avcodec_open2(enc.get(), encoder, opts.Addr()), Stage::Encode, "cannot open the libx264 encoder");
      }
      draw->Push(frame.get());
      av_frame_unref(frame.get());
      drain();
    }
  };
  for (PacketPtr& p : packets) {
    control.ThrowIfStopped(Stage::Decode);
    decode(p.get());
  }
  decode(nullptr);
  if (!enc) throw Error(ErrorCode::InvalidData, Stage::Decode, "the video decoded to no frames");
  draw->Push(nullptr);
  drain();
  encode(nullptr);
  Check(avcodec_parameters_from_context(params, enc.get()), Stage::Mux, "cannot set the video parameters");
  for (PacketPtr& p : out) av_packet_rescale_ts(p.get(), enc->time_base, stream->time_base);
  packets = std::move(out);
}

}  // namespace ttsav::av
