// Proves agent.config URLs are read strictly (http, an IPv4 host, a port in range, a path with no
// blanks; https and host names refused with the reason) and HTTP answers split: 200's body, any
// other status named, junk refused.
#include "boot/config_url.h"

#include <gtest/gtest.h>

namespace boot {
namespace {

TEST(ConfigUrl, Parse) {
  auto u = parse_http_url("http://10.0.2.100:8080/nodes/web-1.json?x=1");
  ASSERT_TRUE(u.is_ok()) << u.status().message();
  EXPECT_EQ(u->address, (10u << 24) | (2u << 8) | 100u);
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->host, "10.0.2.100:8080");
  EXPECT_EQ(u->path, "/nodes/web-1.json?x=1");
  auto bare = parse_http_url("http://192.168.0.1");
  ASSERT_TRUE(bare.is_ok());
  EXPECT_EQ(bare->port, 80);
  EXPECT_EQ(bare->path, "/");
  const std::pair<const char*, const char*> bad[] = {
      {"https://10.0.0.1/x", "https is not supported"}, {"ftp://10.0.0.1/x", "want http://"},
      {"http://config.example/x", "IPv4 address"},      {"http://10.0.0.1:0/x", "bad port"},
      {"http://10.0.0.1:70000/x", "bad port"},          {"http://10.0.0.1:/x", "bad port"},
      {"http://10.0.0.1/a b", "spaces"},                {"http:///x", "IPv4 address"},
  };
  for (const auto& [url, why] : bad) {
    auto r = parse_http_url(url);
    ASSERT_FALSE(r.is_ok()) << url;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << url << ": " << r.status().message();
  }
}

TEST(ConfigUrl, HttpBody) {
  auto ok = http_body("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"node_name\":\"a\"}");
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, "{\"node_name\":\"a\"}");
  auto missing = http_body("HTTP/1.1 404 Not Found\r\n\r\nnope");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("HTTP 404 Not Found"), std::string::npos);
  EXPECT_FALSE(http_body("SSH-2.0-OpenSSH\r\n").is_ok());
  EXPECT_FALSE(http_body("HTTP/1.0 200 OK\r\nno end of headers").is_ok());
  EXPECT_FALSE(http_body("").is_ok());
}

}  // namespace
}  // namespace boot
