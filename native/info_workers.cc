#include "info_workers.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "av/hw.h"
#include "av/probe.h"
#include "convert.h"
#include "transcode_worker.h"
#include "worker.h"

namespace ttsav {
namespace {

class ProbeWorker : public Worker {
 public:
  ProbeWorker(Napi::Function callback, Napi::Uint8Array input, av::TranscodeOptions options,
              std::shared_ptr<av::JobControl> control)
      : Worker(callback, "ttsav:probe"),
        inputRef_(Napi::Persistent(input)),
        data_(input.Data()),
        size_(input.ByteLength()),
        options_(std::move(options)),
        control_(std::move(control)) {}

 private:
  void Run() override { result_ = av::Probe(data_, size_, options_, *control_); }
  void Settle() override { inputRef_.Reset(); }

  std::vector<napi_value> Results(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("container", result_.container);
    r.Set("codec", result_.codec);
    r.Set("decoder", result_.decoder);
    r.Set("sampleRate", result_.sampleRate);
    r.Set("channels", result_.channels);
    r.Set("layout", result_.layout);
    r.Set("bitrate", static_cast<double>(result_.bitrate));
    if (result_.durationSeconds >= 0) r.Set("durationSeconds", result_.durationSeconds);
    r.Set("durationEstimated", result_.durationEstimated);
    Napi::Object tags = Napi::Object::New(env);
    for (const auto& [k, v] : result_.tags) tags.Set(k, v);
    r.Set("tags", tags);
    return {r};
  }

  Napi::Reference<Napi::Uint8Array> inputRef_;
  const uint8_t* data_;
  size_t size_;
  av::TranscodeOptions options_;
  std::shared_ptr<av::JobControl> control_;
  av::ProbeResult result_;
};

// Header-only probes of several inputs in one job: each one's declared duration and streams, or null for an input
// whose header libav cannot read (the job that uses it reports why). A cancel or deadline stops the whole job.
class ContainersWorker : public Worker {
 public:
  ContainersWorker(Napi::Function callback, Napi::Value inputs, av::TranscodeOptions options,
                   std::shared_ptr<av::JobControl> control)
      : Worker(callback, "ttsav:probeContainers"),
        inputRef_(Napi::Persistent(inputs)),
        inputs_(InputViews(callback.Env(), inputs)),
        options_(std::move(options)),
        control_(std::move(control)) {}

 private:
  void Run() override {
    for (const av::InputBytes& in : inputs_) {
      control_->ThrowIfStopped(av::Stage::Probe);
      try {
        results_.emplace_back(av::ProbeContainer(in.data, in.size, options_, *control_));
      } catch (const av::Error&) {
        control_->ThrowIfStopped(av::Stage::Probe);
        results_.emplace_back(std::nullopt);
      }
    }
  }
  void Settle() override { inputRef_.Reset(); }

  std::vector<napi_value> Results(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      if (!results_[i]) {
        out.Set(static_cast<uint32_t>(i), env.Null());
        continue;
      }
      const av::ContainerInfo& c = *results_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("container", c.container);
      if (c.durationSeconds >= 0) o.Set("durationSeconds", c.durationSeconds);
      Napi::Array streams = Napi::Array::New(env, c.streams.size());
      for (size_t k = 0; k < c.streams.size(); k++) {
        Napi::Object s = Napi::Object::New(env);
        s.Set("type", c.streams[k].type);
        s.Set("codec", c.streams[k].codec);
        s.Set("attachedPicture", c.streams[k].attachedPicture);
        if (c.streams[k].durationSeconds >= 0) s.Set("durationSeconds", c.streams[k].durationSeconds);
        streams.Set(static_cast<uint32_t>(k), s);
      }
      o.Set("streams", streams);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return {out};
  }

  Napi::Reference<Napi::Value> inputRef_;
  std::vector<av::InputBytes> inputs_;
  av::TranscodeOptions options_;
  std::shared_ptr<av::JobControl> control_;
  std::vector<std::optional<av::ContainerInfo>> results_;
};

class HwWorker : public Worker {
 public:
  explicit HwWorker(Napi::Function callback) : Worker(callback, "ttsav:hw") {}

 private:
  void Run() override { devices_ = av::HwDevices(); }

  std::vector<napi_value> Results(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, devices_.size());
    for (size_t i = 0; i < devices_.size(); i++) {
      Napi::Object d = Napi::Object::New(env);
      d.Set("type", devices_[i].type);
      d.Set("available", devices_[i].available);
      if (!devices_[i].available) d.Set("reason", devices_[i].reason);
      out.Set(static_cast<uint32_t>(i), d);
    }
    return {out};
  }

  std::vector<av::HwDeviceInfo> devices_;
};

std::string NameArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) ThrowCoded(info.Env(), "ERR_TTSAV_OPTIONS", "Expected a name");
  return info[0].As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Value StartProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "probe(input: Uint8Array, options: object, callback: function)");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a Buffer or Uint8Array for input");
  av::TranscodeOptions options = ToTranscodeOptions(info[1].As<Napi::Object>());
  auto control = std::make_shared<av::JobControl>(0);
  auto* worker = new ProbeWorker(info[2].As<Napi::Function>(), info[0].As<Napi::Uint8Array>(), std::move(options),
                                 control);
  worker->Queue();
  return NewJobHandle(env, control);
}

Napi::Value StartProbeContainers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsObject() || !info[2].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "probeContainers(inputs: Uint8Array[], options: object, callback: function)");
  av::TranscodeOptions options = ToTranscodeOptions(info[1].As<Napi::Object>());
  auto control = std::make_shared<av::JobControl>(0);
  auto* worker = new ContainersWorker(info[2].As<Napi::Function>(), info[0], std::move(options), control);
  worker->Queue();
  return NewJobHandle(env, control);
}

Napi::Value StartHwDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "hwDevices(callback)");
  (new HwWorker(info[0].As<Napi::Function>()))->Queue();
  return env.Undefined();
}

Napi::Value HasMuxer(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), av_guess_format(NameArg(info).c_str(), nullptr, nullptr) != nullptr);
}

Napi::Value HasEncoder(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), avcodec_find_encoder_by_name(NameArg(info).c_str()) != nullptr);
}

}  // namespace ttsav
