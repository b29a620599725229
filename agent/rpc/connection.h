// rpc::Connection: one RPC connection's protocol state -- a mutual-TLS session (hal/tls.h), the
// frame decoder (wire/rpc_frame.h) and the table of calls in flight -- as a sans-I/O object.
//
// The event loop owns the socket. It hands every read to on_ciphertext(), which decrypts,
// cuts frames and returns them as Events; it sends whatever take_output() returns after
// calling into the connection (at once, or once per loop pass: frames wait as plaintext until
// take_output(), which encrypts them together, so many small calls or answers make a few TLS
// records and one write instead of one each). A client connection opens calls (call(), cancel()) and receives
// responses; a server connection receives requests and answers them (respond(), fail()). Many
// calls share the connection: each has a call id, and answers may come in any order.
//
// Rules the connection enforces, each connection-fatal (the Status from on_ciphertext; the loop
// then sends take_output() -- perhaps a TLS alert -- and closes):
//   - everything hal::tls::Session and wire::RpcFrameDecoder refuse;
//   - a frame of the wrong direction (a request to a client, a response/error to a server, a
//     cancel to a client);
//   - a server receiving a request whose call id is already in flight.
// Not fatal: a response or error for a call the client no longer tracks (it was cancelled, or
// already finished) is dropped and counted in stale_frames(); a request beyond
// calls_in_flight_max is answered at once with a kResourceExhausted error frame.
//
// Bounds: calls in flight (either side) <= calls_in_flight_max; frame bodies <= body_bytes_max;
// Events returned by one on_ciphertext() are at most what the bytes given can encode.
// Threading: one loop thread. Not here: sockets and timeouts (the loop's: it cancels a call
// whose deadline passed), method dispatch, forwarding to the leader, the consistency modes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/base/status.h"
#include "agent/wire/rpc_frame.h"
#include "hal/tls.h"

namespace rpc {

struct ConnectionLimits {
  // Largest frame body accepted or sent. 1 MiB holds a 512 KiB KV value with room to spare.
  size_t body_bytes_max = wire::kRpcBodyBytesDefault;
  // Calls open at once on one connection. 256 keeps a connection's worst-case memory at
  // 256 x body_bytes_max of answers in the application's hands while still letting one client
  // pipeline plenty of reads (Consul's default yamux stream limit is also 256).
  size_t calls_in_flight_max = 256;
};

// What arrived. For kResponse, `more` says further chunks of the same call follow.
struct Event {
  enum class Kind : uint8_t { kRequest, kResponse, kError, kCancel };
  Kind kind = Kind::kRequest;
  uint32_t call_id = 0;
  std::string method;  // kRequest
  std::string body;    // kRequest, kResponse
  bool more = false;   // kResponse
  base::Status error;  // kError: the server's Status
};

class Connection {
 public:
  // `session` must be a client session for a client connection, a server one for a server.
  static Connection client(hal::tls::Session session, ConnectionLimits limits = {});
  static Connection server(hal::tls::Session session, ConnectionLimits limits = {});

  // Feeds ciphertext read from the socket; appends what arrived to `events`. Errors are
  // connection-fatal and sticky (see the header comment).
  [[nodiscard]] base::Status on_ciphertext(base::ByteSpan bytes, std::vector<Event>* events);

  // Client: opens a call. Returns its call id. kFailedPrecondition before the TLS handshake is
  // done or on a server connection, kResourceExhausted at calls_in_flight_max or for a body over
  // body_bytes_max, kInvalidArgument for a bad method name.
  [[nodiscard]] base::Result<uint32_t> call(std::string_view method, base::ByteSpan body);
  // Client: abandons a call in flight (sends a cancel; later answers are dropped). A no-op for a
  // call not in flight.
  [[nodiscard]] base::Status cancel(uint32_t call_id);

  // Server: answers a call in flight. With `more`, the call stays open for further chunks.
  // kNotFound for a call not in flight; kResourceExhausted for a body over body_bytes_max (the
  // call stays open, so the server can still fail() it).
  [[nodiscard]] base::Status respond(uint32_t call_id, base::ByteSpan body, bool more = false);
  // Server: ends a call in flight with an error. kNotFound for a call not in flight.
  [[nodiscard]] base::Status fail(uint32_t call_id, const base::Status& error);

  // Ciphertext to send: TLS handshake records, frames, alerts. Encrypts the frames waiting since
  // the last take_output(); if that fails the connection is failed() (error() says why) and what
  // is returned is at most an alert.
  std::string take_output();
  bool has_output() const { return !plain_out_.empty() || session_.has_ciphertext(); }

  bool ready() const { return session_.handshake_done() && error_.is_ok(); }
  bool failed() const { return !error_.is_ok(); }
  const base::Status& error() const { return error_; }
  size_t calls_in_flight() const { return in_flight_.size(); }
  uint64_t stale_frames() const { return stale_frames_; }
  std::string peer_subject() const { return session_.peer_subject(); }

 private:
  Connection(hal::tls::Session session, ConnectionLimits limits, bool is_client);
  base::Status send(const wire::RpcFrame& f);
  base::Status handle(wire::RpcFrame f, std::vector<Event>* events);
  base::Status fatal(base::Status s);

  hal::tls::Session session_;
  ConnectionLimits limits_;
  // Frames not yet encrypted (take_output()); its capacity is kept, so steady traffic does not
  // allocate for it.
  std::string plain_out_;
  bool is_client_;
  wire::RpcFrameDecoder decoder_;
  // Ordered so that behaviour never depends on hash order; at most calls_in_flight_max entries.
  std::set<uint32_t> in_flight_;
  uint32_t next_call_id_ = 1;
  uint64_t stale_frames_ = 0;
  base::Status error_;
};

}  // namespace rpc
