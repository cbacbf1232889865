// One transcode = one AsyncWorker on the libuv threadpool. Execute() runs the whole pipeline in C++ and never
// touches JS; the input is read in place (kept alive by a reference) and the output is handed to JS uncopied.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "av/error.h"
#include "av/job.h"
#include "av/options.h"
#include "av/transcode.h"
#include "worker.h"

namespace ttsav {

class TranscodeWorker : public Worker {
 public:
  // `inputs` is one Uint8Array or an array of them (joined in order); they are kept alive and read in place.
  TranscodeWorker(Napi::Function callback, Napi::Value inputs, av::TranscodeOptions options,
                  std::shared_ptr<av::JobControl> control);
  ~TranscodeWorker() override;

 private:
  void Run() override;
  std::vector<napi_value> Results(Napi::Env env) override;
  void Settle() override { inputRef_.Reset(); }

  Napi::Reference<Napi::Value> inputRef_;
  std::vector<av::InputBytes> inputs_;
  av::TranscodeOptions options_;
  std::shared_ptr<av::JobControl> control_;
  av::TranscodeResult result_;
};

// Reads a Uint8Array, or an array of them, into views (throws an option error otherwise).
std::vector<av::InputBytes> InputViews(Napi::Env env, Napi::Value inputs);

// What a transcode call's options object asks for: the options and a fresh job control (its deadline, timeoutMs,
// counting from now). Throws an option error.
struct TranscodeCall {
  av::TranscodeOptions options;
  std::shared_ptr<av::JobControl> control;
};
TranscodeCall ParseTranscodeCall(Napi::Env env, Napi::Object opts);

// JS: transcode(input: Uint8Array | Uint8Array[], options: object, callback(err, result)) => job handle (External)
Napi::Value StartTranscode(const Napi::CallbackInfo& info);
class JobQueue;

// A JS handle (External) on a job's control, for cancel(); `queue`: the JobQueue the job waits in, if any.
Napi::Value NewJobHandle(Napi::Env env, const std::shared_ptr<av::JobControl>& control,
                         const std::shared_ptr<JobQueue>& queue = nullptr);

// The JS object of a transcode's result (the output bytes are handed over: `result.data` is empty afterwards).
Napi::Object TranscodeResultToJs(Napi::Env env, av::TranscodeResult& result);

// The same result packed into one array, in the order of lib/native.ts's PackedResult (the job queue's delivery):
// elements cost no property-name lookups and no object shape changes, and JS builds the result object from it
// as a literal. `waitMs` goes last. The output bytes are handed over as by TranscodeResultToJs().
Napi::Array TranscodeResultToPacked(Napi::Env env, av::TranscodeResult& result, double waitMs);

// JS: cancel(handle, reason: 'abort' | 'timeout') => void
Napi::Value CancelTranscode(const Napi::CallbackInfo& info);

}  // namespace ttsav
