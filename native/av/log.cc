#include "log.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

extern "C" {
#include <libavutil/log.h>
}

namespace ttsav::av {
namespace {

thread_local JobLog* tCurrent = nullptr;
thread_local int tPrintPrefix = 1;

void RoutingCallback(void* avcl, int level, const char* fmt, va_list vl) {
  JobLog* log = tCurrent;
  if (log == nullptr || level > AV_LOG_INFO) return;
  char line[1024];
  if (level > AV_LOG_WARNING) {
    // Of the informational lines only those that say the input was not what it claimed are kept (the MP3
    // demuxer's "Skipping N bytes of junk" is logged at info level when N > 0).
    if (fmt == nullptr || std::strstr(fmt, "bytes of junk") == nullptr) return;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &tPrintPrefix);
    log->Notice(line);
    return;
  }
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &tPrintPrefix);
  log->Add(level, line);
}

std::string Tidy(std::string line) {
  // "[mp3float @ 0x7f...] msg" -> "[mp3float] msg": the context's address is noise to a reader.
  size_t at = line.find(" @ 0x");
  if (!line.empty() && line[0] == '[' && at != std::string::npos) {
    size_t close = line.find(']', at);
    if (close != std::string::npos) line.erase(at, close - at);
  }
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace

void JobLog::Add(int level, std::string line) {
  line = Tidy(std::move(line));
  if (line.empty()) return;
  if (level <= AV_LOG_ERROR) {
    lastError_ = line;
    if (errors_.size() == 16) errors_.erase(errors_.begin());
    errors_.push_back(lastError_);
  }
  last_ = std::move(line);
}

void JobLog::Notice(std::string line) {
  line = Tidy(std::move(line));
  if (!line.empty() && notices_.size() < 16) notices_.push_back(std::move(line));
}

std::vector<std::string> JobLog::TakeNotices() {
  std::vector<std::string> out;
  out.swap(notices_);
  return out;
}

std::vector<std::string> JobLog::TakeErrors() {
  std::vector<std::string> out;
  out.swap(errors_);
  return out;
}

std::string CurrentJobLastLine() { return tCurrent != nullptr ? tCurrent->LastLine() : std::string(); }
std::string CurrentJobLastError() { return tCurrent != nullptr ? tCurrent->LastError() : std::string(); }

std::vector<std::string> TakeJobErrors() { return tCurrent != nullptr ? tCurrent->TakeErrors() : std::vector<std::string>(); }

std::vector<std::string> TakeJobNotices() { return tCurrent != nullptr ? tCurrent->TakeNotices() : std::vector<std::string>(); }

void InstallLogRouting() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(AV_LOG_WARNING);
    av_log_set_callback(RoutingCallback);
  });
}

ScopedJobLog::ScopedJobLog(JobLog* log) : previous_(tCurrent) { tCurrent = log; }
ScopedJobLog::~ScopedJobLog() { tCurrent = previous_; }

}  // namespace ttsav::av
