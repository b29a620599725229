// rpc::Endpoint: RPC over TCP with mutual TLS -- the sockets around rpc::Connection.
//
// One Endpoint per agent. It listens (servers: ports.rpc, TCP 7701) and accepts server-side
// connections, and it dials client-side connections on demand, one per peer address, reused for
// every call to that address. Methods are registered by name (add_method); a call arriving on any
// accepted connection is dispatched to its method, which answers through the Respond callback it
// is given -- at once or later (a Raft write answers when the entry is applied). A client call
// (call()) opens a Connection call and runs its Reply once: with the response body, with the
// server's error Status, or with kUnavailable/kTimeout when the connection fails or the deadline
// passes first.
//
// Authentication: both sides present certificates from the cluster CA (hal/tls.h). Dialling
// verifies the server's certificate against `server_name` ("server.<dc>.<domain>", the name every
// server certificate carries, as Consul's verify_server_hostname does); methods receive the
// peer certificate's subject so they can refuse callers without a server certificate.
//
// Bounds (EndpointOptions): accepted connections (connections_max; more are closed at once),
// calls queued on a connection that is still connecting or handshaking (queued_calls_max; more
// fail with kResourceExhausted), calls in flight per connection and frame sizes (Connection's
// limits), bytes read per readiness event, and the time a connection may take to connect and
// handshake (connect_timeout). Deadlines are checked by one sweep timer, not a timer per call.
//
// Threading: the loop thread only. Ownership: borrows the Loop, Net, TLS configs and Logger
// (they outlive it); owns sockets and connections, all closed by the destructor (pending client
// calls get kUnavailable; pending server Responds become no-ops).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/rpc/connection.h"
#include "agent/runtime/loop.h"
#include "hal/net.h"
#include "hal/tls.h"

namespace rpc {

struct EndpointOptions {
  ConnectionLimits limits;
  // Accepted connections open at once: every server and client agent of a fleet may keep one.
  size_t connections_max = 4096;
  // Calls waiting for a connection that is not ready yet.
  size_t queued_calls_max = 1024;
  // A dial that has not finished TCP and TLS in this long fails its calls.
  base::Duration connect_timeout = base::Duration::seconds(3);
  // After a failed dial, calls to that address fail at once for this long instead of dialling
  // again (a dead peer is not redialled on every heartbeat).
  base::Duration redial_backoff = base::Duration::millis(250);
  // How often deadlines are checked.
  base::Duration sweep_interval = base::Duration::millis(100);
};

struct EndpointCounters {
  uint64_t accepted = 0;
  uint64_t refused = 0;         // over connections_max
  uint64_t dials = 0;
  uint64_t dial_failures = 0;
  uint64_t connection_errors = 0;  // TLS or framing errors, resets
  uint64_t calls_out = 0;
  uint64_t calls_in = 0;
  uint64_t unknown_methods = 0;
  uint64_t timeouts = 0;
};

class Endpoint {
 public:
  using Reply = std::function<void(base::Result<std::string>)>;
  // Answers one incoming call; call it once (later calls, or calls after the connection closed,
  // do nothing).
  using Respond = std::function<void(base::Result<std::string>)>;
  using Method = std::function<void(std::string body, const std::string& peer_subject, Respond respond)>;

  // `server_tls` may be null for an endpoint that only dials; `client_tls` may be null for one
  // that only listens.
  Endpoint(runtime::Loop& loop, hal::Net& net, const hal::tls::TlsConfig* server_tls,
           const hal::tls::TlsConfig* client_tls, std::string server_name, base::Logger& log,
           EndpointOptions options = {});
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  [[nodiscard]] base::Status listen(const hal::SockAddr& addr);
  base::Result<hal::SockAddr> listen_addr() const;
  void add_method(std::string name, Method method);

  // Calls `method` at `to`. `done` runs exactly once, on the loop thread, never inside call().
  void call(const hal::SockAddr& to, std::string_view method, std::string body, base::Duration timeout, Reply done);

  // Closes every socket now.
  void close();

  const EndpointCounters& counters() const { return counters_; }
  size_t connections() const { return conns_.size(); }

 private:
  struct Pending {
    base::MonoTime deadline;
    Reply done;
  };
  struct Queued {
    std::string method;
    std::string body;
    base::MonoTime deadline;
    Reply done;
  };
  struct Conn {
    uint64_t id = 0;
    hal::Handle handle = hal::kInvalidHandle;
    bool outbound = false;
    bool connecting = false;  // TCP connect not finished
    hal::SockAddr peer;
    std::unique_ptr<Connection> rpc;  // made when TCP is up
    std::string out;                  // ciphertext not yet written
    base::MonoTime deadline;          // connect + handshake deadline (outbound, until ready)
    std::map<uint32_t, Pending> calls;  // outbound calls in flight
    std::vector<Queued> queued;         // outbound calls waiting for ready
    std::map<uint32_t, bool> serving;   // inbound calls being served
  };

  void on_accept();
  void on_io(uint64_t id, uint8_t ready);
  void start_session(Conn& c);
  void read_some(Conn& c);
  void handle_events(Conn& c, std::vector<Event>& events);
  void flush_queued(Conn& c);
  void flush(Conn& c);
  // flush() once at the end of this loop pass, with whatever else goes to that connection.
  void flush_soon(uint64_t id);
  void update_interest(Conn& c);
  void fail(Conn& c, const base::Status& why);
  void sweep();
  void post_reply(Reply done, base::Result<std::string> result);
  Conn* find(uint64_t id);

  runtime::Loop& loop_;
  hal::Net& net_;
  const hal::tls::TlsConfig* server_tls_;
  const hal::tls::TlsConfig* client_tls_;
  std::string server_name_;
  base::Logger& log_;
  EndpointOptions options_;
  hal::Handle listener_ = hal::kInvalidHandle;
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::map<std::string, uint64_t> by_peer_;  // outbound connection per address
  std::map<std::string, base::MonoTime> backoff_until_;
  std::map<std::string, Method, std::less<>> methods_;
  uint64_t next_id_ = 1;
  runtime::TimerId sweep_timer_ = runtime::kNoTimer;
  EndpointCounters counters_;
  // Connections with output waiting for the end of this loop pass (flush_soon()).
  std::vector<uint64_t> flush_soon_;
  std::vector<uint64_t> flushing_;  // the pass's list while it is flushed (flush() may add to flush_soon_)
  bool flush_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rpc
