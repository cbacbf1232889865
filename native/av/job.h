// Per-job control shared between the thread that owns a job and the one that runs it:
// a cancel flag (set from any thread) and a deadline, checked per packet and by libav's interrupt callback.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "error.h"

namespace ttsav::av {

enum class CancelReason : int { None = 0, Aborted = 1, Timeout = 2 };

class JobControl {
 public:
  using Clock = std::chrono::steady_clock;

  // timeoutMs <= 0: no deadline. The deadline counts from construction (the moment the caller asked).
  explicit JobControl(int64_t timeoutMs = 0);

  void Cancel(CancelReason reason);
  CancelReason Reason() const { return static_cast<CancelReason>(reason_.load(std::memory_order_relaxed)); }

  // Sets the Timeout reason when the deadline has passed. Returns true when the job must stop.
  bool ShouldStop();
  // Throws Aborted/Timeout when the job must stop.
  void ThrowIfStopped(Stage stage);

  // For AVIOInterruptCB: opaque is a JobControl*.
  static int InterruptCallback(void* opaque);

 private:
  std::atomic<int> reason_{0};
  bool hasDeadline_ = false;
  Clock::time_point deadline_{};
};

}  // namespace ttsav::av
