// Jobs that describe rather than transcode: probe(input) and hwDevices(), each one AsyncWorker on the threadpool,
// plus the synchronous capability checks formats() is built from.
#pragma once

#include <napi.h>

namespace ttsav {

// JS: probe(input: Uint8Array, options: object, callback(err, info)) => job handle (External), cancel()-able.
Napi::Value StartProbe(const Napi::CallbackInfo& info);
// JS: probeContainers(inputs: Uint8Array[], options: object, callback(err, (info | null)[])) => job handle: each
// input's header-only ContainerInfo (av/probe.h), null where its header cannot be read.
Napi::Value StartProbeContainers(const Napi::CallbackInfo& info);
// JS: hwDevices(callback(err, devices))
Napi::Value StartHwDevices(const Napi::CallbackInfo& info);
// JS: hasMuxer(name) / hasEncoder(name) => boolean
Napi::Value HasMuxer(const Napi::CallbackInfo& info);
Napi::Value HasEncoder(const Napi::CallbackInfo& info);

}  // namespace ttsav
