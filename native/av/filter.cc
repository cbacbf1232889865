#include "filter.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
}

#include "error.h"

namespace ttsav::av {
namespace {

// Filters a caller's raw chain may not use: they read or write files, load plugins or talk to the network.
const char* const kRefusedFilters[] = {"movie", "amovie", "ladspa", "lv2", "sofalizer", "azmq", "zmq",
                                       "ametadata", "metadata", "asendcmd", "sendcmd"};

struct InOutDeleter {
  void operator()(AVFilterInOut* io) const { avfilter_inout_free(&io); }
};

// Refuses a caller's chain that names a refused filter, before libavfilter parses it: parsing initializes the
// filters, and some (movie, amovie) open files or URLs as they initialize.
void CheckUserChain(const std::string& chain) {
  size_t i = 0;
  while (i < chain.size()) {
    if (!(std::isalnum(static_cast<unsigned char>(chain[i])) || chain[i] == '_')) {
      i++;
      continue;
    }
    size_t start = i;
    while (i < chain.size() && (std::isalnum(static_cast<unsigned char>(chain[i])) || chain[i] == '_')) i++;
    std::string word = chain.substr(start, i - start);
    for (const char* refused : kRefusedFilters)
      if (word == refused)
        throw Error(ErrorCode::Options, Stage::Filter,
                    std::string("filter '") + refused + "' is not allowed in a raw filter chain (it reaches outside "
                    "the job: files, plugins or network)");
  }
}

AVFilterInOut* Endpoint(const char* name, AVFilterContext* ctx) {
  AVFilterInOut* io = avfilter_inout_alloc();
  if (io == nullptr) throw std::bad_alloc();
  io->name = av_strdup(name);
  io->filter_ctx = ctx;
  io->pad_idx = 0;
  io->next = nullptr;
  if (io->name == nullptr) {
    avfilter_inout_free(&io);
    throw std::bad_alloc();
  }
  return io;
}

std::string SourceArgs(const AudioFormat& in) {
  std::string args = "time_base=1/" + std::to_string(in.sampleRate) + ":sample_rate=" + std::to_string(in.sampleRate) +
                     ":sample_fmt=" + av_get_sample_fmt_name(in.sampleFormat);
  if (in.layout.order == AV_CHANNEL_ORDER_NATIVE)
    args += ":channel_layout=" + DescribeLayout(in.layout);
  else
    args += ":channels=" + std::to_string(in.layout.nb_channels);
  return args;
}

// aformat(out) -> abuffersink, in `graph`; returns the aformat filter (the chain's end links into it).
AVFilterContext* FormatSink(AVFilterGraph* graph, const AudioFormat& out, AVFilterContext** sink) {
  Check(avfilter_graph_create_filter(sink, avfilter_get_by_name("abuffersink"), "out", nullptr, nullptr, graph),
        Stage::Filter, "cannot create the filter sink");
  std::string fmtArgs = std::string("sample_fmts=") + av_get_sample_fmt_name(out.sampleFormat) +
                        ":sample_rates=" + std::to_string(out.sampleRate) +
                        ":channel_layouts=" + DescribeLayout(out.layout);
  AVFilterContext* format = nullptr;
  Check(avfilter_graph_create_filter(&format, avfilter_get_by_name("aformat"), "format", fmtArgs.c_str(), nullptr,
                                     graph),
        Stage::Filter, "cannot create the format filter");
  Check(avfilter_link(format, 0, *sink, 0), Stage::Filter, "cannot link the filter graph");
  return format;
}

}  // namespace

std::string Num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string DescribeLayout(const AVChannelLayout& layout) {
  char buf[128] = {0};
  if (av_channel_layout_describe(&layout, buf, sizeof buf) < 0) return std::to_string(layout.nb_channels) + " channels";
  return buf;
}

void RefuseUnconvertible(int sampleRate, const AVChannelLayout& layout, Stage stage) {
  if (sampleRate > 768000)
    throw Error(ErrorCode::Unsupported, stage, "input sample rate " + std::to_string(sampleRate) + " Hz is over 768000 Hz");
  if (layout.nb_channels > 64)
    throw Error(ErrorCode::Unsupported, stage, "input has " + std::to_string(layout.nb_channels) + " channels, over 64");
  if (layout.order != AV_CHANNEL_ORDER_NATIVE) {
    AVChannelLayout fallback{};
    av_channel_layout_default(&fallback, layout.nb_channels);
    bool known = fallback.order == AV_CHANNEL_ORDER_NATIVE;
    av_channel_layout_uninit(&fallback);
    if (!known)
      throw Error(ErrorCode::Unsupported, stage,
                  "input has " + std::to_string(layout.nb_channels) +
                      " channels with no channel layout, which cannot be remixed");
  }
}

AudioFormat FormatOf(const AVCodecContext* dec) {
  AudioFormat f;
  f.sampleFormat = dec->sample_fmt;
  f.sampleRate = dec->sample_rate;
  if (dec->ch_layout.order == AV_CHANNEL_ORDER_NATIVE) {
    f.layout = dec->ch_layout;  // native order: plain data
  } else {
    av_channel_layout_default(&f.layout, dec->ch_layout.nb_channels);
  }
  return f;
}

AudioFilter::AudioFilter(const AudioFormat& in, const std::string& chain, const AudioFormat& out, bool userChain)
    : graph_(avfilter_graph_alloc()), in_(in) {
  if (!graph_) throw std::bad_alloc();
  graph_->nb_threads = 1;

  Check(avfilter_graph_create_filter(&src_, avfilter_get_by_name("abuffer"), "in", SourceArgs(in).c_str(), nullptr,
                                     graph_.get()),
        Stage::Filter, "cannot create the filter source");
  AVFilterContext* format = FormatSink(graph_.get(), out, &sink_);

  if (chain.empty()) {
    Check(avfilter_link(src_, 0, format, 0), Stage::Filter, "cannot link the filter graph");
  } else {
    if (userChain) CheckUserChain(chain);
    // The chain's open input is fed by the source, its open output feeds the format filter.
    AVFilterInOut* outputs = Endpoint("in", src_);
    AVFilterInOut* inputs = Endpoint("out", format);
    int ret = avfilter_graph_parse_ptr(graph_.get(), chain.c_str(), &inputs, &outputs, nullptr);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (ret < 0) {
      if (userChain)
        throw Error(ErrorCode::Options, Stage::Filter, "invalid filter '" + chain + "': " + AvErrorString(ret), ret);
      ThrowAv(ret, Stage::Filter, "cannot build the filter chain '" + chain + "'");
    }
    if (userChain) {
      for (unsigned i = 0; i < graph_->nb_filters; i++) {
        const AVFilterContext* f = graph_->filters[i];
        if (f == src_ || f == sink_ || f == format) continue;
        if (f->nb_inputs == 0)
          throw Error(ErrorCode::Options, Stage::Filter,
                      std::string("source filter '") + f->filter->name + "' is not allowed in a raw filter chain");
      }
    }
  }
  int ret = avfilter_graph_config(graph_.get(), nullptr);
  if (ret < 0) {
    if (userChain)
      throw Error(ErrorCode::Options, Stage::Filter, "invalid filter '" + chain + "': " + AvErrorString(ret), ret);
    // With no chain the graph is a pure conversion: when it cannot be built, the input's format is what libav
    // cannot convert (e.g. an AAC program config element declaring LFE+BL+BR+SL+SR+LFE2, which libswresample
    // finds no remix for; found by the fuzzer), not a wrong option.
    if (chain.empty())
      throw Error(ErrorCode::Unsupported, Stage::Filter,
                  "cannot convert " + DescribeLayout(in.layout) + " audio at " + std::to_string(in.sampleRate) +
                      " Hz to " + DescribeLayout(out.layout) + " at " + std::to_string(out.sampleRate) +
                      " Hz: " + AvErrorString(ret),
                  ret);
    ThrowAv(ret, Stage::Filter, "cannot configure the filter graph");
  }
}

void AudioFilter::SetFrameSize(int samples) { av_buffersink_set_frame_size(sink_, static_cast<unsigned>(samples)); }

void AudioFilter::Push(AVFrame* frame) {
  int ret = av_buffersrc_add_frame_flags(src_, frame, AV_BUFFERSRC_FLAG_PUSH | AV_BUFFERSRC_FLAG_KEEP_REF);
  // libavfilter 8+ (FFmpeg 7) answers EOF once the graph's output has ended (a trim or a duration cap reached):
  // the rest of the input is not wanted, which is no error; FFmpeg 5 took the frame and dropped it.
  if (ret == AVERROR_EOF) return;
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot feed the filter graph");
}

bool AudioFilter::Pull(AVFrame* frame) {
  int ret = av_buffersink_get_frame(sink_, frame);
  if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return false;
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot pull from the filter graph");
  return true;
}

AVRational AudioFilter::OutputTimeBase() const { return av_buffersink_get_time_base(sink_); }

MixGraph::MixGraph(const std::vector<std::string>& sources, const AudioFormat& in, const std::string& description,
                   const AudioFormat& out)
    : graph_(avfilter_graph_alloc()) {
  if (!graph_) throw std::bad_alloc();
  graph_->nb_threads = 1;
  std::string args = SourceArgs(in);
  AVFilterInOut* outputs = nullptr;  // the sources' open outputs, by name
  struct Free {
    AVFilterInOut** list;
    ~Free() { avfilter_inout_free(list); }
  } freeOutputs{&outputs};
  for (size_t i = sources.size(); i-- > 0;) {
    AVFilterContext* src = nullptr;
    Check(avfilter_graph_create_filter(&src, avfilter_get_by_name("abuffer"), sources[i].c_str(), args.c_str(),
                                       nullptr, graph_.get()),
          Stage::Filter, "cannot create a filter source");
    AVFilterInOut* io = Endpoint(sources[i].c_str(), src);
    io->next = outputs;
    outputs = io;
  }
  sources_.resize(sources.size());
  for (AVFilterInOut* io = outputs; io != nullptr; io = io->next)
    for (size_t i = 0; i < sources.size(); i++)
      if (sources[i] == io->name) sources_[i] = io->filter_ctx;
  AVFilterContext* format = FormatSink(graph_.get(), out, &sink_);
  AVFilterInOut* inputs = Endpoint("out", format);
  int ret = avfilter_graph_parse_ptr(graph_.get(), description.c_str(), &inputs, &outputs, nullptr);
  avfilter_inout_free(&inputs);
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot build the mix graph '" + description + "'");
  ret = avfilter_graph_config(graph_.get(), nullptr);
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot configure the mix graph '" + description + "'");
}

void MixGraph::Push(size_t index, AVFrame* frame) {
  int ret = av_buffersrc_add_frame_flags(sources_.at(index), frame, AV_BUFFERSRC_FLAG_KEEP_REF);
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot feed the mix graph");
}

bool MixGraph::Pull(AVFrame* frame) {
  int ret = av_buffersink_get_frame(sink_, frame);
  if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return false;
  if (ret < 0) ThrowAv(ret, Stage::Filter, "cannot pull from the mix graph");
  return true;
}

}  // namespace ttsav::av
