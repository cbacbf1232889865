#include "version.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswresample/swresample.h>
}

namespace ttsav::av {
namespace {

std::string Text(unsigned v) {
  return std::to_string(AV_VERSION_MAJOR(v)) + "." + std::to_string(AV_VERSION_MINOR(v)) + "." +
         std::to_string(AV_VERSION_MICRO(v));
}

LibraryVersion Make(const char* name, unsigned compiled, unsigned runtime) {
  LibraryVersion v;
  v.name = name;
  v.compiled = compiled;
  v.runtime = runtime;
  v.compiledText = Text(compiled);
  v.runtimeText = Text(runtime);
  v.compatible = AV_VERSION_MAJOR(compiled) == AV_VERSION_MAJOR(runtime) &&
                 AV_VERSION_MINOR(runtime) >= AV_VERSION_MINOR(compiled);
  return v;
}

}  // namespace

std::vector<LibraryVersion> LibraryVersions() {
  return {
      Make("avutil", LIBAVUTIL_VERSION_INT, avutil_version()),
      Make("avcodec", LIBAVCODEC_VERSION_INT, avcodec_version()),
      Make("avformat", LIBAVFORMAT_VERSION_INT, avformat_version()),
      Make("avfilter", LIBAVFILTER_VERSION_INT, avfilter_version()),
      Make("swresample", LIBSWRESAMPLE_VERSION_INT, swresample_version()),
  };
}

std::string CheckLibraryVersions() {
  std::string bad;
  for (const auto& v : LibraryVersions()) {
    if (v.compatible) continue;
    if (!bad.empty()) bad += ", ";
    bad += "lib" + v.name + " " + v.runtimeText + " (built against " + v.compiledText + ")";
  }
  if (bad.empty()) return bad;
  return "ttsav was built against other libav versions than the ones loaded: " + bad +
         ". Rebuild it against the installed FFmpeg (npm rebuild ttsav) or install the FFmpeg it was built for "
         "(Debian/Ubuntu: apt-get install libavformat-dev libavcodec-dev libavfilter-dev libswresample-dev "
         "libavutil-dev).";
}

std::string FFmpegVersionText() { return av_version_info(); }

FFmpegBuild FFmpegBuildInfo() {
  FFmpegBuild b;
#ifdef TTSAV_FFMPEG_BUNDLED
  b.bundled = true;
#endif
  b.license = avutil_license();
  b.configuration = avutil_configuration();
  return b;
}

}  // namespace ttsav::av
