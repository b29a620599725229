// Proves the request parser's contract without sockets: every limit maps to its status, framing
// is smuggling-safe (RFC 9112 §6), results do not depend on how the bytes are split, and
// pipelined requests come out one at a time with the rest left for the caller.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "agent/http/request_parser.h"

namespace {

using http::ParserLimits;
using http::Request;
using http::RequestParser;

struct Outcome {
  std::vector<Request> requests;
  int error_status = 0;
  std::string error_reason;
  size_t unconsumed = 0;
};

// Feeds `input` in pieces of `step` bytes (0: all at once), taking every complete request.
Outcome run(std::string_view input, size_t step = 0, ParserLimits limits = {}) {
  Outcome out;
  RequestParser p(limits);
  std::string pending;
  size_t pos = 0;
  while (pos < input.size() || p.complete()) {
    if (p.complete()) {
      out.requests.push_back(p.take());
      continue;
    }
    size_t n = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    pending.append(input.substr(pos, n));
    pos += n;
    while (!pending.empty()) {
      size_t before = pending.size();
      size_t used = p.feed(pending);
      pending.erase(0, used);
      if (p.failed()) {
        out.error_status = p.error_status();
        out.error_reason = std::string(p.error_reason());
        out.unconsumed = pending.size() + (input.size() - pos);
        return out;
      }
      if (p.complete()) {
        out.requests.push_back(p.take());
        continue;
      }
      EXPECT_EQ(used, before);  // an unfinished parser consumes everything it is given
      break;
    }
  }
  out.unconsumed = pending.size();
  return out;
}

int status_of(std::string_view input, ParserLimits limits = {}) {
  Outcome o = run(input, 0, limits);
  return o.error_status;
}

TEST(RequestParser, SimpleGetWithQueryAndHeaders) {
  Outcome o = run("GET /v1/kv/a%2Fb%20c?recurse&index=42&q=a+b%26c HTTP/1.1\r\n"
                  "Host: localhost\r\nX-Consul-Token:  secret \t\r\n\r\n");
  ASSERT_EQ(o.error_status, 0) << o.error_reason;
  ASSERT_EQ(o.requests.size(), 1u);
  const Request& r = o.requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/v1/kv/a%2Fb%20c?recurse&index=42&q=a+b%26c");
  EXPECT_EQ(r.path, "/v1/kv/a/b c");
  EXPECT_EQ(r.raw_query, "recurse&index=42&q=a+b%26c");
  ASSERT_EQ(r.query.size(), 3u);
  EXPECT_TRUE(r.has_query("recurse"));
  EXPECT_EQ(*r.query_value("recurse"), "");
  EXPECT_EQ(*r.query_value("index"), "42");
  EXPECT_EQ(*r.query_value("q"), "a b&c");
  EXPECT_EQ(r.query_value("wait"), nullptr);
  ASSERT_NE(r.header("x-consul-token"), nullptr);
  EXPECT_EQ(*r.header("X-CONSUL-TOKEN"), "secret");
  EXPECT_EQ(r.headers[1].name, "x-consul-token");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_TRUE(r.body.empty());
}

TEST(RequestParser, ByteAtATimeGivesTheSameResult) {
  std::string input =
      "POST /v1/kv/x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
      "PUT /v1/kv/y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer-Field: x\r\n\r\n"
      "GET /done HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  Outcome whole = run(input, 0);
  ASSERT_EQ(whole.error_status, 0) << whole.error_reason;
  for (size_t step : {1u, 2u, 3u, 7u, 64u}) {
    Outcome o = run(input, step);
    ASSERT_EQ(o.error_status, 0) << "step " << step << ": " << o.error_reason;
    ASSERT_EQ(o.requests.size(), 3u) << "step " << step;
    EXPECT_EQ(o.requests[0].body, "hello world");
    EXPECT_EQ(o.requests[1].body, "hello world");
    EXPECT_EQ(o.requests[1].method, "PUT");
    EXPECT_EQ(o.requests[2].path, "/done");
    EXPECT_FALSE(o.requests[2].keep_alive);
  }
}

TEST(RequestParser, PipelinedRequestsStopAtEachBoundary) {
  std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string both = a + b;
  RequestParser p;
  size_t used = p.feed(both);
  EXPECT_EQ(used, a.size());
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(p.feed(both.substr(used)), 0u);  // complete: consumes nothing until take()
  EXPECT_EQ(p.take().path, "/a");
  EXPECT_FALSE(p.started());
  EXPECT_EQ(p.feed(std::string_view(both).substr(used)), b.size());
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(p.take().path, "/b");
}

TEST(RequestParser, LeadingEmptyLinesAreSkippedButBounded) {
  EXPECT_EQ(run("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").requests.size(), 1u);
  std::string many;
  for (int i = 0; i < 9; ++i) many += "\r\n";
  EXPECT_EQ(status_of(many + "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

TEST(RequestParser, KeepAliveSemantics) {
  auto ka = [](std::string_view req) { return run(req).requests.at(0).keep_alive; };
  EXPECT_TRUE(ka("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
  EXPECT_FALSE(ka("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));
  // HTTP/1.2 is handled as 1.1.
  Outcome o = run("GET / HTTP/1.9\r\nHost: h\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.requests[0].version_minor, 1);
}

TEST(RequestParser, HostRules) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(run("GET / HTTP/1.0\r\n\r\n").requests.size(), 1u);
}

TEST(RequestParser, VersionAndRequestLine) {
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(status_of("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/1.1x\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / http/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);  // method must be a token
  EXPECT_EQ(status_of("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("CONNECT host:443 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  Outcome star = run("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(star.requests.size(), 1u);
  EXPECT_EQ(star.requests[0].path, "*");
  Outcome abs = run("GET http://127.0.0.1:7700/v1/status/leader?stale HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(abs.requests.size(), 1u);
  EXPECT_EQ(abs.requests[0].path, "/v1/status/leader");
  EXPECT_TRUE(abs.requests[0].has_query("stale"));
  // Custom methods are tokens and pass; the router decides.
  EXPECT_EQ(run("PURGE / HTTP/1.1\r\nHost: h\r\n\r\n").requests.at(0).method, "PURGE");
}

TEST(RequestParser, LineEndings) {
  // Bare LF is refused (documented in request_parser.h), as is a bare CR.
  EXPECT_EQ(status_of("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\n\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"), 400);
}

TEST(RequestParser, HeaderFieldValidation) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n"), 400);  // obs-fold
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tfolded\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);  // space before colon
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\n: empty-name\r\n\r\n"), 400);
  EXPECT_EQ(status_of(std::string("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 36)), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n"), 400);
  // HTAB and obs-text are allowed in values.
  Outcome o = run("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xe2\x9c\x93\r\nEmpty:\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(*o.requests[0].header("x"), "a\tb \xe2\x9c\x93");
  EXPECT_EQ(*o.requests[0].header("empty"), "");
}

TEST(RequestParser, RequestLineLimitGives414Or400) {
  ParserLimits limits;
  limits.request_line_bytes_max = 64;
  std::string ok_target(64 - std::string_view("GET  HTTP/1.1").size(), 'a');
  ok_target[0] = '/';
  EXPECT_EQ(status_of("GET " + ok_target + " HTTP/1.1\r\nHost: h\r\n\r\n", limits), 0);
  std::string long_target = "/" + std::string(100, 'a');
  EXPECT_EQ(status_of("GET " + long_target + " HTTP/1.1\r\nHost: h\r\n\r\n", limits), 414);
  // Byte-at-a-time reaches the same answer before the line ends.
  Outcome o = run("GET " + long_target, 1, limits);
  EXPECT_EQ(o.error_status, 414);
  // An overlong method is not a long URI.
  EXPECT_EQ(status_of(std::string(100, 'G') + " / HTTP/1.1\r\n", limits), 400);
  // Default limit: 8 KiB.
  EXPECT_EQ(status_of("GET /" + std::string(9000, 'x') + " HTTP/1.1\r\nHost: h\r\n\r\n"), 414);
}

TEST(RequestParser, HeaderLimitsGive431) {
  ParserLimits limits;
  limits.header_count_max = 3;
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits), 0);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), 431);
  ParserLimits bytes;
  bytes.header_bytes_max = 100;
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nA: " + std::string(200, 'x') + "\r\n\r\n", bytes), 431);
  Outcome trickle = run("GET / HTTP/1.1\r\nHost: h\r\nA: " + std::string(200, 'x'), 1, bytes);
  EXPECT_EQ(trickle.error_status, 431);
  // Default: 100 fields.
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 100; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status_of(many + "\r\n"), 431);
}

TEST(RequestParser, ContentLengthRules) {
  ParserLimits limits;
  limits.body_bytes_max = 10;
  EXPECT_EQ(run("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", 0, limits).requests.at(0).body,
            "0123456789");
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits), 413);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n", limits),
            413);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"), 400);
  // The body ends where Content-Length says; the rest is the next request.
  Outcome o = run("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 2u);
  EXPECT_EQ(o.requests[0].body, "abc");
}

TEST(RequestParser, SmugglingFramingIsRefused) {
  // CL.TE and TE.CL in both orders.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "0\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
                      "0\r\n\r\n"),
            400);
  // Obfuscated TE values.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n"),
            400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  EXPECT_EQ(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  // Case-insensitive "chunked" is still chunked.
  EXPECT_EQ(run("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD\r\n\r\n1\r\nx\r\n0\r\n\r\n")
                .requests.at(0)
                .body,
            "x");
}

TEST(RequestParser, ChunkedBodies) {
  Outcome o = run("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "A\r\n0123456789\r\n00a ; name=\"v\"\r\nabcdefghij\r\n0\r\n\r\n");
  ASSERT_EQ(o.error_status, 0) << o.error_reason;
  EXPECT_EQ(o.requests.at(0).body, "0123456789abcdefghij");
  auto chunked = [](std::string body) {
    return status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
  };
  EXPECT_EQ(chunked("g\r\n"), 400);                         // not hex
  EXPECT_EQ(chunked("\r\n"), 400);                          // empty size
  EXPECT_EQ(chunked("-1\r\n"), 400);
  EXPECT_EQ(chunked("0x5\r\nhello\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(chunked("5 x\r\nhello\r\n0\r\n\r\n"), 400);     // junk after the size
  EXPECT_EQ(chunked("5\nhello\r\n0\r\n\r\n"), 400);         // bare LF
  EXPECT_EQ(chunked("5\r\nhelloX\r\n0\r\n\r\n"), 400);      // data longer than the size
  EXPECT_EQ(chunked("5\r\nhello\n0\r\n\r\n"), 400);         // data not ended by CRLF
  EXPECT_EQ(chunked("11111111111111111\r\n"), 400);          // 17 hex digits
  EXPECT_EQ(chunked("ffffffffffffffff\r\n"), 413);           // fits 64 bits, past the limit
  EXPECT_EQ(chunked("5;a\x01\r\nhello\r\n0\r\n\r\n"), 400);  // control byte in extension
  EXPECT_EQ(chunked("5\r\nhello\r\n0\r\nBad Trailer: x\r\n\r\n"), 400);
  EXPECT_EQ(chunked("5\r\nhello\r\n0\r\n folded\r\n\r\n"), 400);
  ParserLimits limits;
  limits.body_bytes_max = 8;
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n4\r\n", limits),
            413);
  EXPECT_EQ(run("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n",
                0, limits)
                .requests.at(0)
                .body,
            "helloabc");
}

TEST(RequestParser, PercentDecoding) {
  EXPECT_EQ(status_of("GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a% HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a%0Ab HTTP/1.1\r\nHost: h\r\n\r\n"), 400);  // control once decoded
  EXPECT_EQ(status_of("GET /?a=%G0 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /?a=%00 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /?%=1 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  // Dot segments, plain or encoded, cannot climb out of a prefix route.
  EXPECT_EQ(status_of("GET /v1/kv/../agent HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /v1/kv/%2e%2E/agent HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /v1/./kv HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /v1/kv/.. HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  Outcome o = run("GET /v1/kv/..a/.b/%C3%A9?k%20y=v%2Bw+x&&=empty-key HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(o.error_status, 0) << o.error_reason;
  EXPECT_EQ(o.requests[0].path, "/v1/kv/..a/.b/\xc3\xa9");
  ASSERT_EQ(o.requests[0].query.size(), 2u);
  EXPECT_EQ(o.requests[0].query[0].first, "k y");
  EXPECT_EQ(o.requests[0].query[0].second, "v+w x");
  EXPECT_EQ(o.requests[0].query[1].first, "");
}

TEST(RequestParser, ExpectContinue) {
  RequestParser p;
  std::string head = "PUT /v1/kv/a HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(p.feed(head), head.size());
  EXPECT_TRUE(p.head_complete());
  EXPECT_TRUE(p.continue_expected());
  EXPECT_EQ(p.feed("he"), 2u);
  EXPECT_FALSE(p.continue_expected());  // the body started: too late for 100
  EXPECT_EQ(p.feed("llo"), 3u);
  ASSERT_TRUE(p.complete());
  Request r = p.take();
  EXPECT_TRUE(r.expect_continue);
  EXPECT_EQ(r.body, "hello");
  // Over the body limit: 413 straight away, never a 100.
  ParserLimits limits;
  limits.body_bytes_max = 4;
  RequestParser small(limits);
  small.feed(head);
  EXPECT_TRUE(small.failed());
  EXPECT_EQ(small.error_status(), 413);
  // Other expectations are 417; 1.0 ignores the expectation.
  EXPECT_EQ(status_of("PUT / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n"), 417);
  Outcome old = run("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_EQ(old.requests.size(), 1u);
  EXPECT_FALSE(old.requests[0].expect_continue);
  // No body: nothing to continue.
  RequestParser nobody;
  nobody.feed("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(nobody.complete());
  EXPECT_FALSE(nobody.continue_expected());
}

TEST(RequestParser, ErrorsAreFinal) {
  RequestParser p;
  p.feed("GET / HTTP/3.0\r\n");
  ASSERT_TRUE(p.failed());
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0u);
  EXPECT_TRUE(p.failed());
  p.reset();
  p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(p.complete());
}

TEST(RequestParser, StartedTracksTheFirstByte) {
  RequestParser p;
  EXPECT_FALSE(p.started());
  p.feed("G");
  EXPECT_TRUE(p.started());
  EXPECT_FALSE(p.head_complete());
}

}  // namespace
