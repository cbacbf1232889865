{
  "targets": [
    {
      "target_name": "ttsav",
      "sources": ["<!@(node scripts/sources.js)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: in a worker_thread being terminated napi_throw fails; without it
      # node-addon-api throws again from its callback wrapper and the whole process aborts (std::terminate).
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
                  "<!@(node scripts/ffmpeg-flags.js defines)"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "<!@(node scripts/ffmpeg-flags.js cflags)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y"],
      # TTSAV_FFMPEG=system (pkg-config) or bundled (static, symbols hidden): scripts/ffmpeg-flags.js.
      "libraries": ["<!@(node scripts/ffmpeg-flags.js libs)"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["<!@(node scripts/ffmpeg-flags.js cflags)"]
      }
    }
  ]
}
