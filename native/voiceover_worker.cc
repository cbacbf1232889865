#include "voiceover_worker.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "av/voiceover.h"
#include "convert.h"
#include "transcode_worker.h"
#include "worker.h"

namespace ttsav {
namespace {

double Field(Napi::Env env, const Napi::Object& o, const char* key, double fallback, double min, double max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d < min || d > max)
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", std::string("Expected a number in range for ") + key);
  return d;
}

std::string Word(Napi::Env env, const Napi::Object& o, const char* key, const char* fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", std::string("Expected a string for ") + key);
  return v.As<Napi::String>().Utf8Value();
}

// Reads the options object lib/voiceover.ts builds (validated there; checked again here for direct callers).
av::VoiceoverOptions ToVoiceoverOptions(Napi::Env env, const Napi::Object& o, size_t lines) {
  av::VoiceoverOptions v;
  Napi::Value audio = o.Get("audio");
  if (!audio.IsObject()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected an object for audio");
  v.audio = ToTranscodeOptions(audio.As<Napi::Object>());
  std::string length = Word(env, o, "length", "video");
  if (length == "voice") v.length = av::VoiceoverLength::Voice;
  else if (length == "longest") v.length = av::VoiceoverLength::Longest;
  else if (length != "video") ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected 'video', 'voice' or 'longest' for length");
  std::string original = Word(env, o, "originalAudio", "drop");
  if (original == "mix") v.originalAudio = av::OriginalAudio::Mix;
  else if (original == "duck") v.originalAudio = av::OriginalAudio::Duck;
  else if (original != "drop") ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected 'drop', 'mix' or 'duck' for originalAudio");
  v.musicGainDb = Field(env, o, "musicGainDb", v.musicGainDb, -60, 20);
  v.originalGainDb = Field(env, o, "originalGainDb", v.originalGainDb, -60, 20);
  v.musicFadeInMs = Field(env, o, "musicFadeInMs", 0, 0, 3600000);
  v.musicFadeOutMs = Field(env, o, "musicFadeOutMs", 0, 0, 3600000);
  Napi::Value ducking = o.Get("ducking");
  if (!ducking.IsUndefined()) {
    if (!ducking.IsObject()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected an object for ducking");
    Napi::Object d = ducking.As<Napi::Object>();
    Napi::Value enabled = d.Get("enabled");
    if (!enabled.IsUndefined()) v.ducking.enabled = enabled.ToBoolean().Value();
    v.ducking.thresholdDb = Field(env, d, "thresholdDb", v.ducking.thresholdDb, -60, 0);
    v.ducking.ratio = Field(env, d, "ratio", v.ducking.ratio, 1, 20);
    v.ducking.attackMs = Field(env, d, "attackMs", v.ducking.attackMs, 0.01, 2000);
    v.ducking.releaseMs = Field(env, d, "releaseMs", v.ducking.releaseMs, 0.01, 9000);
  }
  v.burn = o.Get("burn").ToBoolean().Value();
  Napi::Value at = o.Get("voiceAt");
  if (!at.IsArray() || at.As<Napi::Array>().Length() != lines)
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected one voiceAt time per voice line");
  Napi::Value cues = o.Get("cues");
  if (!cues.IsUndefined()) {
    if (!cues.IsArray()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected an array for cues");
    Napi::Array list = cues.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Value c = list.Get(i);
      if (!c.IsObject()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected objects in cues");
      Napi::Object cue = c.As<Napi::Object>();
      av::SubtitleCue s;
      s.startSeconds = Field(env, cue, "start", 0, 0, 1e7);
      s.endSeconds = Field(env, cue, "end", 0, 0, 1e7);
      s.text = Word(env, cue, "text", "");
      v.cues.push_back(std::move(s));
    }
  }
  return v;
}

class VoiceoverWorker : public Worker {
 public:
  VoiceoverWorker(Napi::Function callback, Napi::Value inputs, const Napi::Object& options,
                  std::shared_ptr<av::JobControl> control)
      : Worker(callback, "ttsav:voiceover"),
        inputRef_(Napi::Persistent(inputs)),
        control_(std::move(control)) {
    Napi::Env env = callback.Env();
    if (!inputs.IsArray()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected an array of inputs");
    std::vector<av::InputBytes> views = InputViews(env, inputs);
    hasMusic_ = options.Get("music").ToBoolean().Value();
    size_t first = hasMusic_ ? 2 : 1;
    if (views.size() <= first) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a video and at least one voice line");
    video_ = views[0];
    if (hasMusic_) music_ = views[1];
    options_ = ToVoiceoverOptions(env, options, views.size() - first);
    Napi::Array at = options.Get("voiceAt").As<Napi::Array>();
    for (size_t i = first; i < views.size(); i++) {
      Napi::Value t = at.Get(static_cast<uint32_t>(i - first));
      double s = t.IsNumber() ? t.As<Napi::Number>().DoubleValue() : NAN;
      if (!std::isfinite(s) || s < 0 || s > 1e7) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected seconds >= 0 in voiceAt");
      voice_.push_back({views[i], s});
    }
  }

  ~VoiceoverWorker() override { std::free(result_.data.data); }

  void Run() override { result_ = av::Voiceover(video_, voice_, hasMusic_ ? &music_ : nullptr, options_, *control_); }
  void Settle() override { inputRef_.Reset(); }
  std::vector<napi_value> Results(Napi::Env env) override { return {ResultToJs(env)}; }

 private:
  Napi::Value ResultToJs(Napi::Env env) {
    const av::VoiceoverResult& r = result_;
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", TakeBuffer(env, result_.data));
    o.Set("durationSeconds", r.durationSeconds);
    Napi::Object video = Napi::Object::New(env);
    video.Set("codec", r.video.codec);
    video.Set("width", r.video.width);
    video.Set("height", r.video.height);
    video.Set("copied", r.video.copied);
    video.Set("packets", static_cast<double>(r.video.packets));
    video.Set("durationSeconds", r.video.durationSeconds);
    o.Set("video", video);
    Napi::Object audio = Napi::Object::New(env);
    audio.Set("codec", r.audio.codec);
    audio.Set("sampleRate", r.audio.sampleRate);
    audio.Set("channels", r.audio.channels);
    audio.Set("bitrate", static_cast<double>(r.audio.bitrate));
    audio.Set("samples", static_cast<double>(r.audio.samples));
    audio.Set("durationSeconds", r.audio.durationSeconds);
    audio.Set("music", r.audio.music);
    audio.Set("original", r.audio.original);
    o.Set("audio", audio);
    o.Set("loudness", LoudnessToJs(env, r.loudness));
    o.Set("voiceLoudness", LoudnessToJs(env, r.voiceLoudness));
    if (r.normalization.applied) o.Set("normalization", NormalizationToJs(env, r.normalization));
    o.Set("limited", r.limited);
    o.Set("subtitles", r.subtitles);
    o.Set("timings", TimingsToJs(env, r.timings));
    return o;
  }

  Napi::Reference<Napi::Value> inputRef_;
  std::shared_ptr<av::JobControl> control_;
  av::InputBytes video_{};
  av::InputBytes music_{};
  bool hasMusic_ = false;
  std::vector<av::VoiceLine> voice_;
  av::VoiceoverOptions options_;
  av::VoiceoverResult result_;
};

}  // namespace

Napi::Value StartVoiceover(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsObject() || !info[2].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "voiceover(inputs: Uint8Array[], options: object, callback: function)");
  Napi::Object opts = info[1].As<Napi::Object>();
  double timeoutMs = 0;
  Napi::Value timeout = opts.Get("timeoutMs");
  if (!timeout.IsUndefined()) {
    if (!timeout.IsNumber()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a number for timeoutMs");
    timeoutMs = timeout.As<Napi::Number>().DoubleValue();
  }
  auto control = std::make_shared<av::JobControl>(static_cast<int64_t>(timeoutMs));
  auto* worker = new VoiceoverWorker(info[2].As<Napi::Function>(), info[0], opts, control);
  worker->Queue();  // the worker deletes itself after OnOK
  return NewJobHandle(env, control);
}

}  // namespace ttsav
