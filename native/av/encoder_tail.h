// The encoder tail: what every pipeline runs between decoded audio and encoded bytes — the buffer pipeline
// (transcode.cc) and the stream session (stream.cc) alike, so that both produce the same bitstream.
//
//   decoded frames -> FormatConverter (one per input) -> tail graph -> encoder -> muxer (a MemoryWriter)
//
// The common format is what every input is converted to first: planar float at the output rate, in the output
// channel layout. The "tail" is the one filter graph all inputs then share: the caller's filters (trim, tempo,
// volume/loudness, fades, padding, raw chain) plus the conversion to the encoder's sample format and frame size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "analysis.h"
#include "error.h"
#include "filter.h"
#include "io.h"
#include "job.h"
#include "options.h"
#include "output.h"
#include "raii.h"

namespace ttsav::av {

// Converts decoded audio (any sample format, rate and layout) to an EncoderTail's common format.
class FormatConverter {
 public:
  FormatConverter(const AudioFormat& in, const AudioFormat& common) : graph_(in, "", common) {}

  // False when `frame` is no longer in the format the converter was built for: an input that changes its sample
  // rate, channel layout or sample format mid-stream, or damage that looks like it (a flipped ADTS header). The
  // graph would refuse such a frame as if the options were wrong; callers refuse it with FormatChanged() instead
  // (or drop it, in conceal mode).
  bool Accepts(const AVFrame* frame) const;
  static Error FormatChanged();

  // As AudioFilter: Push references the frame (nullptr ends the input); Pull returns false when it has nothing.
  void Push(AVFrame* frame) { graph_.Push(frame); }
  bool Pull(AVFrame* frame) { return graph_.Pull(frame); }

 private:
  AudioFilter graph_;
};

class EncoderTail {
 public:
  // Opens the encoder and the muxer (writing to `writer`, which must outlive the tail) for a source of `sourceRate`
  // Hz and `sourceChannels` channels: the options' sampleRate and channels win, else the source's (channels capped
  // at maxChannels; see ResolveSampleRate). `input`, `inputStream`, `bitsPerRawSample`: as for Output (null/0
  // without a demuxer). Time spent is added to `timings` (filter, encode, mux) when given.
  EncoderTail(const TranscodeOptions& options, int sourceRate, int sourceChannels, MemoryWriter& writer,
              const AVFormatContext* input = nullptr, const AVStream* inputStream = nullptr, int bitsPerRawSample = 0,
              StageTimings* timings = nullptr);
  EncoderTail(const EncoderTail&) = delete;
  EncoderTail& operator=(const EncoderTail&) = delete;

  // The format FormatConverter must deliver and the tail takes.
  const AudioFormat& Common() const { return common_; }

  // Builds the tail from the options' filters — `analysis` is what a first pass found, null without one — and
  // writes the container header. `measure`: meter the loudness of what is encoded (see MeasuredLoudness).
  void Start(const Analysis* analysis, bool measure = false);
  // As Start, with a tail chain the caller built (ours, not a user's: parse failures are internal errors).
  void StartChain(const std::string& chain, bool measure = false);
  // Takes a frame in the common format (its pts is set here: the tail's clock counts the samples pushed; the frame
  // is referenced, not taken), filters it and encodes what comes out. `control`, when given, is checked before
  // each encoded frame (Stage::Encode).
  void Push(AVFrame* frame, JobControl* control);
  // The end of the audio: drains the tail, flushes the encoder and writes the trailer.
  void Finish(JobControl* control);

  const AVCodecContext* Encoder() const { return output_->Encoder(); }
  // The encoder and muxer: for adding other streams before Start (a copied video, subtitles) and writing their
  // packets after it.
  Output& Muxer() { return *output_; }
  // Samples per channel given to the encoder so far.
  int64_t OutputSamples() const { return outSamples_; }
  // Bytes of encoded audio (packet payloads, no container overhead) so far.
  int64_t PayloadBytes() const { return output_->PayloadBytes(); }
  // What loudness normalization the tail applies (set by Start).
  const LoudnessApplied& Normalization() const { return normalization_; }
  // With Start(..., measure = true), after Finish: the loudness of the encoded audio.
  std::optional<Loudness> MeasuredLoudness();

 private:
  void Open(const std::string& chain, bool userChain, bool measure);
  void Drain(JobControl* control);

  const TranscodeOptions& options_;
  StageTimings ownTimings_;
  StageTimings* timings_;
  std::optional<Output> output_;  // set by the constructor
  AudioFormat common_;
  std::optional<AudioFilter> tail_;
  std::optional<LoudnessMeter> meter_;
  FramePtr filtered_;
  LoudnessApplied normalization_;
  int64_t tailPts_ = 0;
  int64_t outSamples_ = 0;
};

}  // namespace ttsav::av
