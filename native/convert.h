// JS <-> C++ conversions for the binding, all on the main thread.
#pragma once

#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "av/error.h"
#include "av/io.h"
#include "av/options.h"

namespace ttsav {

// Reads the normalized options object the TypeScript layer builds. Throws a JS TypeError (code
// ERR_TTSAV_OPTIONS) for anything malformed: the addon may be called without the TypeScript layer.
av::TranscodeOptions ToTranscodeOptions(const Napi::Object& obj);

// The plain JS object describing a failure; the TypeScript layer wraps it in a TtsavError.
Napi::Object ErrorToJs(Napi::Env env, av::ErrorCode code, av::Stage stage, const std::string& message,
                       int averror, const std::string& detail,
                       const std::string& reason = std::string());

// Hands malloc-owned output bytes to JS as a Buffer, zero-copy where the runtime allows (counted as external
// memory until the Buffer is collected); `bytes` is empty afterwards.
Napi::Buffer<uint8_t> OwnedToBuffer(Napi::Env env, av::OwnedBytes& bytes);
Napi::Object LoudnessToJs(Napi::Env env, const av::Loudness& l);
// { mode, measured, gainDb? } — what loudness normalization did.
Napi::Object NormalizationToJs(Napi::Env env, const av::LoudnessApplied& n);
Napi::Object TimingsToJs(Napi::Env env, const av::StageTimings& t);

// A job's failure, captured on the worker thread and handed to JS on the main thread.
struct JobFailure {
  av::ErrorCode code = av::ErrorCode::Internal;
  av::Stage stage = av::Stage::None;
  std::string message;
  int averror = 0;
  std::string detail;
  std::string reason;

  // Runs `fn`, capturing whatever it throws. Returns true when it succeeded.
  template <typename F>
  bool Run(F&& fn) {
    try {
      fn();
      return true;
    } catch (const av::Error& e) {
      code = e.code;
      stage = e.stage;
      message = e.what();
      averror = e.averror;
      detail = e.detail;
      reason = e.reason;
    } catch (const std::bad_alloc&) {
      code = av::ErrorCode::NoMemory;
      message = "out of memory";
    } catch (const std::exception& e) {
      code = av::ErrorCode::Internal;
      message = e.what();
    } catch (...) {
      code = av::ErrorCode::Internal;
      message = "unknown native failure";
    }
    return false;
  }
  Napi::Object ToJs(Napi::Env env) const { return ErrorToJs(env, code, stage, message, averror, detail, reason); }
};

// Throws a JS Error with `code` set.
[[noreturn]] void ThrowCoded(Napi::Env env, const char* code, const std::string& message);

}  // namespace ttsav
