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

}  // namespace ttsav::av
