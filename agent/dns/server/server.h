// dns::Server: the node's DNS server on the event loop (issue 5 item 5), over UDP and TCP on the
// same address and port. Each query is decoded (dns/message.h) and answered by the responder
// (dns/responder.h) from the view the owner supplies; nothing is allocated per query (fixed
// buffers, the view borrowed; a TCP connection allocates its buffers once, at accept).
//
// Per query: shorter than a header, or a response (QR set) -> dropped and counted; refused by
// the decoder with a readable header -> FORMERR; a name outside the domain -> REFUSED (there is
// no upstream forwarding yet); otherwise the responder's answer. At most
// `datagrams_per_pass` datagrams are read per readable event, so a flood cannot starve the loop.
//
// TCP (RFC 7766; RFC 1035 §4.2.2 framing, a 2-byte length before each message): queries on a
// connection are answered in order as they complete (pipelining, §6.2.1.1), answers up to 65535
// bytes (so no TC bit). Bounds: `tcp_connections_max` open at once (past it a new connection
// is closed at once and counted); a message over kQueryBytesMax or under a header closes its
// connection (a stream cannot be resynchronised); while a connection's unsent answers exceed
// `tcp_pending_bytes_max` it is not read (back-pressure on a client that does not read); a
// connection with no progress either way for `tcp_idle_timeout` is closed (§6.2.3).
// Not here yet: upstream forwarding and the recursion networks.
// Threading: the loop's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "agent/base/status.h"
#include "agent/dns/responder.h"
#include "agent/runtime/loop.h"
#include "hal/net.h"

namespace dns {

// The largest query accepted, over UDP or TCP: one question and an OPT record fit many times over.
inline constexpr size_t kQueryBytesMax = 4096;

struct ServerOptions {
  hal::SockAddr bind;            // UDP, and TCP on the same port (port 0: TCP takes UDP's)
  ResponderConfig responder;
  size_t datagrams_per_pass = 64;
  uint64_t seed = 0;             // the shuffle's seed; the owner passes a random one
  bool tcp = true;
  // 64: TCP is the fallback after a truncated answer, and a resolver opens one connection at a
  // time; more at once is a client holding sockets open.
  size_t tcp_connections_max = 64;
  // 10 s: RFC 7766 §6.2.3 asks for "a few seconds"; common servers use 10 to 30.
  base::Duration tcp_idle_timeout = base::Duration::seconds(10);
  size_t tcp_pending_bytes_max = 64 * 1024;
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
  uint64_t tcp_accepted = 0;
  uint64_t tcp_refused = 0;       // over tcp_connections_max
  uint64_t tcp_bad_length = 0;    // a length prefix under a header or over kQueryBytesMax
  uint64_t tcp_idle_closed = 0;
  uint64_t tcp_paused = 0;        // times a connection stopped being read: its answers were pending
  uint64_t tcp_open = 0;
};

class Server {
 public:
  // The current view; it must stay valid until the call that asked for it returns.
  using ViewFn = std::function<View()>;

  Server(runtime::Loop& loop, hal::Net& net, ServerOptions options, ViewFn view);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the UDP socket (and the TCP listener) and starts answering. Errors: the sockets' (kIo:
  // the port is taken).
  [[nodiscard]] base::Status start();
  void stop();
  base::Result<hal::SockAddr> local_addr() const;  // UDP's; TCP listens on the same port
  const ServerCounters& counters() const { return counters_; }

  // One query's answer into `out` (also used by agentctl's resolver through the HTTP API later);
  // returns the size, 0 for a datagram that is dropped.
  size_t answer(std::span<const uint8_t> query, bool over_tcp, std::span<uint8_t> out);

 private:
  base::Status start_once();
  struct TcpConn {
    hal::Handle handle = hal::kInvalidHandle;
    uint8_t interest = 0;
    std::vector<uint8_t> in;   // 2 + kQueryBytesMax: one length prefix and query at most
    size_t in_len = 0;
    std::vector<uint8_t> out;  // answers not yet written, from out_at
    size_t out_at = 0;
    bool peer_eof = false;
    base::MonoTime last_progress;
  };

  void on_readable();
  void on_accept();
  void on_tcp_io(uint64_t id, uint8_t ready);
  // Answers every whole query in c.in; false when the connection must close.
  bool tcp_answer_buffered(TcpConn& c);
  bool wants_read(const TcpConn& c) const;
  // Writes what it can of c.out; false when the connection must close.
  bool tcp_flush(TcpConn& c);
  void tcp_update_interest(uint64_t id, TcpConn& c);
  void tcp_close(uint64_t id);
  void arm_sweep();
  void sweep();

  runtime::Loop& loop_;
  hal::Net& net_;
  ServerOptions options_;
  ViewFn view_;
  hal::Handle udp_ = hal::kInvalidHandle;
  uint64_t seed_ = 0;
  ServerCounters counters_;
  std::vector<uint8_t> in_;   // one datagram
  std::vector<uint8_t> out_;  // one answer
  hal::Handle listener_ = hal::kInvalidHandle;
  std::map<uint64_t, std::unique_ptr<TcpConn>> tcp_;
  uint64_t next_tcp_id_ = 1;
  std::vector<uint8_t> tcp_out_;  // 2 + 65535: one framed TCP answer
  runtime::TimerId sweep_timer_ = runtime::kNoTimer;
};

}  // namespace dns
