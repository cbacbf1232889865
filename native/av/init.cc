#include "init.h"

#include <cstdlib>
#include <mutex>

extern "C" {
#include <libavutil/mem.h>
}

#include "log.h"

namespace ttsav::av {

void InitLibav() {
  static std::once_flag once;
  std::call_once(once, [] {
    InstallLogRouting();
    size_t maxAlloc = kDefaultMaxAllocBytes;
    if (const char* env = std::getenv("TTSAV_MAX_ALLOC_MB")) {
      char* end = nullptr;
      long mb = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && mb >= 16 && mb <= 2047) maxAlloc = static_cast<size_t>(mb) << 20;
    }
    av_max_alloc(maxAlloc);
  });
}

}  // namespace ttsav::av
