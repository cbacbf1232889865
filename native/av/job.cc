#include "job.h"

namespace ttsav::av {

JobControl::JobControl(int64_t timeoutMs) {
  if (timeoutMs > 0) {
    hasDeadline_ = true;
    deadline_ = Clock::now() + std::chrono::milliseconds(timeoutMs);
  }
}

void JobControl::Cancel(CancelReason reason) {
  int expected = 0;
  // The first reason wins: an abort after a timeout stays a timeout.
  reason_.compare_exchange_strong(expected, static_cast<int>(reason), std::memory_order_relaxed);
}

bool JobControl::ShouldStop() {
  if (reason_.load(std::memory_order_relaxed) != 0) return true;
  if (hasDeadline_ && Clock::now() >= deadline_) {
    Cancel(CancelReason::Timeout);
    return true;
  }
  return false;
}

void JobControl::ThrowIfStopped(Stage stage) {
  if (!ShouldStop()) return;
  if (Reason() == CancelReason::Timeout)
    throw Error(ErrorCode::Timeout, stage, "the transcode ran past its timeout");
  throw Error(ErrorCode::Aborted, stage, "the transcode was aborted");
}

int JobControl::InterruptCallback(void* opaque) {
  return static_cast<JobControl*>(opaque)->ShouldStop() ? 1 : 0;
}

}  // namespace ttsav::av
