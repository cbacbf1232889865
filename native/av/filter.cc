#include "filter.h"

#include <new>
#include <string>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
}

#include "error.h"

namespace ttsav::av {

std::string DescribeLayout(const AVChannelLayout& layout) {
  char buf[128] = {0};
  if (av_channel_layout_describe(&layout, buf, sizeof buf) < 0) return std::to_string(layout.nb_channels) + " channels";
  return buf;
}

AudioFilter::AudioFilter(const AVCodecContext* in, const AudioFormat& out) : graph_(avfilter_graph_alloc()) {
  if (!graph_) throw std::bad_alloc();
  graph_->nb_threads = 1;

  // An input with no channel order (e.g. a WAV without a channel mask) gets the default layout for its count.
  AVChannelLayout inLayout{};
  if (in->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
    av_channel_layout_default(&inLayout, in->ch_layout.nb_channels);
  } else {
    Check(av_channel_layout_copy(&inLayout, &in->ch_layout), Stage::Filter, "cannot copy channel layout");
  }
  std::string srcArgs = "time_base=1/" + std::to_string(in->sample_rate) +
                        ":sample_rate=" + std::to_string(in->sample_rate) +
                        ":sample_fmt=" + av_get_sample_fmt_name(in->sample_fmt);
  if (inLayout.order == AV_CHANNEL_ORDER_UNSPEC)
    srcArgs += ":channels=" + std::to_string(inLayout.nb_channels);
  else
    srcArgs += ":channel_layout=" + DescribeLayout(inLayout);
  av_channel_layout_uninit(&inLayout);

  Check(avfilter_graph_create_filter(&src_, avfilter_get_by_name("abuffer"), "in", srcArgs.c_str(), nullptr,
                                     graph_.get()),
        Stage::Filter, "cannot create the filter source");
  Check(avfilter_graph_create_filter(&sink_, avfilter_get_by_name("abuffersink"), "out", nullptr, nullptr,
                                     graph_.get()),
        Stage::Filter, "cannot create the filter sink");

  std::string fmtArgs = std::string("sample_fmts=") + av_get_sample_fmt_name(out.sampleFormat) +
                        ":sample_rates=" + std::to_string(out.sampleRate) +
                        ":channel_layouts=" + DescribeLayout(out.layout);
  AVFilterContext* format = nullptr;
  Check(avfilter_graph_create_filter(&format, avfilter_get_by_name("aformat"), "format", fmtArgs.c_str(), nullptr,
                                     graph_.get()),
        Stage::Filter, "cannot create the format filter");

  Check(avfilter_link(src_, 0, format, 0), Stage::Filter, "cannot link the filter graph");
  Check(avfilter_link(format, 0, sink_, 0), Stage::Filter, "cannot link the filter graph");
  Check(avfilter_graph_config(graph_.get(), nullptr), Stage::Filter, "cannot configure the filter graph");
}

void AudioFilter::SetFrameSize(int samples) { av_buffersink_set_frame_size(sink_, static_cast<unsigned>(samples)); }

void AudioFilter::Push(AVFrame* frame) {
  int ret = av_buffersrc_add_frame_flags(src_, frame, AV_BUFFERSRC_FLAG_PUSH | AV_BUFFERSRC_FLAG_KEEP_REF);
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot feed the filter graph");
}

bool AudioFilter::Pull(AVFrame* frame) {
  int ret = av_buffersink_get_frame(sink_, frame);
  if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return false;
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot pull from the filter graph");
  return true;
}

AVRational AudioFilter::OutputTimeBase() const { return av_buffersink_get_time_base(sink_); }

}  // namespace ttsav::av
