#include "probe.h"

#include <algorithm>
#include <set>

#include "filter.h"
#include "input.h"
#include "io.h"
#include "raii.h"
#include "init.h"
#include "log.h"

namespace ttsav::av {

ProbeResult Probe(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control) {
  InitLibav();
  JobLog log;
  ScopedJobLog scope(&log);
  control.ThrowIfStopped(Stage::Probe);
  Input in(data, size, options, control);
  const AVCodecContext* dec = in.Decoder();
  const AVStream* st = in.Stream();
  ProbeResult r;
  r.container = in.Format()->iformat->name;
  r.codec = avcodec_get_name(st->codecpar->codec_id);
  r.decoder = dec->codec->name;
  r.sampleRate = dec->sample_rate;
  r.channels = dec->ch_layout.nb_channels;
  r.layout = DescribeLayout(FormatOf(dec).layout);
  r.bitrate = st->codecpar->bit_rate > 0 ? st->codecpar->bit_rate : in.Format()->bit_rate;
  if (r.bitrate < 0) r.bitrate = 0;
  r.durationSeconds = in.ContainerSeconds(&r.durationEstimated);
  std::set<std::string> seen;
  for (const AVDictionary* dict : {static_cast<const AVDictionary*>(in.Format()->metadata),
                                   static_cast<const AVDictionary*>(st->metadata)}) {
    const AVDictionaryEntry* e = nullptr;
    while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX)) != nullptr) {
      if (seen.insert(e->key).second) r.tags.emplace_back(e->key, e->value);
    }
  }
  return r;
}

ContainerInfo ProbeContainer(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control) {
  InitLibav();
  JobLog log;
  ScopedJobLog scope(&log);
  control.ThrowIfStopped(Stage::Probe);
  if (size == 0) throw Error(ErrorCode::InvalidData, Stage::Probe, "input is empty");
  MemoryReader reader(data, size);
  Dict opts;
  SetProbingBounds(opts, options);
  InputFormatPtr fmt = OpenMemoryInput(reader, "input", InputFormatHint(options), opts.Addr(), &control);
  ContainerInfo r;
  r.container = fmt->iformat->name;
  double longest = -1;
  for (unsigned i = 0; i < fmt->nb_streams; i++) {
    const AVStream* st = fmt->streams[i];
    ContainerStream s;
    const char* type = av_get_media_type_string(st->codecpar->codec_type);
    s.type = type != nullptr ? type : "unknown";
    s.codec = avcodec_get_name(st->codecpar->codec_id);
    s.attachedPicture = (st->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && st->time_base.num > 0 && st->time_base.den > 0)
      s.durationSeconds = static_cast<double>(st->duration) * av_q2d(st->time_base);
    if (!s.attachedPicture) longest = std::max(longest, s.durationSeconds);
    r.streams.push_back(std::move(s));
  }
  // Only what the header read declares: avformat_find_stream_info, which would estimate the rest from timestamps
  // or the bitrate, is not run.
  r.durationSeconds = fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0
                          ? static_cast<double>(fmt->duration) / AV_TIME_BASE
                          : longest;
  return r;
}

}  // namespace ttsav::av
