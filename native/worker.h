// The base of the binding's AsyncWorkers (transcode, probe, hwDevices, stream operations). Run() does the work on
// the libuv threadpool in plain C++; whatever it throws is captured, through one catch chain, as one av::Error.
// Back on the main thread the callback gets (error) or (null, ...Results()), inside a HandleScope; when the
// environment is being torn down (a worker thread terminated mid-job) the result is dropped quietly instead of
// letting a JS exception reach std::terminate.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "av/error.h"
#include "av/io.h"
#include "av/job.h"

namespace ttsav {

// Runs `fn` and captures whatever it throws, through the one catch chain, as one av::Error (none on success).
// Worker::Execute and the job queue's runners (job_queue.h) both use it.
std::optional<av::Error> RunCaught(const std::function<void()>& fn);

class Worker : public Napi::AsyncWorker {
 protected:
  Worker(Napi::Function callback, const char* resourceName) : Napi::AsyncWorker(callback, resourceName) {}

  // On the threadpool: the work. Throws av::Error (or anything else) on failure.
  virtual void Run() = 0;
  // On the main thread, after success: the callback's arguments after the leading null.
  virtual std::vector<napi_value> Results(Napi::Env env) = 0;
  // On the main thread, first, success or not (drop references to the input, mark the handle idle ...).
  virtual void Settle() {}

 private:
  void Execute() final;
  void OnOK() final;

  std::optional<av::Error> error_;
};

// Cancels `control` (as Aborted) if `env` is torn down while the job still runs — a worker thread terminated
// mid-job — so that teardown, which waits for the threadpool job, is not held up by a long transcode. Main thread.
void CancelOnTeardown(Napi::Env env, const std::shared_ptr<av::JobControl>& control);

// Hands malloc-owned bytes to JS as a Buffer, uncopied where the runtime allows external buffers (copied, and ours
// freed, where it does not), and tells V8 about the memory; the Buffer's finalizer frees it. `bytes` is empty
// afterwards. No bytes make an empty Buffer.
Napi::Buffer<uint8_t> TakeBuffer(Napi::Env env, av::OwnedBytes& bytes);

}  // namespace ttsav
