// Small shared helpers for the pipelines: stage clocks and numbers in filter arguments and messages.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace ttsav::av {

using Clock = std::chrono::steady_clock;

// Milliseconds since `start`.
inline double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A number as libavfilter arguments and messages want it (%.6g).
inline std::string Num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace ttsav::av
