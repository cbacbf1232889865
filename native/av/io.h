// In-memory I/O for libavformat: a read-only view over a caller's bytes, and a growable, seekable output
// whose bytes can be handed over without a copy. Neither ever touches the file system.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

extern "C" {
#include <libavformat/version.h>
}

struct AVIOContext;
struct AVFormatContext;

namespace ttsav::av {

// The buffer type of an AVIOContext write callback: const from libavformat 61 (FFmpeg 7) on.
#if LIBAVFORMAT_VERSION_MAJOR >= 61
using AvioWriteBuffer = const uint8_t*;
#else
using AvioWriteBuffer = uint8_t*;
#endif

struct AvioDeleter {
  void operator()(AVIOContext* ctx) const;
};
using AvioPtr = std::unique_ptr<AVIOContext, AvioDeleter>;

// Reads `data` in place; the caller keeps it alive and unchanged for the reader's lifetime.
class MemoryReader {
 public:
  MemoryReader(const uint8_t* data, size_t size);
  AVIOContext* Context() const { return ctx_.get(); }

 private:
  static int Read(void* opaque, uint8_t* buf, int size);
  static int64_t Seek(void* opaque, int64_t offset, int whence);

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  AvioPtr ctx_;
};

// malloc-owned bytes, freed with std::free (the JS Buffer finalizer frees them).
struct OwnedBytes {
  uint8_t* data = nullptr;
  size_t size = 0;
};

class MemoryWriter {
 public:
  // limit: the most bytes the output may hold (0 = no limit).
  explicit MemoryWriter(size_t limit);
  ~MemoryWriter();
  MemoryWriter(const MemoryWriter&) = delete;
  MemoryWriter& operator=(const MemoryWriter&) = delete;

  AVIOContext* Context() const { return ctx_.get(); }
  bool LimitHit() const { return limitHit_; }
  size_t Size() const { return size_; }
  const uint8_t* Data() const { return data_; }

  // Lets a muxer re-open its own output for reading (mov's +faststart does): installs io_open/io_close2 on
  // `fmt` that serve read-only views of this writer's bytes, and refuse everything else.
  void ServeReopen(AVFormatContext* fmt);

  // Flushes the AVIOContext and hands the bytes over (trimmed to size). The writer is empty afterwards.
  OwnedBytes Release();

  // Streaming: the output is append-only (the muxer is told it cannot seek) and TakeWritten() hands over what
  // was written since the last call. The limit still counts every byte ever written.
  void MakeStreaming();
  OwnedBytes TakeWritten();

 private:
  static int Write(void* opaque, AvioWriteBuffer buf, int size);
  static int64_t Seek(void* opaque, int64_t offset, int whence);
  static int IoOpen(AVFormatContext* s, AVIOContext** pb, const char* url, int flags, void** options);
  static int IoClose(AVFormatContext* s, AVIOContext* pb);
  bool Reserve(size_t needed);

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  size_t pos_ = 0;
  size_t limit_;
  size_t taken_ = 0;  // bytes already handed over by TakeWritten()
  bool limitHit_ = false;
  AvioPtr ctx_;
};

// For an input AVFormatContext: refuses every nested open (playlists, references, concat lists), so that
// hostile input can never make a demuxer read a file or URL.
void RefuseNestedOpens(AVFormatContext* fmt);

}  // namespace ttsav::av
