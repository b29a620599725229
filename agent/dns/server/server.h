// dns::Server: the node's DNS server on the event loop (issue 5 item 5), over UDP and TCP on the
// same address and port. Each query is decoded (dns/message.h) and answered by the responder
// (dns/responder.h) from the view the owner supplies; nothing is allocated per query (fixed
// buffers and a fixed forwarding table, the view borrowed; a TCP connection allocates its buffers
// once, at accept).
//
// Per query: shorter than a header, or a response (QR set) -> dropped and counted; refused by
// the decoder with a readable header -> FORMERR; a name outside the domain -> forwarded (below)
// or REFUSED; otherwise the responder's answer. At most `datagrams_per_pass` datagrams are read
// per readable event, so a flood cannot starve the loop; they are read and answered kUdpBatch at
// a time (Net::udp_recv_batch / udp_send_batch).
//
// Forwarding (the responder's kForward). A client whose address is inside `recursion_networks`,
// when `recursors` are configured, has the query sent upstream over UDP from one socket per
// address family (bound at start() to an ephemeral port, read on the loop). The upstream query is
// rebuilt from the decoded question, not copied: a fresh random ID (16 bits from hal::Entropy,
// drawn 128 at a time), the client's RD/CD/AD bits, and an OPT record only if the client sent
// one (its DO bit, its UDP size clamped to `udp_answer_max`; the client's EDNS options, such as a
// cookie made for us, are not passed on). `forwards_max` queries wait at once in a fixed table;
// past it the client gets SERVFAIL (forward_table_full). A reply is accepted only from the
// address the query went to, with a pending ID, QR set and the same question (name
// case-insensitively, type, class); anything else is dropped and counted (forward_dropped) and the
// query keeps waiting, so a forged datagram cannot cancel the real answer (a reply without the
// question, as some servers send with FORMERR, is dropped too and the query times out). An accepted reply gets
// the client's ID back and goes out as the upstream wrote it -- over UDP, if it is larger than
// the client's limit (512, or its EDNS size clamped to `udp_answer_max`), as the header and
// question alone with TC set, so the client retries over TCP. After `recursor_timeout` without an
// accepted reply the query goes once more, with a new ID, to the next recursor (the same one when
// there is one), and after a second timeout the client gets SERVFAIL. Clients outside the
// networks, or no recursors: REFUSED, as without forwarding (recursion_refused counts the first
// case). RA is set in answers exactly when the client may recurse.
// Not done: a TCP client's query is forwarded over UDP too; an upstream reply with TC is passed
// to it as is (truncated, TC set), not retried over TCP to the upstream. A TCP client asking for a
// large answer without EDNS therefore gets it truncated; dig asks with EDNS (1232 bytes) and
// fits most answers.
//
// TCP (RFC 7766; RFC 1035 §4.2.2 framing, a 2-byte length before each message): local answers on
// a connection are sent in the order their queries came (pipelining, §6.2.1.1), answers up to
// 65535 bytes (so no TC bit on local answers). A forwarded answer is sent when the upstream
// replies, so it may come after answers to later queries on the same connection: RFC 7766 §7
// recommends servers send responses out of order and requires clients to match them by ID and
// question; holding later local answers behind a forward would make every pipelined query wait
// for the slowest upstream (up to twice recursor_timeout). Bounds: `tcp_connections_max` open
// at once (past it a new connection is closed at once and counted); a message over
// kQueryBytesMax or under a header closes its connection (a stream cannot be resynchronised);
// while a connection's unsent answers exceed `tcp_pending_bytes_max` it is not read
// (back-pressure on a client that does not read); a connection with no progress either way for
// `tcp_idle_timeout`, and no forward waiting, is closed (§6.2.3). A connection whose client
// closed its side stays open until its forwarded answers went.
// Threading: the loop's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <array>
#include <memory>
#include <vector>

#include "agent/base/status.h"
#include "agent/dns/responder.h"
#include "agent/runtime/loop.h"
#include "hal/entropy.h"
#include "hal/net.h"

namespace dns {

// The largest query accepted, over UDP or TCP: one question and an OPT record fit many times over.
inline constexpr size_t kQueryBytesMax = 4096;
// Recursors at most (config's dns.recursors has the same bound).
inline constexpr size_t kRecursorsMax = 8;

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
  // Forwarding (see the file comment). No recursors: names outside the domain are REFUSED.
  std::vector<hal::SockAddr> recursors;  // at most kRecursorsMax, IPv4 or IPv6
  std::vector<hal::IpNetwork> recursion_networks;  // clients that may recurse
  // 2 s: Consul's recursor_timeout; a second attempt makes the worst case twice this.
  base::Duration recursor_timeout = base::Duration::seconds(2);
  // 256: at 2 s per query the worst case is 128 queries a second to dead upstreams before
  // SERVFAIL; a healthy upstream on the LAN answers in milliseconds, so the table is mostly empty.
  size_t forwards_max = 256;
  hal::Entropy* entropy = nullptr;  // the upstream IDs; borrowed; required with recursors
};

struct ServerCounters {
  uint64_t received = 0;
  uint64_t answered = 0;          // NOERROR and NXDOMAIN answers from the view
  uint64_t formerr = 0;
  uint64_t refused = 0;           // names outside the domain not forwarded (REFUSED)
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
  uint64_t forwarded = 0;           // queries sent upstream (a retry is not counted again)
  uint64_t forward_replies = 0;     // upstream replies accepted and passed to the client
  uint64_t forward_timeouts = 0;    // attempts that got no accepted reply in recursor_timeout
  uint64_t forward_servfail = 0;    // queries given up after both attempts (SERVFAIL)
  uint64_t forward_dropped = 0;     // upstream datagrams refused: source, ID, QR or question
  uint64_t forward_table_full = 0;  // SERVFAIL at once: forwards_max were waiting
  uint64_t forward_truncated = 0;   // UDP answers cut to header and question (TC) for the client
  uint64_t recursion_refused = 0;   // REFUSED: recursors exist but the client is outside the networks
  uint64_t forwards_pending = 0;    // waiting now
};

class Server {
 public:
  // The current view; it must stay valid until the call that asked for it returns.
  using ViewFn = std::function<View()>;

  Server(runtime::Loop& loop, hal::Net& net, ServerOptions options, ViewFn view);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the UDP socket (and the TCP listener, and with recursors one upstream socket per
  // address family) and starts answering. Errors: the sockets' (kIo: the port is taken);
  // kInvalidArgument for more than kRecursorsMax recursors, a recursor that is this server's own
  // address, or recursors without an entropy source or forwards_max.
  [[nodiscard]] base::Status start();
  void stop();
  base::Result<hal::SockAddr> local_addr() const;  // UDP's; TCP listens on the same port
  const ServerCounters& counters() const { return counters_; }

  // One query's answer into `out` (also used by agentctl's resolver through the HTTP API);
  // returns the size, 0 for a datagram that is dropped. Never forwards: a name outside the domain
  // is REFUSED here (the caller has no client address to check, and cannot wait).
  size_t answer(std::span<const uint8_t> query, bool over_tcp, std::span<uint8_t> out);

 private:
  base::Status start_once();
  base::Status start_forwarding();
  struct TcpConn {
    uint64_t id = 0;
    hal::SockAddr peer;
    size_t forwards = 0;  // its queries waiting for an upstream
    hal::Handle handle = hal::kInvalidHandle;
    uint8_t interest = 0;
    std::vector<uint8_t> in;   // 2 + kQueryBytesMax: one length prefix and query at most
    size_t in_len = 0;
    std::vector<uint8_t> out;  // answers not yet written, from out_at
    size_t out_at = 0;
    bool peer_eof = false;
    base::MonoTime last_progress;
  };

  // Where a query came from: nullptr peer for answer()'s callers (never forwarded).
  struct Origin {
    const hal::SockAddr* peer = nullptr;
    bool over_tcp = false;
    TcpConn* tcp = nullptr;  // the connection, when there is a peer over TCP
  };
  // One waiting forwarded query: the fixed table's row. Rows in use are on a list in deadline
  // order (every attempt waits the same recursor_timeout, so appending keeps it sorted).
  struct Forward {
    bool in_use = false;
    uint16_t upstream_id = 0;
    uint16_t client_id = 0;
    uint16_t client_flags = 0;
    uint16_t client_limit = 512;  // UDP: the largest answer the client takes
    uint8_t recursor = 0;         // index into options_.recursors of this attempt
    uint8_t attempts = 0;
    bool has_edns = false;
    bool edns_do = false;
    uint16_t edns_udp_size = 0;
    Name qname;
    uint16_t qtype = 0, qclass = 0;
    hal::SockAddr client;   // UDP clients
    uint64_t tcp_id = 0;    // TCP clients: the connection (0: UDP)
    base::MonoTime deadline;
    int32_t prev = -1, next = -1;
  };

  size_t answer_from(std::span<const uint8_t> query, const Origin& origin, std::span<uint8_t> out);
  bool may_recurse(const hal::SockAddr& peer) const;
  // Sends `q` upstream and returns 0, or writes SERVFAIL into `out` and returns its size.
  size_t forward(const Query& q, const Origin& origin, std::span<uint8_t> out);
  // (Re)sends row `i` to its recursor with a fresh ID; false if no ID could be drawn.
  bool send_upstream(int32_t i);
  bool draw_id(uint16_t* id);
  void list_append(int32_t i);
  void list_remove(int32_t i);
  void release(int32_t i);
  // Arms the one timer for the earliest deadline; false if the loop has no timer to give.
  bool arm_forward_timer();
  // SERVFAIL to every waiting query (the timer could not be armed; timer context only).
  void fail_all_forwards();
  void on_forward_timer();
  void on_upstream_readable(hal::Handle h);
  // The client's answer for row `i` from an accepted reply (`msg`, ID already restored; for
  // TCP, 2 bytes before it are free for the length prefix).
  void deliver(const Forward& f, uint8_t* msg, size_t size);
  // An error answer with the question for row `f`'s client (SERVFAIL after the attempts).
  void deliver_error(const Forward& f, uint8_t rcode);
  // Frames and writes (or queues) `size` bytes at msg (2 bytes before msg are free) on `c`; false
  // when the connection must close.
  bool tcp_send_framed(TcpConn& c, uint8_t* msg, size_t size);
  // After a forwarded answer (or its error) went to connection `id`.
  void tcp_forward_done(uint64_t id);

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
  std::vector<uint8_t> out_;  // one answer (forwarding's deliveries)
  // UDP queries are read and answered kUdpBatch at a time (one recvmmsg and one sendmmsg on
  // Linux): each query's buffer kQueryBytesMax, each answer's out_.size().
  static constexpr size_t kUdpBatch = 16;
  std::unique_ptr<uint8_t[]> batch_in_;
  std::unique_ptr<uint8_t[]> batch_out_;
  std::array<hal::UdpMessage, kUdpBatch> batch_;
  std::array<hal::UdpMessage, kUdpBatch> replies_;
  hal::Handle listener_ = hal::kInvalidHandle;
  std::map<uint64_t, std::unique_ptr<TcpConn>> tcp_;
  uint64_t next_tcp_id_ = 1;
  std::vector<uint8_t> tcp_out_;  // 2 + 65535: one framed TCP answer
  runtime::TimerId sweep_timer_ = runtime::kNoTimer;

  // Forwarding, all sized at start().
  hal::Handle upstream_v4_ = hal::kInvalidHandle;
  hal::Handle upstream_v6_ = hal::kInvalidHandle;
  std::vector<Forward> forwards_;
  std::vector<int32_t> free_rows_;  // a stack of unused rows
  int32_t head_ = -1, tail_ = -1;   // rows in use, earliest deadline first
  std::vector<uint8_t> upstream_in_;  // 2 + 65535: one reply, room for a TCP length prefix
  std::vector<uint8_t> upstream_out_; // one upstream query
  uint8_t id_pool_[256] = {};
  size_t id_pool_at_ = sizeof id_pool_;
  runtime::TimerId forward_timer_ = runtime::kNoTimer;
};

}  // namespace dns
