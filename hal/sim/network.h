// hal/sim/network.h -- sim::Network: the wire between simulated nodes.
//
// The Network routes by IP address (each node registers its addresses; 127.0.0.0/8, ::1 and
// the unspecified address mean "this node"), samples each link's faults from the World's
// network PRNG, and schedules every arrival as an event on the World's queue. It implements:
//
//   Datagrams  lost with probability loss_probability, duplicated with duplicate_probability,
//              each copy delayed uniformly in [delay_min, delay_max] -- so datagrams are
//              reordered whenever their delays cross. A partition drops a datagram when it is
//              sent and also when it would arrive (a partition made while it is in flight cuts
//              it too). A datagram arriving at a crashed node, at a port nobody has bound, or at
//              a full receive queue is dropped. Every drop is counted by reason (NetStats) and
//              traced.
//   Streams    one Conn per connection with two directed pipes of chunks (SYN, SYN-ACK, data,
//              FIN, RST). A pipe delivers in order: a chunk's arrival is never before the
//              previous chunk's. Link loss becomes a retransmission delay. A chunk that cannot
//              cross (partition; a SYN towards a node that is down) stalls its pipe; if it is
//              still stuck after stream_stall_timeout the connection is reset on both ends with
//              kTimeout (a SYN: connect fails with kTimeout). Healing a partition (or restarting
//              the node a SYN waits for) lets stalled pipes flow again, after a fresh link
//              delay. A crash sends RST to every peer of the crashed node's connections (after
//              what was already on the wire); data reaching a socket that was closed is answered
//              with RST, like a kernel does.
//   Partitions a set of rules, each "traffic from any node of A to any node of B is cut" (a
//              two-way partition is two rules under one id). Same-node traffic is never cut.
//
// Threading: the simulation thread only. Ownership: the World owns the Network; the Network
// reaches nodes through the World by id and never keeps a pointer to a node's sockets across
// events (a socket is found again, by node, incarnation and handle, each time).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/random.h"
#include "agent/base/status.h"
#include "agent/base/time.h"
#include "hal/net.h"
#include "hal/sim/config.h"
#include "hal/sim/net.h"
#include "hal/sim/trace.h"

namespace sim {

class World;

enum class DropReason : uint8_t {
  kLoss = 0,      // the link lost it (LinkFaults::loss_probability)
  kPartition,     // a partition cut the link (at send or at arrival)
  kCrash,         // the destination node was down when it arrived
  kNoListener,    // nothing bound to the destination port
  kNoRoute,       // no node has the destination address
  kBufferFull,    // the receiving socket's queue was full
  kCount,
};
inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);
std::string_view drop_reason_name(DropReason reason);

struct NetStats {
  uint64_t datagrams_sent = 0;        // udp_send calls that reached the network
  uint64_t datagrams_delivered = 0;   // copies queued on a receiving socket
  uint64_t datagrams_duplicated = 0;  // extra copies made by the duplication fault
  std::array<uint64_t, kDropReasonCount> datagrams_dropped{};
  uint64_t dropped(DropReason r) const { return datagrams_dropped[static_cast<size_t>(r)]; }
  uint64_t dropped_total() const;

  uint64_t streams_connecting = 0;  // connect() calls
  uint64_t streams_accepted = 0;    // SYNs a listener took
  uint64_t streams_established = 0; // SYN-ACKs that reached the connecting side
  uint64_t streams_refused = 0;     // SYNs nobody listened for (or backlog full)
  uint64_t streams_reset = 0;       // RSTs delivered to a live socket
  uint64_t streams_timed_out = 0;   // connections (or connects) reset after a stall
  uint64_t stream_stalls = 0;       // times a pipe stalled
  uint64_t stream_retransmits = 0;  // chunks the link "lost" and so delayed
  uint64_t stream_bytes_written = 0;
  uint64_t stream_bytes_delivered = 0;
};

// Identifies a partition made by World::partition / partition_oneway, for heal(id).
using PartitionId = uint64_t;

class Network {
 public:
  Network(World& world, const SimConfig& config, uint64_t seed);
  const SimConfig& config() const { return config_; }

  // --- topology -------------------------------------------------------------------------------
  // Registers `ip` (port ignored) as an address of `node`. Asserts that no node has it already.
  void add_address(NodeId node, const hal::SockAddr& ip);
  const std::vector<hal::SockAddr>& addresses(NodeId node) const;
  // The node `to` is addressed to, seen from `src`: src itself for loopback/unspecified/its own
  // address and for Unix paths; kNoNode if nobody has the address.
  NodeId route(NodeId src, const hal::SockAddr& to) const;

  // --- faults ---------------------------------------------------------------------------------
  void set_default_faults(const LinkFaults& faults) { config_.link = faults; }
  const LinkFaults& default_faults() const { return config_.link; }
  void set_link_faults(NodeId from, NodeId to, const LinkFaults& faults);
  void clear_link_faults(NodeId from, NodeId to);
  const LinkFaults& faults(NodeId from, NodeId to) const;

  PartitionId add_partition(std::vector<NodeId> from, std::vector<NodeId> to, bool both_ways);
  // Returns false if `id` is not (or no longer) in force.
  bool heal(PartitionId id);
  void heal_all();
  size_t partitions_in_force() const { return partitions_.size(); }
  // True if a partition cuts traffic from `from` to `to` now (never for from == to).
  bool cut(NodeId from, NodeId to) const;

  // --- called by SimNet -----------------------------------------------------------------------
  void udp_send(NodeId src, const hal::SockAddr& from, const hal::SockAddr& to, base::ByteSpan data);
  // Opens a connection from the socket (src, incarnation, h) at `from` towards `to`; returns its
  // id. The SYN travels like data.
  uint64_t connect(NodeId src, uint64_t incarnation, hal::Handle h, const hal::SockAddr& from,
                   const hal::SockAddr& to);
  void stream_write(uint64_t conn, uint8_t side, base::ByteSpan data);
  void stream_fin(uint64_t conn, uint8_t side);
  // The socket on `side` is gone (closed, or its node crashed). `abort`: send RST, else FIN
  // (unless a FIN was sent already).
  void stream_close(uint64_t conn, uint8_t side, bool abort);
  // The application on `reader_side` read `bytes`: they stop counting against the writer's
  // buffer (TCP's window opens).
  void stream_consumed(uint64_t conn, uint8_t reader_side, size_t bytes);
  void stream_accepted_socket(uint64_t conn, NodeId node, uint64_t incarnation, hal::Handle h);

  // --- called by the World --------------------------------------------------------------------
  // After a heal or a restart: pipes stalled on a cut that no longer holds flow again.
  void resume_stalled();

  const NetStats& stats() const { return stats_; }
  size_t connections() const { return conns_.size(); }

 private:
  enum class ChunkKind : uint8_t { kSyn, kSynAck, kData, kFin, kRst };
  struct Chunk {
    ChunkKind kind;
    std::string data;
    base::MonoTime arrival;
  };
  struct Side {
    NodeId node = kNoNode;
    uint64_t incarnation = 0;
    hal::Handle h = hal::kInvalidHandle;
    bool gone = false;      // its socket was closed, crashed away, or never existed (refused)
    bool fin_sent = false;
    bool rst_sent = false;
    std::deque<Chunk> out;  // towards the other side, in arrival order
    base::MonoTime last_arrival;
    base::MonoTime stalled_since = base::MonoTime::never();
    uint64_t stall_epoch = 0;
  };
  struct Conn {
    uint64_t id = 0;
    bool local = false;  // both sides on one node: fixed local delay, never cut
    bool dead = false;   // reset on both ends: nothing more flows
    hal::SockAddr client_addr;
    hal::SockAddr server_addr;
    Side side[2];
  };

  base::Duration sample_delay(NodeId from, NodeId to);
  // Takes the bytes (the arrival event owns them and runs once).
  void deliver_datagram(NodeId src, NodeId dst, const hal::SockAddr& from, const hal::SockAddr& to, std::string&& data,
                        uint64_t copy);
  void drop(DropReason reason, NodeId src, NodeId dst, const hal::SockAddr& from, const hal::SockAddr& to,
            base::ByteSpan data);

  void push_chunk(Conn& c, uint8_t s, ChunkKind kind, base::ByteSpan data);
  void pipe_event(uint64_t conn, uint8_t s);
  bool pipe_blocked(const Conn& c, uint8_t s) const;
  void stall(Conn& c, uint8_t s);
  void stall_check(uint64_t conn, uint8_t s, uint64_t epoch);
  void apply(Conn& c, uint8_t s, Chunk chunk);
  void accept_syn(Conn& c);
  // Fails/resets the live socket on `side` with `status`; `failed_connect` selects kFailed.
  void break_socket(Conn& c, uint8_t side, base::Status status);
  void kill_conn(Conn& c, base::Status status);
  void maybe_erase(uint64_t conn);
  // The live socket of `side`, or nullptr (closed, crashed, not accepted yet, other incarnation).
  SimNet::Socket* lookup(const Conn& c, uint8_t side);
  void touch(NodeId node);
  void trace_conn(TraceKind kind, const Conn& c, uint8_t side, std::string_view why);

  World& world_;
  SimConfig config_;
  base::Prng prng_;
  NetStats stats_;
  std::map<std::pair<uint8_t, std::array<uint8_t, 16>>, NodeId> routes_;
  std::map<NodeId, std::vector<hal::SockAddr>> addresses_;
  std::map<std::pair<NodeId, NodeId>, LinkFaults> link_faults_;
  struct Partition {
    std::set<NodeId> from;
    std::set<NodeId> to;
    bool both_ways;
  };
  std::map<PartitionId, Partition> partitions_;
  PartitionId next_partition_ = 1;
  std::map<uint64_t, Conn> conns_;
  uint64_t next_conn_ = 1;
  uint64_t next_datagram_ = 1;
};

}  // namespace sim
