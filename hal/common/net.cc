// hal::Net's portable defaults: the batched UDP calls as loops over the single ones, for ports
// whose stack has no batched call (lwIP, the simulator, Windows).
#include "hal/net.h"

namespace hal {

base::Result<size_t> Net::udp_recv_batch(Handle h, std::span<UdpMessage> msgs) {
  size_t got = 0;
  while (got < msgs.size()) {
    UdpMessage& m = msgs[got];
    base::Result<size_t> n = udp_recv(h, m.buf, &m.peer);
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kResourceExhausted) {
        // Too long for its buffer: reported as the batched call does, by a size past the buffer.
        m.size = m.buf.size() + 1;
        ++got;
        continue;
      }
      if (got > 0) break;
      return n.status();
    }
    m.size = *n;
    ++got;
  }
  return got;
}

base::Result<size_t> Net::udp_send_batch(Handle h, std::span<const UdpMessage> msgs) {
  size_t sent = 0;
  for (const UdpMessage& m : msgs) {
    base::Result<size_t> n = udp_send(h, m.peer, base::ByteSpan(m.buf.data(), m.size));
    if (!n.is_ok()) {
      if (sent > 0) break;
      return n.status();
    }
    ++sent;
  }
  return sent;
}

}  // namespace hal
