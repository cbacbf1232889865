// A native job queue: transcodes wait here, and at most `limit` runner tasks on the libuv threadpool take them one
// after another — a runner that finishes a job takes the next one at once, with no trip through the main thread.
// Results go back to JS as each job finishes, through the environment's one thread-safe function.
//
// Runners never wait for work: a runner that finds the queue empty ends (its threadpool thread goes back to libuv,
// for fs, dns, other addons); Submit() starts one when fewer than `limit` are running. So a queue holds at most
// `limit` threadpool threads, and only while it has jobs.
//
// Teardown: each environment (the main thread, each worker thread) has its own engine; its cleanup hook cancels
// what runs, drops what waits, and from then on no runner touches the thread-safe function (a result finished after
// that is freed on the runner's thread; the environment frees its references).
#pragma once

#include <napi.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "av/error.h"
#include "av/job.h"
#include "av/options.h"
#include "av/transcode.h"

namespace ttsav {

class Engine;

// One submitted transcode. The references are created and deleted on the main thread only; at teardown they are
// left to the environment, which frees all of its references.
struct QueuedJob {
  napi_ref inputs = nullptr;
  napi_ref callback = nullptr;
  std::vector<av::InputBytes> views;
  av::TranscodeOptions options;
  std::shared_ptr<av::JobControl> control;
  std::chrono::steady_clock::time_point submitted;
  // Set by the runner.
  double waitMs = 0;
  av::TranscodeResult result;
  std::optional<av::Error> error;

  QueuedJob() = default;
  QueuedJob(const QueuedJob&) = delete;
  QueuedJob& operator=(const QueuedJob&) = delete;
  ~QueuedJob();
};

class JobQueue : public std::enable_shared_from_this<JobQueue> {
 public:
  JobQueue(std::shared_ptr<Engine> engine, int limit);

  // Main thread. Queues the job and starts a runner if fewer than `limit` run.
  void Submit(Napi::Env env, std::unique_ptr<QueuedJob> job);
  // Main thread (cancel()). Takes the job of `control` out of the queue if no runner has taken it yet and delivers it
  // as stopped (its control was cancelled first); a job already running stops at its next check of the control.
  void Remove(const av::JobControl* control);
  // Main thread. A lower limit takes effect as runners finish their jobs; a higher one starts runners for queued jobs.
  void SetLimit(Napi::Env env, int limit);
  // Environment teardown: drops queued jobs, cancels running ones; no runner starts a job afterwards.
  void Close();

 private:
  struct Runner;
  static void Execute(napi_env env, void* data);
  static void Complete(napi_env env, napi_status status, void* data);
  // Starts `n` runners (active_ already counts them); gives back the ones that could not be started.
  void StartRunners(Napi::Env env, int n);
  // `last`: the job finished last, left for Complete() to deliver.
  void RunLoop(std::unique_ptr<QueuedJob>& last);

  const std::shared_ptr<Engine> engine_;
  std::mutex mutex_;
  std::deque<std::unique_ptr<QueuedJob>> queue_;
  std::vector<std::shared_ptr<av::JobControl>> running_;
  int limit_;
  int active_ = 0;
  bool closed_ = false;
};

// JS: queueCreate(limit: number) => queue handle (External)
Napi::Value QueueCreate(const Napi::CallbackInfo& info);
// JS: queueSubmit(queue, input: Uint8Array | Uint8Array[], options: object, callback(err, packed)) => job handle;
// `packed`: transcode()'s result as one array (TranscodeResultToPacked), waitMs (time in the queue before a runner
// took it) last.
Napi::Value QueueSubmit(const Napi::CallbackInfo& info);
// JS: queueSetLimit(queue, limit: number) => void
Napi::Value QueueSetLimit(const Napi::CallbackInfo& info);

}  // namespace ttsav
