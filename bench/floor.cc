// The codec floor: native/av's Transcode() called directly from C++, no Node, over inputs already in memory, with
// N threads pulling files from a shared counter. What is left when the binding, V8, libuv and JS are gone: the
// cost of libav doing the job. bench/run.mjs compares ttsav's transcode() against it.
//
//   ttsav-bench-floor --list <file with one input path a line> [--threads N] [--repeat R] [--write <dir>]
//                     [key=value ...]
//   keys: container, codec, bitrate, rate (0 = source), channels (0 = source), coder, faststart (0/1), hint
//
// One untimed transcode of the first file runs first (libav's tables, the encoder's static init), as the Node
// contenders warm up too. Prints one JSON line: files, wallMs, cpuMs (user+sys of the whole process), peakRssKB,
// outBytes, samples, threads, errors.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "av/transcode.h"

using namespace ttsav::av;

namespace {

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

double CpuMs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

long PeakRssKB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  std::string list;
  std::string writeDir;
  int threads = 1;
  int repeat = 1;
  TranscodeOptions o;
  o.faststart = false;  // the seed recipe: `ffmpeg ... -f mp4 out.m4a` (no +faststart)
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--list") list = value();
    else if (arg == "--threads") threads = std::atoi(value().c_str());
    else if (arg == "--repeat") repeat = std::atoi(value().c_str());
    else if (arg == "--write") writeDir = value();
    else {
      size_t eq = arg.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
        return 2;
      }
      std::string k = arg.substr(0, eq), v = arg.substr(eq + 1);
      if (k == "container") o.container = v;
      else if (k == "codec") o.codec = v;
      else if (k == "bitrate") o.bitrate = std::atoll(v.c_str());
      else if (k == "rate") o.sampleRate = std::atoi(v.c_str());
      else if (k == "channels") o.channels = std::atoi(v.c_str());
      else if (k == "coder") o.aacCoder = v;
      else if (k == "faststart") o.faststart = v == "1";
      else if (k == "hint") o.inputFormat = v;
      else {
        std::fprintf(stderr, "unknown key %s\n", k.c_str());
        return 2;
      }
    }
  }
  if (list.empty() || threads < 1 || repeat < 1) {
    std::fprintf(stderr, "usage: %s --list <file> [--threads N] [--repeat R] [--write dir] [key=value ...]\n", argv[0]);
    return 2;
  }

  std::vector<std::string> paths;
  {
    std::ifstream in(list);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) paths.push_back(line);
  }
  if (paths.empty()) {
    std::fprintf(stderr, "no inputs in %s\n", list.c_str());
    return 2;
  }
  std::vector<std::vector<uint8_t>> inputs;
  inputs.reserve(paths.size());
  for (const auto& p : paths) inputs.push_back(ReadFile(p));

  {
    JobControl control;
    TranscodeResult warm = Transcode(inputs[0].data(), inputs[0].size(), o, control);
    std::free(warm.data.data);
  }

  const size_t total = inputs.size() * static_cast<size_t>(repeat);
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> outBytes{0};
  std::atomic<int64_t> samples{0};
  std::atomic<int> errors{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < total;) {
      const auto& in = inputs[i % inputs.size()];
      JobControl control;
      try {
        TranscodeResult r = Transcode(in.data(), in.size(), o, control);
        outBytes += r.data.size;
        samples += r.samples;
        if (!writeDir.empty() && i < inputs.size()) {
          std::ofstream out(writeDir + "/" + std::to_string(i) + ".m4a", std::ios::binary);
          out.write(reinterpret_cast<const char*>(r.data.data), static_cast<std::streamsize>(r.data.size));
        }
        std::free(r.data.data);
      } catch (const Error& e) {
        errors++;
        std::fprintf(stderr, "%s: %s %s\n", paths[i % paths.size()].c_str(), CodeName(e.code), e.what());
      }
    }
  };

  const double cpu0 = CpuMs();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  const double wallMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const double cpuMs = CpuMs() - cpu0;

  std::printf("{\"files\":%zu,\"wallMs\":%.3f,\"cpuMs\":%.3f,\"peakRssKB\":%ld,\"outBytes\":%llu,\"samples\":%lld,"
              "\"threads\":%d,\"errors\":%d}\n",
              total, wallMs, cpuMs, PeakRssKB(), static_cast<unsigned long long>(outBytes.load()),
              static_cast<long long>(samples.load()), threads, errors.load());
  return errors.load() ? 1 : 0;
}
