// Swim: the membership core -- SWIM (Das, Gupta, Motivala, DSN 2002) with HashiCorp's Lifeguard
// refinements (Dadgar et al. 2017, arXiv:1707.00788) -- as a sans-I/O state machine.
//
// What it does, by paper section:
//   - Failure detection (SWIM 4.3 "round-robin probe target selection"): members are probed in
//     a shuffled order, reshuffled every round; a new member is inserted at a random position.
//     One probe per (awareness-scaled) probe_interval: a direct ping; if no ack within the
//     (scaled) probe_timeout, indirect pings through indirect_checks random members (SWIM 3.1,
//     "ping-req"); if still no ack by the end of the period, the target is suspected.
//   - Suspicion (SWIM 4.2): suspect -> dead after a timeout unless the suspect refutes with a
//     higher incarnation. The timeout is Lifeguard's dynamic one (IV.B, suspicion.h).
//   - Lifeguard IV.A: the local health multiplier (awareness.h) stretches our own timeouts;
//     indirect probers send nacks so a prober can tell "target dead" from "I am not hearing".
//   - Lifeguard IV.C, the buddy system: a ping to a suspected member carries the suspicion, so
//     the suspect learns of it on the next probe and refutes even if gossip missed it.
//   - Dissemination (SWIM 4.1): membership news piggybacks on every ping, ack and gossip packet
//     through a transmit-limited queue (broadcast_queue.h); gossip_interval rounds to a few random
//     members speed it up (memberlist's gossip(), not in the paper).
//   - Anti-entropy (not in SWIM; memberlist and Serf): full state push-pull over TCP on join,
//     every push_pull_interval with a random member, with one dead member every
//     reconnect_interval, and with a join address every rejoin_interval while one of them is not
//     a known live member -- the last heals a partition longer than the reap time.
//   - Graceful leave (Serf): a leave message, urgent in the queue; reaping of dead and left members
//     after dead_reap_timeout / left_reap_timeout.
//   - User events (Serf): Lamport-timed, de-duplicated (event_buffer.h), gossiped. A join may
//     ignore the events that happened before it (Serf's eventJoinIgnore / eventMinTime): the
//     first push-pull answered by a join address sets a floor at that member's event clock, and
//     events below the floor are dropped wherever they come from. See join().
//     Departure from Serf: events that arrive while that answer is outstanding -- gossiped or
//     pushed by members that learned of us from the join address before its answer reached us
//     -- are held until the floor is known, then filtered by it. Serf delivers them, so a
//     joiner slow to read its answer is handed the fleet's old events as new.
// Departures from the papers: a member answers each accusation (suspect or dead about itself)
// with its alive statement sent straight to the accuser, and a refutation goes straight to up to
// 32 random members besides being gossiped (gossip misses a member now and then, and a missed
// refutation is a false death);
// incarnations survive restarts (member.h, initial_incarnation);
// no TCP fallback ping (memberlist sends one; our indirect probes and Lifeguard's nacks cover
// the same ground without a stream per probe); a remote "dead" learned by push-pull becomes a
// local suspicion (as memberlist does), so a stale view cannot kill a live member outright.
//
// Driving it: the runtime calls on_datagram() with every decrypted datagram, on_push_pull() with
// every inbound push-pull request (and sends back what it returns), on_push_pull_reply() or
// on_push_pull_failed() for every exchange it opened, and on_tick() at next_deadline(). After
// each call it drains effects() -- datagrams to send, push-pull exchanges to open, member and
// user events -- with take_effects(). No socket, clock or random source is touched here; the
// time is an argument and randomness is a Prng seeded at construction.
//
// Threading: one thread (the node's loop). Ownership: owns its tables; the effects it returns are
// the caller's. Not here: sockets, framing on TCP, encryption (transport.h, crypto/).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/random.h"
#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/gossip/awareness.h"
#include "agent/gossip/broadcast_queue.h"
#include "agent/gossip/config.h"
#include "agent/gossip/event_buffer.h"
#include "agent/gossip/member.h"
#include "agent/gossip/suspicion.h"
#include "agent/wire/gossip_message.h"
#include "hal/net.h"

namespace gossip {

// Who this member is.
struct SwimIdentity {
  std::string name;          // unique in the fleet, at most wire::kNodeNameBytesMax bytes
  hal::SockAddr advertise;   // where others reach our UDP and TCP gossip port
  Tags tags;                 // at most wire::kTagsBytesMax bytes encoded
  // Persisted by the agent and bumped on every start (member.h, initial_incarnation).
  uint64_t generation = 0;
};

enum class MemberEventKind : uint8_t {
  kJoin,     // a member became known, or came back (alive after dead/left)
  kUpdate,   // an alive member's address or tags changed
  kSuspect,  // a member became suspect (not yet failed)
  kAlive,    // a suspect refuted and is alive again
  kFail,     // a member was declared dead
  kLeave,    // a member left gracefully (or was force-left)
  kReap,     // a dead or left member was forgotten
};
std::string_view member_event_name(MemberEventKind k);

struct MemberEvent {
  MemberEventKind kind = MemberEventKind::kJoin;
  Member member;  // the member's state after the event
  base::MonoTime time;
};

struct ReceivedUserEvent {
  uint64_t ltime = 0;
  std::string name;
  std::string payload;
  base::MonoTime received;
};

struct OutDatagram {
  hal::SockAddr to;
  std::string bytes;  // one plaintext packet (wire/gossip_message.h), at most packet_bytes_max
};

struct PushPullOpen {
  hal::SockAddr to;
  std::string request;  // plaintext push-pull message to send as one frame
  bool join = false;
};

struct Effects {
  std::vector<OutDatagram> datagrams;
  std::vector<PushPullOpen> push_pulls;
  std::vector<MemberEvent> member_events;
  std::vector<ReceivedUserEvent> user_events;
  bool empty() const {
    return datagrams.empty() && push_pulls.empty() && member_events.empty() && user_events.empty();
  }
};

struct SwimCounters {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t decode_errors = 0;          // datagrams or push-pull frames that did not decode
  uint64_t unknown_messages = 0;       // message types this version does not know (skipped)
  uint64_t pings_for_others = 0;       // pings whose target name is not ours
  uint64_t probes = 0;
  uint64_t probes_failed = 0;
  uint64_t indirect_probes = 0;        // ping-req sent
  uint64_t relays = 0;                 // ping-req relayed for others
  uint64_t relays_dropped_full = 0;
  uint64_t nacks_received = 0;
  uint64_t suspicions_started = 0;
  uint64_t refutations = 0;
  uint64_t members_declared_dead = 0;
  uint64_t members_reaped = 0;
  uint64_t leave_notices_requeued = 0;  // a leave notice that had gone only to non-alive members
  uint64_t members_rejected_full = 0;  // new names past members_max
  uint64_t push_pulls_opened = 0;
  uint64_t push_pulls_served = 0;
  uint64_t push_pulls_failed = 0;
  uint64_t user_events_sent = 0;
  uint64_t user_events_received = 0;
  uint64_t user_events_duplicate = 0;
  uint64_t user_events_stale = 0;
  uint64_t user_events_before_join = 0;  // below the floor an ignoring join set (not delivered)
  uint64_t user_events_held = 0;         // held while a join's answer was outstanding (join())
  uint64_t user_events_held_dropped = 0;  // held past join_held_events_max: lowest ltime dropped
  uint64_t effects_dropped = 0;
  uint64_t invalid_messages = 0;       // decoded but refused (bad name, oversized tags, ...)
};

class Swim {
 public:
  // `seed` seeds the probe order, indirect-probe and gossip target choices.
  // Asserts that config.validate() and the identity are valid (the caller validates first with
  // validate_identity()).
  Swim(SwimConfig config, SwimIdentity identity, uint64_t seed, base::MonoTime now);
  ~Swim();
  Swim(const Swim&) = delete;
  Swim& operator=(const Swim&) = delete;

  // kInvalidArgument if the name is empty or too long, the address has no port, or the tags are
  // over wire::kTagsBytesMax encoded.
  static base::Status validate_identity(const SwimIdentity& id);

  // --- inputs --------------------------------------------------------------------------------
  // Advances timers: probes, indirect probes, suspicion timeouts, gossip, push-pull, reaping.
  void on_tick(base::MonoTime now);
  // One decrypted datagram from `from`. Malformed input is counted and otherwise ignored.
  void on_datagram(const hal::SockAddr& from, base::ByteSpan bytes, base::MonoTime now);
  // An inbound push-pull request: merges the peer's state and returns ours as the reply frame
  // (plaintext), or an error (malformed request; nothing merged) after which the stream closes.
  base::Result<std::string> on_push_pull(const hal::SockAddr& from, base::ByteSpan request, base::MonoTime now);
  // The reply to a push-pull we opened (PushPullOpen), or its failure.
  void on_push_pull_reply(const hal::SockAddr& to, base::ByteSpan reply, base::MonoTime now);
  void on_push_pull_failed(const hal::SockAddr& to, base::MonoTime now);

  // --- commands ------------------------------------------------------------------------------
  // Opens a join push-pull to each address (at most 64; ours is skipped) and remembers them as
  // the join addresses retried every rejoin_interval. kInvalidArgument if none is usable.
  //
  // `ignore_old_events` is Serf's Join(addrs, ignoreOld): the user events this fleet fired before
  // we joined are not delivered to us as new. The first push-pull reply from each of these
  // addresses -- the join itself, or a retry after it failed (retry-join while the address was
  // not up) -- raises the event floor to that member's event clock + 1 (its clock is at least
  // every event time it has seen or sent, and the next event of any member that has seen as
  // much takes at least clock + 1, so later events pass);
  // every event below the floor is dropped, by gossip or push-pull alike, and counted in
  // user_events_before_join. Once one address of the join has answered, addresses of it whose
  // exchange failed no longer set a floor: a later exchange with them heals a partition rather
  // than joining, and what the fleet did meanwhile is news. With `ignore_old_events` false
  // (Serf's -replay) the fleet's recent events are delivered as they arrive by push-pull, and
  // an earlier ignoring join through the same address stops applying to it.
  //
  // While an exchange whose answer sets a floor is outstanding, the user events that arrive from
  // anyone are held (at most join_held_events_max, counted in user_events_held) instead of
  // delivered: the join address tells the fleet about us before its answer reaches us, so other
  // members gossip and push-pull to us in that window, and what they send may be older than the
  // floor that is on its way. When no such exchange is outstanding any more (answered, or
  // failed) the held events go through the floor like any other, oldest first.
  base::Status join(std::span<const hal::SockAddr> addrs, base::MonoTime now, bool ignore_old_events);
  // Leaves gracefully: stops probing, queues an urgent leave notice. leave_done() turns true
  // once the notice was transmitted its retransmit limit (or there is nobody to tell).
  // kFailedPrecondition if already leaving.
  base::Status leave(base::MonoTime now);
  bool leaving() const { return leaving_; }
  bool leave_done() const;
  // New tags: bumps the incarnation and gossips an alive message. kInvalidArgument if too big.
  base::Status set_tags(Tags tags, base::MonoTime now);
  // Spreads a user event. kInvalidArgument if the name is empty or too long or the payload
  // over wire::kEventPayloadBytesMax.
  base::Status send_user_event(std::string_view name, std::string_view payload, base::MonoTime now);
  // Marks a failed (dead or suspect) member as left and gossips it, so it is reaped after
  // left_reap_timeout instead of dead_reap_timeout. kNotFound if unknown, kFailedPrecondition if
  // it is alive or ourselves.
  base::Status force_leave(std::string_view name, base::MonoTime now);

  // --- outputs -------------------------------------------------------------------------------
  Effects& effects() { return effects_; }
  Effects take_effects();
  // The earliest time on_tick() has work. Never in the past relative to the last input.
  base::MonoTime next_deadline() const;

  // --- reads -----------------------------------------------------------------------------------
  const SwimIdentity& identity() const { return identity_; }
  uint64_t incarnation() const { return incarnation_; }
  // Every known member (ourselves included), ordered by name.
  std::vector<Member> members() const;
  const Member* member(std::string_view name) const;
  size_t member_count() const { return members_.size(); }
  // Members believed alive or suspect, ourselves included (the n of the formulas).
  size_t alive_count() const { return alive_count_; }
  // Lifeguard's local health score (0 = healthy).
  uint32_t health_score() const { return awareness_.score(); }
  uint64_t event_ltime() const { return event_clock_.time(); }
  // Events with a Lamport time below this are dropped (join(), ignore_old_events); 0: none.
  uint64_t event_min_ltime() const { return event_min_ltime_; }
  // The most recent user events, oldest first (at most recent_events_max).
  const std::deque<ReceivedUserEvent>& recent_events() const { return recent_events_; }
  const SwimCounters& counters() const { return counters_; }
  const SwimConfig& config() const { return config_; }
  size_t broadcasts_queued() const { return broadcasts_.size(); }

 private:
  struct Node {
    Member m;
    std::unique_ptr<Suspicion> suspicion;  // while suspect
  };
  struct Probe {
    bool active = false;
    std::string target;
    uint32_t seq = 0;
    base::MonoTime start;
    base::MonoTime timeout_at;  // indirect probes go out
    base::MonoTime end_at;      // suspicion if no ack by then
    bool indirect_sent = false;
    bool acked = false;
    uint32_t nacks_expected = 0;
    uint32_t nacks = 0;
  };
  struct Relay {
    uint32_t their_seq = 0;
    hal::SockAddr requester;
    bool want_nack = false;
    base::MonoTime nack_at;
    bool done = false;
  };

  // Message handlers (SWIM 4.2 state rules; memberlist's aliveNode/suspectNode/deadNode).
  void handle_message(const hal::SockAddr& from, wire::GossipMessage& msg, base::MonoTime now);
  void handle_ping(const hal::SockAddr& from, const wire::Ping& p, base::MonoTime now);
  void handle_indirect(const hal::SockAddr& from, const wire::IndirectPing& p, base::MonoTime now);
  void handle_ack(uint32_t seq, base::MonoTime now);
  void handle_nack(uint32_t seq);
  void handle_alive(const wire::Alive& a, base::MonoTime now, bool from_push_pull);
  // The opening that handle_suspect and handle_dead share: drops (and counts) an accusation with
  // an invalid name; when we are the accused, refutes (if the accusation is about our current
  // incarnation or a newer one) and answers the accuser directly -- unless we are leaving or
  // refutation is disabled for a negative control. True when the accusation is fully handled;
  // false when it is about another member and the caller applies the state rules.
  bool answer_accusation(std::string_view name, uint64_t incarnation, std::string_view from, base::MonoTime now);
  void handle_suspect(const wire::Suspect& s, base::MonoTime now);
  void start_suspicion(Node& n, const wire::Suspect& s, base::MonoTime now);
  void handle_dead(const wire::Dead& d, base::MonoTime now);
  void handle_leave(const wire::Leave& l, base::MonoTime now);
  void queue_leave_notice();
  bool any_other_alive() const;  // a member other than us in state alive (not suspect)
  // Witnesses the event's time, then drops it below the floor, holds it while a join's answer
  // is outstanding (join()), or accepts it.
  void handle_user_event(const wire::UserEvent& e, base::MonoTime now);
  // De-duplicates (event_buffer.h), delivers and re-gossips an event at or above the floor.
  void accept_user_event(const wire::UserEvent& e, base::MonoTime now);
  // True while an exchange whose answer sets the event floor is outstanding.
  bool join_floor_pending() const;
  void hold_user_event(const wire::UserEvent& e);
  // Once no floor is pending, puts the held events through the floor, oldest first.
  void release_held_events(base::MonoTime now);

  void refute(uint64_t accused_incarnation, base::MonoTime now);
  // Sends our current alive statement straight to `accuser` (if it is a live member).
  void refute_to(std::string_view accuser);
  void set_state(Node& n, MemberState s, base::MonoTime now);
  void emit(MemberEventKind kind, const Member& m, base::MonoTime now);
  void broadcast_alive_self();
  void queue_broadcast(const std::string& key, const wire::GossipMessage& msg, bool urgent);

  // Timers.
  void tick_probe(base::MonoTime now);
  void start_probe(base::MonoTime now);
  void finish_probe(base::MonoTime now);
  void tick_suspicions(base::MonoTime now);
  void tick_relays(base::MonoTime now);
  void tick_gossip(base::MonoTime now);
  void tick_push_pull(base::MonoTime now);
  void tick_reap(base::MonoTime now);

  // Sending.
  void send(const hal::SockAddr& to, std::vector<wire::GossipMessage> msgs, bool piggyback);
  bool push_effect_datagram(const hal::SockAddr& to, std::string bytes);
  void open_push_pull(const hal::SockAddr& to, bool join);
  // An exchange with `to` was opened: if `to` has a join floor, its answer sets the floor, and
  // events are held until then.
  void join_floor_exchange_opened(const hal::SockAddr& to);
  // A push-pull with `to` failed: its join floor (if any) waits for retry-join, or is dropped
  // when its join already went through another address. Releases the held events if no other
  // floor is pending.
  void join_floor_failed(const hal::SockAddr& to, base::MonoTime now);
  std::string encode_state(bool join) const;
  void merge_state(const wire::PushPull& pp, base::MonoTime now);

  // Probe order (SWIM 4.3).
  void insert_probe_order(const std::string& name);
  bool next_probe_target(std::string* out);
  // Up to `k` random alive members other than ourselves and `exclude`.
  std::vector<const Node*> random_members(size_t k, std::string_view exclude, bool include_recent_dead,
                                          base::MonoTime now);
  uint32_t retransmit_limit_now() const;

  SwimConfig config_;
  SwimIdentity identity_;
  base::Prng prng_;
  uint64_t incarnation_;
  bool leaving_ = false;
  bool left_queued_ = false;
  bool leave_told_alive_ = false;  // the leave notice went to at least one alive member

  std::map<std::string, Node, std::less<>> members_;
  size_t alive_count_ = 0;
  std::vector<std::string> names_;  // every member but ourselves, for random choices
  std::set<std::string, std::less<>> suspects_;  // members with a running suspicion
  std::vector<std::string> probe_order_;
  size_t probe_index_ = 0;
  Probe probe_;
  uint32_t next_seq_ = 1;
  std::map<uint32_t, Relay> relays_;  // our seq -> relay

  Awareness awareness_;
  BroadcastQueue broadcasts_;
  LamportClock event_clock_;
  EventBuffer event_buffer_;
  std::deque<ReceivedUserEvent> recent_events_;
  std::vector<hal::SockAddr> join_addrs_;
  // Join addresses whose first push-pull reply sets the event floor (join(), ignore_old_events).
  // Bounded like join_addrs_ (an entry's address is one of them): at most 64.
  struct JoinFloor {
    hal::SockAddr addr;
    uint64_t join_id = 0;  // which join() call; one answer ends the floors of its failed peers
    bool failed = false;   // its exchange failed; kept for retry-join until the join succeeds
    bool joined = false;   // another address of the same join has answered
    // Exchanges with `addr` opened and not yet answered or failed: while any is, the user
    // events that arrive are held (join()). Bounded by push_pulls_in_flight_ plus the joins.
    uint32_t exchanges_in_flight = 0;
  };
  std::vector<JoinFloor> join_floors_;
  // Events held while a floor is pending: distinct (ltime, name, payload), at most
  // join_held_events_max, released oldest first.
  std::vector<wire::UserEvent> held_events_;
  uint64_t join_calls_ = 0;
  uint64_t event_min_ltime_ = 0;
  uint32_t push_pulls_in_flight_ = 0;

  base::MonoTime next_probe_;
  base::MonoTime next_gossip_;
  base::MonoTime next_push_pull_;
  base::MonoTime next_reconnect_;
  base::MonoTime next_rejoin_;
  // Retry-join backoff: 1 s after a join, doubling up to rejoin_interval while a join address is
  // not a live member, so a fleet booting in any order forms within seconds, not 30 s.
  base::Duration rejoin_backoff_ = base::Duration::seconds(1);
  base::MonoTime next_reap_;

  Effects effects_;
  SwimCounters counters_;
};

}  // namespace gossip
