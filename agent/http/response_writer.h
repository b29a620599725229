// Serializes HTTP/1.1 responses: status line, the handler's header fields (sanitized), Date,
// Content-Length, Connection, then the body -- into a caller-owned byte string.
//
// The writer decides the framing fields itself so a handler cannot get them wrong: any
// Content-Length, Transfer-Encoding, Connection or Date a handler set is dropped and written
// from the facts (body size, keep-alive decision, the time passed in). A field whose name is not
// a token or whose value holds CR, LF or NUL is dropped (and counted by the caller via the
// return value), so echoed input can never split a response. 1xx, 204 and 304 carry no body and
// no Content-Length; a response to HEAD carries the Content-Length of the body it omits.
//
// Chunked streaming pieces (head without a length, chunk, last chunk) are here so a streaming
// response (log follow, event streams) can be added to the server without touching framing.
//
// Threading: pure functions. Not here: choosing status codes, the Date clock (time is passed).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/base/time.h"
#include "agent/http/message.h"

namespace http {

struct ResponseFraming {
  bool keep_alive = true;      // false: "Connection: close" is written
  bool http10_client = false;  // with keep_alive, "Connection: keep-alive" is written (1.0 needs it)
  bool head_request = false;   // the request was HEAD: headers only
};

// Appends the whole response to `out`. `date` is the IMF-fixdate text for the Date field
// (append_http_date); empty omits the field. Returns how many handler fields were dropped as
// invalid.
size_t write_response(const Response& response, const ResponseFraming& framing, std::string_view date,
                      std::string* out);

// Streaming: a head with "Transfer-Encoding: chunked" (HTTP/1.1 clients only), then chunks,
// then the last chunk. An empty chunk is never written (it would end the body).
size_t write_chunked_head(const Response& response, const ResponseFraming& framing, std::string_view date,
                          std::string* out);
void write_chunk(std::string_view data, std::string* out);
void write_last_chunk(std::string* out);

}  // namespace http
