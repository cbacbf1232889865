// Which libav libraries the addon was compiled against and which it runs with.
#pragma once

#include <string>
#include <vector>

namespace ttsav::av {

struct LibraryVersion {
  std::string name;        // "avformat", ...
  unsigned compiled = 0;   // AV_VERSION_INT packed
  unsigned runtime = 0;
  std::string compiledText;  // "59.27.100"
  std::string runtimeText;
  bool compatible = false;   // same major, runtime minor >= compiled minor
};

std::vector<LibraryVersion> LibraryVersions();
// Empty when every library is compatible, else a message naming what is wrong and how to fix it.
std::string CheckLibraryVersions();
std::string FFmpegVersionText();  // av_version_info()

struct FFmpegBuild {
  bool bundled = false;       // linked statically from scripts/build-ffmpeg.sh (TTSAV_FFMPEG=bundled)
  std::string license;        // avutil_license(): "LGPL version 2.1 or later", "GPL version 2 or later", ...
  std::string configuration;  // avutil_configuration(): the ./configure flags
};
FFmpegBuild FFmpegBuildInfo();

}  // namespace ttsav::av
