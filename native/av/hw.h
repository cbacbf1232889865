// Hardware device contexts. No libav AAC encoder or audio filter uses one, so ttsav never needs them for its
// own work; they are probed (lazily, once per process, on a worker thread) so callers can see what the machine
// offers, and kept for the video work that will use them.
#pragma once

#include <string>
#include <vector>

namespace ttsav::av {

struct HwDeviceInfo {
  std::string type;       // "cuda", "vaapi", "qsv", ...
  bool available = false;
  std::string reason;     // why not, when not
};

// Tries each device type the linked libav supports, once per process; later calls return the cached results.
// Created device contexts are kept (shared) for the life of the process.
std::vector<HwDeviceInfo> HwDevices();

}  // namespace ttsav::av
