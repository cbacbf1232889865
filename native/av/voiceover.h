// Voice-over for a short video, in one job on the calling thread: the video stream copied packet for packet
// (timestamps shifted and rescaled only), the voice lines placed on the timeline, an optional music bed (looped
// or cut, faded, ducked under the voice by a side-chain compressor keyed by the voice) and the video's own audio
// mixed, loudness-normalised and encoded with the job's audio options, soft subtitles from given cues, all muxed
// into MP4 (faststart) or WebM in memory. No N-API here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "job.h"
#include "options.h"
#include "transcode.h"

namespace ttsav::av {

enum class VoiceoverLength { Video, Voice, Longest };
enum class OriginalAudio { Drop, Mix, Duck };

struct VoiceLine {
  InputBytes audio;
  double atSeconds = 0;  // where the line starts on the output's timeline
};

struct SubtitleCue {
  double startSeconds = 0;
  double endSeconds = 0;
  std::string text;  // UTF-8, one or more lines
};

struct Ducking {
  bool enabled = true;
  double thresholdDb = -18;  // relative to the voice's loudness target: the key level where ducking starts
  double ratio = 20;         // 1-20
  double attackMs = 20;
  double releaseMs = 400;
};

struct VoiceoverOptions {
  // The audio side: container ("mp4" or "webm"), encoder and its settings, limits; filters.loudness* give the
  // loudness target of the mix (the other filters are not used).
  TranscodeOptions audio;
  VoiceoverLength length = VoiceoverLength::Video;
  // Music bed: its loudness is set this many dB under the voice's (before ducking).
  double musicGainDb = -18;
  double musicFadeInMs = 0;
  double musicFadeOutMs = 0;
  Ducking ducking;
  OriginalAudio originalAudio = OriginalAudio::Drop;
  double originalGainDb = -12;  // like musicGainDb, for the video's own audio
  std::vector<SubtitleCue> cues;  // soft subtitles (mov_text in MP4, WebVTT in WebM); none when empty
  // Draw the cues into the picture instead (drawtext), re-encoding the video with libx264 (Unsupported without
  // it or without drawtext).
  bool burn = false;
};

struct VoiceoverResult {
  OwnedBytes data;  // malloc-owned
  double durationSeconds = 0;
  struct {
    std::string codec;
    int width = 0, height = 0;
    bool copied = true;
    int64_t packets = 0;
    double durationSeconds = 0;
  } video;
  struct {
    std::string codec;
    int sampleRate = 0, channels = 0;
    int64_t bitrate = 0;
    int64_t samples = 0;
    double durationSeconds = 0;
    bool original = false;  // the video's own audio is in the mix
    bool music = false;
  } audio;
  Loudness loudness;             // of the audio fed to the encoder
  Loudness voiceLoudness;        // of the voice lines as given
  LoudnessApplied normalization;  // of the mix: always one linear gain
  bool limited = false;           // a limiter held the peaks under the true peak target
  int subtitles = 0;             // cues written
  StageTimings timings;
};

// The inputs are read in place and must stay alive and unchanged until it returns. `music` may be null.
// Throws Error (Unsupported: no video stream, a video codec the container cannot take, music or voice without
// audio; InvalidData: damaged or truncated input) or std::bad_alloc; nothing is returned half-written.
VoiceoverResult Voiceover(const InputBytes& video, const std::vector<VoiceLine>& voice, const InputBytes* music,
                          const VoiceoverOptions& options, JobControl& control);

}  // namespace ttsav::av
