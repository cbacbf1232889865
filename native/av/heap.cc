#include "heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ttsav::av {

int64_t HeapInUse() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();  // all arenas: small chunks in use + mmapped large blocks
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
#else
  return -1;
#endif
}

bool TrimHeap() {
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

}  // namespace ttsav::av
