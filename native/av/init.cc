#include "init.h"

#include <cstdlib>
#include <mutex>

extern "C" {
#include <libavutil/mem.h>
}

#include "log.h"

namespace ttsav::av {
namespace {
size_t gMaxAlloc = kDefaultMaxAllocBytes;
}  // namespace

void InitLibav() {
  static std::once_flag once;
  std::call_once(once, [] {
    InstallLogRouting();
    if (const char* env = std::getenv("TTSAV_MAX_ALLOC_MB")) {
      char* end = nullptr;
      long mb = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && mb >= 16 && mb <= 2047) gMaxAlloc = static_cast<size_t>(mb) << 20;
    }
    av_max_alloc(gMaxAlloc);
  });
}

size_t MaxAllocBytes() { return gMaxAlloc; }

}  // namespace ttsav::av
