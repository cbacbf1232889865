// libav's log callback is process-global. We install one callback that routes each line to the job running
// on the calling thread (a thread_local pointer), and drops lines from threads with no job: silent by default.
#pragma once

#include <string>
#include <vector>

namespace ttsav::av {

class JobLog {
 public:
  const std::string& LastLine() const { return last_; }
  // The last line at error level or worse: what explains a failure (warnings and info are never it).
  const std::string& LastError() const { return lastError_; }
  void Add(int level, std::string line);
  // Informational lines worth a warning in the result (a demuxer skipping junk), taken by the job.
  void Notice(std::string line);
  std::vector<std::string> TakeNotices();
  // The error-level lines logged since the last call (the 16 latest), taken: what a caller inspects when the last
  // line alone does not tell (a TLS layer's reason under a protocol's generic "cannot open" line).
  std::vector<std::string> TakeErrors();

 private:
  std::string last_;
  std::vector<std::string> errors_;
  std::vector<std::string> notices_;
  std::string lastError_;
};

// The last line logged for the job running on this thread ("" when none).
std::string CurrentJobLastLine();
// The notices logged so far for the job running on this thread (taken: a second call returns only newer ones).
std::vector<std::string> TakeJobNotices();
// The error-level lines logged for the job running on this thread since the last call (taken).
std::vector<std::string> TakeJobErrors();
// The last error-level line logged for the job running on this thread ("" when none).
std::string CurrentJobLastError();

// Installs the routing callback once per process (idempotent, thread-safe).
void InstallLogRouting();

// While alive, libav lines logged on this thread go to `log`.
class ScopedJobLog {
 public:
  explicit ScopedJobLog(JobLog* log);
  ~ScopedJobLog();
  ScopedJobLog(const ScopedJobLog&) = delete;
  ScopedJobLog& operator=(const ScopedJobLog&) = delete;

 private:
  JobLog* previous_;
};

}  // namespace ttsav::av
