// The binding for live publishing (av/publish.h): a handle per broadcast, events through a thread-safe function.
#pragma once

#include <napi.h>

namespace ttsav {

// JS: publishCreate(options, video: Buffer | path | null, onEvent(event)) => { handle, width?, height?, loopMs? }
Napi::Value PublishCreate(const Napi::CallbackInfo& info);
// JS: publishPush(handle, adts: Uint8Array): queues audio; never waits for the network.
Napi::Value PublishPush(const Napi::CallbackInfo& info);
// JS: publishConnect(handle) ; publishClose(handle) ; publishAbort(handle) ; publishStats(handle) => object
Napi::Value PublishConnect(const Napi::CallbackInfo& info);
Napi::Value PublishClose(const Napi::CallbackInfo& info);
Napi::Value PublishAbort(const Napi::CallbackInfo& info);
Napi::Value PublishStats(const Napi::CallbackInfo& info);
// JS: checkImage(bytes) => { width, height }
Napi::Value CheckImage(const Napi::CallbackInfo& info);
// JS: encodeStill(bytes, { width?, height?, fps?, seconds?, hwaccel? }) => { data, width, height, frames, encoder, fallback }
Napi::Value EncodeStill(const Napi::CallbackInfo& info);

}  // namespace ttsav
