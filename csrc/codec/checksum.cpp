#include "codec/checksum.h"

// Header-only use of xxHash (Debian's libxxhash-dev): nothing to link, nothing exported.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace deepcomp::codec {

uint64_t checksum(const uint8_t* data, uint64_t size) { return XXH64(data, static_cast<size_t>(size), 0); }

}  // namespace deepcomp::codec
