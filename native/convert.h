// JS <-> C++ conversions for the binding, all on the main thread.
#pragma once

#include <napi.h>

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

}  // namespace ttsav
