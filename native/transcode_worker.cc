#include "transcode_worker.h"

#include <cstdlib>
#include <memory>

#include "av/transcode.h"
#include "convert.h"

namespace ttsav {
namespace {

struct JobHandle {
  std::shared_ptr<av::JobControl> control;
};

}  // namespace

std::vector<av::InputBytes> InputViews(Napi::Env env, Napi::Value inputs) {
  auto view = [&](Napi::Value v) -> av::InputBytes {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a Buffer or Uint8Array for input");
    auto a = v.As<Napi::Uint8Array>();
    return {a.Data(), a.ByteLength()};
  };
  std::vector<av::InputBytes> out;
  if (inputs.IsArray()) {
    auto arr = inputs.As<Napi::Array>();
    if (arr.Length() == 0 || arr.Length() > 10000)
      ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected between 1 and 10000 inputs");
    for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(view(arr.Get(i)));
  } else {
    out.push_back(view(inputs));
  }
  return out;
}

TranscodeWorker::TranscodeWorker(Napi::Function callback, Napi::Value inputs, av::TranscodeOptions options,
                                 std::shared_ptr<av::JobControl> control)
    : Worker(callback, "ttsav:transcode"),
      inputRef_(Napi::Persistent(inputs)),
      inputs_(InputViews(callback.Env(), inputs)),
      options_(std::move(options)),
      control_(std::move(control)) {}

TranscodeWorker::~TranscodeWorker() {
  // Output never handed to JS (the environment went away first) is freed here.
  std::free(result_.data.data);
}

void TranscodeWorker::Run() { result_ = av::Transcode(inputs_, options_, *control_); }

std::vector<napi_value> TranscodeWorker::Results(Napi::Env env) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("data", TakeBuffer(env, result_.data));
  r.Set("codec", result_.codec);
  r.Set("sampleRate", result_.sampleRate);
  r.Set("channels", result_.channels);
  r.Set("bitrate", static_cast<double>(result_.bitrate));
  r.Set("averageBitrate", result_.averageBitrate);
  r.Set("samples", static_cast<double>(result_.samples));
  r.Set("durationSeconds", result_.durationSeconds);
  Napi::Object in = Napi::Object::New(env);
  in.Set("format", result_.inputFormat);
  in.Set("codec", result_.inputCodec);
  in.Set("sampleRate", result_.inputSampleRate);
  in.Set("channels", result_.inputChannels);
  in.Set("samples", static_cast<double>(result_.inputSamples));
  in.Set("durationSeconds",
         result_.inputSampleRate > 0 ? static_cast<double>(result_.inputSamples) / result_.inputSampleRate : 0.0);
  r.Set("input", in);
  r.Set("inputs", result_.inputs);
  if (result_.hasLoudness) r.Set("loudness", LoudnessToJs(env, result_.loudness));
  if (result_.normalization.applied) r.Set("normalization", NormalizationToJs(env, result_.normalization));
  r.Set("timings", TimingsToJs(env, result_.timings));
  Napi::Array warnings = Napi::Array::New(env, result_.warnings.size());
  for (size_t i = 0; i < result_.warnings.size(); i++) {
    Napi::Object w = Napi::Object::New(env);
    w.Set("code", result_.warnings[i].code);
    w.Set("message", result_.warnings[i].message);
    warnings.Set(static_cast<uint32_t>(i), w);
  }
  r.Set("warnings", warnings);
  return {r};
}

Napi::Value StartTranscode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS",
               "transcode(input: Uint8Array | Uint8Array[], options: object, callback: function)");
  Napi::Object opts = info[1].As<Napi::Object>();
  av::TranscodeOptions options = ToTranscodeOptions(opts);
  Napi::Value timeout = opts.Get("timeoutMs");
  int64_t timeoutMs = 0;
  if (!timeout.IsUndefined()) {
    if (!timeout.IsNumber()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a number for timeoutMs");
    timeoutMs = timeout.As<Napi::Number>().Int64Value();
  }
  auto control = std::make_shared<av::JobControl>(timeoutMs);
  auto* worker = new TranscodeWorker(info[2].As<Napi::Function>(), info[0], std::move(options), control);
  CancelOnTeardown(env, control);
  worker->Queue();  // the worker deletes itself after OnOK
  return NewJobHandle(env, control);
}

Napi::Value NewJobHandle(Napi::Env env, const std::shared_ptr<av::JobControl>& control) {
  return Napi::External<JobHandle>::New(env, new JobHandle{control},
                                        [](Napi::Env, JobHandle* handle) { delete handle; });
}

Napi::Value CancelTranscode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "cancel(handle, reason) takes the handle transcode() returned");
  auto* handle = info[0].As<Napi::External<JobHandle>>().Data();
  std::string reason = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "abort";
  handle->control->Cancel(reason == "timeout" ? av::CancelReason::Timeout : av::CancelReason::Aborted);
  return env.Undefined();
}

}  // namespace ttsav
