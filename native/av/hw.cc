#include "hw.h"

#include <mutex>

extern "C" {
#include <libavutil/buffer.h>
#include <libavutil/hwcontext.h>
}

#include "error.h"
#include "init.h"
#include "log.h"

namespace ttsav::av {
namespace {

std::mutex gMutex;
bool gProbed = false;
std::vector<HwDeviceInfo> gDevices;
std::vector<AVBufferRef*> gContexts;  // shared device contexts, kept for the process's life

}  // namespace

std::vector<HwDeviceInfo> HwDevices() {
  std::lock_guard<std::mutex> lock(gMutex);
  if (gProbed) return gDevices;
  InitLibav();
  AVHWDeviceType type = AV_HWDEVICE_TYPE_NONE;
  while ((type = av_hwdevice_iterate_types(type)) != AV_HWDEVICE_TYPE_NONE) {
    HwDeviceInfo info;
    info.type = av_hwdevice_get_type_name(type);
    JobLog log;
    ScopedJobLog scope(&log);
    AVBufferRef* ctx = nullptr;
    int ret = av_hwdevice_ctx_create(&ctx, type, nullptr, nullptr, 0);
    if (ret >= 0 && ctx != nullptr) {
      info.available = true;
      gContexts.push_back(ctx);
    } else {
      info.reason = "cannot create a " + info.type + " device: " + AvErrorString(ret);
      if (!log.LastLine().empty()) info.reason += " (" + log.LastLine() + ")";
    }
    gDevices.push_back(info);
  }
  gProbed = true;
  return gDevices;
}

}  // namespace ttsav::av
