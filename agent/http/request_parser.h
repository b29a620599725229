// Sans-I/O, incremental, bounded HTTP/1.1 request parser (RFC 9112).
//
// Bytes arrive in any pieces -- one at a time, or several pipelined requests in one read. feed()
// consumes bytes up to the end of exactly one request and stops there, so the caller keeps the
// rest for the next request; take() hands out the finished Request and rearms the parser.
// Nothing here touches a socket or a clock: the server (server.h) owns the timeouts.
//
// What it accepts, and why it is strict (request smuggling, RFC 9112 §6 and §11.2):
//   - Lines end in CRLF. A bare LF is refused with 400 rather than accepted as RFC 9112 §2.2
//     permits: every client of this API (curl, Go's net/http, Traefik, consul-template, our own
//     agentctl) sends CRLF, and refusing removes any chance that we and a proxy in front of us
//     disagree on where a line ends. A bare CR anywhere is refused too.
//   - Up to 8 empty lines before the request line are skipped (§2.2: robustness after a body).
//   - Request line "method SP request-target SP HTTP/1.x", single spaces. Method must be a token.
//     Target: origin-form ("/p?q"), absolute-form ("http://h/p", path kept) or "*" for OPTIONS;
//     bytes 0x21..0x7E only, no '#'. Too long: 414 when the target is what overflowed, else 400.
//   - Version "HTTP/<d>.<d>": major 1 only (other majors: 505); 1.2+ is treated as 1.1.
//   - Header fields "name: value": name a token with no space before ':'; obs-fold (a line
//     starting with SP/HTAB) is refused with 400; NUL, CR and other controls (but HTAB) in a
//     value: 400. Too many fields or too many bytes: 431.
//   - HTTP/1.1 needs exactly one Host; 1.0 at most one (§3.2): else 400.
//   - Framing (§6.1-6.3): Transfer-Encoding together with Content-Length is 400; more than one
//     Content-Length field, or a list or non-digit value, is 400 (even if the values agree);
//     Transfer-Encoding in HTTP/1.0 is 400; a coding list whose last element is not "chunked",
//     or "chunked" twice, is 400; other codings ("gzip, chunked") are 501. A Content-Length past
//     body_bytes_max is refused with 413 before any body byte is read (and no 100 Continue).
//   - Chunked: chunk-size is 1-16 hex digits, then optional extensions (";..." of visible bytes,
//     ignored); each chunk's data must end in exactly CRLF; trailer fields are validated like
//     header fields, bounded by the header limits, and dropped. A running body past
//     body_bytes_max is 413.
//   - Keep-alive (RFC 9112 §9.3): 1.1 persists unless "Connection: close"; 1.0 closes unless
//     "Connection: keep-alive".
//   - "Expect: 100-continue" on 1.1 sets expect_continue (ignored on 1.0, §10.1.1 of RFC 9110);
//     any other expectation is 417. continue_expected() tells the server when to send 100.
//   - Path: percent-decoded (bad escapes, and control bytes once decoded, are 400), and a
//     decoded "." or ".." segment is 400, so a prefix route can never be escaped. Query: split on '&', first '=' separates key
//     and value, both percent-decoded with '+' as space.
// Bounded: the parser holds at most one line (request line or one field) plus the body.
// Errors are final: after one, feed() consumes nothing; the connection must close.
//
// Threading: none; one owner. Not here: responses, routing, timeouts, HTTP/2 (its preface,
// "PRI * HTTP/2.0", gets 505), CONNECT/authority-form (400), request trailers' content.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/http/message.h"

namespace http {

struct ParserLimits {
  // The request line without its CRLF. 8 KiB is what nginx and most proxies allow by default;
  // the API's longest legitimate targets (KV keys, filter expressions) are well below it.
  size_t request_line_bytes_max = 8 * 1024;
  // All header field lines together, CRLFs included; the same budget again bounds trailers.
  // 16 KiB fits ACL tokens and forwarding headers with room to spare.
  size_t header_bytes_max = 16 * 1024;
  // Header fields per request (and trailer fields per chunked body).
  size_t header_count_max = 100;
  // De-chunked body bytes. 1 MiB: the largest API bodies (job specs, KV values -- Consul's own
  // KV value limit is 512 KiB) fit; configurable per server.
  size_t body_bytes_max = 1024 * 1024;
  // One chunk-size line including extensions; chunk extensions carry nothing we use.
  size_t chunk_line_bytes_max = 1024;
};

class RequestParser {
 public:
  enum class State : uint8_t { kHead, kBody, kComplete, kError };

  explicit RequestParser(ParserLimits limits = {});

  // Consumes bytes of the current request; returns how many were used. Stops after the last
  // byte of a request (state kComplete) or at the first error (kError); in those states it
  // consumes nothing until take() or reset().
  size_t feed(std::string_view data);

  State state() const { return state_; }
  bool complete() const { return state_ == State::kComplete; }
  bool failed() const { return state_ == State::kError; }
  // When failed(): the status to answer with (400, 413, 414, 417, 431, 501, 505) and a short
  // reason for the {"error": ...} body and the logs.
  int error_status() const { return error_status_; }
  std::string_view error_reason() const { return error_reason_; }

  // Some byte of the current request has arrived (even a leading empty line).
  bool started() const { return started_; }
  // The head (request line and fields) is complete; the body may still be arriving.
  bool head_complete() const { return state_ == State::kBody || state_ == State::kComplete; }
  // The head asked for 100-continue and no body byte has arrived yet: the server should send
  // "100 Continue" (once) when it is this request's turn to be answered.
  bool continue_expected() const;
  size_t body_bytes() const { return request_.body.size(); }
  const ParserLimits& limits() const { return limits_; }
  // The Request being assembled (complete only when complete()); for inspection in tests.
  const Request& peek() const { return request_; }

  // Precondition: complete(). Returns the request and rearms the parser for the next one.
  Request take();
  // Forgets everything about the current request.
  void reset();

 private:
  enum class BodyMode : uint8_t { kNone, kLength, kChunked };
  enum class ChunkState : uint8_t { kSize, kData, kDataCr, kDataLf, kTrailer };

  size_t feed_head(std::string_view data);
  size_t feed_body(std::string_view data);
  size_t feed_chunked(std::string_view data);
  // Appends `piece` to the current line (bounded by `bytes_max`, failing with `status`).
  bool append_line(std::string_view piece, size_t bytes_max, int status, const char* reason);
  void on_head_line();
  bool parse_request_line(std::string_view line);
  bool parse_target(std::string_view target);
  bool parse_field(std::string_view line, bool trailer);
  void finish_head();
  bool on_chunk_size_line();
  // Checks the CRLF ending of line_ and returns the content without it (or fails).
  bool line_content(std::string_view* out);
  void fail(int status, const char* reason);

  ParserLimits limits_;
  State state_ = State::kHead;
  int error_status_ = 0;
  const char* error_reason_ = "";
  bool started_ = false;
  bool have_request_line_ = false;
  size_t empty_lines_skipped_ = 0;
  size_t header_bytes_ = 0;    // head field bytes so far, or trailer bytes in kTrailer
  size_t header_count_ = 0;
  std::string line_;           // the current unfinished line (no LF)
  BodyMode body_mode_ = BodyMode::kNone;
  ChunkState chunk_state_ = ChunkState::kSize;
  uint64_t remaining_bytes_ = 0;  // Content-Length left, or the current chunk's data left
  Request request_;
};

}  // namespace http
