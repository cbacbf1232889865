// The clock the stage timings (StageTimings) are measured with.
#pragma once

#include <chrono>

namespace ttsav::av {

using Clock = std::chrono::steady_clock;

// Milliseconds from `start` to now.
inline double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace ttsav::av
