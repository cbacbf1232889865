// Errors raised by the native pipeline. One exception type; the binding turns it into a TtsavError in JS.
#pragma once

#include <stdexcept>
#include <string>

namespace ttsav::av {

enum class ErrorCode {
  Options,      // ERR_TTSAV_OPTIONS: a caller's option the pipeline cannot honour
  InvalidData,  // ERR_TTSAV_INVALID_DATA: input is corrupt, truncated or not media at all
  Unsupported,  // ERR_TTSAV_UNSUPPORTED: valid media we cannot use (no audio stream, no decoder)
  Limit,        // ERR_TTSAV_LIMIT: a per-job limit was reached (reason says which)
  Busy,         // ERR_TTSAV_BUSY: not admitted now (raised by the TypeScript pool; listed here so codes stay in step)
  Aborted,      // ERR_TTSAV_ABORTED: cancelled by the caller
  Timeout,      // ERR_TTSAV_TIMEOUT: the job's deadline passed
  NoMemory,     // ERR_TTSAV_NO_MEMORY: an allocation failed
  Network,      // ERR_TTSAV_NETWORK: a live publish could not reach or keep its server
  Internal,     // ERR_TTSAV_INTERNAL: libav failed in a way no input should cause
};

enum class Stage { None, Probe, Decode, Filter, Encode, Mux };

const char* CodeName(ErrorCode code);
const char* StageName(Stage stage);  // "" for Stage::None
std::string AvErrorString(int averror);

class Error : public std::runtime_error {
 public:
  // Captures the job's last error-level libav log line at the moment of failure (see log.h), before teardown logs
  // more; not for limits, timeouts and aborts, which libav did not cause.
  Error(ErrorCode code, Stage stage, const std::string& message, int averror = 0);

  ErrorCode code;
  Stage stage;
  int averror;
  std::string detail;  // the libav log line that explains the failure, or ""
  std::string reason;  // machine-readable cause where one code covers several ("duration", "output-size"), or ""
};

// A per-job limit error: code Limit, no detail, `reason` one of "duration", "output-size", "input-size".
Error LimitError(Stage stage, const std::string& message, const char* reason);

// A copy of `e` (code, stage, detail, reason) with `prefix` in front of its message ("music: ", "input 2: ").
Error WithPrefix(const Error& e, const std::string& prefix);

// Maps a libav return code to our error code, for a failure at `stage`.
ErrorCode ClassifyAvError(int averror, Stage stage);

// The Error for a negative libav return code; `what` says what was being done.
Error AvError(int averror, Stage stage, const std::string& what);

// Throws AvError(averror, stage, what).
[[noreturn]] void ThrowAv(int averror, Stage stage, const std::string& what);

inline int Check(int ret, Stage stage, const char* what) {
  if (ret < 0) ThrowAv(ret, stage, what);
  return ret;
}

}  // namespace ttsav::av
