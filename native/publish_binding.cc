// N-API side of the publisher (av/publish.h): a handle per broadcast; the publisher thread's events come back to
// JS through a thread-safe function, so no network write ever runs on the main thread.
#include "publish_binding.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "av/publish.h"
#include "av/still.h"
#include "convert.h"

namespace ttsav {
namespace {

struct PublishHandle {
  std::unique_ptr<av::Publisher> publisher;
};

void CallJs(Napi::Env env, Napi::Function callback, std::nullptr_t*, av::PublishEvent* ev) {
  std::unique_ptr<av::PublishEvent> owned(ev);
  if (env == nullptr || callback.IsEmpty()) return;
  try {
    Napi::HandleScope scope(env);
    Napi::Object o = Napi::Object::New(env);
    switch (ev->type) {
      case av::PublishEvent::Type::Connected: o.Set("type", "connected"); break;
      case av::PublishEvent::Type::Disconnected:
        o.Set("type", "disconnected");
        o.Set("error", ErrorToJs(env, ev->code, av::Stage::Mux, ev->message, ev->averror, ev->detail, ev->reason));
        o.Set("wasConnected", ev->wasConnected);
        break;
      case av::PublishEvent::Type::Data:
        o.Set("type", "data");
        o.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, ev->bytes.data(), ev->bytes.size()));
        break;
      case av::PublishEvent::Type::Closed: o.Set("type", "closed"); break;
    }
    callback.Call({o});
  } catch (const Napi::Error&) {
    // The environment is going away, or the JS handler threw (it reports its own errors).
  }
}

using EventTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, av::PublishEvent, CallJs>;

av::Publisher& PublisherOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) ThrowCoded(info.Env(), "ERR_TTSAV_OPTIONS", "expected a publisher handle");
  auto* h = info[0].As<Napi::External<PublishHandle>>().Data();
  if (!h->publisher) ThrowCoded(info.Env(), "ERR_TTSAV_OPTIONS", "the publisher is gone");
  return *h->publisher;
}

std::string StringOr(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

int64_t IntOr(const Napi::Object& o, const char* key, int64_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : fallback;
}

}  // namespace

// publishCreate(options, video: Buffer | string | null, onEvent) -> handle. Reads the loop video at once (typed
// errors before anything goes live); the publisher thread starts idle until publishConnect.
Napi::Value PublishCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[2].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "publishCreate(options, video, onEvent)");
  Napi::Object o = info[0].As<Napi::Object>();
  av::PublishOptions options;
  options.url = StringOr(o, "url", "");
  options.container = StringOr(o, "container", "flv");
  options.caFile = StringOr(o, "caFile", "");
  options.tlsVerify = !o.Get("tlsVerify").IsBoolean() || o.Get("tlsVerify").As<Napi::Boolean>().Value();
  options.maxQueueMs = IntOr(o, "maxQueueMs", options.maxQueueMs);
  options.connectTimeoutMs = IntOr(o, "connectTimeoutMs", options.connectTimeoutMs);
  options.ioTimeoutMs = IntOr(o, "ioTimeoutMs", options.ioTimeoutMs);
  std::shared_ptr<const av::VideoLoop> video;
  if (info[1].IsString()) {
    std::string path = info[1].As<Napi::String>().Utf8Value();
    video = Guarded(env, [&] { return av::VideoLoop::FromFile(path); });
  } else if (info[1].IsTypedArray()) {
    auto bytes = info[1].As<Napi::Uint8Array>();
    video = Guarded(env, [&] { return av::VideoLoop::FromBytes(bytes.Data(), bytes.ByteLength()); });
  }
  EventTsfn tsfn = EventTsfn::New(env, info[2].As<Napi::Function>(), "ttsav:publish", 0, 1);
  auto handle = std::make_unique<PublishHandle>();
  try {
    handle->publisher = Guarded(env, [&] {
      return std::make_unique<av::Publisher>(
          options, video,
          [tsfn](av::PublishEvent&& ev) mutable { tsfn.NonBlockingCall(new av::PublishEvent(std::move(ev))); },
          [tsfn]() mutable { tsfn.Release(); });
    });
  } catch (const Napi::Error&) {
    tsfn.Release();  // no publisher thread will
    throw;
  }
  Napi::Object out = Napi::Object::New(env);
  if (video) {
    out.Set("width", video->Width());
    out.Set("height", video->Height());
    out.Set("loopMs", static_cast<double>(av_rescale_q(video->Span(), video->TimeBase(), AVRational{1, 1000})));
  }
  out.Set("handle", Napi::External<PublishHandle>::New(env, handle.release(), [](Napi::Env, PublishHandle* h) { delete h; }));
  return out;
}

Napi::Value PublishPush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  av::Publisher& p = PublisherOf(info);
  if (info.Length() < 2 || !info[1].IsTypedArray()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "expected a Buffer chunk");
  auto bytes = info[1].As<Napi::Uint8Array>();
  Guarded(env, [&] { p.PushAdts(bytes.Data(), bytes.ByteLength()); });
  return env.Undefined();
}

Napi::Value PublishConnect(const Napi::CallbackInfo& info) {
  PublisherOf(info).Connect();
  return info.Env().Undefined();
}

Napi::Value PublishClose(const Napi::CallbackInfo& info) {
  PublisherOf(info).Close();
  return info.Env().Undefined();
}

Napi::Value PublishAbort(const Napi::CallbackInfo& info) {
  PublisherOf(info).Abort();
  return info.Env().Undefined();
}

Napi::Value PublishStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  av::PublishStats s = PublisherOf(info).Stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("connected", s.connected);
  o.Set("sentBytes", static_cast<double>(s.sentBytes));
  o.Set("sentAudioMs", static_cast<double>(s.sentAudioMs));
  o.Set("sentVideoMs", static_cast<double>(s.sentVideoMs));
  o.Set("droppedMs", static_cast<double>(s.droppedMs));
  o.Set("audioEndMs", static_cast<double>(s.audioEndMs));
  o.Set("videoEndMs", static_cast<double>(s.videoEndMs));
  o.Set("queuedMs", static_cast<double>(s.queuedMs));
  o.Set("loops", static_cast<double>(s.loops));
  o.Set("sampleRate", s.sampleRate);
  o.Set("channels", s.channels);
  return o;
}

// checkImage(bytes) -> { width, height }; throws ERR_TTSAV_INVALID_DATA for a truncated or corrupt picture.
Napi::Value CheckImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "expected image bytes");
  auto bytes = info[0].As<Napi::Uint8Array>();
  int w = 0, h = 0;
  Guarded(env, [&] { av::CheckImage(bytes.Data(), bytes.ByteLength(), &w, &h); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("width", w);
  o.Set("height", h);
  return o;
}

// encodeStill(bytes, { width, height, fps, seconds, hwaccel }) -> { data: Buffer (FLV), width, height, frames,
// encoder, fallback }. Runs on the calling thread, like the loop video's read: once per broadcast.
Napi::Value EncodeStill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsObject())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "expected image bytes and options");
  auto bytes = info[0].As<Napi::Uint8Array>();
  Napi::Object opts = info[1].As<Napi::Object>();
  av::StillOptions o;
  auto num = [&](const char* key, double fallback) {
    Napi::Value v = opts.Get(key);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
  };
  o.width = static_cast<int>(num("width", 0));
  o.height = static_cast<int>(num("height", 0));
  o.fps = static_cast<int>(num("fps", 30));
  o.seconds = num("seconds", 2);
  if (opts.Get("hwaccel").IsString()) o.hwaccel = opts.Get("hwaccel").As<Napi::String>().Utf8Value();
  av::StillVideo still = Guarded(env, [&] { return av::EncodeStill(bytes.Data(), bytes.ByteLength(), o); });
  std::unique_ptr<uint8_t, decltype(&std::free)> owned(still.flv.data, &std::free);
  Napi::Object r = Napi::Object::New(env);
  r.Set("data", Napi::Buffer<uint8_t>::Copy(env, owned.get(), still.flv.size));
  r.Set("width", still.width);
  r.Set("height", still.height);
  r.Set("frames", still.frames);
  r.Set("encoder", still.encoder);
  r.Set("fallback", still.fallback);
  return r;
}

}  // namespace ttsav
