// Module entry: registers the functions and checks, at load, that the libav libraries found at run time are
// the ones the addon was built for.
#include <napi.h>

#include <string>

extern "C" {
#include <libavformat/avformat.h>
}

#include "av/error.h"
#include "av/heap.h"
#include "av/init.h"
#include "av/log.h"
#include "av/version.h"
#include "convert.h"
#include "info_workers.h"
#include "publish_binding.h"
#include "stream_binding.h"
#include "transcode_worker.h"
#include "job_queue.h"
#include "voiceover_worker.h"

namespace ttsav {
namespace {

Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("ffmpeg", av::FFmpegVersionText());
  const av::FFmpegBuild build = av::FFmpegBuildInfo();
  out.Set("bundled", build.bundled);
  out.Set("license", build.license);
  out.Set("configuration", build.configuration);
  Napi::Object libs = Napi::Object::New(env);
  for (const auto& v : av::LibraryVersions()) {
    Napi::Object lib = Napi::Object::New(env);
    lib.Set("compiled", v.compiledText);
    lib.Set("runtime", v.runtimeText);
    lib.Set("compatible", v.compatible);
    libs.Set(v.name, lib);
  }
  out.Set("libraries", libs);
  out.Set("napi", static_cast<double>(NAPI_VERSION));
  return out;
}

// Every demuxer name this libav has (comma lists split), for validating the inputFormat hint up front.
Napi::Value Demuxers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  void* it = nullptr;
  while (const AVInputFormat* fmt = av_demuxer_iterate(&it)) {
    std::string names = fmt->name;
    size_t start = 0;
    while (start <= names.size()) {
      size_t comma = names.find(',', start);
      if (comma == std::string::npos) comma = names.size();
      if (comma > start) out.Set(n++, names.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

// The error codes and stages av::Error can carry, for the test that keeps lib/errors.ts's lists in step.
Napi::Value ErrorNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array codes = Napi::Array::New(env);
  for (int c = 0; c <= static_cast<int>(av::ErrorCode::Internal); ++c)
    codes.Set(static_cast<uint32_t>(c), av::CodeName(static_cast<av::ErrorCode>(c)));
  Napi::Array stages = Napi::Array::New(env);
  for (int s = static_cast<int>(av::Stage::Probe); s <= static_cast<int>(av::Stage::Mux); ++s)
    stages.Set(static_cast<uint32_t>(s - 1), av::StageName(static_cast<av::Stage>(s)));
  Napi::Object out = Napi::Object::New(env);
  out.Set("codes", codes);
  out.Set("stages", stages);
  return out;
}

// Hands the allocator's free memory back to the system: glibc's malloc_trim(0) walks every arena and releases
// the free pages inside each heap, not only at its top (free() alone returns little of what threads that have
// ended, such as espeak's workers, left in their arenas). True when something was released; false where the C
// library has no such call. Called by lib/ when the espeak engine's last worker is released (idle).
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), av::TrimHeap());
}

// Bytes the C allocator has handed out and not had back (all arenas, plus mmapped blocks), for leak tests: unlike
// RSS it does not move when the allocator takes or returns pages, so a per-job leak shows as a steady climb.
// null where the C library cannot say (glibc before 2.33, musl).
Napi::Value MallocInUse(const Napi::CallbackInfo& info) {
  int64_t bytes = av::HeapInUse();
  return bytes < 0 ? info.Env().Null() : Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::string problem = av::CheckLibraryVersions();
  if (!problem.empty()) {
    Napi::Error err = Napi::Error::New(env, problem);
    err.Set("code", Napi::String::New(env, "ERR_TTSAV_LOAD"));
    throw err;
  }
  av::InitLibav();
  exports.Set("transcode", Napi::Function::New(env, StartTranscode, "transcode"));
  exports.Set("cancel", Napi::Function::New(env, CancelTranscode, "cancel"));
  exports.Set("queueCreate", Napi::Function::New(env, QueueCreate, "queueCreate"));
  exports.Set("queueSubmit", Napi::Function::New(env, QueueSubmit, "queueSubmit"));
  exports.Set("queueSetLimit", Napi::Function::New(env, QueueSetLimit, "queueSetLimit"));
  exports.Set("voiceover", Napi::Function::New(env, StartVoiceover, "voiceover"));
  exports.Set("burnUnsupported", Napi::Function::New(env, BurnUnsupported, "burnUnsupported"));
  exports.Set("probe", Napi::Function::New(env, StartProbe, "probe"));
  exports.Set("probeContainers", Napi::Function::New(env, StartProbeContainers, "probeContainers"));
  exports.Set("hwDevices", Napi::Function::New(env, StartHwDevices, "hwDevices"));
  exports.Set("hasMuxer", Napi::Function::New(env, HasMuxer, "hasMuxer"));
  exports.Set("hasEncoder", Napi::Function::New(env, HasEncoder, "hasEncoder"));
  exports.Set("streamCreate", Napi::Function::New(env, StreamCreate, "streamCreate"));
  exports.Set("streamPush", Napi::Function::New(env, StreamPush, "streamPush"));
  exports.Set("streamEnd", Napi::Function::New(env, StreamEnd, "streamEnd"));
  exports.Set("streamDestroy", Napi::Function::New(env, StreamDestroy, "streamDestroy"));
  exports.Set("publishCreate", Napi::Function::New(env, PublishCreate, "publishCreate"));
  exports.Set("publishPush", Napi::Function::New(env, PublishPush, "publishPush"));
  exports.Set("publishConnect", Napi::Function::New(env, PublishConnect, "publishConnect"));
  exports.Set("publishClose", Napi::Function::New(env, PublishClose, "publishClose"));
  exports.Set("publishAbort", Napi::Function::New(env, PublishAbort, "publishAbort"));
  exports.Set("publishStats", Napi::Function::New(env, PublishStats, "publishStats"));
  exports.Set("checkImage", Napi::Function::New(env, CheckImage, "checkImage"));
  exports.Set("encodeStill", Napi::Function::New(env, EncodeStill, "encodeStill"));
  exports.Set("demuxers", Napi::Function::New(env, Demuxers, "demuxers"));
  exports.Set("versions", Napi::Function::New(env, Versions, "versions"));
  exports.Set("mallocInUse", Napi::Function::New(env, MallocInUse, "mallocInUse"));
  exports.Set("errorNames", Napi::Function::New(env, ErrorNames, "errorNames"));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory, "trimMemory"));
  return exports;
}

}  // namespace
}  // namespace ttsav

static Napi::Object InitTtsav(Napi::Env env, Napi::Object exports) { return ttsav::Init(env, exports); }

NODE_API_MODULE(ttsav, InitTtsav)
