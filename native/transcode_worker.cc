#include "transcode_worker.h"

#include <cstdlib>
#include <memory>

#include "av/transcode.h"
#include "convert.h"
#include "job_queue.h"

namespace ttsav {
namespace {

struct JobHandle {
  std::shared_ptr<av::JobControl> control;
  // A job submitted to a JobQueue: cancel() also takes it out of the queue if no runner has taken it yet.
  std::weak_ptr<JobQueue> queue;
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

Napi::Object TranscodeResultToJs(Napi::Env env, av::TranscodeResult& result) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("data", TakeBuffer(env, result.data));
  r.Set("codec", result.codec);
  r.Set("sampleRate", result.sampleRate);
  r.Set("channels", result.channels);
  r.Set("bitrate", static_cast<double>(result.bitrate));
  r.Set("averageBitrate", result.averageBitrate);
  r.Set("samples", static_cast<double>(result.samples));
  r.Set("durationSeconds", result.durationSeconds);
  Napi::Object in = Napi::Object::New(env);
  in.Set("format", result.inputFormat);
  in.Set("codec", result.inputCodec);
  in.Set("sampleRate", result.inputSampleRate);
  in.Set("channels", result.inputChannels);
  in.Set("samples", static_cast<double>(result.inputSamples));
  in.Set("durationSeconds",
         result.inputSampleRate > 0 ? static_cast<double>(result.inputSamples) / result.inputSampleRate : 0.0);
  r.Set("input", in);
  r.Set("inputs", result.inputs);
  if (result.hasLoudness) r.Set("loudness", LoudnessToJs(env, result.loudness));
  if (result.normalization.applied) r.Set("normalization", NormalizationToJs(env, result.normalization));
  r.Set("timings", TimingsToJs(env, result.timings));
  Napi::Array warnings = Napi::Array::New(env, result.warnings.size());
  for (size_t i = 0; i < result.warnings.size(); i++) {
    Napi::Object w = Napi::Object::New(env);
    w.Set("code", result.warnings[i].code);
    w.Set("message", result.warnings[i].message);
    warnings.Set(static_cast<uint32_t>(i), w);
  }
  r.Set("warnings", warnings);
  return r;
}

Napi::Array TranscodeResultToPacked(Napi::Env env, av::TranscodeResult& result, double waitMs) {
  const av::StageTimings& t = result.timings;
  napi_value warnings = env.Undefined();
  if (!result.warnings.empty()) {
    Napi::Array list = Napi::Array::New(env, result.warnings.size() * 2);
    for (size_t i = 0; i < result.warnings.size(); i++) {
      list.Set(static_cast<uint32_t>(2 * i), result.warnings[i].code);
      list.Set(static_cast<uint32_t>(2 * i + 1), result.warnings[i].message);
    }
    warnings = list;
  }
  const napi_value values[] = {
      TakeBuffer(env, result.data),
      Napi::String::New(env, result.codec),
      Napi::Number::New(env, result.sampleRate),
      Napi::Number::New(env, result.channels),
      Napi::Number::New(env, static_cast<double>(result.bitrate)),
      Napi::Number::New(env, result.averageBitrate),
      Napi::Number::New(env, static_cast<double>(result.samples)),
      Napi::Number::New(env, result.durationSeconds),
      Napi::String::New(env, result.inputFormat),
      Napi::String::New(env, result.inputCodec),
      Napi::Number::New(env, result.inputSampleRate),
      Napi::Number::New(env, result.inputChannels),
      Napi::Number::New(env, static_cast<double>(result.inputSamples)),
      Napi::Number::New(env, result.inputs),
      Napi::Number::New(env, t.probe),
      Napi::Number::New(env, t.analyze),
      Napi::Number::New(env, t.decode),
      Napi::Number::New(env, t.filter),
      Napi::Number::New(env, t.encode),
      Napi::Number::New(env, t.mux),
      Napi::Number::New(env, t.total),
      warnings,
      result.hasLoudness ? static_cast<napi_value>(LoudnessToJs(env, result.loudness)) : env.Undefined(),
      result.normalization.applied ? static_cast<napi_value>(NormalizationToJs(env, result.normalization))
                                   : env.Undefined(),
      Napi::Number::New(env, waitMs),
  };
  constexpr uint32_t n = sizeof(values) / sizeof(values[0]);
  Napi::Array packed = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) packed.Set(i, values[i]);
  return packed;
}

std::vector<napi_value> TranscodeWorker::Results(Napi::Env env) { return {TranscodeResultToJs(env, result_)}; }

TranscodeCall ParseTranscodeCall(Napi::Env env, Napi::Object opts) {
  av::TranscodeOptions options = ToTranscodeOptions(opts);
  Napi::Value timeout = opts.Get("timeoutMs");
  int64_t timeoutMs = 0;
  if (!timeout.IsUndefined()) {
    if (!timeout.IsNumber()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a number for timeoutMs");
    timeoutMs = timeout.As<Napi::Number>().Int64Value();
  }
  return {std::move(options), std::make_shared<av::JobControl>(timeoutMs)};
}

Napi::Value StartTranscode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS",
               "transcode(input: Uint8Array | Uint8Array[], options: object, callback: function)");
  auto [options, control] = ParseTranscodeCall(env, info[1].As<Napi::Object>());
  auto* worker = new TranscodeWorker(info[2].As<Napi::Function>(), info[0], std::move(options), control);
  CancelOnTeardown(env, control);
  worker->Queue();  // the worker deletes itself after OnOK
  return NewJobHandle(env, control);
}

Napi::Value NewJobHandle(Napi::Env env, const std::shared_ptr<av::JobControl>& control,
                         const std::shared_ptr<JobQueue>& queue) {
  return Napi::External<JobHandle>::New(env, new JobHandle{control, queue},
                                        [](Napi::Env, JobHandle* handle) { delete handle; });
}

Napi::Value CancelTranscode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "cancel(handle, reason) takes the handle transcode() returned");
  auto* handle = info[0].As<Napi::External<JobHandle>>().Data();
  std::string reason = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "abort";
  handle->control->Cancel(reason == "timeout" ? av::CancelReason::Timeout : av::CancelReason::Aborted);
  if (auto queue = handle->queue.lock()) queue->Remove(handle->control.get());
  return env.Undefined();
}

}  // namespace ttsav
