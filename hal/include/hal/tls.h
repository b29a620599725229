// hal/tls.h -- the TLS seam: mutually authenticated TLS sessions driven through memory, and a
// throwaway certificate authority for dev mode, the lab and tests.
//
// The agent reaches TLS only through this header; mbedTLS (Debian's static 2.28) is its one
// implementation (hal/common/tls_mbedtls.cc) and no mbedTLS header leaks out of hal/.
//
// Sans-I/O: a Session never touches a socket. The event loop reads ciphertext from the socket and
// hands it to on_ciphertext(), sends what take_ciphertext() returns, and gets application bytes
// from take_plaintext() / gives them to write_plaintext(). mbedTLS's BIO callbacks read from and
// write to the session's own buffers, so a handshake step or a record decrypt happens inside
// those calls and nothing blocks.
//
// Contract:
//   - TlsConfig holds one side's identity -- the cluster CA it trusts, its certificate chain and
//     private key (PEM) -- and the random generator (mbedTLS CTR-DRBG seeded from the OS
//     entropy source). TLS 1.2 is the minimum and the maximum Debian's 2.28 speaks.
//   - Authentication is mutual and mandatory: both sides verify the peer's chain against the CA
//     (MBEDTLS_SSL_VERIFY_REQUIRED); a server refuses a client without a certificate. A client
//     Session cannot exist without a server name: it is passed to mbedtls_ssl_set_hostname,
//     which makes the verify step check the server certificate's subjectAltName dNSName (or CN
//     when there is none). Debian's 2.28.3 predates the CVE-2025-27809 fix, where an unset
//     hostname silently skips that check, so client() refuses an empty name.
//   - Every failure is connection-fatal and sticky: kPermissionDenied for anything about the
//     peer's identity (bad chain, wrong name, expired, no certificate, a fatal alert from the
//     peer), kInvalidArgument for a peer that speaks garbage, kUnavailable once the peer sent
//     close_notify. The loop then sends any pending ciphertext (an alert) and closes.
//   - Buffers: the session holds at most one partial TLS record of unread ciphertext (16 KiB and
//     change) plus what the caller has not yet taken; the caller takes after every call.
// Threading: a TlsConfig is immutable after creation and may be shared by the sessions of one
// thread (its random generator is not locked); it must outlive them. A Session belongs to one
// thread at a time.
// Not here: sockets (the loop's), certificate rotation and join tokens (agentctl tls, later),
// session resumption, TLS 1.3 (not in mbedTLS 2.28), revocation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/base/bytes.h"
#include "agent/base/status.h"

namespace hal::tls {

enum class Role : uint8_t { kClient, kServer };

// PEM text of one identity. `cert_pem` may hold a chain (leaf first).
struct Identity {
  std::string ca_pem;    // the cluster CA every peer must chain to
  std::string cert_pem;  // this node's certificate
  std::string key_pem;   // its private key
};

class TlsConfig {
 public:
  // Parses the PEM and seeds the random generator. kInvalidArgument naming the part that does
  // not parse or a key that does not match the certificate; kInternal if seeding fails.
  // A client config may leave cert_pem and key_pem empty only for tests that prove the server
  // refuses it (`allow_no_identity`); otherwise both are required.
  static base::Result<std::unique_ptr<TlsConfig>> create(Role role, const Identity& id,
                                                         bool allow_no_identity = false);
  ~TlsConfig();
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;

  Role role() const;

 private:
  friend class Session;
  struct Impl;  // owns mbedtls_ssl_config, the CA and own x509 chains, the key, the DRBG
  explicit TlsConfig(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Session {
 public:
  // A client session that will verify the server's certificate against `server_name` (a DNS
  // name). kInvalidArgument if the name is empty or the config is not a client config. The
  // ClientHello is ready in take_ciphertext() on return.
  static base::Result<Session> client(const TlsConfig& config, std::string_view server_name);
  // A server session; it waits for the ClientHello. kInvalidArgument for a client config.
  static base::Result<Session> server(const TlsConfig& config);

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Hands the session ciphertext read from the socket and advances it: the handshake, or the
  // decryption of whole records into the plaintext buffer. Errors as in the header comment; a
  // failed session returns its first error again.
  [[nodiscard]] base::Status on_ciphertext(base::ByteSpan bytes);

  // Encrypts `bytes` into records (appended to the outgoing ciphertext). kFailedPrecondition
  // before the handshake completes or after close(); the session's error if it failed.
  [[nodiscard]] base::Status write_plaintext(base::ByteSpan bytes);

  // Queues a close_notify alert; the session accepts no more plaintext to write.
  void close();

  // Moves out the ciphertext to send / the application bytes received so far.
  std::string take_ciphertext();
  std::string take_plaintext();
  bool has_ciphertext() const;

  bool handshake_done() const;
  bool failed() const;
  // After the handshake: the peer certificate's subject (e.g. "CN=server-1.weft"), for logs and
  // for mapping a peer to a node. Empty before.
  std::string peer_subject() const;

 private:
  struct Impl;  // owns mbedtls_ssl_context and the two ciphertext buffers
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// --- a throwaway CA ----------------------------------------------------------------------------
// For `agent dev`, the lab and tests: EC P-256 keys, ECDSA-SHA256 signatures, X.509 v3, made in
// memory. Times are Unix seconds passed in by the caller (from the HAL clock), so this code reads
// no clock. Names are restricted to [A-Za-z0-9.-_] so they can go into a DN without escaping.

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

struct CertSpec {
  std::string common_name;       // the CA's name, or the node's DNS name (also its SAN dNSName)
  int64_t not_before_unix_s = 0;
  int64_t not_after_unix_s = 0;  // must be after not_before
};

// A self-signed CA certificate (basicConstraints CA, keyCertSign) and its key.
// kInvalidArgument for a bad name or validity.
base::Result<CertAndKey> make_ca(const CertSpec& spec);

// A node certificate signed by `ca` (not a CA; digitalSignature; subjectAltName dNSName =
// common_name), usable for both the client and the server role. kInvalidArgument for a bad name,
// validity or CA PEM.
base::Result<CertAndKey> make_node_cert(const CertAndKey& ca, const CertSpec& spec);

}  // namespace hal::tls
