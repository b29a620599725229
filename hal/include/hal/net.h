// hal/net.h -- non-blocking sockets: UDP, TCP (IPv4 and IPv6) and Unix domain streams.
//
// A socket is a Handle: a small non-negative integer owned by the Net that made it, valid until
// close(). Handles are pollable with hal::Poller. Every call is non-blocking:
//   - an operation that would block returns Code::kUnavailable ("would block"); wait for the
//     Poller to report the handle readable/writable and try again;
//   - connect() returns at once; the connection is established (or failed) when the handle
//     becomes writable, and connect_result() says which;
//   - read() returning 0 bytes means the peer closed its side (EOF);
//   - a hard error (reset, refused, unreachable) is Code::kIo (kTimeout for timeouts) with the
//     OS's reason in the message. OS errno values never leave the HAL port.
// Datagrams larger than the receive buffer are dropped and reported as kResourceExhausted, never
// delivered truncated (the gossip layer must not parse half a packet).
//
// The subset used is the one lwIP's lwip_* API also offers (no sendmmsg, no SO_REUSEPORT
// tricks, no ancillary data), so hal/lwip can implement this header too.
//
// Threading: a Net is used from the event-loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "agent/base/bytes.h"
#include "agent/base/status.h"

namespace hal {

using Handle = int32_t;
inline constexpr Handle kInvalidHandle = -1;

enum class AddrFamily : uint8_t { kNone, kIpv4, kIpv6, kUnix };

// An endpoint: IPv4/IPv6 address and port, or a Unix socket path. A plain value.
struct SockAddr {
  AddrFamily family = AddrFamily::kNone;
  std::array<uint8_t, 16> ip{};  // network byte order; IPv4 uses the first 4 bytes
  uint16_t port = 0;             // host byte order
  std::string path;              // kUnix only; at most kUnixPathBytesMax bytes

  static constexpr size_t kUnixPathBytesMax = 107;

  static SockAddr ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port);
  static SockAddr ipv6_loopback(uint16_t port);
  static SockAddr unix_path(std::string_view path);

  // Parses "1.2.3.4:80", "[::1]:80", "unix:/run/agent/agent.sock" (or any string starting with
  // '/'), and, when `default_port` is non-zero, an address with no port ("1.2.3.4", "::1").
  // kInvalidArgument names what was wrong. No name resolution: hosts must be literal addresses.
  static base::Result<SockAddr> parse(std::string_view text, uint16_t default_port = 0);

  // "1.2.3.4:80", "[::1]:80", "unix:/path".
  std::string to_string() const;
  // The address part only: "1.2.3.4", "::1", "/path".
  std::string host_string() const;

  bool is_loopback() const;
  bool operator==(const SockAddr& o) const = default;
};

// An IP network in CIDR form ("10.0.0.0/8", "::1/128"): an address family, the network's
// address and a prefix length. A plain value, for allow-lists such as DNS's recursion networks.
struct IpNetwork {
  AddrFamily family = AddrFamily::kNone;  // kIpv4 or kIpv6
  std::array<uint8_t, 16> ip{};           // network byte order; bits past prefix_bits are zero
  uint8_t prefix_bits = 0;                // 0..32 for IPv4, 0..128 for IPv6

  // Parses "address/prefix" (no brackets, no port, no zone). A bare address is one host (/32 or
  // /128). kInvalidArgument names what was wrong, including host bits set past the prefix
  // ("10.0.0.1/8": did you mean 10.0.0.0/8?), which is refused rather than silently masked.
  static base::Result<IpNetwork> parse(std::string_view text);
  // True when `addr` is an IP address inside this network. An IPv4-mapped IPv6 address
  // (::ffff:a.b.c.d, how a dual-stack socket shows an IPv4 peer) matches IPv4 networks by its
  // IPv4 address. Unix and unset addresses never match.
  bool contains(const SockAddr& addr) const;
  // "10.0.0.0/8", "::1/128".
  std::string to_string() const;
  bool operator==(const IpNetwork& o) const = default;
};

struct ListenOptions {
  int backlog = 128;
  // Unix sockets only: the file mode applied after bind (0600: owner-only, for agent.sock).
  uint32_t unix_mode = 0600;
  // Unix sockets only: remove a stale socket file at the path before binding.
  bool unix_unlink_stale = true;
};

// One datagram of a batch (Net::udp_recv_batch, Net::udp_send_batch).
struct UdpMessage {
  std::span<uint8_t> buf;  // receive: where the datagram goes; send: its bytes start here
  size_t size = 0;         // receive: the datagram's real length, larger than buf.size() when it
                           // did not fit (the rest was cut: the caller drops it); send: bytes to send
  SockAddr peer;           // receive: the sender; send: the destination
};

class Net {
 public:
  virtual ~Net() = default;

  // A UDP socket bound to `bind` (port 0 picks one). Works for IPv4 and IPv6.
  virtual base::Result<Handle> udp_open(const SockAddr& bind) = 0;
  // Sends one datagram. kUnavailable if the send buffer is full (the caller drops and counts).
  virtual base::Result<size_t> udp_send(Handle h, const SockAddr& to, base::ByteSpan data) = 0;
  // Receives one datagram into `buf`, its sender into `from`. kUnavailable if none is queued.
  virtual base::Result<size_t> udp_recv(Handle h, std::span<uint8_t> buf, SockAddr* from) = 0;
  // Up to msgs.size() queued datagrams, each into its msgs[i].buf (size and peer set); returns
  // how many (at least one), kUnavailable if none is queued. One system call where the platform
  // has one (Linux recvmmsg); this default calls udp_recv in a loop (lwIP, the simulator).
  virtual base::Result<size_t> udp_recv_batch(Handle h, std::span<UdpMessage> msgs);
  // Sends each msgs[i] (buf's first size bytes to peer), in order; returns how many went. Stops
  // at the first that cannot go: its error if it is the first, else the count so far. One system
  // call where the platform has one (Linux sendmmsg); this default calls udp_send in a loop.
  virtual base::Result<size_t> udp_send_batch(Handle h, std::span<const UdpMessage> msgs);

  // A listening stream socket: TCP for IPv4/IPv6 addresses, a Unix socket for a path.
  virtual base::Result<Handle> listen(const SockAddr& bind, const ListenOptions& options) = 0;
  // Accepts one pending connection (non-blocking, close-on-exec). kUnavailable if none.
  virtual base::Result<Handle> accept(Handle listener, SockAddr* peer) = 0;
  // Starts a non-blocking connect; see the file comment for completion.
  virtual base::Result<Handle> connect(const SockAddr& to) = 0;
  // After a connecting handle became writable: OK if connected, kIo with the reason if not.
  virtual base::Status connect_result(Handle h) = 0;

  // Stream I/O. read() returns 0 at EOF. Both return kUnavailable when they would block.
  virtual base::Result<size_t> read(Handle h, std::span<uint8_t> buf) = 0;
  virtual base::Result<size_t> write(Handle h, base::ByteSpan data) = 0;
  // Half-close: no more writes from us; the peer reads EOF.
  virtual void shutdown_write(Handle h) = 0;

  // The address a socket is bound to (to learn an ephemeral port).
  virtual base::Result<SockAddr> local_addr(Handle h) = 0;
  // Closes the handle; it must no longer be watched by a Poller. Closing an invalid handle is a
  // programming error (asserts).
  virtual void close(Handle h) = 0;
};

}  // namespace hal
