// hal/sim/net.h -- sim::SimNet: one node's sockets, implementing hal::Net over the simulated
// network (sim::Network).
//
// What a node's code sees, and how it differs from a kernel:
//   UDP   udp_open binds a port on one of the node's addresses, the unspecified address or
//         loopback. udp_send never blocks and never fails for the network's sake: whatever the
//         network does (loss, delay, duplication, reordering, partition, no listener) happens
//         silently, as with a real NIC. Datagrams queue on the receiving socket up to
//         SimConfig::udp_recv_buffer_bytes, then are dropped. udp_recv into a buffer smaller
//         than the datagram drops it and returns kResourceExhausted (hal/net.h).
//   TCP   listen/accept/connect/connect_result/read/write/shutdown_write with the contract's
//         non-blocking semantics: connect returns at once in the connecting state; the handle
//         becomes writable when the SYN-ACK arrives (connect_result OK) or when the connection
//         failed (kIo "connection refused" when no listener is on the port, kTimeout when the
//         SYN could not get through within SimConfig::stream_stall_timeout). Each direction is
//         a reliable, in-order byte stream: what one side writes the other reads in order,
//         delayed by the link, possibly split or merged across reads. write() accepts at most
//         SimConfig::stream_buffer_bytes not yet read by the peer (send buffer + peer's receive
//         buffer), then kUnavailable. shutdown_write sends FIN: the peer reads 0 (EOF) after the
//         data. close() sends FIN, or RST if unread data was pending (as Linux does). A reset
//         connection fails every later read/write with kIo (kTimeout if it timed out) and
//         reports kError|kHangup.
//   Unix  stream sockets on a path, local to the node (a connect from another node cannot reach
//         them); same semantics as TCP, with the local (fixed, fault-free) delay.
// One socket per port and protocol per node, whatever address it is bound to (a
// simplification: binding 10.0.0.1:80 and 127.0.0.1:80 at once is refused). Handles are never
// reused within a node incarnation.
//
// Threading: the simulation thread only. Ownership: one SimNet per node incarnation; when the
// node crashes the World calls crash() (every connection is reset towards its peer) and then
// destroys it. close() of a handle still registered with the node's poller asserts (hal/net.h
// says it must be unwatched first).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "hal/net.h"
#include "hal/sim/config.h"
#include "hal/sim/poller.h"

namespace sim {

class Network;

class SimNet final : public hal::Net, public ReadinessSource {
 public:
  SimNet(Network& network, NodeId node, uint64_t incarnation, HandleSpace& space, const SimPoller& poller);
  SimNet(const SimNet&) = delete;
  SimNet& operator=(const SimNet&) = delete;

  base::Result<hal::Handle> udp_open(const hal::SockAddr& bind) override;
  base::Result<size_t> udp_send(hal::Handle h, const hal::SockAddr& to, base::ByteSpan data) override;
  base::Result<size_t> udp_recv(hal::Handle h, std::span<uint8_t> buf, hal::SockAddr* from) override;
  base::Result<hal::Handle> listen(const hal::SockAddr& bind, const hal::ListenOptions& options) override;
  base::Result<hal::Handle> accept(hal::Handle listener, hal::SockAddr* peer) override;
  base::Result<hal::Handle> connect(const hal::SockAddr& to) override;
  base::Status connect_result(hal::Handle h) override;
  base::Result<size_t> read(hal::Handle h, std::span<uint8_t> buf) override;
  base::Result<size_t> write(hal::Handle h, base::ByteSpan data) override;
  void shutdown_write(hal::Handle h) override;
  base::Result<hal::SockAddr> local_addr(hal::Handle h) override;
  void close(hal::Handle h) override;

  bool owns(hal::Handle h) const override { return sockets_.count(h) != 0; }
  uint8_t readiness(hal::Handle h) const override;
  size_t open_count() const { return sockets_.size(); }

  // The node is crashing: from now on close() is ignored (the process's destructors may still
  // call it), and crash() resets every connection towards its peer -- no FIN, no goodbye.
  void begin_crash() { crashing_ = true; }
  void crash();

 private:
  friend class Network;

  enum class Kind : uint8_t { kUdp, kListener, kStream };
  enum class StreamState : uint8_t { kConnecting, kEstablished, kFailed, kReset };
  struct Datagram {
    hal::SockAddr from;
    std::string data;
  };
  struct Socket {
    Kind kind = Kind::kUdp;
    hal::SockAddr local;
    // kUdp
    std::deque<Datagram> rx_datagrams;
    size_t rx_bytes = 0;
    // kListener
    std::deque<hal::Handle> accept_queue;
    size_t backlog = 0;
    // kStream
    uint64_t conn = 0;
    uint8_t side = 0;  // 0: the connecting side, 1: the accepted side
    StreamState state = StreamState::kConnecting;
    base::Status error;  // why kFailed / kReset
    hal::SockAddr peer;
    std::string rx;  // received, not yet read; rx_off bytes of it already read
    size_t rx_off = 0;
    bool peer_eof = false;
    bool write_shut = false;
    size_t unread_by_peer = 0;  // written, not yet read by the peer's application
  };

  Socket* find(hal::Handle h, Kind kind);
  // Address validation for bind: one of ours, unspecified, or loopback, of an IP family.
  base::Status check_bind_ip(const hal::SockAddr& bind) const;
  uint16_t ephemeral_port(const std::map<uint16_t, hal::Handle>& taken);
  // The source address of traffic from a socket bound to `local` towards `to`.
  hal::SockAddr source_for(const hal::SockAddr& local, const hal::SockAddr& to) const;
  // Called by Network when a SYN arrives: the listener for `to`, or nullptr.
  Socket* find_listener(const hal::SockAddr& to);
  // Called by Network when a datagram arrives: the UDP socket for `to`, or nullptr.
  Socket* find_udp(const hal::SockAddr& to);
  hal::Handle add_accepted(Socket* listener, uint64_t conn, const hal::SockAddr& local, const hal::SockAddr& peer);
  // Removes a socket; a stream is closed towards its peer (RST if `abort`, the node is
  // crashing, or unread data was pending; FIN otherwise).
  void drop_socket(hal::Handle h, bool abort = false);

  Network& network_;
  NodeId node_;
  uint64_t incarnation_;
  HandleSpace& space_;
  const SimPoller& poller_;
  bool crashing_ = false;
  std::map<hal::Handle, Socket> sockets_;
  std::map<uint16_t, hal::Handle> udp_ports_;
  std::map<uint16_t, hal::Handle> tcp_ports_;
  std::map<std::string, hal::Handle> unix_paths_;
  uint16_t next_ephemeral_ = 49152;
};

}  // namespace sim
