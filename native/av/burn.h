// Burned-in subtitles: a video stream decoded, the cues drawn into the picture (libavfilter's drawtext, one per
// cue, enabled over its time) and encoded again with libx264. The only path of the voice-over that re-encodes
// the video; everything else copies it.
#pragma once

#include <string>
#include <vector>

#include "job.h"
#include "raii.h"

namespace ttsav::av {

struct SubtitleCue;

// Why burning is not possible with this libav ("" when it is): no libx264 encoder, no drawtext filter.
std::string BurnUnsupported();

// Decodes `packets` (of `stream`, timestamps from 0, demux order), draws `cues` and encodes the result with
// libx264 into new packets in `stream`'s time base (replacing `packets`). `params` receives the encoded stream's
// parameters (extradata for a `globalHeader` container).
void BurnSubtitles(const AVStream* stream, std::vector<PacketPtr>& packets, const std::vector<SubtitleCue>& cues,
                   bool globalHeader, AVCodecParameters* params, JobControl& control);

}  // namespace ttsav::av
