// dns::Server: the node's DNS server on the event loop (issue 5 item 5), UDP for now. Each
// datagram is decoded (dns/message.h) and answered by the responder (dns/responder.h) from the
// view the owner supplies; nothing is allocated per query (fixed buffers, the view borrowed).
//
// Per datagram: shorter than a header, or a response (QR set) -> dropped and counted; refused by
// the decoder with a readable header -> FORMERR; a name outside the domain -> REFUSED (there is
// no upstream forwarding yet); otherwise the responder's answer. At most
// `datagrams_per_pass` datagrams are read per readable event, so a flood cannot starve the loop.
//
// Not here yet: TCP (RFC 7766), upstream forwarding and the recursion networks.
// Threading: the loop's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "agent/base/status.h"
#include "agent/dns/responder.h"
#include "agent/runtime/loop.h"
#include "hal/net.h"

namespace dns {

struct ServerOptions {
  hal::SockAddr bind;            // UDP
  ResponderConfig responder;
  size_t datagrams_per_pass = 64;
  uint64_t seed = 0;             // the shuffle's seed; the owner passes a random one
};

struct ServerCounters {
  uint64_t received = 0;
  uint64_t answered = 0;          // NOERROR and NXDOMAIN answers from the view
  uint64_t formerr = 0;
  uint64_t refused = 0;           // names outside the domain
  uint64_t dropped_short = 0;     // under 12 bytes: no ID to answer
  uint64_t dropped_response = 0;  // QR set
  uint64_t dropped_oversize = 0;  // larger than the receive buffer
  uint64_t send_failed = 0;
};

class Server {
 public:
  // The current view; it must stay valid until the call that asked for it returns.
  using ViewFn = std::function<View()>;

  Server(runtime::Loop& loop, hal::Net& net, ServerOptions options, ViewFn view);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the UDP socket and starts answering. Errors: the socket's (kIo: the port is taken).
  [[nodiscard]] base::Status start();
  void stop();
  base::Result<hal::SockAddr> local_addr() const;
  const ServerCounters& counters() const { return counters_; }

  // One query's answer into `out` (also used by agentctl's resolver through the HTTP API later);
  // returns the size, 0 for a datagram that is dropped.
  size_t answer(std::span<const uint8_t> query, bool over_tcp, std::span<uint8_t> out);

 private:
  void on_readable();

  runtime::Loop& loop_;
  hal::Net& net_;
  ServerOptions options_;
  ViewFn view_;
  hal::Handle udp_ = hal::kInvalidHandle;
  uint64_t seed_ = 0;
  ServerCounters counters_;
  std::vector<uint8_t> in_;   // one datagram
  std::vector<uint8_t> out_;  // one answer
};

}  // namespace dns
