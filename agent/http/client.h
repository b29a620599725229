// A minimal HTTP/1.1 client for agentctl and for tests: a sans-I/O response parser and one
// blocking-style call helper that runs a single request over a hal::Net connection (TCP or the
// agent's Unix socket), driving a runtime::Loop until the response is complete or a deadline.
//
// One request per connection: the request carries "Connection: close" and the body is sent with
// Content-Length. The response is read with Content-Length, chunked transfer-coding, or until
// EOF when it has neither; interim 1xx responses are skipped. Everything is bounded
// (ClientLimits) and untrusted: a malformed or oversized response is an error value.
//
// Threading: http_call runs on the Loop's thread and runs the Loop (other watchers' callbacks
// run meanwhile); it must not be called from inside a Loop callback.
// Not here: connection reuse, redirects, TLS, proxies, name resolution (addresses are literal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "agent/http/message.h"
#include "agent/runtime/loop.h"
#include "hal/net.h"

namespace http {

struct ClientLimits {
  size_t head_bytes_max = 16 * 1024;  // status line and header fields together
  size_t header_count_max = 100;
  // agentctl reads job lists, logs and catalogs; 64 MiB is far past any of them yet bounded.
  size_t body_bytes_max = 64 * 1024 * 1024;
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";  // origin-form, already percent-encoded
  std::string host = "localhost";
  Headers headers;           // extra fields; Host, Content-Length, Connection are written here
  std::string body;
};

struct ClientResponse {
  int status = 0;
  Headers headers;  // names lower-cased
  std::string body;
  const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

// Appends the request's bytes to `out`: request line, Host, extra fields, Content-Length (for
// a body or a method that usually has one), "Connection: close", body. Fields with invalid names
// or CR/LF/NUL in values are dropped.
void write_request(const ClientRequest& request, std::string* out);

class ResponseParser {
 public:
  // `head_request`: the response to HEAD has no body whatever its fields say.
  explicit ResponseParser(ClientLimits limits = {}, bool head_request = false);

  // Consumes bytes; returns how many. Stops at the end of the response or at an error.
  size_t feed(std::string_view data);
  // The peer closed: completes a read-until-EOF body, or fails a truncated response.
  void finish_eof();

  bool complete() const { return state_ == State::kComplete; }
  bool failed() const { return state_ == State::kError; }
  std::string_view error() const { return error_; }
  // Precondition: complete().
  ClientResponse take();

 private:
  enum class State : uint8_t { kHead, kBodyLength, kBodyEof, kChunkSize, kChunkData, kChunkCrlf, kTrailer,
                               kComplete, kError };
  size_t feed_line(std::string_view data, size_t bytes_max);
  void on_head_line(std::string_view line);
  void finish_head();
  void on_chunk_line(std::string_view line);
  void fail(const char* why);
  bool append_body(std::string_view bytes);

  ClientLimits limits_;
  bool head_request_;
  State state_ = State::kHead;
  const char* error_ = "";
  std::string line_;
  size_t head_bytes_ = 0;
  bool have_status_ = false;
  uint64_t remaining_bytes_ = 0;
  ClientResponse response_;
};

// Connects to `to`, sends `request`, and returns the parsed response, running `loop` until then.
// Errors: kTimeout when `timeout` passes first; kIo for connect/read/write failures and a peer
// that closed early; kInvalidArgument for a malformed response; kResourceExhausted past limits.
base::Result<ClientResponse> http_call(runtime::Loop& loop, hal::Net& net, const hal::SockAddr& to,
                                       const ClientRequest& request, base::Duration timeout,
                                       ClientLimits limits = {});

}  // namespace http
