// One whole transcode, start to finish, on the calling thread: demux -> decode -> filter -> encode -> mux,
// in memory. Several inputs are joined (concat) in the same job. No N-API here: the binding, the fuzzer and the
// C++ drivers all call this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "error.h"
#include "job.h"
#include "options.h"

namespace ttsav::av {

struct InputBytes {
  const uint8_t* data;
  size_t size;
};

// Reads the inputs in place (they must stay alive and unchanged until it returns).
// Throws Error (with `detail` set to the job's last libav log line) or std::bad_alloc.
TranscodeResult Transcode(const std::vector<InputBytes>& inputs, const TranscodeOptions& options,
                          JobControl& control);

inline TranscodeResult Transcode(const uint8_t* data, size_t size, const TranscodeOptions& options,
                                 JobControl& control) {
  return Transcode(std::vector<InputBytes>{{data, size}}, options, control);
}

}  // namespace ttsav::av
