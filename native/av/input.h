// Demuxer over caller bytes (bounded probing, optional format hint, no nested opens) and the audio decoder.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io.h"
#include "job.h"
#include "options.h"
#include "raii.h"

namespace ttsav::av {

// Opens a demuxer over `reader`'s bytes (the caller keeps the reader alive as long as the result) with every nested
// open refused (see RefuseNestedOpens). The context is owned from the moment it is allocated, so no error path leaks
// it. `hint` (a demuxer to use without probing), `options` (probesize ...) and `control` (interrupts the demuxer on
// cancel or deadline; a stop is thrown as Aborted/Timeout) may be null. `what` names the input in errors ("input",
// "loop video", "image"): InvalidData for bytes libav cannot read, otherwise the libav error.
InputFormatPtr OpenMemoryInput(const MemoryReader& reader, const char* what, const AVInputFormat* hint = nullptr,
                               AVDictionary** options = nullptr, JobControl* control = nullptr);

// The probing bounds of `options` (probesize, formatprobesize, analyzeduration) as demuxer options, set on `dict`.
void SetProbingBounds(Dict& dict, const TranscodeOptions& options);

// The demuxer `options.inputFormat` names, or null when it names none; Options error when this libav lacks it.
const AVInputFormat* InputFormatHint(const TranscodeOptions& options);

class Input {
 public:
  Input(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control);

  // Reads the next packet of the chosen audio stream, with timestamps shifted so the file starts at 0 (as the
  // ffmpeg CLI does). Returns false at the end of input; throws on read errors.
  bool ReadPacket(AVPacket* pkt);

  AVFormatContext* Format() const { return fmt_.get(); }
  AVStream* Stream() const { return stream_; }
  AVCodecContext* Decoder() const { return dec_.get(); }
  // Duration the container declares, in seconds, when it is read from the file (not guessed from the bitrate);
  // negative when unknown. Used to tell a truncated file from a whole one.
  double DeclaredSeconds() const { return declaredSeconds_; }
  // The container's duration however it was found (possibly estimated from the bitrate); negative if unknown.
  double ContainerSeconds(bool* estimated) const;
  // The input's size in bytes.
  size_t Size() const { return size_; }

 private:
  MemoryReader reader_;
  JobControl& control_;
  InputFormatPtr fmt_;
  AVStream* stream_ = nullptr;
  CodecPtr dec_;
  int64_t tsOffset_ = 0;  // in stream time base
  double declaredSeconds_ = -1;
  size_t size_ = 0;
};

}  // namespace ttsav::av
