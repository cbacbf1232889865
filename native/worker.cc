#include "worker.h"

#include <cstdlib>
#include <exception>
#include <algorithm>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>

#include "convert.h"

namespace ttsav {
namespace {

// Failures libav did not report carry no libav log line.
av::Error NativeError(av::ErrorCode code, const char* message) {
  av::Error e(code, av::Stage::None, message);
  e.detail.clear();
  return e;
}

void FreeBuffer(Napi::Env env, uint8_t* data, size_t* size) {
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(*size));
  std::free(data);
  delete size;
}

// Live jobs per environment (each worker thread has its own), for CancelOnTeardown. Environments live on different
// threads, hence the lock; each one's list is only touched from its own thread otherwise.
std::mutex gJobsMutex;
std::unordered_map<napi_env, std::vector<std::weak_ptr<av::JobControl>>> gJobs;

}  // namespace

void CancelOnTeardown(Napi::Env env, const std::shared_ptr<av::JobControl>& control) {
  napi_env raw = env;
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(gJobsMutex);
    auto [it, inserted] = gJobs.try_emplace(raw);
    auto& jobs = it->second;
    jobs.erase(std::remove_if(jobs.begin(), jobs.end(), [](const auto& w) { return w.expired(); }), jobs.end());
    jobs.push_back(control);
    first = inserted;
  }
  if (!first) return;
  env.AddCleanupHook([raw] {
    std::vector<std::weak_ptr<av::JobControl>> jobs;
    {
      std::lock_guard<std::mutex> lock(gJobsMutex);
      auto it = gJobs.find(raw);
      if (it == gJobs.end()) return;
      jobs = std::move(it->second);
      gJobs.erase(it);
    }
    for (const auto& w : jobs)
      if (auto c = w.lock()) c->Cancel(av::CancelReason::Aborted);
  });
}

std::optional<av::Error> RunCaught(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const av::Error& e) {
    return e;
  } catch (const std::bad_alloc&) {
    return NativeError(av::ErrorCode::NoMemory, "out of memory");
  } catch (const std::exception& e) {
    return NativeError(av::ErrorCode::Internal, e.what());
  } catch (...) {
    return NativeError(av::ErrorCode::Internal, "unknown native failure");
  }
  return std::nullopt;
}

void Worker::Execute() { error_ = RunCaught([this] { Run(); }); }

void Worker::OnOK() {
  Napi::Env env = Env();
  try {
    Napi::HandleScope scope(env);
    Settle();
    if (error_) {
      Callback().Call({ErrorToJs(env, *error_)});
      return;
    }
    std::vector<napi_value> args{env.Null()};
    for (napi_value v : Results(env)) args.push_back(v);
    Callback().Call(args);
  } catch (const Napi::Error&) {
    // The environment is going away: nothing is left to tell (the result is freed with the worker).
  }
}

Napi::Buffer<uint8_t> TakeBuffer(Napi::Env env, av::OwnedBytes& bytes) {
  if (bytes.data == nullptr) return Napi::Buffer<uint8_t>::New(env, 0);
  size_t size = bytes.size;
  auto hint = std::make_unique<size_t>(size);
  Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::NewOrCopy(env, bytes.data, size, FreeBuffer, hint.get());
  // From here the Buffer's finalizer owns the bytes and the hint (and undoes this adjustment).
  hint.release();
  bytes = {};
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
  return buffer;
}

}  // namespace ttsav
