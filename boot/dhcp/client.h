// Client: Weft's DHCPv4 client (RFC 2131 §4.4, Figure 5) as a sans-I/O state machine.
//
// States (RFC 2131 Figure 5):
//
//   start() -> INIT --DISCOVER-> SELECTING --OFFER/REQUEST-> REQUESTING --ACK-> BOUND
//   start(remembered) -> INIT-REBOOT --REQUEST-> REBOOTING --ACK-> BOUND
//   BOUND --T1-> RENEWING (REQUEST unicast to the server) --T2-> REBINDING (REQUEST broadcast)
//   RENEWING / REBINDING --ACK-> BOUND;   REBINDING --lease expires-> INIT (deconfigure)
//   REQUESTING / REBOOTING / RENEWING / REBINDING --NAK-> INIT (deconfigure if configured)
//   REQUESTING / REBOOTING --no answer after request_tries_max-> INIT
//   release() --RELEASE-> STOPPED;   decline() --DECLINE-> INIT after decline_wait
//
// What it does, by RFC 2131 section:
//   - §4.1 retransmission: the n-th wait is min(4 s * 2^(n-1), 64 s), randomized by a uniform
//     -1..+1 s, in SELECTING (indefinitely), REQUESTING and REBOOTING (request_tries_max
//     transmissions, 4 by default: "a total delay of 60 seconds" as §4.4.1 suggests, then INIT).
//     Retransmissions keep the xid; each new exchange (DISCOVER, INIT-REBOOT, T1, T2) picks a new
//     random one. 'secs' counts from the start of the exchange; the REQUEST that answers an OFFER
//     repeats the DISCOVER's 'secs' and xid (§4.4.1).
//   - §4.4.1 SELECTING takes the first acceptable OFFER (one that names its server and offers a
//     unicast address) and requests it, naming the server (option 54), so that other servers
//     withdraw their offers; later OFFERs are ignored. A reply is accepted only with our xid, our
//     chaddr, and, where one server is expected (REQUESTING, RENEWING), that server's identifier.
//   - §4.4.1 / §4.4.5 lease times count from when the REQUEST that got the ACK was first sent, not
//     from when the ACK arrived. T1 and T2 default to 0.5 and 0.875 of the lease (§4.4.5); a
//     server's T1 or T2 that breaks 0 < T1 < T2 < lease is replaced by those defaults (T2 first,
//     then T1; a T1 that is still not below T2 becomes T2 / 2). A lease of 0xffffffff seconds is
//     infinite: no renewal and no expiry.
//   - §4.4.5 RENEWING unicasts to the server that granted the lease, with ciaddr set and neither
//     option 50 nor 54; unanswered, it is sent again after half the time left to T2, at least 60 s
//     later, and never past T2. REBINDING broadcasts the same, again at half the time left on the
//     lease, at least 60 s, never past expiry. An expired lease is deconfigured and the client
//     starts over in INIT at once.
//   - §3.1.5 / §4.4.1 a NAK sends the client back to INIT; consecutive NAKs wait 0, then 4, 8, ...
//     64 s before the next DISCOVER (a misconfigured server would otherwise make a NAK storm).
//   - §3.1.5 decline() (the caller found the address in use, e.g. by ARP, which is not done here)
//     sends DECLINE and waits decline_wait (10 s, "a minimum of ten seconds") before INIT.
//   - §4.4.6 release() unicasts RELEASE to the server and stops.
//   - RFC 3442: when the lease has classless static routes (121), option 3 is ignored; the 0/0
//     route, if any, is the lease's router.
// Departures: no initial random wait of 1 to 10 s before the first DISCOVER (§4.4.1 SHOULD): a
// node booting wants its address now, and the retransmission jitter spreads a fleet that powers
// on at once; init_delay_max turns it on. The broadcast flag is set in DISCOVER and in REQUESTs
// sent without an address (see ClientConfig::broadcast_flag). An INIT-REBOOT that is not answered
// goes to INIT rather than keep using the remembered lease (§3.2 allows either): the caller does
// not configure a remembered address before an ACK confirms it. Only the first OFFER is
// considered (the RFC allows waiting to compare several).
//
// Driving it: the runtime calls start() once, on_packet() with every UDP payload received on port
// 68 of the link, and on_tick() at next_wakeup(); after each call it takes effects() and performs
// their actions in the order given (see Effects). The address must be configured only when the
// client says so, and dropped when it says so. No socket, clock or random source is
// touched here: the time is an argument, randomness a Prng seeded at construction.
//
// Threading: one thread. Ownership: owns its state; the effects taken are the caller's.
// Not here: sockets, ARP probing, applying a lease to the kernel, persisting the lease for the
// next boot (the caller remembers lease()->address and passes it to start()).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/random.h"
#include "agent/base/status.h"
#include "agent/base/time.h"
#include "boot/dhcp/message.h"

namespace dhcp {

enum class State : uint8_t {
  kStopped,     // before start() and after release(): nothing sent, no timer
  kInit,        // about to DISCOVER (at once, or after a NAK's or DECLINE's wait)
  kSelecting,   // DISCOVER sent, waiting for an OFFER
  kRequesting,  // REQUEST for an OFFER sent, waiting for ACK or NAK
  kBound,       // lease configured, waiting for T1
  kRenewing,    // past T1: REQUEST unicast to the lease's server
  kRebinding,   // past T2: REQUEST broadcast to any server
  kInitReboot,  // about to REQUEST a remembered address
  kRebooting,   // REQUEST for a remembered address sent, waiting for ACK or NAK
};
std::string_view state_name(State s);

struct ClientConfig {
  std::array<uint8_t, 6> mac{};  // the link's Ethernet address: chaddr, and the default client id
  // Option 61. Empty: type 1 (Ethernet) followed by the MAC (RFC 2132 §9.14), what most clients
  // send and what dnsmasq keys leases by. At most 255 bytes, at least 2 when set.
  std::string client_id;
  // Option 12 in DISCOVER and REQUEST, so servers that update DNS know the node's name. Empty:
  // none. At most 63 bytes.
  std::string hostname;
  // RFC 2131 §4.1: set the broadcast bit in messages sent before an address is configured. True
  // because the driver receives on an ordinary UDP socket, which the kernel does not hand a
  // unicast reply to an address the link does not have yet.
  bool broadcast_flag = true;
  // Option 57: the largest reply this client takes, kMessageBytesMax (one Ethernet MTU).
  uint16_t max_message_bytes = kMessageBytesMax;
  // RFC 2131 §4.1: the first retransmission after 4 s, doubling to 64 s, each randomized by
  // +-retransmit_jitter (1 s).
  base::Duration retransmit_initial = base::Duration::seconds(4);
  base::Duration retransmit_max = base::Duration::seconds(64);
  base::Duration retransmit_jitter = base::Duration::seconds(1);
  // REQUEST transmissions in REQUESTING and REBOOTING before going back to INIT: 4, about 60 s
  // with the waits above (§4.4.1's example).
  uint32_t request_tries_max = 4;
  // RFC 2131 §4.4.5: the least wait between REQUESTs in RENEWING and REBINDING (60 s).
  base::Duration renew_retransmit_min = base::Duration::seconds(60);
  // RFC 2131 §3.1.5: the wait after a DECLINE before DISCOVER again (10 s).
  base::Duration decline_wait = base::Duration::seconds(10);
  // RFC 2131 §4.4.1's wait before the first DISCOVER, uniform in [0, init_delay_max]. Zero (off)
  // by default: see the departures above.
  base::Duration init_delay_max = base::Duration::zero();
};

// A lease as the node applies it.
struct Lease {
  Ipv4 address = 0;
  uint8_t prefix_len = 0;  // from option 1 (unless 0.0.0.0), else the address's class (A /8,
                           // B /16, C /24)
  Ipv4 broadcast = 0;      // option 28, else the subnet's broadcast address
  Ipv4 server_id = 0;      // who granted it: RENEWING unicasts here, RELEASE goes here
  // The default gateway: option 121's 0/0 route if option 121 is present (RFC 3442: option 3 is
  // then ignored), else option 3's first router; 0 for none.
  Ipv4 router = 0;
  std::vector<Route> routes;  // option 121's other routes; router 0.0.0.0 means on-link
  std::vector<Ipv4> dns_servers;
  std::string hostname;     // option 12 when it is a valid host name (RFC 1123 letters, digits,
                            // '-', '.'; at most 63 bytes), else empty
  std::string domain_name;  // option 15 when a valid name of at most 253 bytes, else empty
  uint16_t mtu = 0;         // option 26; 0: keep the link's
  // The lease's length (Duration::infinite() for 0xffffffff seconds) and T1, T2 as used, after
  // the defaults and checks above: 0 < t1 < t2 < lease_time.
  base::Duration lease_time;
  base::Duration t1;
  base::Duration t2;
  base::MonoTime acquired;    // when the REQUEST that got the ACK was first sent
  base::MonoTime renew_at;    // acquired + T1 (never() when infinite)
  base::MonoTime rebind_at;   // acquired + T2
  base::MonoTime expires_at;  // acquired + lease
  bool operator==(const Lease&) const = default;
};

inline constexpr uint32_t kLeaseInfinite = 0xffffffff;

// One UDP payload to send from port 68.
struct Send {
  MessageType type = MessageType::kNone;  // what it is, for logs
  std::string bytes;
  // True: to 255.255.255.255:67 out of the link (the source address is 0.0.0.0 when none is
  // configured). False: unicast to `to`:67 from the leased address.
  bool broadcast = true;
  Ipv4 to = 0;
};

// One thing for the caller to do.
struct Action {
  enum class Kind : uint8_t {
    kSend,         // send `send`
    kConfigure,    // apply `lease`: a new one, or a renewal of the one held (same address)
    kDeconfigure,  // drop `lease`'s address, routes and DNS servers
  };
  Kind kind = Kind::kSend;
  Send send;    // kSend
  Lease lease;  // kConfigure, kDeconfigure
};

// What the caller does after a call: the actions, in order. Order matters: a RELEASE goes out
// while the address is still there (it is unicast from it) and the deconfigure follows; after an
// expiry, a NAK or a DECLINE the address goes first, so the next broadcast leaves from 0.0.0.0
// (RFC 2131 §4.1). A deconfigure always names an address the caller was told to configure by
// actions it took earlier (a lease gained and lost between two take_effects() is never shown).
struct Effects {
  std::vector<Action> actions;
  bool empty() const { return actions.empty(); }
};

// What became of a received packet.
enum class Verdict : uint8_t {
  kAccepted,     // it moved the client on
  kMalformed,    // decode() refused it (counted by reason in ClientCounters::decode_errors)
  kNotReply,     // op is BOOTREQUEST: another client's broadcast
  kUnexpected,   // a type this state does not wait for (no exchange, or an OFFER after selecting)
  kWrongXid,     // not an answer to our current exchange
  kWrongChaddr,  // for another hardware address
  kWrongServer,  // from a server other than the one we are talking to
  kInvalid,      // missing what RFC 2131 Table 3 requires (server id, lease time) or an address
                 // that is not ours to take or talk to (not unicast, not what was requested)
};
std::string_view verdict_name(Verdict v);

struct ClientCounters {
  uint64_t packets_in = 0;
  uint64_t sends = 0;
  uint64_t retransmits = 0;
  std::array<uint64_t, static_cast<size_t>(DecodeError::kCount)> decode_errors{};
  std::array<uint64_t, 8> ignored{};  // by Verdict, kAccepted and kMalformed unused
  uint64_t offers = 0;                // OFFERs taken
  uint64_t acks = 0;                  // ACKs taken (new leases and renewals)
  uint64_t naks = 0;
  uint64_t expiries = 0;
  uint64_t request_timeouts = 0;  // REQUESTING or REBOOTING given up
  uint64_t releases = 0;
  uint64_t declines = 0;
};

class Client {
 public:
  // config.mac must be set; the other fields as documented. `seed` seeds the Prng behind xids and
  // jitter (from hal/entropy.h in the agent, from the run's seed in tests).
  Client(ClientConfig config, uint64_t seed);

  // Starts from STOPPED: INIT, or INIT-REBOOT for `remembered` (the address of the last lease,
  // which the caller believes has not expired). The first message goes out now (in effects)
  // unless init_delay_max is set. Restarting a running client is a programming error (asserts).
  void start(base::MonoTime now, std::optional<Ipv4> remembered = std::nullopt);

  // One UDP payload received on port 68. Untrusted: any bytes are fine.
  Verdict on_packet(std::span<const uint8_t> bytes, base::MonoTime now);

  // Runs every timer due at `now`: retransmissions, T1, T2, expiry, the wait in INIT.
  void on_tick(base::MonoTime now);

  // When on_tick() must next be called; never() in STOPPED. After on_tick(now) it is later than
  // `now`.
  base::MonoTime next_wakeup() const;

  // Gives the lease back: RELEASE unicast to its server and deconfigure (if there is a lease),
  // then STOPPED. From any state.
  void release(base::MonoTime now);

  // The caller found the leased address in use: DECLINE, deconfigure, INIT after decline_wait.
  // kFailedPrecondition when there is no lease (BOUND, RENEWING or REBINDING).
  base::Status decline(base::MonoTime now);

  Effects take_effects();

  State state() const { return state_; }
  // The lease in force (configured), if any: in BOUND, RENEWING and REBINDING.
  const std::optional<Lease>& lease() const { return lease_; }
  // The xid of the exchange in flight (for tests and the fuzz target).
  uint32_t xid() const { return xid_; }
  const ClientCounters& counters() const { return counters_; }
  const ClientConfig& config() const { return config_; }

 private:
  void enter_init(base::MonoTime now, base::Duration wait);
  void new_exchange(base::MonoTime now);
  void send_discover(base::MonoTime now);
  void send_request(base::MonoTime now);
  void enter_renewing(base::MonoTime now);
  void enter_rebinding(base::MonoTime now);
  void expire(base::MonoTime now);
  void arm_retransmit(base::MonoTime now);
  void arm_renew_retransmit(base::MonoTime now, base::MonoTime limit);
  base::Duration backoff(uint32_t transmissions);
  Message base_message(MessageType type, base::MonoTime now) const;
  void emit(const Message& m, bool broadcast, Ipv4 to);
  Verdict ignore(Verdict v);
  Verdict on_offer(const Message& m, base::MonoTime now);
  Verdict on_ack(const Message& m, base::MonoTime now);
  Verdict on_nak(const Message& m, base::MonoTime now);
  Lease lease_from(const Message& ack) const;
  void drop_lease(base::MonoTime now);
  void push_lease(Action::Kind kind, const Lease& lease);

  ClientConfig config_;
  base::Prng prng_;
  State state_ = State::kStopped;
  uint32_t xid_ = 0;
  base::MonoTime exchange_start_;  // for 'secs'
  base::MonoTime first_sent_;      // first transmission of the current REQUEST
  uint16_t discover_secs_ = 0;     // 'secs' of the last DISCOVER, repeated in its REQUEST
  uint32_t transmissions_ = 0;     // of the current message
  base::MonoTime retransmit_at_ = base::MonoTime::never();
  base::MonoTime init_at_ = base::MonoTime::never();
  Ipv4 offered_ = 0;       // REQUESTING: the OFFER's yiaddr
  Ipv4 offer_server_ = 0;  // REQUESTING: the OFFER's server id
  Ipv4 requested_ = 0;     // INIT-REBOOT / REBOOTING: the remembered address
  Ipv4 hint_ = 0;          // a former address, asked for again in DISCOVER (option 50)
  uint32_t naks_ = 0;      // consecutive NAKs, for the wait before DISCOVER
  std::optional<Lease> lease_;
  bool caller_holds_lease_ = false;  // after the effects taken so far, the node has an address
  Effects effects_;
  ClientCounters counters_;
};

}  // namespace dhcp
