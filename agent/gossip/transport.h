// gossip::Transport: the runtime side of membership. It binds one UDP socket and one TCP listener
// on the same port through hal::Net, drives the sans-I/O core (swim.h) from a runtime::Loop, and
// runs every datagram and every push-pull frame through an optional crypto envelope.
//
//   UDP   each datagram: envelope open (if any) -> Swim::on_datagram; each outgoing packet from
//         the core: envelope seal -> udp_send. The core keeps its compound packets within
//         packet_bytes_max minus crypto::kEnvelopeOverheadBytesMax when an envelope is set.
//   TCP   push-pull: one length-prefixed frame each way (u32 little-endian length, then the
//         sealed or plain push-pull message), bounded by frame_bytes_max, each stream bounded in
//         time by SwimConfig::stream_timeout and in number by streams_max (past it an inbound
//         connection is closed at once and counted).
//   Timer one Loop timer armed at the core's next_deadline(), re-armed after every input.
// Everything dropped is counted (TransportCounters): datagrams that failed to open (by
// DropReason), oversized datagrams and frames, send failures, refused streams, timeouts.
//
// Member and user events reach the owner through callbacks run on the loop, right after the
// input that caused them; members() is a snapshot. The owner persists the generation (bumped on
// every start) and passes it in TransportConfig: incarnations then survive restarts.
//
// Threading: the loop's thread only. Ownership: borrows the Env and Loop (they outlive it) and the
// envelope if one is set; owns its sockets, which the destructor closes (no goodbye: call leave()
// first for a graceful exit).
// Not here: the protocol (swim.h), keys (crypto/), the HTTP/agentctl views (agent/main).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/gossip/config.h"
#include "agent/gossip/crypto/envelope.h"
#include "agent/gossip/member.h"
#include "agent/gossip/swim.h"
#include "agent/runtime/loop.h"
#include "hal/env.h"
#include "hal/net.h"

namespace gossip {

struct TransportConfig {
  std::string name;  // the member's name, unique in the fleet
  Tags tags;
  // Persisted by the owner and bumped on every start (member.h, initial_incarnation).
  uint64_t generation = 0;
  Profile profile = Profile::kLan;
  // Protocol tunables; start() uses profile_config(profile) unless use_custom_swim is set.
  bool use_custom_swim = false;
  SwimConfig swim;
  // Largest datagram sent, envelope included. 1400 fits an Ethernet MTU with IP/UDP headers.
  size_t packet_bytes_max = 1400;
  // Largest push-pull frame, envelope included.
  size_t frame_bytes_max = wire::kPushPullBytesMax + crypto::kEnvelopeOverheadBytesMax;
  // TCP streams (inbound and outbound push-pulls) open at once. 16: push-pull is rare (one per
  // 30 s per member), so 16 only fills up under a join storm or an attack.
  size_t streams_max = 16;
  // Datagrams read per readiness callback before yielding to timers and other handles.
  size_t datagrams_per_wakeup_max = 64;
  // Receive buffer for one datagram; larger ones are dropped by the HAL and counted.
  size_t datagram_buffer_bytes = 65536;
  // Testing only (the simulator's "slow but alive" member, as Lifeguard's paper tests it): every
  // received datagram is handed to the core this much later. Zero in the agent.
  base::Duration test_processing_delay = base::Duration::zero();
};

// What the transport calls to seal and open packets: crypto::Envelope through set_envelope(), or
// a test double. (A seam of its own so that this module links without the crypto module's
// object code when no envelope is used.)
class Sealer {
 public:
  virtual ~Sealer() = default;
  virtual base::Status seal(crypto::EnvelopeKind kind, base::ByteSpan plaintext, base::MonoTime now,
                            std::string* out) = 0;
  virtual crypto::DropReason open(crypto::EnvelopeKind kind, base::ByteSpan packet, base::MonoTime now,
                                  std::string* plaintext) = 0;
};

template <typename E>
class EnvelopeSealer final : public Sealer {
 public:
  explicit EnvelopeSealer(E& e) : e_(e) {}
  base::Status seal(crypto::EnvelopeKind kind, base::ByteSpan plaintext, base::MonoTime now,
                    std::string* out) override {
    return e_.seal(kind, plaintext, now, out);
  }
  crypto::DropReason open(crypto::EnvelopeKind kind, base::ByteSpan packet, base::MonoTime now,
                          std::string* plaintext) override {
    return e_.open(kind, packet, now, plaintext);
  }

 private:
  E& e_;
};

struct TransportCounters {
  uint64_t datagrams_received = 0;
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_send_failed = 0;   // udp_send refused (buffer full, unreachable)
  uint64_t datagrams_oversized = 0;     // over packet_bytes_max (either way) or over the buffer
  uint64_t datagrams_seal_failed = 0;
  // Opened by the envelope, by crypto::DropReason (index 0 unused).
  std::array<uint64_t, static_cast<size_t>(crypto::DropReason::kCount_)> envelope_dropped{};
  uint64_t streams_accepted = 0;
  uint64_t streams_refused = 0;         // past streams_max
  uint64_t streams_opened = 0;
  uint64_t streams_failed = 0;          // connect/read/write errors and early EOF
  uint64_t streams_timed_out = 0;
  uint64_t frames_oversized = 0;
  uint64_t frames_rejected = 0;         // the core refused the push-pull (decode error)
};

class Transport {
 public:
  using MemberCallback = std::function<void(const MemberEvent&)>;
  using UserEventCallback = std::function<void(const ReceivedUserEvent&)>;

  Transport(hal::Env& env, runtime::Loop& loop, TransportConfig config);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Seals and opens everything through `envelope` (null: plaintext, for tests and dev mode).
  // Call before start(). A template so that plaintext users do not link the crypto module.
  template <typename E>
  void set_envelope(E* envelope) {
    owned_sealer_.reset();
    if (envelope != nullptr) owned_sealer_ = std::make_unique<EnvelopeSealer<E>>(*envelope);
    sealer_ = owned_sealer_.get();
  }
  // Same, with any Sealer (tests). Borrowed; must outlive the Transport.
  void set_sealer(Sealer* sealer) {
    owned_sealer_.reset();
    sealer_ = sealer;
  }

  // Binds UDP and TCP on `bind` (port 0 picks one; both sockets then share the UDP socket's
  // port) and starts the core with `advertise` as our address (its port 0 means the bound port;
  // its unspecified IP is refused: peers must be told a reachable address). kInvalidArgument for
  // a bad config or identity, kIo / kAlreadyExists from the sockets, kFailedPrecondition if
  // started already.
  [[nodiscard]] base::Status start(const hal::SockAddr& bind, const hal::SockAddr& advertise);
  // The bound gossip address (UDP and TCP share it). Valid after start().
  hal::SockAddr bound_addr() const { return bound_; }
  bool started() const { return swim_ != nullptr; }

  // Joins through `addrs` (push-pull with each); they are retried every rejoin_interval while
  // any is not a known live member. With `ignore_old_events` the user events fired before the
  // join are not delivered (Swim::join). kFailedPrecondition if not started.
  [[nodiscard]] base::Status join(std::span<const hal::SockAddr> addrs, bool ignore_old_events);
  // Gracefully leaves: gossips a leave notice and calls `done` once it was transmitted enough
  // times (OK) or `timeout` passed (kTimeout). Probing stops at once; the sockets stay open until
  // the owner destroys the Transport, so the notice can still go out.
  [[nodiscard]] base::Status leave(base::Duration timeout, std::function<void(base::Status)> done);

  [[nodiscard]] base::Status set_tags(Tags tags);
  [[nodiscard]] base::Status send_user_event(std::string_view name, std::string_view payload);
  [[nodiscard]] base::Status force_leave(std::string_view name);

  // Reads. members() is a snapshot ordered by name, ourselves included.
  std::vector<Member> members() const;
  const std::deque<ReceivedUserEvent>& recent_user_events() const;
  uint32_t health_score() const;
  uint64_t incarnation() const;
  const TransportCounters& counters() const { return counters_; }
  const SwimCounters& swim_counters() const;
  // The core, for tests and the agent's detailed views (null before start()).
  const Swim* swim() const { return swim_.get(); }

  // Callbacks run on the loop right after the input that caused the event.
  void on_member_event(MemberCallback cb) { member_cb_ = std::move(cb); }
  void on_user_event(UserEventCallback cb) { user_cb_ = std::move(cb); }

 private:
  struct Stream;

  void on_udp_readable();
  void deliver_datagram(const hal::SockAddr& from, base::ByteSpan plain);
  void on_accept();
  void open_stream(const PushPullOpen& open);
  void on_stream_io(hal::Handle h, uint8_t ready);
  void stream_timeout(hal::Handle h);
  void stream_read(Stream& s);
  void stream_write(Stream& s);
  void stream_got_frame(Stream& s);
  void close_stream(hal::Handle h, bool failed);
  base::Status seal_frame(base::ByteSpan plain, std::string* out);
  void flush();
  void arm_timer();
  void on_timer();
  void check_leave();

  hal::Env& env_;
  runtime::Loop& loop_;
  TransportConfig config_;
  Sealer* sealer_ = nullptr;
  std::unique_ptr<Sealer> owned_sealer_;
  std::unique_ptr<Swim> swim_;
  hal::Handle udp_ = hal::kInvalidHandle;
  hal::Handle listener_ = hal::kInvalidHandle;
  hal::SockAddr bound_;
  std::map<hal::Handle, std::unique_ptr<Stream>> streams_;
  runtime::TimerId timer_ = runtime::kNoTimer;
  base::MonoTime timer_at_ = base::MonoTime::never();
  std::vector<uint8_t> rx_;
  std::string scratch_;
  std::string sealed_;
  TransportCounters counters_;
  MemberCallback member_cb_;
  UserEventCallback user_cb_;
  std::function<void(base::Status)> leave_done_;
  runtime::TimerId leave_timer_ = runtime::kNoTimer;
  bool in_flush_ = false;
  // Datagrams waiting for test_processing_delay, oldest first; bounded like a socket buffer.
  struct Delayed {
    base::MonoTime due;
    hal::SockAddr from;
    std::string bytes;
  };
  std::deque<Delayed> delayed_;
};

}  // namespace gossip
