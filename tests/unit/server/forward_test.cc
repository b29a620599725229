// http.forward's server side and codec: a forwarded request runs through the router as if it
// had come to the API; paths outside the forwarded prefixes and malformed bytes never reach a
// handler; the response codec round-trips and refuses malformed input.
#include "agent/server/forward.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "agent/http/client.h"

namespace {

struct Outcome {
  std::optional<base::Result<std::string>> raw;
  http::Response response;
};

class ForwardTest : public ::testing::Test {
 protected:
  ForwardTest() {
    router_.add_prefix("PUT", "/v1/kv/", [this](http::Request& q, http::Responder r) {
      ++kv_calls_;
      http::Response resp = http::Response::json(200, "true");
      resp.set_header("X-Consul-Index", "7");
      resp.body = "key=" + std::string(q.path_rest()) + " body=" + q.body + " cas=" + (q.query_value("cas") ? *q.query_value("cas") : "");
      r.send(std::move(resp));
    });
    router_.add("PUT", "/v1/agent/leave", [this](http::Request&, http::Responder r) {
      ++leave_calls_;
      r.send(http::Response::json(200, "{}"));
    });
  }

  Outcome forward(const std::string& bytes) {
    Outcome o;
    server::serve_forwarded(router_, bytes, [&o](base::Result<std::string> r) { o.raw = std::move(r); });
    EXPECT_TRUE(o.raw.has_value());
    if (o.raw && o.raw->is_ok()) {
      EXPECT_TRUE(server::decode_forwarded_response(**o.raw, &o.response).is_ok());
    }
    return o;
  }
  static std::string request(const std::string& method, const std::string& target, const std::string& body = "") {
    http::ClientRequest c;
    c.method = method;
    c.target = target;
    c.body = body;
    std::string out;
    http::write_request(c, &out);
    return out;
  }

  http::Router router_;
  int kv_calls_ = 0;
  int leave_calls_ = 0;
};

TEST_F(ForwardTest, AForwardedKvRequestRunsThroughTheRouterWithItsQueryBodyAndHeaders) {
  Outcome o = forward(request("PUT", "/v1/kv/app/a%20b?cas=5", "value"));
  ASSERT_TRUE(o.raw->is_ok());
  EXPECT_EQ(o.response.status, 200);
  EXPECT_EQ(o.response.body, "key=app/a b body=value cas=5");
  ASSERT_NE(http::find_header(o.response.headers, "X-Consul-Index"), nullptr);
  EXPECT_EQ(*http::find_header(o.response.headers, "X-Consul-Index"), "7");
  EXPECT_EQ(kv_calls_, 1);
}

TEST_F(ForwardTest, OtherPathsAndMalformedBytesNeverReachAHandler) {
  Outcome leave = forward(request("PUT", "/v1/agent/leave"));
  EXPECT_EQ(leave.response.status, 403);
  Outcome dotdot = forward(request("PUT", "/v1/kvx/a"));
  EXPECT_EQ(dotdot.response.status, 403);
  Outcome garbage = forward("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(garbage.response.status, 400);
  Outcome partial = forward("PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(partial.response.status, 400);
  Outcome two = forward(request("PUT", "/v1/kv/a", "x") + request("PUT", "/v1/agent/leave"));
  EXPECT_EQ(two.response.status, 400);  // one request per call: trailing bytes are refused
  EXPECT_EQ(leave_calls_, 0);
  EXPECT_EQ(kv_calls_, 0);
}

TEST_F(ForwardTest, TheResponseCodecRoundTripsAndRefusesMalformedInput) {
  http::Response r = http::Response::json(404, "[]");
  r.set_header("X-Consul-Index", "12");
  std::string bytes = server::encode_forwarded_response(r);
  http::Response back;
  ASSERT_TRUE(server::decode_forwarded_response(bytes, &back).is_ok());
  EXPECT_EQ(back.status, 404);
  EXPECT_EQ(back.body, "[]");
  EXPECT_EQ(back.headers.size(), r.headers.size());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    http::Response x;
    EXPECT_FALSE(server::decode_forwarded_response(std::string_view(bytes).substr(0, cut), &x).is_ok()) << cut;
  }
  http::Response x;
  EXPECT_FALSE(server::decode_forwarded_response(bytes + "z", &x).is_ok());
  std::string bad_status = bytes;
  bad_status[0] = 0;
  bad_status[1] = 0;  // status 0
  EXPECT_FALSE(server::decode_forwarded_response(bad_status, &x).is_ok());
}

}  // namespace
