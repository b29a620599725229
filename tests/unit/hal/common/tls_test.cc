// Proves the TLS seam's contract by pumping a client and a server session through memory
// buffers: certificates from the throwaway CA complete a mutual handshake and carry data both
// ways (also when the ciphertext arrives one byte at a time); and every identity failure is
// refused with kPermissionDenied by the side that checks it -- a server from another CA, a server
// whose name is not the one dialled, a client with no certificate or one from another CA, an
// expired or not-yet-valid certificate. A client session without a server name cannot be made.
#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <string>

#include "hal/tls.h"

namespace {

using base::Code;
namespace tls = hal::tls;

const int64_t kNow = static_cast<int64_t>(std::time(nullptr));
constexpr int64_t kDay = 86400;

tls::CertSpec spec(const char* name, int64_t from = kNow - kDay, int64_t to = kNow + 365 * kDay) {
  return tls::CertSpec{.common_name = name, .not_before_unix_s = from, .not_after_unix_s = to};
}

struct Pki {
  tls::CertAndKey ca;
  tls::CertAndKey server;
  tls::CertAndKey client;
};

Pki make_pki(const char* ca_name = "weft-ca") {
  Pki p;
  auto ca = tls::make_ca(spec(ca_name));
  EXPECT_TRUE(ca.is_ok()) << ca.status().to_string();
  p.ca = ca.value();
  auto server = tls::make_node_cert(p.ca, spec("server-1.weft"));
  EXPECT_TRUE(server.is_ok()) << server.status().to_string();
  p.server = server.value();
  auto client = tls::make_node_cert(p.ca, spec("client-1.weft"));
  EXPECT_TRUE(client.is_ok());
  p.client = client.value();
  return p;
}

std::unique_ptr<tls::TlsConfig> config(tls::Role role, const std::string& ca_pem,
                                       const tls::CertAndKey& me, bool allow_none = false) {
  auto c = tls::TlsConfig::create(
      role, tls::Identity{.ca_pem = ca_pem, .cert_pem = me.cert_pem, .key_pem = me.key_pem},
      allow_none);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return std::move(c).value();
}

struct PumpResult {
  base::Status client;
  base::Status server;
};

// Moves ciphertext between the two sessions until neither has anything to send (bounded), in
// `chunk`-byte pieces. Returns each side's first error.
PumpResult pump(tls::Session& client, tls::Session& server, size_t chunk = 1 << 20) {
  PumpResult r;
  for (int round = 0; round < 64; ++round) {
    std::string to_server = client.take_ciphertext();
    std::string to_client = server.take_ciphertext();
    if (to_server.empty() && to_client.empty()) break;
    for (size_t i = 0; i < to_server.size() && r.server.is_ok(); i += chunk) {
      r.server = server.on_ciphertext(base::as_bytes(to_server).subspan(
          i, std::min(chunk, to_server.size() - i)));
    }
    for (size_t i = 0; i < to_client.size() && r.client.is_ok(); i += chunk) {
      r.client = client.on_ciphertext(base::as_bytes(to_client).subspan(
          i, std::min(chunk, to_client.size() - i)));
    }
  }
  return r;
}

TEST(Tls, MutualHandshakeThenDataBothWays) {
  Pki p = make_pki();
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, p.server);
  auto cc = config(tls::Role::kClient, p.ca.cert_pem, p.client);
  auto server = tls::Session::server(*sc);
  auto client = tls::Session::client(*cc, "server-1.weft");
  ASSERT_TRUE(server.is_ok() && client.is_ok());
  EXPECT_TRUE(client.value().has_ciphertext());  // the ClientHello
  EXPECT_FALSE(client.value().write_plaintext(base::as_bytes("early")).is_ok());
  PumpResult r = pump(client.value(), server.value());
  ASSERT_TRUE(r.client.is_ok()) << r.client.to_string();
  ASSERT_TRUE(r.server.is_ok()) << r.server.to_string();
  ASSERT_TRUE(client.value().handshake_done());
  ASSERT_TRUE(server.value().handshake_done());
  EXPECT_EQ(client.value().peer_subject(), "CN=server-1.weft");
  EXPECT_EQ(server.value().peer_subject(), "CN=client-1.weft");

  const std::string big(100000, 'q');  // several records
  ASSERT_TRUE(client.value().write_plaintext(base::as_bytes(big)).is_ok());
  ASSERT_TRUE(server.value().write_plaintext(base::as_bytes("pong")).is_ok());
  r = pump(client.value(), server.value(), 1000);
  ASSERT_TRUE(r.client.is_ok() && r.server.is_ok());
  EXPECT_EQ(server.value().take_plaintext(), big);
  EXPECT_EQ(client.value().take_plaintext(), "pong");

  // close_notify reaches the server as kUnavailable.
  client.value().close();
  r = pump(client.value(), server.value());
  EXPECT_EQ(r.server.code(), Code::kUnavailable);
}

TEST(Tls, HandshakeCompletesWithCiphertextOneByteAtATime) {
  Pki p = make_pki();
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, p.server);
  auto cc = config(tls::Role::kClient, p.ca.cert_pem, p.client);
  auto server = tls::Session::server(*sc);
  auto client = tls::Session::client(*cc, "server-1.weft");
  PumpResult r = pump(client.value(), server.value(), 1);
  ASSERT_TRUE(r.client.is_ok() && r.server.is_ok());
  ASSERT_TRUE(client.value().handshake_done() && server.value().handshake_done());
  ASSERT_TRUE(server.value().write_plaintext(base::as_bytes("hello")).is_ok());
  r = pump(client.value(), server.value(), 1);
  EXPECT_EQ(client.value().take_plaintext(), "hello");
}

TEST(Tls, ClientRefusesServerFromAnotherCa) {
  Pki p = make_pki();
  Pki other = make_pki("other-ca");
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, other.server);  // server's cert: other CA
  auto cc = config(tls::Role::kClient, p.ca.cert_pem, p.client);
  auto server = tls::Session::server(*sc);
  auto client = tls::Session::client(*cc, "server-1.weft");
  PumpResult r = pump(client.value(), server.value());
  EXPECT_EQ(r.client.code(), Code::kPermissionDenied) << r.client.to_string();
  EXPECT_FALSE(client.value().handshake_done());
  EXPECT_TRUE(client.value().failed());
  // Sticky.
  EXPECT_EQ(client.value().on_ciphertext(base::as_bytes("x")).code(), Code::kPermissionDenied);
}

TEST(Tls, ClientRefusesServerWithAnotherName) {
  Pki p = make_pki();
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, p.server);
  auto cc = config(tls::Role::kClient, p.ca.cert_pem, p.client);
  auto server = tls::Session::server(*sc);
  auto client = tls::Session::client(*cc, "server-2.weft");
  PumpResult r = pump(client.value(), server.value());
  EXPECT_EQ(r.client.code(), Code::kPermissionDenied) << r.client.to_string();
  EXPECT_NE(r.client.message().find("Common Name"), std::string::npos) << r.client.message();
}

TEST(Tls, ClientSessionWithoutServerNameCannotBeMade) {
  Pki p = make_pki();
  auto cc = config(tls::Role::kClient, p.ca.cert_pem, p.client);
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, p.server);
  EXPECT_EQ(tls::Session::client(*cc, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tls::Session::client(*sc, "server-1.weft").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tls::Session::server(*cc).status().code(), Code::kInvalidArgument);
}

TEST(Tls, ServerRefusesClientWithoutCertificate) {
  Pki p = make_pki();
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, p.server);
  auto cc = config(tls::Role::kClient, p.ca.cert_pem, tls::CertAndKey{}, /*allow_none=*/true);
  auto server = tls::Session::server(*sc);
  auto client = tls::Session::client(*cc, "server-1.weft");
  PumpResult r = pump(client.value(), server.value());
  EXPECT_EQ(r.server.code(), Code::kPermissionDenied) << r.server.to_string();
  EXPECT_FALSE(server.value().handshake_done());
}

TEST(Tls, ServerRefusesClientFromAnotherCa) {
  Pki p = make_pki();
  Pki other = make_pki("other-ca");
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, p.server);
  auto cc = config(tls::Role::kClient, p.ca.cert_pem, other.client);
  auto server = tls::Session::server(*sc);
  auto client = tls::Session::client(*cc, "server-1.weft");
  PumpResult r = pump(client.value(), server.value());
  EXPECT_EQ(r.server.code(), Code::kPermissionDenied) << r.server.to_string();
}

TEST(Tls, ExpiredAndNotYetValidCertificatesAreRefused) {
  Pki p = make_pki();
  auto expired = tls::make_node_cert(p.ca, spec("server-1.weft", kNow - 10 * kDay, kNow - kDay));
  auto future = tls::make_node_cert(p.ca, spec("server-1.weft", kNow + kDay, kNow + 10 * kDay));
  ASSERT_TRUE(expired.is_ok() && future.is_ok());
  for (const auto* cert : {&expired.value(), &future.value()}) {
    auto sc = config(tls::Role::kServer, p.ca.cert_pem, *cert);
    auto cc = config(tls::Role::kClient, p.ca.cert_pem, p.client);
    auto server = tls::Session::server(*sc);
    auto client = tls::Session::client(*cc, "server-1.weft");
    PumpResult r = pump(client.value(), server.value());
    EXPECT_EQ(r.client.code(), Code::kPermissionDenied) << r.client.to_string();
  }
}

TEST(Tls, GarbageFromThePeerIsAnErrorNotACrash) {
  Pki p = make_pki();
  auto sc = config(tls::Role::kServer, p.ca.cert_pem, p.server);
  auto server = tls::Session::server(*sc);
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_FALSE(server.value().on_ciphertext(base::as_bytes(junk)).is_ok());
  EXPECT_TRUE(server.value().failed());
}

TEST(Tls, BadPemAndMismatchedKeyAreRefused) {
  Pki p = make_pki();
  EXPECT_EQ(tls::TlsConfig::create(tls::Role::kServer,
                                   {.ca_pem = "nope", .cert_pem = p.server.cert_pem,
                                    .key_pem = p.server.key_pem})
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(tls::TlsConfig::create(tls::Role::kServer,
                                   {.ca_pem = p.ca.cert_pem, .cert_pem = p.server.cert_pem,
                                    .key_pem = p.client.key_pem})
                .status()
                .code(),
            Code::kInvalidArgument);
  // A server may not go without an identity.
  EXPECT_FALSE(tls::TlsConfig::create(tls::Role::kServer, {.ca_pem = p.ca.cert_pem, .cert_pem = "", .key_pem = ""},
                                       true).is_ok());
  EXPECT_EQ(tls::make_ca(spec("bad name,CN=x")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(tls::make_ca(spec("ca", kNow, kNow)).status().code(), Code::kInvalidArgument);
}

}  // namespace
