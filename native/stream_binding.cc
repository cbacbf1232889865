#include "stream_binding.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "av/stream.h"
#include "convert.h"
#include "worker.h"

namespace ttsav {
namespace {

struct StreamState {
  std::mutex mutex;
  std::shared_ptr<av::StreamSession> session;  // reset by destroy
  av::JobControl control;
  std::atomic<bool> busy{false};
};

struct StreamHandle {
  std::shared_ptr<StreamState> state;
};

class StreamWorker : public Worker {
 public:
  StreamWorker(Napi::Function callback, std::shared_ptr<StreamState> state, Napi::Value chunk, bool end)
      : Worker(callback, "ttsav:stream"), state_(std::move(state)), end_(end) {
    if (!end) {
      auto bytes = chunk.As<Napi::Uint8Array>();
      chunkRef_ = Napi::Persistent(chunk);
      data_ = bytes.Data();
      size_ = bytes.ByteLength();
    }
    std::lock_guard<std::mutex> lock(state_->mutex);
    session_ = state_->session;  // keeps the session alive while this operation runs
  }
  ~StreamWorker() override { std::free(out_.data); }

 private:
  void Run() override {
    // The session is released on this thread, whether the operation succeeds or not.
    std::shared_ptr<av::StreamSession> session = std::move(session_);
    if (!session) throw av::Error(av::ErrorCode::Aborted, av::Stage::None, "the stream was destroyed");
    out_ = end_ ? session->Finish(state_->control) : session->Push(data_, size_, state_->control);
    inSamples_ = session->InputSamples();
    outSamples_ = session->OutputSamples();
    rate_ = session->SampleRate();
    channels_ = session->Channels();
    concealed_ = session->ConcealedErrors();
    if (concealed_ > 0) firstConcealed_ = session->FirstConcealedError();
  }

  void Settle() override {
    state_->busy = false;
    chunkRef_.Reset();
  }

  std::vector<napi_value> Results(Napi::Env env) override {
    Napi::Value out = env.Undefined();
    if (out_.data != nullptr && out_.size > 0) out = TakeBuffer(env, out_);
    Napi::Object stats = Napi::Object::New(env);
    stats.Set("inputSamples", static_cast<double>(inSamples_));
    stats.Set("outputSamples", static_cast<double>(outSamples_));
    stats.Set("sampleRate", rate_);
    stats.Set("channels", channels_);
    stats.Set("decodeErrorsConcealed", static_cast<double>(concealed_));
    if (concealed_ > 0) stats.Set("firstDecodeError", firstConcealed_);
    return {out, stats};
  }

  std::shared_ptr<StreamState> state_;
  std::shared_ptr<av::StreamSession> session_;
  bool end_;
  Napi::Reference<Napi::Value> chunkRef_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  av::OwnedBytes out_;
  int64_t inSamples_ = 0, outSamples_ = 0;
  int rate_ = 0, channels_ = 0;
  int64_t concealed_ = 0;
  std::string firstConcealed_;
};

std::shared_ptr<StreamState> StateOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal())
    ThrowCoded(info.Env(), "ERR_TTSAV_OPTIONS", "expected a stream handle");
  return info[0].As<Napi::External<StreamHandle>>().Data()->state;
}

Napi::Value Queue(const Napi::CallbackInfo& info, bool end) {
  Napi::Env env = info.Env();
  auto state = StateOf(info);
  size_t cbIndex = end ? 1 : 2;
  if (info.Length() <= cbIndex || !info[cbIndex].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "expected a callback");
  if (!end && (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array))
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a Buffer or Uint8Array chunk");
  bool expected = false;
  if (!state->busy.compare_exchange_strong(expected, true))
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "one stream operation at a time");
  auto* worker = new StreamWorker(info[cbIndex].As<Napi::Function>(), state, end ? env.Undefined() : info[1], end);
  worker->Queue();
  return env.Undefined();
}

}  // namespace

Napi::Value StreamCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS", "streamCreate(options, input)");
  av::TranscodeOptions options = ToTranscodeOptions(info[0].As<Napi::Object>());
  Napi::Object in = info[1].As<Napi::Object>();
  av::StreamInput input;
  if (in.Get("codec").IsString()) input.codec = in.Get("codec").As<Napi::String>().Utf8Value();
  if (in.Get("sampleRate").IsNumber()) input.sampleRate = in.Get("sampleRate").As<Napi::Number>().Int32Value();
  if (in.Get("channels").IsNumber()) input.channels = in.Get("channels").As<Napi::Number>().Int32Value();
  auto state = std::make_shared<StreamState>();
  state->session = Guarded(env, [&] { return std::make_shared<av::StreamSession>(options, input); });
  return Napi::External<StreamHandle>::New(env, new StreamHandle{state}, [](Napi::Env, StreamHandle* h) {
    h->state->control.Cancel(av::CancelReason::Aborted);
    delete h;
  });
}

Napi::Value StreamPush(const Napi::CallbackInfo& info) { return Queue(info, false); }
Napi::Value StreamEnd(const Napi::CallbackInfo& info) { return Queue(info, true); }

Napi::Value StreamDestroy(const Napi::CallbackInfo& info) {
  auto state = StateOf(info);
  state->control.Cancel(av::CancelReason::Aborted);
  std::shared_ptr<av::StreamSession> dropped;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    dropped.swap(state->session);
  }
  return info.Env().Undefined();  // `dropped` frees the session here unless an operation still holds it
}

}  // namespace ttsav
