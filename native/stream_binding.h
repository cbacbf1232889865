// The binding for streaming sessions: one native StreamSession per JS stream, each push (and the end) one
// AsyncWorker on the threadpool. The JS side sends one operation at a time; a second concurrent one is refused.
#pragma once

#include <napi.h>

namespace ttsav {

// JS: streamCreate(options: object, input: { codec, sampleRate?, channels? }) => handle (External)
Napi::Value StreamCreate(const Napi::CallbackInfo& info);
// JS: streamPush(handle, chunk: Uint8Array, callback(err, out?: Buffer, stats)) ; streamEnd(handle, callback)
Napi::Value StreamPush(const Napi::CallbackInfo& info);
Napi::Value StreamEnd(const Napi::CallbackInfo& info);
// JS: streamDestroy(handle): cancels and frees the session now (or when its running operation returns).
Napi::Value StreamDestroy(const Napi::CallbackInfo& info);

}  // namespace ttsav
