// A Node-free driver over the publisher (av/publish.h) for leak hunting under ASan/LSan, valgrind or heap counters:
// publishes ADTS audio (looped from a file, paced in real time) and optionally a loop video to a server, and runs
// `cycles` connect / send / drop cycles. A drop is `drop_cmd` run through the shell (e.g. a server restart) or,
// without it, a fresh Publisher per cycle (close and destroy). Prints the heap in use (mallinfo2) after each cycle.
//   ttsav-core-publish <adts file> <url> [key=value ...]
//   keys: cycles (10), send_ms (1000), video (loop file), drop_cmd (shell command), ca (CA file), verify (0/1)
// Exit 0: done; 1: a bad input; 2: usage; 3: a cycle did not connect or its drop went unnoticed.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "av/heap.h"
#include "av/publish.h"

using namespace ttsav::av;
using Clock = std::chrono::steady_clock;

namespace {

struct Events {
  std::mutex m;
  std::condition_variable cv;
  int connected = 0, disconnected = 0, closed = 0;
  std::string lastError;
};


long RssKb() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4;
}

// ADTS frames of `bytes`, split at frame boundaries.
std::vector<std::vector<uint8_t>> SplitAdts(const std::vector<uint8_t>& bytes) {
  std::vector<std::vector<uint8_t>> out;
  size_t at = 0;
  while (at + 7 <= bytes.size()) {
    const uint8_t* h = bytes.data() + at;
    size_t len = static_cast<size_t>(((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5));
    if (len < 7 || at + len > bytes.size()) break;
    out.emplace_back(h, h + len);
    at += len;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <adts file> <url> [key=value ...]\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<uint8_t> adts((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<uint8_t>> frames = SplitAdts(adts);
  if (frames.empty()) {
    std::fprintf(stderr, "no ADTS frames in %s\n", argv[1]);
    return 2;
  }
  PublishOptions o;
  o.url = argv[2];
  o.container = "flv";
  int cycles = 10, sendMs = 1000;
  std::string videoPath, dropCmd;
  for (int i = 3; i < argc; i++) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == std::string::npos) return 2;
    std::string k = arg.substr(0, eq), v = arg.substr(eq + 1);
    if (k == "cycles") cycles = std::atoi(v.c_str());
    else if (k == "send_ms") sendMs = std::atoi(v.c_str());
    else if (k == "video") videoPath = v;
    else if (k == "drop_cmd") dropCmd = v;
    else if (k == "ca") o.caFile = v;
    else if (k == "verify") o.tlsVerify = v == "1";
    else return 2;
  }
  std::shared_ptr<const VideoLoop> video;
  try {
    if (!videoPath.empty()) video = VideoLoop::FromFile(videoPath);
  } catch (const Error& e) {
    std::fprintf(stderr, "video: %s\n", e.what());
    return 1;
  }

  const int rate = 48000;  // only used for pacing; the publisher reads the rate from the ADTS headers
  size_t next = 0;
  auto t0 = Clock::now();
  int64_t pushedSamples = 0;
  // Pushes audio up to the wall clock (frames looped), like a live feed.
  auto pace = [&](Publisher& p) {
    double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    while (pushedSamples < static_cast<int64_t>(elapsed * rate)) {
      const auto& f = frames[next];
      next = (next + 1) % frames.size();
      p.PushAdts(f.data(), f.size());
      pushedSamples += 1024;
    }
  };

  Events ev;
  auto make = [&] {
    return std::make_unique<Publisher>(
        o, video,
        [&ev](PublishEvent&& e) {
          std::lock_guard<std::mutex> lock(ev.m);
          if (e.type == PublishEvent::Type::Connected) ev.connected++;
          if (e.type == PublishEvent::Type::Disconnected) {
            ev.disconnected++;
            ev.lastError = e.message;
          }
          if (e.type == PublishEvent::Type::Closed) ev.closed++;
          ev.cv.notify_all();
        },
        nullptr);
  };
  // Waits (pacing audio meanwhile) until `done` holds, retrying Connect() every 200 ms while disconnected.
  auto waitFor = [&](Publisher& p, auto done, int timeoutMs) {
    auto until = Clock::now() + std::chrono::milliseconds(timeoutMs);
    int seenDisc = -1;
    while (Clock::now() < until) {
      pace(p);
      {
        std::unique_lock<std::mutex> lock(ev.m);
        if (done()) return true;
        if (ev.disconnected != seenDisc) {
          seenDisc = ev.disconnected;
          lock.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          p.Connect();
          continue;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };

  std::unique_ptr<Publisher> p = make();
  int wantConnected = 1;
  p->Connect();
  for (int c = 0; c < cycles; c++) {
    if (!waitFor(*p, [&] { return ev.connected >= wantConnected; }, 15000)) {
      std::fprintf(stderr, "cycle %d: no connection (%s)\n", c, ev.lastError.c_str());
      return 3;
    }
    auto until = Clock::now() + std::chrono::milliseconds(sendMs);
    while (Clock::now() < until) {
      pace(*p);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!dropCmd.empty()) {
      // The drop runs beside the feed (audio keeps coming, connects are retried and refused while it is down).
      int disc = ev.disconnected;
      std::atomic<int> dropRc{-1};
      std::thread drop([&] { dropRc = std::system(dropCmd.c_str()); });
      bool noticed = waitFor(*p, [&] { return ev.disconnected > disc && dropRc.load() >= 0; }, 30000);
      drop.join();
      if (dropRc.load() != 0) {
        std::fprintf(stderr, "drop_cmd failed\n");
        return 3;
      }
      if (!noticed) {
        std::fprintf(stderr, "cycle %d: the drop was not noticed\n", c);
        return 3;
      }
    } else {
      int closed = ev.closed;
      p->Close();
      {
        std::unique_lock<std::mutex> lock(ev.m);
        ev.cv.wait(lock, [&] { return ev.closed > closed; });
      }
      p.reset();
      p = make();
      p->Connect();
    }
    wantConnected++;
    std::printf("cycle %d heap %lld rss %ld connects %d\n", c, static_cast<long long>(HeapInUse()), RssKb(), ev.connected);
    std::fflush(stdout);
  }
  int closed = ev.closed;
  p->Close();
  {
    std::unique_lock<std::mutex> lock(ev.m);
    ev.cv.wait(lock, [&] { return ev.closed > closed; });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the thread ends after its Closed event
  p.reset();
  std::printf("end heap %lld\n", static_cast<long long>(HeapInUse()));
  return 0;
}
