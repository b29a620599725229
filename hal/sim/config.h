// hal/sim/config.h -- the knobs of a simulated fleet: link faults, buffer sizes, timeouts.
//
// A SimConfig is given to sim::World at construction; link faults can also be changed later,
// globally or per directed link (World::set_link_faults). Every field says its unit and why its
// default is what it is. Defaults model a quiet datacenter LAN: no loss, no duplication, a small
// random delay (which already reorders datagrams: two datagrams sent back to back arrive in
// either order when their sampled delays cross). Tests that want faults turn them on.
//
// Plain values; no threading concerns. Not here: partitions and crashes (those are actions on
// the World, not configuration).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/time.h"
#include "agent/runtime/loop.h"
#include "hal/net.h"
#include "hal/sysinfo.h"

namespace sim {

// Nodes are numbered 0, 1, 2, ... in the order they were added. Never reused.
using NodeId = uint32_t;
inline constexpr NodeId kNoNode = UINT32_MAX;

class Node;

// What a node runs: the application objects a test builds on the node's Env and Loop (a gossip
// member, a Raft server, an echo service). The World destroys it when the node crashes and asks
// the node's StartFn for a new one when it restarts. Subclasses hold whatever they need; tests
// reach them with Node::process_as<T>() (no RTTI: the test knows what it installed).
class Process {
 public:
  virtual ~Process() = default;
};

// Builds a node's Process on `node` (its env(), loop(), executor() are ready). Called when the
// node is added and again after every restart. May return nullptr for a node whose sockets a
// test drives by hand.
using StartFn = std::function<std::unique_ptr<Process>(Node& node)>;

// Faults on one directed link (from one node to another). Same-node traffic (loopback, Unix
// sockets, a node sending to its own address) never goes through a link and is never faulted.
struct LinkFaults {
  // Probability that a datagram is lost. For streams a "lost" segment is retransmitted: the
  // chunk is delayed by SimConfig::stream_retransmit_delay instead (TCP hides loss as latency).
  double loss_probability = 0.0;
  // Probability that a datagram is delivered twice (each copy with its own sampled delay).
  // Streams ignore it (TCP discards duplicates).
  double duplicate_probability = 0.0;
  // One-way delay, sampled uniformly in [delay_min, delay_max] per datagram or stream chunk.
  // Datagrams whose delays cross are reordered; stream chunks never are (each direction of a
  // connection delivers in order: a chunk never arrives before the one written before it).
  // 50..500 us: a LAN round trip, enough spread that reordering happens by default.
  base::Duration delay_min = base::Duration::micros(50);
  base::Duration delay_max = base::Duration::micros(500);
};

struct SimConfig {
  // Default faults for every link between two different nodes.
  LinkFaults link;
  // Delay of same-node traffic (loopback, Unix sockets): fixed, so local traffic stays ordered.
  base::Duration local_delay = base::Duration::micros(10);
  // A stream whose next chunk cannot be delivered (partition, or a SYN to a node that is down)
  // for this long is reset on both ends with kTimeout, like TCP giving up on retransmissions.
  // Linux gives up after ~15 minutes; 10 s keeps simulated runs short while still much longer
  // than any protocol timer, so protocols see "a stalled connection" before "a dead one".
  base::Duration stream_stall_timeout = base::Duration::seconds(10);
  // Extra delay of a stream chunk whose link "lost" it: one TCP minimum RTO (200 ms on Linux).
  base::Duration stream_retransmit_delay = base::Duration::millis(200);
  // Bytes one side of a connection may have written and the peer not yet read: the send buffer
  // plus the peer's receive buffer. Past it write() takes less or returns kUnavailable. 256 KiB
  // is in the range Linux autotunes a LAN connection to.
  size_t stream_buffer_bytes = 256 * 1024;
  // Bytes of datagrams queued on one UDP socket before arriving ones are dropped
  // (DropReason::kBufferFull). Linux's default rmem is 208 KiB.
  size_t udp_recv_buffer_bytes = 256 * 1024;
  // Largest datagram udp_send() accepts: the IPv4 UDP maximum.
  size_t udp_datagram_bytes_max = 65507;
  // Pending connections per listener beyond which a SYN is refused (whatever the listener's own
  // backlog says, the smaller wins).
  int listen_backlog_max = 128;

  // Wall clock of every node at virtual time 0: 2026-01-01T00:00:00Z, so logs read like dates.
  int64_t wall_epoch_unix_ns = 1767225600LL * 1000 * 1000 * 1000;
  // Each node's wall clock is offset by a value drawn uniformly in [-wall_skew_max,
  // wall_skew_max] when it is added. Zero: all wall clocks agree.
  base::Duration wall_skew_max = base::Duration::zero();

  // The simulated worker pool (sim::SimExecutor): `work` runs inline at submit(), `done` runs on
  // the node's loop after a latency drawn in [min, max] -- an fsync'd SQLite commit on an SSD.
  base::Duration executor_latency_min = base::Duration::micros(100);
  base::Duration executor_latency_max = base::Duration::millis(5);
  size_t executor_queue_max = 256;

  // Bytes of each node's simulated disk; past it writes fail with kResourceExhausted.
  uint64_t disk_bytes_max = 1ull << 30;
  // Probability that a node's crash is torn (hal/sim/fs.h): part of the unsynced random-access
  // writes (SQLite's, through hal/sim/sqlite_vfs.h) survive, the last survivor cut at a sector
  // boundary. 0 by default: a crash loses exactly the unsynced writes, as before; tests of
  // storage code turn it on.
  double disk_tear_probability = 0.0;
  // The tearing granularity: 512 B, the logical sector of most disks (and the smallest SQLite
  // must survive).
  uint32_t disk_sector_bytes = 512;
  // Probability that a file sync (SQLite's xSync) cuts the node's power instead: the node crashes
  // with that file's writes unsynced (hal/sim/fs.h). 0 by default; storage tests turn it on,
  // since otherwise a crash never falls between SQLite's write and its fsync.
  double disk_crash_in_sync_probability = 0.0;

  // Text lines of trace kept (the most recent ones); 0 records none. The trace hash always
  // covers every event whatever this says.
  size_t trace_lines_max = 0;
  // A node that runs this many times in a row without virtual time advancing is livelocked
  // (level-triggered readiness nobody consumes): the World asserts instead of spinning forever.
  uint64_t same_time_runs_max = 1000000;

  // AGENT_BUGGIFY sites (agent/base/buggify.h; live only in builds defining WEFT_BUGGIFY):
  // when on, the World installs the hook for its lifetime; each site is enabled in a run with
  // probability buggify_site_probability (decided from the seed and the site's file:line) and an
  // enabled site fires with the probability it names. Off by default: a test asks for it.
  bool buggify = false;
  double buggify_site_probability = 0.25;

  runtime::LoopLimits loop_limits;
};

// One node's identity. Everything but `name` and `start` has a default.
struct NodeConfig {
  std::string name;
  // The node's IP addresses (ports ignored), unique across the World. Empty: one IPv4 address,
  // 10.0.x.y counted from 10.0.0.1 by node id. The first address is the node's primary one: the
  // source of datagrams sent from a socket bound to the unspecified address.
  std::vector<hal::SockAddr> addresses;
  StartFn start;
  // What SysInfo::read() reports. Empty hostname: the node's name; empty interfaces: one "eth0"
  // carrying the node's addresses as /24 (/64 for IPv6).
  hal::SysFacts facts;
  // What SysInfo::environment() reports.
  std::vector<std::string> environment;
};

}  // namespace sim
