#include "probe.h"

#include <set>

#include "filter.h"
#include "input.h"
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

}  // namespace ttsav::av
