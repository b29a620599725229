// hal/posix/posix_net.h -- hal::Net over BSD sockets (Linux; other POSIX systems with accept4).
//
// A Handle is the socket's file descriptor. Every socket is created non-blocking and
// close-on-exec (SOCK_NONBLOCK | SOCK_CLOEXEC), so no child process of the supervisor inherits
// one. What this port adds to the contract in hal/net.h:
//   - TCP listeners set SO_REUSEADDR, so a restarted agent can bind its port while connections
//     of its previous life sit in TIME_WAIT. IPv6 sockets set IPV6_V6ONLY: "::" listens on IPv6
//     only, and a dual-stack service opens an IPv4 socket too, as on lwIP and Windows.
//   - TCP streams (connected and accepted) set TCP_NODELAY: the agent writes whole messages
//     (RPC frames, HTTP responses) and wants them sent at once, not after a delayed ACK.
//   - Unix listeners: bind, chmod the path to ListenOptions::unix_mode, then listen, so nobody can
//     connect in the window before the mode is applied. With unix_unlink_stale, a socket file
//     already at the path is removed only if nobody accepts on it (a connect is refused);
//     if another process is listening there, listen() fails with kAlreadyExists. A path that
//     exists and is not a socket is never removed (kAlreadyExists).
//   - udp_recv() uses MSG_TRUNC to learn a datagram's real length: one longer than the buffer
//     is consumed and reported as kResourceExhausted, never delivered cut short.
//   - Writes use MSG_NOSIGNAL: a write to a closed peer is kIo ("Broken pipe"), never SIGPIPE.
//   - connect() returns a hard failure the kernel reports at once (a Unix path nobody listens on)
//     as its own error; TCP failures arrive later through connect_result(). connect_result()
//     on a handle still connecting returns kUnavailable.
//   - read() requires a non-empty buffer: an empty one would make "0 bytes" mean two things.
// Only calls that lwIP's socket API also has are used (no sendmmsg, no ancillary data, no
// SO_REUSEPORT). No name resolution anywhere: the static binary has no NSS.
//
// Threading: loop thread only (hal/net.h); the handle table is not locked.
// Ownership: the PosixNet owns every handle it returned until close(); the destructor closes any
// still open.
#pragma once

#include <cstdint>
#include <vector>

#include "hal/net.h"

namespace hal::posix {

class PosixNet final : public hal::Net {
 public:
  PosixNet() = default;
  ~PosixNet() override;
  PosixNet(const PosixNet&) = delete;
  PosixNet& operator=(const PosixNet&) = delete;

  base::Result<Handle> udp_open(const SockAddr& bind) override;
  base::Result<size_t> udp_send(Handle h, const SockAddr& to, base::ByteSpan data) override;
  base::Result<size_t> udp_recv(Handle h, std::span<uint8_t> buf, SockAddr* from) override;
  // recvmmsg / sendmmsg, at most kUdpBatchMax datagrams per call.
  base::Result<size_t> udp_recv_batch(Handle h, std::span<UdpMessage> msgs) override;
  base::Result<size_t> udp_send_batch(Handle h, std::span<const UdpMessage> msgs) override;

  base::Result<Handle> listen(const SockAddr& bind, const ListenOptions& options) override;
  base::Result<Handle> accept(Handle listener, SockAddr* peer) override;
  base::Result<Handle> connect(const SockAddr& to) override;
  base::Status connect_result(Handle h) override;

  base::Result<size_t> read(Handle h, std::span<uint8_t> buf) override;
  base::Result<size_t> write(Handle h, base::ByteSpan data) override;
  void shutdown_write(Handle h) override;

  base::Result<SockAddr> local_addr(Handle h) override;
  void close(Handle h) override;

  // Handles open now (for tests and the agent's self-report).
  size_t open_count() const;

 private:
  enum class Kind : uint8_t { kNone, kUdp, kListener, kStream };

  void track(Handle h, Kind kind);
  Kind kind_of(Handle h) const;
  void expect(Handle h, Kind kind) const;

  std::vector<Kind> kinds_;  // indexed by handle (fd)
};

}  // namespace hal::posix
