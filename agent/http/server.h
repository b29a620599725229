// The HTTP/1.1 server for the agent's local API, on runtime::Loop and hal::Net.
//
// One Server listens on any number of addresses -- the agent serves the same API on TCP
// 127.0.0.1:7700 and on its owner-only Unix socket agent.sock -- and hands each complete Request
// to one Handler (normally a Router, router.h) together with a Responder for its answer.
//
// Connections:
//   - accepted non-blocking, up to accepts_per_wakeup_max per readiness event;
//   - past connections_max, a new connection is accepted, answered with a canned 503
//     {"error":"too many connections"} (one best-effort write) and closed at once: the client
//     learns why instead of hanging in the listen backlog, and the backlog cannot fill with
//     connections nobody will serve. connections_refused counts them.
//   - each has a bounded read buffer (read_buffer_bytes) holding bytes not yet parsed, one
//     RequestParser (ParserLimits bound the head and body), and an output buffer. Reading stops
//     (backpressure) while pipeline_depth_max requests await their responses or more than
//     write_buffer_bytes_high bytes wait to be written.
//   - keep-alive per RFC 9112 §9.3; pipelined requests are answered strictly in order: each
//     request gets a slot when dispatched, a response is written only when every earlier slot
//     has been written, so a deferred response holds back the later ones behind it.
//   - timeouts (Loop timers, one per connection, re-armed lazily): header_timeout from the
//     accept, or from the first byte of a later request, until its head is complete (slowloris);
//     idle_timeout between requests, while a body arrives and while output drains. A partial
//     request that times out is answered 408 and the connection closes; an idle one just closes.
//     No timeout runs while the server itself owes a deferred response: the handler owns that
//     wait (a blocking query's ?wait=).
//   - a parse error is answered with its status (400, 413, 414, 417, 431, 501, 505) as
//     {"error": "..."} with "Connection: close". Closing is lingering: after the last response
//     the server half-closes and discards what the client still sends for linger_timeout, so a
//     client still writing a too-large body reads the 413 instead of a reset.
//   - 100 Continue is sent once for a request that expects it, when every earlier response on
//     the connection has been written (interim responses keep the order too).
//
// Deferred responses: a handler may keep its Responder (it is move-only) and call send() later
// from the loop thread, e.g. when a blocking query's index moves or its wait ends. on_cancel()
// registers what to do if the connection closes first -- or if the client closes its sending
// side (EOF) while the response is pending, which is how a client abandons a blocking query.
// A Responder destroyed without send() answers 500, so a forgotten response never wedges a
// connection. Responders may outlive the Server; they then do nothing.
//
// Threading: everything, Responder included, on the Loop's thread. Ownership: the Server borrows
// the Loop, Net and Clock (they must outlive it) and owns its sockets.
// Not here: TLS, HTTP/2, routing (router.h), compression, streaming bodies (response_writer.h
// has the chunked framing; a streaming Responder would be a slot that writes as it goes).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/http/message.h"
#include "agent/http/request_parser.h"
#include "agent/runtime/loop.h"
#include "hal/clock.h"
#include "hal/net.h"

namespace http {

class Server;
struct ServerLink;

// The far end of a detached Responder (Responder::detached): a request that did not arrive on one
// of a Server's sockets -- one forwarded over RPC -- is answered through `done`, and whoever
// carries it calls cancel() if its caller goes away first.
struct DetachedLink {
  std::function<void(struct Response)> done;  // called once, with the response
  std::function<void()> on_cancel;            // set by the handler through Responder::on_cancel
  bool finished = false;                      // done was called or the request was cancelled
  void cancel() {
    if (finished) return;
    finished = true;
    if (on_cancel) {
      auto fn = std::move(on_cancel);
      fn();
    }
  }
};

struct ServerOptions {
  ParserLimits limits;
  // Open connections. The local API's clients are a handful of tools and agentctl; 256 leaves
  // room for a burst while bounding file descriptors and buffer memory.
  size_t connections_max = 256;
  // Between requests on a kept-alive connection, while a body trickles in, while output drains
  // to a slow reader. 60 s, like Go's and Consul's defaults for idle API connections.
  base::Duration idle_timeout = base::Duration::seconds(60);
  // From accept (or a later request's first byte) until its head is complete. 10 s stops
  // slowloris clients well before they can pin connections_max sockets for long.
  base::Duration header_timeout = base::Duration::seconds(10);
  // How long a closing connection keeps discarding the client's bytes after its last response.
  base::Duration linger_timeout = base::Duration::seconds(2);
  // Requests dispatched on one connection and not yet answered.
  size_t pipeline_depth_max = 16;
  // Per-connection buffer of received, unparsed bytes (the read size too).
  size_t read_buffer_bytes = 16 * 1024;
  // Stop reading new requests while more than this many response bytes wait to be written.
  size_t write_buffer_bytes_high = 1024 * 1024;
  size_t accepts_per_wakeup_max = 32;
};

// Counters for metrics. Monotonic except connections_open.
struct ServerCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over connections_max: 503 and closed
  uint64_t connections_closed = 0;
  uint64_t connections_open = 0;
  uint64_t requests = 0;             // dispatched to the handler
  std::array<uint64_t, 6> responses_by_class{};  // [status / 100]: [1] 1xx ... [5] 5xx
  uint64_t parse_errors = 0;
  uint64_t header_timeouts = 0;
  uint64_t idle_timeouts = 0;
  uint64_t invalid_response_fields = 0;  // handler header fields the writer dropped
  uint64_t accept_errors = 0;
};

class Responder {
 public:
  Responder() = default;
  Responder(Responder&& o) noexcept;
  Responder& operator=(Responder&& o) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  // Answers 500 if send() was never called and the connection still waits.
  ~Responder();

  // Completes the response. At most once; after it the Responder is empty. A response for a
  // connection that has closed is dropped.
  void send(Response response);
  // True until send() (or a move away).
  bool pending() const { return link_ != nullptr || detached_ != nullptr; }
  // The connection still exists and waits for this response.
  bool connection_alive() const;
  // Runs `fn` on the loop thread if the connection closes before send(). Replaces any earlier
  // callback. No-op on an empty Responder.
  void on_cancel(std::function<void()> fn);

  // A Responder answered through `link->done` instead of a connection (see DetachedLink).
  static Responder detached(std::shared_ptr<DetachedLink> link);

 private:
  friend class Server;
  Responder(std::shared_ptr<ServerLink> link, uint64_t connection_id, uint64_t seq)
      : link_(std::move(link)), connection_id_(connection_id), seq_(seq) {}
  // Shared with the Server, which clears it when it is destroyed: a Responder can be held by
  // anyone (a blocking query's watch list) for any time, so its lifetime is not the Server's.
  std::shared_ptr<ServerLink> link_;
  std::shared_ptr<DetachedLink> detached_;
  uint64_t connection_id_ = 0;
  uint64_t seq_ = 0;
};

// Called once per request, on the loop thread. The handler may move from `request`.
using Handler = std::function<void(Request& request, Responder responder)>;

class Server {
 public:
  Server(runtime::Loop& loop, hal::Net& net, hal::Clock& clock, Handler handler, ServerOptions options = {});
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Closes every listener and connection (pending Responders' on_cancel run).
  ~Server();

  // Starts listening on `addr` (TCP, or a Unix socket path). Call once per address.
  [[nodiscard]] base::Status listen(const hal::SockAddr& addr, const hal::ListenOptions& options = {});
  // The bound address of the i-th listener (to learn an ephemeral port).
  base::Result<hal::SockAddr> listen_addr(size_t i) const;
  size_t listeners() const { return listeners_.size(); }
  // Stops accepting and closes every connection now.
  void close();

  const ServerCounters& counters() const { return counters_; }
  size_t connections_open() const { return connections_.size(); }
  const ServerOptions& options() const { return options_; }

 private:
  friend class Responder;
  struct Connection;
  struct Slot;
  struct Entry;

  void on_accept(hal::Handle listener);
  void refuse(hal::Handle h);
  void on_io(uint64_t id, uint8_t ready);
  void on_timer(uint64_t id);
  void do_read(Connection& c);
  void process(Connection& c);
  void dispatch(Connection& c, Request request);
  void push_error(Connection& c, int status, std::string_view reason);
  void complete(uint64_t connection_id, uint64_t seq, Response response);
  void set_cancel(uint64_t connection_id, uint64_t seq, std::function<void()> fn);
  void cancel_pending(Connection& c);
  bool slot_waiting(uint64_t connection_id, uint64_t seq) const;
  void flush_slots(Connection& c);
  void write_out(Connection& c);
  void maybe_finish(Connection& c);
  void maybe_send_continue(Connection& c);
  void update_interest(Connection& c);
  void update_timer(Connection& c);
  base::MonoTime deadline(const Connection& c) const;
  void kill(Connection& c);
  bool paused(const Connection& c) const;
  std::string_view date();
  void count_response(int status);
  Connection* find(uint64_t id) const;

  runtime::Loop& loop_;
  hal::Net& net_;
  hal::Clock& clock_;
  Handler handler_;
  ServerOptions options_;
  std::shared_ptr<ServerLink> link_;
  std::vector<hal::Handle> listeners_;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t next_connection_id_ = 1;
  // Connections closed during a callback are kept here until the outermost callback returns, so
  // code still holding a reference to one never sees freed memory.
  std::vector<std::unique_ptr<Connection>> graveyard_;
  int depth_ = 0;
  ServerCounters counters_;
  int64_t date_second_ = -1;
  std::string date_;
};

}  // namespace http
