// The process's malloc heap in use (bytes allocated and not yet freed), for leak checks: unlike RSS it does not
// move with what the allocator keeps cached or with fragmentation. glibc only; -1 elsewhere.
#pragma once

#include <cstdint>

namespace ttsav::av {

int64_t HeapInUse();

}  // namespace ttsav::av
