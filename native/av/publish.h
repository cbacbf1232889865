// Publishing a live feed: one muxer session (FLV over RTMP/RTMPS to a server, or FLV/MPEG-TS bytes to memory) fed
// with the feed's AAC frames (ADTS, as the live feed emits them) and, optionally, H.264 packets stream-copied from a
// looped video held in memory. All muxing and network writes run on the publisher's own thread: the caller's thread
// only queues audio and reads counters. A failed connection or write ends the session with a Disconnected event;
// the caller decides when to Connect() again (the TypeScript layer's backoff).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "error.h"
#include "raii.h"

namespace ttsav::av {

// H.264 packets of a video to loop, read once and kept in memory, starting at the first keyframe.
class VideoLoop {
 public:
  // From bytes of an MP4/FLV/MKV (copied) or, when `path` is set, from that file.
  static std::shared_ptr<const VideoLoop> FromBytes(const uint8_t* data, size_t size);
  static std::shared_ptr<const VideoLoop> FromFile(const std::string& path);
  ~VideoLoop();

  const AVCodecParameters* Params() const { return par_; }
  AVRational TimeBase() const { return tb_; }
  const std::vector<PacketPtr>& Packets() const { return packets_; }
  // Presentation span of one pass, in TimeBase(): the next pass starts this much later.
  int64_t Span() const { return span_; }
  // Where pass `pass` starts, in TimeBase(), counted from the first pass's start: pass * Span(), or, for a constant
  // frame rate whose frame duration the time base cannot hold exactly (FLV/MKV milliseconds at 30 fps: 33.33 ms),
  // pass * frames / rate rounded once; adding the rounded span pass after pass adds its rounding up (220 frames at
  // 30 fps in milliseconds: 7333 for 7333.33, 0.33 ms a pass, 164 ms an hour of video drifting from the audio).
  int64_t PassStart(int64_t pass) const;
  int64_t FirstDts() const { return firstDts_; }
  int64_t FirstPts() const { return firstPts_; }
  int Width() const;
  int Height() const;

 private:
  VideoLoop() = default;
  void Read(AVFormatContext* fmt);

  AVCodecParameters* par_ = nullptr;
  AVRational tb_{1, 1000};
  std::vector<PacketPtr> packets_;
  int64_t span_ = 0;
  int64_t exactFrames_ = 0;      // > 0: passes start at pass * exactFrames_ * frameDuration_
  AVRational frameDuration_{0, 1};
  int64_t firstDts_ = 0;
  int64_t firstPts_ = 0;
};

struct PublishOptions {
  std::string url;        // rtmp:// or rtmps://; empty: bytes to memory (Data events)
  std::string container;  // "flv" or "mpegts"
  std::string caFile;     // RTMPS: a CA bundle to verify the server with ("" : the system's)
  bool tlsVerify = true;
  int64_t maxQueueMs = 3000;        // audio waiting to be written beyond this is dropped (oldest first)
  int64_t connectTimeoutMs = 10000;  // connect + header
  int64_t ioTimeoutMs = 5000;        // one stalled write
};

struct PublishEvent {
  enum class Type { Connected, Disconnected, Data, Closed };
  Type type = Type::Connected;
  // Disconnected: why (also for a failed connect).
  ErrorCode code = ErrorCode::Internal;
  std::string message;
  std::string detail;
  int averror = 0;
  std::string reason;  // "tls-verify": the server's certificate failed verification (no retry fixes it)
  bool wasConnected = false;
  // Data: muxed bytes (memory output).
  std::vector<uint8_t> bytes;
};

struct PublishStats {
  bool connected = false;
  int64_t sentBytes = 0;
  int64_t sentAudioMs = 0;   // audio duration written, all sessions
  int64_t sentVideoMs = 0;   // video duration written, all sessions
  int64_t droppedMs = 0;     // audio not written (disconnected, or queue overflow)
  int64_t audioEndMs = 0;    // end of the last audio frame written, on the stream's clock
  int64_t videoEndMs = 0;    // end of the last video frame written, on the stream's clock
  int64_t queuedMs = 0;
  int64_t loops = 0;         // passes of the loop video started
  int sampleRate = 0;
  int channels = 0;
};

class Publisher {
 public:
  using EventFn = std::function<void(PublishEvent&&)>;

  // Starts the publisher thread. `onEvent` is called on that thread; `onExit` last, when the thread ends.
  Publisher(PublishOptions options, std::shared_ptr<const VideoLoop> video, EventFn onEvent, std::function<void()> onExit);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Queues ADTS bytes (any split). Never blocks on the network. Throws InvalidData for bytes that are not ADTS AAC.
  void PushAdts(const uint8_t* data, size_t size);
  // Asks the thread to open a new session (ignored while one is open or being opened).
  void Connect();
  // Writes what is queued, ends the session (trailer; RTMP deleteStream) and ends the thread (Closed event).
  void Close();
  // Like Close, without waiting for a stuck network: interrupts any I/O at once.
  void Abort();
  PublishStats Stats();

  struct Shared;  // state shared with the publisher thread (publish.cc)

 private:
  std::shared_ptr<Shared> s_;
};

}  // namespace ttsav::av
