// One transcode = one AsyncWorker on the libuv threadpool. Execute() runs the whole pipeline in C++ and never
// touches JS; the input is read in place (kept alive by a reference) and the output is handed to JS uncopied.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "av/error.h"
#include "av/job.h"
#include "av/options.h"

namespace ttsav {

class TranscodeWorker : public Napi::AsyncWorker {
 public:
  TranscodeWorker(Napi::Function callback, Napi::Uint8Array input, av::TranscodeOptions options,
                  std::shared_ptr<av::JobControl> control);
  ~TranscodeWorker() override;

  void Execute() override;
  void OnOK() override;

 private:
  Napi::Value ResultToJs(Napi::Env env);

  Napi::Reference<Napi::Uint8Array> inputRef_;
  const uint8_t* data_;
  size_t size_;
  av::TranscodeOptions options_;
  std::shared_ptr<av::JobControl> control_;

  bool ok_ = false;
  av::TranscodeResult result_;
  av::ErrorCode errorCode_ = av::ErrorCode::Internal;
  av::Stage errorStage_ = av::Stage::None;
  std::string errorMessage_;
  int averror_ = 0;
  std::string errorDetail_;
};

// JS: transcode(input: Uint8Array, options: object, callback(err, result)) => job handle (External)
Napi::Value StartTranscode(const Napi::CallbackInfo& info);
// JS: cancel(handle, reason: 'abort' | 'timeout') => void
Napi::Value CancelTranscode(const Napi::CallbackInfo& info);

}  // namespace ttsav
