// A push-based transcode for live use: input chunks go in as they arrive (MP3 or ADTS as a TTS service sends it,
// or raw PCM of a declared format), encoded output (ADTS or fragmented MP4) comes out as soon as the encoder has
// it. Parsed with av_parser_parse2 and decoded directly: a libavformat demuxer would pull, and park a thread
// waiting for input. Not thread-safe: one call at a time (the binding serializes them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "encoder_tail.h"
#include "io.h"
#include "job.h"
#include "options.h"
#include "raii.h"

struct AVCodecParserContext;

namespace ttsav::av {

struct StreamInput {
  std::string codec = "mp3";  // "mp3", "aac" (ADTS), "pcm_s16le", "pcm_f32le"
  int sampleRate = 0;         // PCM only
  int channels = 0;           // PCM only
};

class StreamSession {
 public:
  StreamSession(const TranscodeOptions& options, const StreamInput& input);
  ~StreamSession();
  StreamSession(const StreamSession&) = delete;
  StreamSession& operator=(const StreamSession&) = delete;

  // Feeds input bytes; returns the output bytes ready so far (possibly none).
  OwnedBytes Push(const uint8_t* data, size_t size, JobControl& control);
  // Ends the input: flushes everything and returns the last output bytes. The session is finished afterwards.
  OwnedBytes Finish(JobControl& control);

  int64_t InputSamples() const { return inSamples_; }
  int64_t OutputSamples() const { return tail_ ? tail_->OutputSamples() : 0; }
  int SampleRate() const { return tail_ ? tail_->Encoder()->sample_rate : 0; }
  int Channels() const { return tail_ ? tail_->Encoder()->ch_layout.nb_channels : 0; }
  // Conceal mode (options.concealDecodeErrors): packets or frames skipped so far, and the first error's text.
  int64_t ConcealedErrors() const { return concealed_; }
  const std::string& FirstConcealedError() const { return firstConcealed_; }

 private:
  void Parse(const uint8_t* data, size_t size, bool flush);
  void HandleMp3Packet(AVPacket* pkt);
  void Decode(AVPacket* pkt);
  void Deliver(AVFrame* frame);
  void Start(const AVFrame* first);
  void DrainConverter();
  // Throws `e` unless decode errors are concealed; then counts it.
  void Conceal(const Error& e);

  TranscodeOptions options_;
  StreamInput input_;
  JobControl* control_ = nullptr;
  AVCodecParserContext* parser_ = nullptr;
  CodecPtr dec_;
  PacketPtr pkt_;
  FramePtr decoded_, converted_;
  MemoryWriter writer_;
  std::optional<EncoderTail> tail_;           // from the first decoded frame on (its format decides the output's)
  std::optional<FormatConverter> converter_;  // the first frame's format -> tail_->Common()
  bool finished_ = false;
  // MP3 framing: an ID3v2 tag to skip, then possibly a Xing/Info frame whose LAME tag says how many samples of
  // encoder delay and padding to drop (as libavformat's MP3 demuxer does).
  std::vector<uint8_t> head_;      // bytes held until the ID3v2 question is settled
  bool headDone_ = false;
  int64_t id3Skip_ = 0;
  bool firstFrameSeen_ = false;
  int64_t skipSamples_ = 0;        // still to drop at the start
  int64_t keepSamples_ = -1;       // total samples to keep (-1: all)
  int64_t decodedKept_ = 0;
  std::vector<uint8_t> pcmRemainder_;  // PCM bytes short of a whole sample frame
  std::vector<uint8_t> parseBuf_;      // the chunk being parsed, with the zeroed padding the parser reads into
  int64_t inSamples_ = 0;
  int64_t concealed_ = 0;
  std::string firstConcealed_;
};

}  // namespace ttsav::av
