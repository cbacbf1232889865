// JS <-> C++ conversions for the binding, all on the main thread.
#pragma once

#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "av/error.h"
#include "av/options.h"

namespace ttsav {

// Reads the normalized options object the TypeScript layer builds. Throws a JS TypeError (code
// ERR_TTSAV_OPTIONS) for anything malformed: the addon may be called without the TypeScript layer.
av::TranscodeOptions ToTranscodeOptions(const Napi::Object& obj);

// The plain JS object describing a failure; the TypeScript layer wraps it in a TtsavError.
Napi::Object ErrorToJs(Napi::Env env, av::ErrorCode code, av::Stage stage, const std::string& message,
                       int averror, const std::string& detail,
                       const std::string& reason = std::string());

// The same for an av::Error.
Napi::Object ErrorToJs(Napi::Env env, const av::Error& e);

// Throws an av::Error as a JS Error with `code` (and `detail`, when there is one) set: for failures of the
// synchronous calls (stream and publisher creation, checkImage).
[[noreturn]] void ThrowAvError(Napi::Env env, const av::Error& e);

// Result pieces shared by the transcode and voice-over workers.
Napi::Object LoudnessToJs(Napi::Env env, const av::Loudness& l);
// { mode, measured, gainDb? } — what loudness normalization did.
Napi::Object NormalizationToJs(Napi::Env env, const av::LoudnessApplied& n);
Napi::Object TimingsToJs(Napi::Env env, const av::StageTimings& t);

// Throws a JS Error with `code` set.
[[noreturn]] void ThrowCoded(Napi::Env env, const char* code, const std::string& message);

// Runs the native part of a synchronous binding call and turns what it throws into a JS exception (av::Error as
// ThrowAvError, out of memory as ERR_TTSAV_NO_MEMORY, anything else as ERR_TTSAV_INTERNAL): no C++ exception but
// Napi::Error may cross into N-API, where it would end the process (std::terminate). The synchronous twin of the
// AsyncWorkers' catch chain (worker.h).
template <typename Fn>
auto Guarded(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const av::Error& e) {
    ThrowAvError(env, e);
  } catch (const std::bad_alloc&) {
    ThrowCoded(env, "ERR_TTSAV_NO_MEMORY", "out of memory");
  } catch (const std::exception& e) {
    ThrowCoded(env, "ERR_TTSAV_INTERNAL", e.what());
  }
}

}  // namespace ttsav
