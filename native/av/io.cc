#include "io.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

extern "C" {
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/mem.h>
}

namespace ttsav::av {
namespace {

constexpr int kIoBufferSize = 32 * 1024;

AVIOContext* NewAvio(void* opaque, bool writable, int (*read)(void*, uint8_t*, int),
                     int (*write)(void*, AvioWriteBuffer, int), int64_t (*seek)(void*, int64_t, int)) {
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
  if (buffer == nullptr) throw std::bad_alloc();
  AVIOContext* ctx = avio_alloc_context(buffer, kIoBufferSize, writable ? 1 : 0, opaque, read, write, seek);
  if (ctx == nullptr) {
    av_free(buffer);
    throw std::bad_alloc();
  }
  return ctx;
}

// Resolves a seek request against a stream of `size` bytes at `pos`. Returns the new position or -1.
int64_t ResolveSeek(int64_t pos, int64_t size, int64_t offset, int whence) {
  int64_t target;
  switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET: target = offset; break;
    case SEEK_CUR: target = pos + offset; break;
    case SEEK_END: target = size + offset; break;
    default: return -1;
  }
  return target < 0 ? -1 : target;
}

// A read-only view over a MemoryWriter's bytes, for a muxer that re-opens its output.
struct ReopenedView {
  const MemoryWriter* writer;
  size_t pos = 0;

  static int Read(void* opaque, uint8_t* buf, int size) {
    auto* self = static_cast<ReopenedView*>(opaque);
    size_t avail = self->writer->Size() > self->pos ? self->writer->Size() - self->pos : 0;
    if (avail == 0) return AVERROR_EOF;
    size_t n = std::min(avail, static_cast<size_t>(size));
    std::memcpy(buf, self->writer->Data() + self->pos, n);
    self->pos += n;
    return static_cast<int>(n);
  }
  static int64_t Seek(void* opaque, int64_t offset, int whence) {
    auto* self = static_cast<ReopenedView*>(opaque);
    auto size = static_cast<int64_t>(self->writer->Size());
    if (whence == AVSEEK_SIZE) return size;
    int64_t target = ResolveSeek(static_cast<int64_t>(self->pos), size, offset, whence);
    if (target < 0 || target > size) return AVERROR(EINVAL);
    self->pos = static_cast<size_t>(target);
    return target;
  }
};

int RefuseOpen(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

}  // namespace

void AvioDeleter::operator()(AVIOContext* ctx) const {
  if (ctx == nullptr) return;
  av_freep(&ctx->buffer);
  avio_context_free(&ctx);
}

// ---- MemoryReader ----

MemoryReader::MemoryReader(const uint8_t* data, size_t size) : data_(data), size_(size) {
  ctx_.reset(NewAvio(this, false, &MemoryReader::Read, nullptr, &MemoryReader::Seek));
}

int MemoryReader::Read(void* opaque, uint8_t* buf, int size) {
  auto* self = static_cast<MemoryReader*>(opaque);
  if (self->pos_ >= self->size_) return AVERROR_EOF;
  size_t n = std::min(self->size_ - self->pos_, static_cast<size_t>(size));
  std::memcpy(buf, self->data_ + self->pos_, n);
  self->pos_ += n;
  return static_cast<int>(n);
}

int64_t MemoryReader::Seek(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<MemoryReader*>(opaque);
  auto size = static_cast<int64_t>(self->size_);
  if (whence == AVSEEK_SIZE) return size;
  int64_t target = ResolveSeek(static_cast<int64_t>(self->pos_), size, offset, whence);
  if (target < 0) return AVERROR(EINVAL);
  // Seeking past the end is allowed (reads then hit EOF), as with a file.
  self->pos_ = static_cast<size_t>(std::min(target, size));
  return target;
}

// ---- MemoryWriter ----

MemoryWriter::MemoryWriter(size_t limit) : limit_(limit) {
  ctx_.reset(NewAvio(this, true, nullptr, &MemoryWriter::Write, &MemoryWriter::Seek));
}

MemoryWriter::~MemoryWriter() {
  ctx_.reset();
  std::free(data_);
}

bool MemoryWriter::Reserve(size_t needed) {
  if (needed <= capacity_) return true;
  size_t capacity = std::max<size_t>(capacity_ ? capacity_ : 64 * 1024, 64 * 1024);
  while (capacity < needed) capacity *= 2;
  if (limit_ != 0) capacity = std::min(capacity, std::max(limit_, needed));
  auto* grown = static_cast<uint8_t*>(std::realloc(data_, capacity));
  if (grown == nullptr) return false;
  data_ = grown;
  capacity_ = capacity;
  return true;
}

int MemoryWriter::Write(void* opaque, AvioWriteBuffer buf, int size) {
  auto* self = static_cast<MemoryWriter*>(opaque);
  if (size <= 0) return 0;
  size_t end = self->pos_ + static_cast<size_t>(size);
  if (self->limit_ != 0 && self->taken_ + end > self->limit_) {
    self->limitHit_ = true;
    return AVERROR(ENOSPC);
  }
  if (!self->Reserve(end)) return AVERROR(ENOMEM);
  // A seek past the end leaves a gap: fill it with zeros as a file would.
  if (self->pos_ > self->size_) std::memset(self->data_ + self->size_, 0, self->pos_ - self->size_);
  std::memcpy(self->data_ + self->pos_, buf, static_cast<size_t>(size));
  self->pos_ = end;
  self->size_ = std::max(self->size_, end);
  return size;
}

int64_t MemoryWriter::Seek(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<MemoryWriter*>(opaque);
  auto size = static_cast<int64_t>(self->size_);
  if (whence == AVSEEK_SIZE) return size;
  int64_t target = ResolveSeek(static_cast<int64_t>(self->pos_), size, offset, whence);
  if (target < 0) return AVERROR(EINVAL);
  self->pos_ = static_cast<size_t>(target);
  return target;
}

int MemoryWriter::IoOpen(AVFormatContext* s, AVIOContext** pb, const char* /*url*/, int flags, void** /*options*/) {
  auto* self = static_cast<MemoryWriter*>(s->opaque);
  if (self == nullptr || (flags & AVIO_FLAG_WRITE)) return AVERROR(EPERM);
  auto* view = new (std::nothrow) ReopenedView{self};
  if (view == nullptr) return AVERROR(ENOMEM);
  // The muxer may have bytes buffered in its own AVIOContext: make them visible first.
  avio_flush(self->ctx_.get());
  try {
    *pb = NewAvio(view, false, &ReopenedView::Read, nullptr, &ReopenedView::Seek);
  } catch (const std::bad_alloc&) {
    delete view;
    return AVERROR(ENOMEM);
  }
  return 0;
}

int MemoryWriter::IoClose(AVFormatContext* /*s*/, AVIOContext* pb) {
  if (pb == nullptr) return 0;
  delete static_cast<ReopenedView*>(pb->opaque);
  AvioDeleter()(pb);
  return 0;
}

void MemoryWriter::ServeReopen(AVFormatContext* fmt) {
  fmt->opaque = this;
  fmt->io_open = [](AVFormatContext* s, AVIOContext** pb, const char* url, int flags, AVDictionary** options) {
    return IoOpen(s, pb, url, flags, reinterpret_cast<void**>(options));
  };
  fmt->io_close2 = &MemoryWriter::IoClose;
}

OwnedBytes MemoryWriter::Release() {
  avio_flush(ctx_.get());
  OwnedBytes out;
  out.size = size_;
  if (size_ > 0 && size_ < capacity_) {
    auto* trimmed = static_cast<uint8_t*>(std::realloc(data_, size_));
    if (trimmed != nullptr) data_ = trimmed;
  }
  out.data = data_;
  data_ = nullptr;
  size_ = capacity_ = pos_ = 0;
  return out;
}

void MemoryWriter::MakeStreaming() {
  ctx_->seekable = 0;
}

OwnedBytes MemoryWriter::TakeWritten() {
  avio_flush(ctx_.get());
  OwnedBytes out;
  if (size_ == 0) return out;
  out.data = data_;
  out.size = size_;
  taken_ += size_;
  data_ = nullptr;
  size_ = capacity_ = pos_ = 0;
  return out;
}

void RefuseNestedOpens(AVFormatContext* fmt) {
  fmt->io_open = &RefuseOpen;
}

}  // namespace ttsav::av
