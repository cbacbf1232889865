// Process-wide libav settings, applied once before the first job (idempotent, thread-safe): the per-job log
// routing (log.h) and the cap on a single libav allocation.
#pragma once

#include <cstddef>

namespace ttsav::av {

// Default cap on one libav allocation: 128 MiB. libav's own default is INT_MAX (2 GiB), and some demuxers allocate
// (and zero) whatever a header declares: a 70-byte WAV whose LIST chunk declares 2.4 GB made one job take 2 GB of
// RSS for two seconds (found by the fuzzer). Audio work never needs one block near 128 MiB (the largest are MP4
// sample tables: ~37 MB for 28 hours of AAC). TTSAV_MAX_ALLOC_MB (16-2047), read once, changes it; the cap is
// process-wide, so it also applies to any other library in the process that uses the same libav.
constexpr size_t kDefaultMaxAllocBytes = size_t{128} << 20;

void InitLibav();

}  // namespace ttsav::av
