// One whole transcode, start to finish, on the calling thread: demux -> decode -> filter -> encode -> mux,
// in memory. No N-API here: the binding, the fuzzer and C++ tests all call this.
#pragma once

#include <cstddef>
#include <cstdint>

#include "error.h"
#include "job.h"
#include "options.h"

namespace ttsav::av {

// Reads `size` bytes at `data` in place (they must stay alive and unchanged until it returns).
// Throws Error (with `detail` set to the job's last libav log line) or std::bad_alloc.
TranscodeResult Transcode(const uint8_t* data, size_t size, const TranscodeOptions& options, JobControl& control);

}  // namespace ttsav::av
