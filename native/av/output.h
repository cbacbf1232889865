// The encoder and the muxer writing into a MemoryWriter.
#pragma once

#include "filter.h"
#include "io.h"
#include "job.h"
#include "options.h"
#include "raii.h"

namespace ttsav::av {

class Output {
 public:
  // Opens the encoder (at `sampleRate` Hz, `channels` channels, already resolved) and the muxer. `input` and
  // `inputStream` provide the tags carried over as the ffmpeg CLI does (may be null); `bitsPerRawSample` is the
  // decoder's.
  Output(const TranscodeOptions& options, int sampleRate, int channels, MemoryWriter& writer,
         const AVFormatContext* input, const AVStream* inputStream, int bitsPerRawSample);

  // What the filter graph must deliver to the encoder.
  const AudioFormat& EncoderFormat() const { return format_; }
  // 0 when the encoder takes any frame size.
  int FrameSize() const;
  const AVCodecContext* Encoder() const { return enc_.get(); }
  // Bytes of encoded audio (packet payloads, no container overhead) so far.
  int64_t PayloadBytes() const { return payloadBytes_; }

  // The muxer, for adding more streams (a copied video, subtitles) before WriteHeader().
  AVFormatContext* Format() const { return fmt_.get(); }
  // Muxes a packet of another stream (its timestamps already in that stream's time base); takes its reference.
  void WritePacket(AVPacket* pkt);

  void WriteHeader();
  // Encodes one frame (pts in the encoder's time base), or flushes on nullptr; muxes every packet produced.
  void Encode(AVFrame* frame, double* encodeMs, double* muxMs);
  void WriteTrailer();

 private:
  void CheckWriter(int ret, const char* what);

  const TranscodeOptions& options_;
  MemoryWriter& writer_;
  OutputFormatPtr fmt_;
  AVStream* stream_ = nullptr;
  CodecPtr enc_;
  AudioFormat format_;
  PacketPtr pkt_;
  int64_t payloadBytes_ = 0;
};

// The sample rate an encoder will run at: `requested` if given (> 0), else the source's rate when the encoder
// takes it, else `fallback`. Throws an Options error when the encoder cannot take the requested rate.
int ResolveSampleRate(const TranscodeOptions& options, int sourceRate);

}  // namespace ttsav::av
