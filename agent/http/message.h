// HTTP/1.1 message values: a parsed Request, a Response a handler builds, header lists, status
// reason phrases, and the helpers both ends share (case-insensitive compare, percent-decoding,
// IMF-fixdate formatting for the Date header).
//
// These are plain values: safe to move between threads, no references into parser buffers (a
// Request owns every byte it carries, so a deferred handler may keep it past the call).
// Header names in a parsed Request are stored lower-cased; lookups are case-insensitive anyway.
// Not here: parsing (request_parser.h, client.h), serialization (response_writer.h), routing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/status.h"
#include "agent/base/time.h"

namespace http {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// The first header called `name` (ASCII case-insensitive), or nullptr.
const std::string* find_header(const Headers& headers, std::string_view name);

struct Request {
  std::string method;   // a validated token, case-sensitive ("GET", "PUT", ...)
  std::string target;   // the request-target exactly as received ("/v1/kv/a%2Fb?recurse")
  std::string path;     // the target's path, percent-decoded ("/v1/kv/a/b"); "*" for OPTIONS *
  std::string raw_query;  // the bytes after '?', undecoded; empty when there was none
  // Decoded query parameters in order of appearance; a bare key ("?recurse") has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  uint8_t version_minor = 1;  // HTTP/1.<minor>; 1.2+ is answered as 1.1
  Headers headers;            // names lower-cased, values with surrounding whitespace removed
  std::string body;           // de-chunked; at most the parser's body_bytes_max
  bool keep_alive = true;     // whether the connection may carry another request after this one
  bool expect_continue = false;  // the client sent "Expect: 100-continue"
  // Set by the Router: how many bytes of `path` the matched route consumed (a prefix route's
  // handler reads the remainder through path_rest()).
  size_t route_prefix_bytes = 0;

  const std::string* header(std::string_view name) const { return find_header(headers, name); }
  // The first value of query parameter `name`, or nullptr when it is absent.
  const std::string* query_value(std::string_view name) const;
  bool has_query(std::string_view name) const { return query_value(name) != nullptr; }
  std::string_view path_rest() const {
    return std::string_view(path).substr(route_prefix_bytes <= path.size() ? route_prefix_bytes : path.size());
  }
};

struct Response {
  int status = 200;
  // Extra header fields. The writer adds Date, Content-Length and Connection itself and drops
  // any of those given here; fields whose name is not a token or whose value holds CR, LF or
  // NUL are dropped too (a handler echoing input can never split the response).
  Headers headers;
  std::string body;

  Response& set_header(std::string name, std::string value);

  // A body with "Content-Type: application/json".
  static Response json(int status, std::string body);
  // {"error": "<message>"} as JSON, the shape every error response of the API has.
  static Response error(int status, std::string_view message);
  static Response text(int status, std::string body);
};

// The standard reason phrase ("Not Found"), or "Unknown" for codes without one.
std::string_view reason_phrase(int status);

// ASCII case-insensitive equality.
bool equals_ignore_case(std::string_view a, std::string_view b);

// tchar per RFC 9110 §5.6.2.
bool is_tchar(unsigned char c);
bool is_token(std::string_view s);

// Percent-decodes `in` into `out` (replacing it). Each '%' must be followed by two hex digits;
// a decoded NUL is refused. With `plus_is_space` (query strings, as HTML forms encode them)
// '+' decodes to ' '. kInvalidArgument says what was wrong.
base::Status percent_decode(std::string_view in, bool plus_is_space, std::string* out);

// Appends `t` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 §5.6.7) to `out`.
// Times before the epoch are clamped to it.
void append_http_date(base::WallTime t, std::string* out);

}  // namespace http
