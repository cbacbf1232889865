#include "job_queue.h"

#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "convert.h"
#include "transcode_worker.h"
#include "worker.h"

namespace ttsav {

// One per environment: the thread-safe function that carries finished jobs to the main thread, and the cleanup hook
// that closes every queue of the environment.
class Engine {
 public:
  // Main thread: the environment's engine, made on first use.
  static std::shared_ptr<Engine> For(Napi::Env env);

  // Any thread: hands a finished job to the main thread. Finished jobs collect in one list, and only the first of a
  // batch wakes the main thread: one thread-safe function call (one uv_async wakeup) delivers every job that finished
  // before the main thread got to it. False once the environment is being torn down (the caller keeps the job and
  // frees it).
  bool Deliver(std::unique_ptr<QueuedJob>& job) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return false;
    if (!wakeupPending_) {
      if (napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking) != napi_ok) return false;
      wakeupPending_ = true;
    }
    done_.push_back(std::move(job));
    return true;
  }

  void Track(const std::shared_ptr<JobQueue>& queue) {
    std::lock_guard<std::mutex> lock(mutex_);
    queues_.erase(std::remove_if(queues_.begin(), queues_.end(), [](const auto& w) { return w.expired(); }),
                  queues_.end());
    queues_.push_back(queue);
  }

  // Main thread: a job was submitted (+1) or delivered (-1). The thread-safe function keeps the event loop alive
  // only while jobs are out.
  void Pending(napi_env env, int delta) {
    size_t before = pending_;
    pending_ = delta > 0 ? pending_ + 1 : pending_ - 1;
    if (before == 0 && pending_ > 0) napi_ref_threadsafe_function(env, tsfn_);
    if (before > 0 && pending_ == 0) napi_unref_threadsafe_function(env, tsfn_);
  }

  // Main thread: hands every finished job in the list to JS, in the order they finished.
  void DrainDone(napi_env env);
  // Main thread: one finished job's callback.
  void Settle(napi_env env, QueuedJob& job);

 private:
  static void CallJs(napi_env env, napi_value, void* context, void* data);
  void Close();

  std::mutex mutex_;
  bool closing_ = false;
  // Finished jobs not yet handed to JS, and whether a call of the thread-safe function is on its way for them.
  std::vector<std::unique_ptr<QueuedJob>> done_;
  bool wakeupPending_ = false;
  std::vector<std::weak_ptr<JobQueue>> queues_;
  napi_threadsafe_function tsfn_ = nullptr;
  size_t pending_ = 0;  // main thread only
};

namespace {

std::mutex gEnginesMutex;
std::unordered_map<napi_env, std::shared_ptr<Engine>> gEngines;

struct QueueHandle {
  std::shared_ptr<JobQueue> queue;
};

int LimitArg(Napi::Env env, Napi::Value v) {
  if (!v.IsNumber()) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a number for the queue's limit");
  double n = v.As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= 1024)) ThrowCoded(env, "ERR_TTSAV_OPTIONS", "Expected a queue limit between 1 and 1024");
  return static_cast<int>(n);
}

JobQueue& QueueArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal())
    ThrowCoded(info.Env(), "ERR_TTSAV_OPTIONS", "Expected the handle queueCreate() returned");
  return *info[0].As<Napi::External<QueueHandle>>().Data()->queue;
}

}  // namespace

std::shared_ptr<Engine> Engine::For(Napi::Env env) {
  napi_env raw = env;
  {
    std::lock_guard<std::mutex> lock(gEnginesMutex);
    auto it = gEngines.find(raw);
    if (it != gEngines.end()) return it->second;
  }
  auto engine = std::make_shared<Engine>();
  // The thread-safe function owns a reference to the engine: CallJs may run until the environment closes it.
  auto* owner = new std::shared_ptr<Engine>(engine);
  napi_value name = Napi::String::New(env, "ttsav:queue");
  napi_status status = napi_create_threadsafe_function(
      env, nullptr, nullptr, name, 0, 1, owner,
      [](napi_env, void* data, void*) { delete static_cast<std::shared_ptr<Engine>*>(data); }, engine.get(), CallJs,
      &engine->tsfn_);
  if (status != napi_ok) {
    delete owner;
    ThrowCoded(env, "ERR_TTSAV_INTERNAL", "cannot create the job queue's completion channel");
  }
  napi_unref_threadsafe_function(env, engine->tsfn_);
  {
    std::lock_guard<std::mutex> lock(gEnginesMutex);
    gEngines.emplace(raw, engine);
  }
  // Registered after the thread-safe function's own hook, so it runs before it (hooks run last-in first-out): by the
  // time the environment closes the thread-safe function, no runner calls it any more.
  env.AddCleanupHook([raw] {
    std::shared_ptr<Engine> e;
    {
      std::lock_guard<std::mutex> lock(gEnginesMutex);
      auto it = gEngines.find(raw);
      if (it == gEngines.end()) return;
      e = std::move(it->second);
      gEngines.erase(it);
    }
    e->Close();
  });
  return engine;
}

void Engine::Close() {
  std::vector<std::weak_ptr<JobQueue>> queues;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    queues.swap(queues_);
  }
  for (const auto& w : queues)
    if (auto q = w.lock()) q->Close();
}

void Engine::CallJs(napi_env env, napi_value, void* context, void* data) {
  auto* engine = static_cast<Engine*>(context);
  if (env != nullptr) {
    engine->DrainDone(env);
    return;
  }
  // No environment: the thread-safe function is being closed at teardown; the jobs are freed here, their references
  // are the environment's.
  std::vector<std::unique_ptr<QueuedJob>> jobs;
  std::lock_guard<std::mutex> lock(engine->mutex_);
  jobs.swap(engine->done_);
  engine->wakeupPending_ = false;
}

void Engine::DrainDone(napi_env env) {
  std::vector<std::unique_ptr<QueuedJob>> jobs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs.swap(done_);
    // A call already on its way (made before this drain) finds the list empty and does nothing; the next Deliver()
    // makes a new one.
    wakeupPending_ = false;
  }
  for (auto& job : jobs) Settle(env, *job);
}

void Engine::Settle(napi_env env, QueuedJob& job) {
  Pending(env, -1);
  Napi::Env e(env);
  try {
    Napi::HandleScope scope(e);
    napi_value callback = nullptr;
    napi_get_reference_value(env, job.callback, &callback);
    napi_delete_reference(env, job.callback);
    job.callback = nullptr;
    napi_delete_reference(env, job.inputs);
    job.inputs = nullptr;
    if (callback == nullptr) return;
    Napi::Function fn(env, callback);
    if (job.error) {
      fn.Call({ErrorToJs(e, *job.error)});
      return;
    }
    fn.Call({e.Null(), TranscodeResultToPacked(e, job.result, job.waitMs)});
  } catch (const Napi::Error&) {
    // As in Worker::OnOK: the environment is going away; nothing is left to tell.
  }
}

QueuedJob::~QueuedJob() {
  // Output never handed to JS (the environment went away first) is freed here.
  std::free(result.data.data);
}

struct JobQueue::Runner {
  std::shared_ptr<JobQueue> queue;
  napi_async_work work = nullptr;
  // The job the runner finished last, when it then found the queue empty: delivered by Complete(), which runs on the
  // main thread anyway, rather than by a wakeup of its own.
  std::unique_ptr<QueuedJob> last;
};

JobQueue::JobQueue(std::shared_ptr<Engine> engine, int limit) : engine_(std::move(engine)), limit_(limit) {}

void JobQueue::Submit(Napi::Env env, std::unique_ptr<QueuedJob> job) {
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) ThrowCoded(env, "ERR_TTSAV_INTERNAL", "the job queue is closed");
    job->submitted = std::chrono::steady_clock::now();
    queue_.push_back(std::move(job));
    if (active_ < limit_) {
      active_++;
      start = true;
    }
  }
  engine_->Pending(env, +1);
  if (start) StartRunners(env, 1);
}

void JobQueue::Remove(const av::JobControl* control) {
  std::unique_ptr<QueuedJob> job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const auto& j) { return j->control.get() == control; });
    if (it == queue_.end()) return;
    job = std::move(*it);
    queue_.erase(it);
  }
  job->error = RunCaught([&] { job->control->ThrowIfStopped(av::Stage::None); });
  if (!job->error) job->error.emplace(av::ErrorCode::Aborted, av::Stage::None, "the transcode was aborted");
  engine_->Deliver(job);
}

void JobQueue::SetLimit(Napi::Env env, int limit) {
  int start = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = limit;
    if (!closed_) {
      // Running runners each take a queued job when they finish theirs; new ones serve what waits beyond that.
      start = std::max(0, std::min(limit_ - active_, static_cast<int>(queue_.size())));
      active_ += start;
    }
  }
  if (start > 0) StartRunners(env, start);
}

void JobQueue::Close() {
  std::deque<std::unique_ptr<QueuedJob>> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
  dropped.swap(queue_);
  for (const auto& c : running_) c->Cancel(av::CancelReason::Aborted);
  // `dropped` frees the queued jobs (their references are the environment's).
}

void JobQueue::StartRunners(Napi::Env env, int n) {
  napi_value name = Napi::String::New(env, "ttsav:queue-runner");
  for (int i = 0; i < n; i++) {
    auto* runner = new Runner{shared_from_this(), nullptr, nullptr};
    if (napi_create_async_work(env, nullptr, name, Execute, Complete, runner, &runner->work) != napi_ok ||
        napi_queue_async_work(env, runner->work) != napi_ok) {
      if (runner->work != nullptr) napi_delete_async_work(env, runner->work);
      delete runner;
      std::lock_guard<std::mutex> lock(mutex_);
      active_ -= n - i;
      return;
    }
  }
}

void JobQueue::Execute(napi_env, void* data) {
  auto* runner = static_cast<Runner*>(data);
  runner->queue->RunLoop(runner->last);
}

void JobQueue::Complete(napi_env env, napi_status, void* data) {
  std::unique_ptr<Runner> runner(static_cast<Runner*>(data));
  napi_delete_async_work(env, runner->work);
  if (!runner->last) return;
  bool closed;
  {
    std::lock_guard<std::mutex> lock(runner->queue->mutex_);
    closed = runner->queue->closed_;
  }
  // Closed: the environment is being torn down; `last` is freed with the runner (its references are the
  // environment's). Otherwise the jobs this runner delivered before go first (they may still wait for the
  // thread-safe function's call), then its last one.
  if (closed) return;
  Engine& engine = *runner->queue->engine_;
  engine.DrainDone(env);
  engine.Settle(env, *runner->last);
}

void JobQueue::RunLoop(std::unique_ptr<QueuedJob>& last) {
  std::unique_ptr<QueuedJob> finished;
  for (;;) {
    std::unique_ptr<QueuedJob> job;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finished) running_.erase(std::find(running_.begin(), running_.end(), finished->control));
      // Nothing to do, or one runner too many after a lower limit: this task ends and its thread goes back to libuv.
      // The job it just finished goes back with the task's completion (Complete()), one main-thread wakeup for both.
      if (closed_ || queue_.empty() || active_ > limit_) {
        active_--;
        last = std::move(finished);
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      running_.push_back(job->control);
    }
    // Another job follows: the finished one is handed over now, not held while the next one runs.
    if (finished) engine_->Deliver(finished);
    finished.reset();  // (Deliver() keeps it when the environment is going away)
    job->waitMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - job->submitted).count();
    QueuedJob& j = *job;
    j.error = RunCaught([&j] { j.result = av::Transcode(j.views, j.options, *j.control); });
    finished = std::move(job);
  }
}

Napi::Value QueueCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int limit = LimitArg(env, info.Length() > 0 ? info[0] : env.Undefined());
  auto engine = Engine::For(env);
  auto queue = std::make_shared<JobQueue>(engine, limit);
  engine->Track(queue);
  return Napi::External<QueueHandle>::New(env, new QueueHandle{queue},
                                          [](Napi::Env, QueueHandle* handle) { delete handle; });
}

Napi::Value QueueSubmit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JobQueue& queue = QueueArg(info);
  // The rest is transcode()'s call: (input, options, callback).
  if (info.Length() < 4 || !info[2].IsObject() || !info[3].IsFunction())
    ThrowCoded(env, "ERR_TTSAV_OPTIONS",
               "queueSubmit(queue, input: Uint8Array | Uint8Array[], options: object, callback: function)");
  auto job = std::make_unique<QueuedJob>();
  job->views = InputViews(env, info[1]);
  auto [options, control] = ParseTranscodeCall(env, info[2].As<Napi::Object>());
  job->options = std::move(options);
  job->control = control;
  // References last: nothing throws after them (a throw would leave them to the environment).
  if (napi_create_reference(env, info[1], 1, &job->inputs) != napi_ok ||
      napi_create_reference(env, info[3], 1, &job->callback) != napi_ok)
    ThrowCoded(env, "ERR_TTSAV_INTERNAL", "cannot keep the job's input alive");
  auto self = info[0].As<Napi::External<QueueHandle>>().Data()->queue;
  queue.Submit(env, std::move(job));
  return NewJobHandle(env, control, self);
}

Napi::Value QueueSetLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JobQueue& queue = QueueArg(info);
  queue.SetLimit(env, LimitArg(env, info.Length() > 1 ? info[1] : env.Undefined()));
  return env.Undefined();
}

}  // namespace ttsav
