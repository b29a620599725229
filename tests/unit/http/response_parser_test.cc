// Proves the client's response parser: Content-Length, chunked and read-to-EOF bodies, interim
// 100 responses skipped, HEAD/204 without bodies, limits and malformed input as errors; and that
// write_request frames what it sends.
#include <gtest/gtest.h>

#include <string>

#include "agent/http/client.h"

namespace {

using http::ClientLimits;
using http::ResponseParser;

// Feeds `bytes` one at a time; calls finish_eof() at the end when `eof`.
ResponseParser feed_all(std::string_view bytes, bool eof = false, ClientLimits limits = {}, bool head = false) {
  ResponseParser p(limits, head);
  for (size_t i = 0; i < bytes.size() && !p.complete() && !p.failed(); ++i) p.feed(bytes.substr(i, 1));
  if (eof) p.finish_eof();
  return p;
}

TEST(ResponseParser, ContentLength) {
  auto p = feed_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Consul-Index: 7\r\n\r\nhelloEXTRA");
  ASSERT_TRUE(p.complete());
  auto r = p.take();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(*r.header("X-Consul-Index"), "7");
}

TEST(ResponseParser, ChunkedAndInterim) {
  auto p = feed_all("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n");
  ASSERT_TRUE(p.complete()) << p.error();
  auto r = p.take();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "abcde");
}

TEST(ResponseParser, ReadToEofAndNoBody) {
  auto p = feed_all("HTTP/1.0 200 OK\r\n\r\nall of it", true);
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(p.take().body, "all of it");
  auto nc = feed_all("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_TRUE(nc.complete());
  auto head = feed_all("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", false, {}, true);
  EXPECT_TRUE(head.complete());
  auto cut = feed_all("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true);
  EXPECT_TRUE(cut.failed());
}

TEST(ResponseParser, MalformedAndOversized) {
  EXPECT_TRUE(feed_all("HTTP/2 200 OK\r\n\r\n").failed());
  EXPECT_TRUE(feed_all("HTTP/1.1 2x0 OK\r\n\r\n").failed());
  EXPECT_TRUE(feed_all("HTTP/1.1 200 OK\r\nbad header\r\n\r\n").failed());
  EXPECT_TRUE(feed_all("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").failed());
  EXPECT_TRUE(feed_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").failed());
  ClientLimits small;
  small.body_bytes_max = 4;
  auto big = feed_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, small);
  ASSERT_TRUE(big.failed());
  EXPECT_NE(big.error().find("too large"), std::string_view::npos);
  small.head_bytes_max = 32;
  EXPECT_TRUE(feed_all("HTTP/1.1 200 OK\r\nX: " + std::string(64, 'a') + "\r\n\r\n", false, small).failed());
}

TEST(ClientRequest, WriteRequestFramesTheBody) {
  http::ClientRequest req;
  req.method = "PUT";
  req.target = "/v1/kv/a";
  req.headers.push_back({"X-Consul-Token", "t"});
  req.headers.push_back({"Content-Length", "99"});  // ours wins
  req.headers.push_back({"X-Bad", "a\r\nb"});
  req.body = "value";
  std::string out;
  http::write_request(req, &out);
  EXPECT_EQ(out,
            "PUT /v1/kv/a HTTP/1.1\r\nHost: localhost\r\nX-Consul-Token: t\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\nvalue");
}

}  // namespace
