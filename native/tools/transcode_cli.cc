// A command-line driver over the pure C++ core (no Node): reads a file into memory, runs one transcode, writes
// the output and prints the result or the error. Built by CMakeLists.txt for sanitizer and valgrind runs.
//   ttsav-core-transcode <input> [<output>] [key=value ...]
//   keys: container, bitrate, rate, channels, coder, faststart (0/1), hint, maxout, maxdur, timeout, cancel_after_ms
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "av/transcode.h"

using namespace ttsav::av;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <input> [<output>|-] [key=value ...]\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string output = argc > 2 ? argv[2] : "-";

  TranscodeOptions o;
  int64_t timeoutMs = 0;
  int cancelAfterMs = -1;
  for (int i = 3; i < argc; i++) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == std::string::npos) return 2;
    std::string k = arg.substr(0, eq), v = arg.substr(eq + 1);
    if (k == "container") o.container = v;
    else if (k == "bitrate") o.bitrate = std::atoll(v.c_str());
    else if (k == "rate") o.sampleRate = std::atoi(v.c_str());
    else if (k == "channels") o.channels = std::atoi(v.c_str());
    else if (k == "coder") o.aacCoder = v;
    else if (k == "faststart") o.faststart = v == "1";
    else if (k == "hint") o.inputFormat = v;
    else if (k == "conceal") o.concealDecodeErrors = v == "1";
    else if (k == "maxout") o.maxOutputBytes = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "maxdur") o.maxDurationSeconds = std::atof(v.c_str());
    else if (k == "timeout") timeoutMs = std::atoll(v.c_str());
    else if (k == "cancel_after_ms") cancelAfterMs = std::atoi(v.c_str());
    else return 2;
  }

  JobControl control(timeoutMs);
  std::thread canceller;
  if (cancelAfterMs >= 0)
    canceller = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(cancelAfterMs));
      control.Cancel(CancelReason::Aborted);
    });
  int rc = 0;
  try {
    TranscodeResult r = Transcode(data.data(), data.size(), o, control);
    if (output != "-") {
      std::ofstream out(output, std::ios::binary);
      out.write(reinterpret_cast<const char*>(r.data.data), static_cast<std::streamsize>(r.data.size));
    }
    std::printf("ok bytes=%zu samples=%lld in_samples=%lld\n", r.data.size, static_cast<long long>(r.samples),
                static_cast<long long>(r.inputSamples));
    for (const Warning& w : r.warnings) std::printf("warning %s: %s\n", w.code.c_str(), w.message.c_str());
    std::free(r.data.data);
  } catch (const Error& e) {
    std::printf("error %s stage=%s averror=%d: %s | %s\n", CodeName(e.code), StageName(e.stage), e.averror,
                e.what(), e.detail.c_str());
    rc = 1;
  }
  if (canceller.joinable()) canceller.join();
  return rc;
}
