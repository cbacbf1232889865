// The process's malloc heap in use (bytes allocated and not yet freed), for leak checks: unlike RSS it does not
// move with what the allocator keeps cached or with fragmentation. glibc only; -1 elsewhere.
#pragma once

#include <cstdint>

namespace ttsav::av {

int64_t HeapInUse();

// Hands the allocator's free pages back to the system (glibc's malloc_trim(0): every arena, not only each heap's
// top). True when something was released; false where the C library has no such call.
bool TrimHeap();

}  // namespace ttsav::av
