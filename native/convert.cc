#include "convert.h"

#include <cmath>
#include <limits>

namespace ttsav {
namespace {

[[noreturn]] void Bad(Napi::Env env, const std::string& key, const char* expected) {
  ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected " + std::string(expected) + " for " + key);
}

double Number(const Napi::Object& obj, const char* key, double fallback, double min, double max) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) Bad(obj.Env(), key, "a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) Bad(obj.Env(), key, "a number in range");
  return d;
}

int64_t Integer(const Napi::Object& obj, const char* key, int64_t fallback, int64_t min, int64_t max) {
  double d = Number(obj, key, static_cast<double>(fallback), static_cast<double>(min), static_cast<double>(max));
  if (d != std::floor(d)) Bad(obj.Env(), key, "an integer");
  return static_cast<int64_t>(d);
}

std::string String(const Napi::Object& obj, const char* key, const std::string& fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) Bad(obj.Env(), key, "a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.size() > 64 || s.find('\0') != std::string::npos) Bad(obj.Env(), key, "a short name");
  return s;
}

bool Bool(const Napi::Object& obj, const char* key, bool fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) Bad(obj.Env(), key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace

Napi::Object LoudnessToJs(Napi::Env env, const av::Loudness& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("integrated", l.integrated);
  o.Set("truePeak", l.truePeak);
  o.Set("lra", l.lra);
  return o;
}

Napi::Object NormalizationToJs(Napi::Env env, const av::LoudnessApplied& n) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("mode", n.mode);
  o.Set("measured", LoudnessToJs(env, n.measured));
  if (n.mode == "linear") o.Set("gainDb", n.gainDb);
  return o;
}

Napi::Object TimingsToJs(Napi::Env env, const av::StageTimings& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("probe", t.probe);
  o.Set("analyze", t.analyze);
  o.Set("decode", t.decode);
  o.Set("filter", t.filter);
  o.Set("encode", t.encode);
  o.Set("mux", t.mux);
  o.Set("total", t.total);
  return o;
}


void ThrowCoded(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::TypeError::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

av::FilterOptions ToFilterOptions(const Napi::Object& obj) {
  av::FilterOptions f;
  f.trimStart = Bool(obj, "trimStart", f.trimStart);
  f.trimEnd = Bool(obj, "trimEnd", f.trimEnd);
  f.trimThresholdDb = Number(obj, "trimThresholdDb", f.trimThresholdDb, -120, 0);
  f.tempo = Number(obj, "tempo", f.tempo, 0.5, 4);
  f.volumeDb = Number(obj, "volumeDb", f.volumeDb, -60, 60);
  f.loudness = Bool(obj, "loudness", f.loudness);
  f.loudnessI = Number(obj, "loudnessI", f.loudnessI, -70, -5);
  f.loudnessTP = Number(obj, "loudnessTP", f.loudnessTP, -9, 0);
  f.loudnessLRA = Number(obj, "loudnessLRA", f.loudnessLRA, 1, 50);
  f.fadeInMs = Number(obj, "fadeInMs", f.fadeInMs, 0, 3600000);
  f.fadeOutMs = Number(obj, "fadeOutMs", f.fadeOutMs, 0, 3600000);
  f.padBeforeMs = Number(obj, "padBeforeMs", f.padBeforeMs, 0, 3600000);
  f.padAfterMs = Number(obj, "padAfterMs", f.padAfterMs, 0, 3600000);
  Napi::Value raw = obj.Get("raw");
  if (!raw.IsUndefined()) {
    if (!raw.IsString()) Bad(obj.Env(), "filter", "a string");
    f.raw = raw.As<Napi::String>().Utf8Value();
    if (f.raw.size() > 4096 || f.raw.find('\0') != std::string::npos) Bad(obj.Env(), "filter", "a filter chain");
  }
  return f;
}

av::TranscodeOptions ToTranscodeOptions(const Napi::Object& obj) {
  av::TranscodeOptions o;
  o.container = String(obj, "container", o.container);
  o.codec = String(obj, "codec", o.codec);
  o.bitrate = Integer(obj, "bitrate", o.bitrate, 1000, 10000000);
  o.sampleRate = static_cast<int>(Integer(obj, "sampleRate", o.sampleRate, 0, 768000));
  o.fallbackSampleRate = static_cast<int>(Integer(obj, "fallbackSampleRate", o.fallbackSampleRate, 1000, 768000));
  o.channels = static_cast<int>(Integer(obj, "channels", o.channels, 0, 64));
  o.maxChannels = static_cast<int>(Integer(obj, "maxChannels", o.maxChannels, 1, 64));
  o.fragmented = Bool(obj, "fragmented", o.fragmented);
  o.fragmentMs = static_cast<int>(Integer(obj, "fragmentMs", o.fragmentMs, 20, 60000));
  o.gapMs = Number(obj, "gapMs", 0, 0, 3600000);
  o.measure = Bool(obj, "measure", o.measure);
  o.concealDecodeErrors = Bool(obj, "concealDecodeErrors", o.concealDecodeErrors);
  Napi::Value filters = obj.Get("filters");
  if (!filters.IsUndefined()) {
    if (!filters.IsObject()) Bad(obj.Env(), "filters", "an object");
    o.filters = ToFilterOptions(filters.As<Napi::Object>());
  }
  o.aacCoder = String(obj, "aacCoder", o.aacCoder);
  o.faststart = Bool(obj, "faststart", o.faststart);
  o.inputFormat = String(obj, "inputFormat", o.inputFormat);
  o.probeSize = Integer(obj, "probeSize", o.probeSize, 32, 1LL << 31);
  o.analyzeDurationUs = Integer(obj, "analyzeDurationUs", o.analyzeDurationUs, 0, 1LL << 40);
  o.maxOutputBytes = static_cast<size_t>(Integer(obj, "maxOutputBytes", 0, 0, 1LL << 52));
  o.maxDurationSeconds = Number(obj, "maxDurationSeconds", 0, 0, 1e9);
  return o;
}

Napi::Object ErrorToJs(Napi::Env env, av::ErrorCode code, av::Stage stage, const std::string& message,
                       int averror, const std::string& detail,
                       const std::string& reason) {
  Napi::Object e = Napi::Object::New(env);
  e.Set("code", av::CodeName(code));
  e.Set("message", message);
  if (stage != av::Stage::None) e.Set("stage", av::StageName(stage));
  if (averror != 0) e.Set("averror", averror);
  if (!detail.empty()) e.Set("detail", detail);
  if (!reason.empty()) e.Set("reason", reason);
  return e;
}

Napi::Object ErrorToJs(Napi::Env env, const av::Error& e) {
  return ErrorToJs(env, e.code, e.stage, e.what(), e.averror, e.detail, e.reason);
}

void ThrowAvError(Napi::Env env, const av::Error& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, av::CodeName(e.code)));
  if (!e.detail.empty()) err.Set("detail", Napi::String::New(env, e.detail));
  throw err;
}

}  // namespace ttsav
