// Proves the writer owns the framing: Date/Content-Length/Connection come from the facts, handler
// fields that could split a response are dropped, HEAD and 204 carry no body, and the Date text
// is a correct IMF-fixdate.
#include <gtest/gtest.h>

#include <string>

#include "agent/http/message.h"
#include "agent/http/response_writer.h"

namespace {

using http::Response;
using http::ResponseFraming;

TEST(HttpDate, FormatsImfFixdate) {
  std::string s;
  http::append_http_date(base::WallTime::from_unix_ns(784111777LL * 1000000000LL), &s);
  EXPECT_EQ(s, "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  s.clear();
  http::append_http_date(base::WallTime::from_unix_ns(0), &s);
  EXPECT_EQ(s, "Thu, 01 Jan 1970 00:00:00 GMT");
  s.clear();
  http::append_http_date(base::WallTime::from_unix_ns(951782400LL * 1000000000LL), &s);
  EXPECT_EQ(s, "Tue, 29 Feb 2000 00:00:00 GMT");
  s.clear();
  http::append_http_date(base::WallTime::from_unix_ns(1795219200LL * 1000000000LL + 999999999), &s);
  EXPECT_EQ(s, "Sat, 21 Nov 2026 00:00:00 GMT");  // nanoseconds are truncated, not rounded
  s.clear();
  http::append_http_date(base::WallTime::from_unix_ns(4107542399LL * 1000000000LL), &s);
  EXPECT_EQ(s, "Sun, 28 Feb 2100 23:59:59 GMT");  // 2100 is not a leap year
}

TEST(ResponseWriter, WritesFramingItself) {
  Response r = Response::json(200, "{}");
  r.set_header("Content-Length", "999");
  r.set_header("Connection", "keep-alive");
  r.set_header("X-Consul-Index", "42");
  r.set_header("X-Evil", "a\r\nSet-Cookie: x");
  r.set_header("Bad Name", "v");
  std::string out;
  size_t dropped = http::write_response(r, ResponseFraming{.keep_alive = false}, "Thu, 01 Jan 1970 00:00:00 GMT", &out);
  EXPECT_EQ(dropped, 2u);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Type: application/json\r\n"
            "X-Consul-Index: 42\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(ResponseWriter, HeadAndNoBodyStatuses) {
  std::string out;
  Response r = Response::text(200, "hello");
  http::write_response(r, ResponseFraming{.head_request = true}, "", &out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\n");
  out.clear();
  Response nc;
  nc.status = 204;
  nc.body = "ignored";
  http::write_response(nc, ResponseFraming{.keep_alive = true, .http10_client = true}, "", &out);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  out.clear();
  Response odd;
  odd.status = 42;  // not a status code: the writer says 500 rather than emit garbage
  http::write_response(odd, ResponseFraming{}, "", &out);
  EXPECT_EQ(out.substr(0, 35), "HTTP/1.1 500 Internal Server Error\r");
}

TEST(ResponseWriter, ChunkedPieces) {
  std::string out;
  http::write_chunked_head(Response::text(200, ""), ResponseFraming{}, "", &out);
  http::write_chunk("hello", &out);
  http::write_chunk("", &out);
  http::write_chunk(std::string(26, 'z'), &out);
  http::write_last_chunk(&out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n1a\r\nzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n0\r\n\r\n");
}

}  // namespace
