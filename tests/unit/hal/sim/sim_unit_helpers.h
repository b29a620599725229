// Small helpers shared by the sim HAL's unit tests: reading a whole stream, spinning the World
// until a socket has something.
#pragma once

#include <string>

#include "hal/sim/world.h"

namespace simtest {

inline base::ByteSpan bytes(std::string_view s) { return base::as_bytes(s); }

// Runs the World until `pred` or `limit` of virtual time passes; returns pred().
inline bool run_until(sim::World& w, const std::function<bool()>& pred,
                      base::Duration limit = base::Duration::seconds(5)) {
  return w.run_for(pred, limit);
}

// Reads what is available on stream `h` of `net` into `out`. Returns the read() status of the
// last call: kUnavailable when drained, OK with `*eof` set at EOF, or the error.
inline base::Status drain(hal::Net& net, hal::Handle h, std::string* out, bool* eof) {
  uint8_t buf[4096];
  while (true) {
    auto r = net.read(h, buf);
    if (!r.is_ok()) return r.status();
    if (*r == 0) {
      *eof = true;
      return base::Status::ok();
    }
    out->append(reinterpret_cast<const char*>(buf), *r);
  }
}

}  // namespace simtest
