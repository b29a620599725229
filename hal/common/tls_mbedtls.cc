// hal/tls.h over mbedTLS 2.28 (Debian's static libmbedtls, libmbedx509, libmbedcrypto). The only
// file in the tree that includes an mbedTLS TLS or X.509 header; see hal/include/hal/tls.h for
// the contract.
//
// Organisation: TlsConfig::Impl owns the mbedtls_ssl_config with everything it points at (CA
// chain, own chain, key, entropy, CTR-DRBG); Session::Impl owns one mbedtls_ssl_context and its
// two memory buffers, which the BIO callbacks below read and append to -- the Impl lives on the
// heap so the pointer mbedTLS keeps stays valid when a Session moves. The certificate helpers
// at the end use x509write with a local DRBG. mbedTLS error codes never leave this file except
// as text in a message.
#include "hal/tls.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "agent/base/assert.h"

namespace hal::tls {

namespace {

std::string mbedtls_text(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

base::Status mbed_error(base::Code code, const char* what, int rc) {
  return base::error(code, "%s: %s (-0x%04x)", what, mbedtls_text(rc).c_str(),
                     static_cast<unsigned>(-rc));
}

// mbedTLS parses PEM only with the terminating NUL counted in the length.
std::string with_nul(std::string_view pem) {
  std::string s(pem);
  s.push_back('\0');
  return s;
}

// A seeded CTR-DRBG; one per TlsConfig and one per certificate operation.
struct Drbg {
  Drbg() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&ctr);
  }
  ~Drbg() {
    mbedtls_ctr_drbg_free(&ctr);
    mbedtls_entropy_free(&entropy);
  }
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;
  base::Status seed() {
    static constexpr char kPersonalization[] = "weft-tls";
    int rc = mbedtls_ctr_drbg_seed(&ctr, mbedtls_entropy_func, &entropy,
                                   reinterpret_cast<const unsigned char*>(kPersonalization),
                                   sizeof kPersonalization - 1);
    if (rc != 0) return mbed_error(base::Code::kInternal, "seeding the TLS random generator", rc);
    return base::Status::ok();
  }
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context ctr;
};

bool name_ok(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
  });
}

}  // namespace

// --- TlsConfig ----------------------------------------------------------------------------------

struct TlsConfig::Impl {
  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own);
    mbedtls_pk_init(&key);
  }
  ~Impl() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&own);
    mbedtls_pk_free(&key);  // mbedtls_pk_free zeroizes the key
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Role role = Role::kClient;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt own;
  mbedtls_pk_context key;
  Drbg drbg;
};

TlsConfig::TlsConfig(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsConfig::~TlsConfig() = default;
Role TlsConfig::role() const { return impl_->role; }

base::Result<std::unique_ptr<TlsConfig>> TlsConfig::create(Role role, const Identity& id,
                                                           bool allow_no_identity) {
  using base::Code;
  auto impl = std::make_unique<Impl>();
  impl->role = role;
  AGENT_TRY(impl->drbg.seed());
  std::string ca = with_nul(id.ca_pem);
  int rc = mbedtls_x509_crt_parse(&impl->ca, reinterpret_cast<const unsigned char*>(ca.data()),
                                  ca.size());
  if (rc != 0) return mbed_error(Code::kInvalidArgument, "parsing the CA certificate", rc);
  const bool no_identity = id.cert_pem.empty() && id.key_pem.empty();
  if (!(no_identity && allow_no_identity && role == Role::kClient)) {
    std::string cert = with_nul(id.cert_pem);
    rc = mbedtls_x509_crt_parse(&impl->own, reinterpret_cast<const unsigned char*>(cert.data()),
                                cert.size());
    if (rc != 0) return mbed_error(Code::kInvalidArgument, "parsing the node certificate", rc);
    std::string key = with_nul(id.key_pem);
    rc = mbedtls_pk_parse_key(&impl->key, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size(), nullptr, 0);
    std::fill(key.begin(), key.end(), '\0');
    if (rc != 0) return mbed_error(Code::kInvalidArgument, "parsing the private key", rc);
    rc = mbedtls_pk_check_pair(&impl->own.pk, &impl->key);
    if (rc != 0) {
      return mbed_error(Code::kInvalidArgument, "the private key does not match the certificate",
                        rc);
    }
  }
  mbedtls_ssl_config* c = &impl->conf;
  rc = mbedtls_ssl_config_defaults(
      c, role == Role::kClient ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return mbed_error(Code::kInternal, "mbedtls_ssl_config_defaults", rc);
  mbedtls_ssl_conf_min_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(c, &impl->ca, nullptr);
  mbedtls_ssl_conf_rng(c, mbedtls_ctr_drbg_random, &impl->drbg.ctr);
  if (impl->own.version != 0) {
    rc = mbedtls_ssl_conf_own_cert(c, &impl->own, &impl->key);
    if (rc != 0) return mbed_error(Code::kInternal, "mbedtls_ssl_conf_own_cert", rc);
  }
  return std::unique_ptr<TlsConfig>(new TlsConfig(std::move(impl)));
}

// --- Session ------------------------------------------------------------------------------------

struct Session::Impl {
  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() { mbedtls_ssl_free(&ssl); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // BIO callbacks: the "network" is two memory buffers.
  static int bio_send(void* ctx, const unsigned char* buf, size_t len) {
    auto* self = static_cast<Impl*>(ctx);
    self->out.append(reinterpret_cast<const char*>(buf), len);
    return static_cast<int>(len);
  }
  static int bio_recv(void* ctx, unsigned char* buf, size_t len) {
    auto* self = static_cast<Impl*>(ctx);
    const size_t avail = self->in.size() - self->in_pos;
    if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    const size_t n = std::min(len, avail);
    std::memcpy(buf, self->in.data() + self->in_pos, n);
    self->in_pos += n;
    if (self->in_pos == self->in.size()) {
      self->in.clear();
      self->in_pos = 0;
    }
    return static_cast<int>(n);
  }

  base::Status fail(int rc) {
    using base::Code;
    Code code = Code::kInvalidArgument;
    std::string what = "TLS";
    switch (rc) {
      case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: {
        code = Code::kPermissionDenied;
        char info[256];
        mbedtls_x509_crt_verify_info(info, sizeof info, "", mbedtls_ssl_get_verify_result(&ssl));
        std::string text(info);
        std::replace(text.begin(), text.end(), '\n', ';');
        error = base::error(code, "TLS peer certificate refused: %s", text.c_str());
        return error;
      }
      case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
      case MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED:
      case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
      case MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED:
        code = Code::kPermissionDenied;
        what = "TLS peer refused";
        break;
      case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        code = Code::kUnavailable;
        what = "TLS peer closed";
        break;
      case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        code = Code::kResourceExhausted;
        break;
      default:
        break;
    }
    error = mbed_error(code, what.c_str(), rc);
    return error;
  }

  // Runs the handshake, then decrypts every whole record buffered, until mbedTLS wants more.
  base::Status advance() {
    if (!error.is_ok()) return error;
    if (!done) {
      int rc = mbedtls_ssl_handshake(&ssl);
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return base::Status::ok();
      }
      if (rc != 0) return fail(rc);
      done = true;
    }
    unsigned char buf[4096];
    // Bounded: every pass consumes buffered ciphertext or returns.
    while (true) {
      int rc = mbedtls_ssl_read(&ssl, buf, sizeof buf);
      if (rc > 0) {
        plain.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(rc));
        continue;
      }
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) break;
      if (rc == 0) return fail(MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);  // EOF at record level
      return fail(rc);
    }
    return base::Status::ok();
  }

  mbedtls_ssl_context ssl;
  std::string in;  // ciphertext received, not yet read by mbedTLS (from in_pos)
  size_t in_pos = 0;
  std::string out;    // ciphertext to send
  std::string plain;  // plaintext received
  bool done = false;
  bool closed = false;
  base::Status error;
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

namespace {

base::Status setup(mbedtls_ssl_context* ssl, const mbedtls_ssl_config* conf) {
  int rc = mbedtls_ssl_setup(ssl, conf);
  if (rc != 0) return mbed_error(base::Code::kResourceExhausted, "mbedtls_ssl_setup", rc);
  return base::Status::ok();
}

}  // namespace

base::Result<Session> Session::client(const TlsConfig& config, std::string_view server_name) {
  if (config.role() != Role::kClient) {
    return base::Status(base::Code::kInvalidArgument, "TLS client session from a server config");
  }
  // The CVE-2025-27809 guard: without a hostname mbedTLS 2.28.3 skips the name check.
  if (server_name.empty()) {
    return base::Status(base::Code::kInvalidArgument, "TLS client session without a server name");
  }
  auto impl = std::make_unique<Impl>();
  AGENT_TRY(setup(&impl->ssl, &config.impl_->conf));
  std::string name(server_name);
  int rc = mbedtls_ssl_set_hostname(&impl->ssl, name.c_str());
  if (rc != 0) return mbed_error(base::Code::kInvalidArgument, "mbedtls_ssl_set_hostname", rc);
  mbedtls_ssl_set_bio(&impl->ssl, impl.get(), Impl::bio_send, Impl::bio_recv, nullptr);
  AGENT_TRY(impl->advance());  // writes the ClientHello
  return Session(std::move(impl));
}

base::Result<Session> Session::server(const TlsConfig& config) {
  if (config.role() != Role::kServer) {
    return base::Status(base::Code::kInvalidArgument, "TLS server session from a client config");
  }
  auto impl = std::make_unique<Impl>();
  AGENT_TRY(setup(&impl->ssl, &config.impl_->conf));
  mbedtls_ssl_set_bio(&impl->ssl, impl.get(), Impl::bio_send, Impl::bio_recv, nullptr);
  return Session(std::move(impl));
}

base::Status Session::on_ciphertext(base::ByteSpan bytes) {
  if (!impl_->error.is_ok()) return impl_->error;
  impl_->in.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return impl_->advance();
}

base::Status Session::write_plaintext(base::ByteSpan bytes) {
  if (!impl_->error.is_ok()) return impl_->error;
  if (!impl_->done || impl_->closed) {
    return base::Status(base::Code::kFailedPrecondition,
                        impl_->closed ? "TLS session closed" : "TLS handshake not done");
  }
  size_t sent = 0;
  // Bounded: each successful call consumes at least one byte (our BIO never blocks on write).
  while (sent < bytes.size()) {
    int rc = mbedtls_ssl_write(&impl_->ssl, bytes.data() + sent, bytes.size() - sent);
    if (rc < 0) return impl_->fail(rc);
    AGENT_ASSERT(rc > 0);
    sent += static_cast<size_t>(rc);
  }
  return base::Status::ok();
}

void Session::close() {
  if (impl_->closed || !impl_->error.is_ok()) return;
  impl_->closed = true;
  (void)mbedtls_ssl_close_notify(&impl_->ssl);
}

std::string Session::take_ciphertext() { return std::exchange(impl_->out, std::string()); }
std::string Session::take_plaintext() { return std::exchange(impl_->plain, std::string()); }
bool Session::has_ciphertext() const { return !impl_->out.empty(); }
bool Session::handshake_done() const { return impl_->done; }
bool Session::failed() const { return !impl_->error.is_ok(); }

std::string Session::peer_subject() const {
  if (!impl_->done) return {};
  const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(&impl_->ssl);
  if (peer == nullptr) return {};
  char buf[256];
  int n = mbedtls_x509_dn_gets(buf, sizeof buf, &peer->subject);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

// --- throwaway CA -------------------------------------------------------------------------------

namespace {

// Unix seconds -> "YYYYMMDDhhmmss" (UTC), by Howard Hinnant's civil_from_days, so no libc time
// function (and no time zone) is involved.
std::string x509_time(int64_t unix_s) {
  int64_t days = unix_s / 86400;
  int64_t rem = unix_s % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[128];
  snprintf(buf, sizeof buf, "%04lld%02lld%02lld%02lld%02lld%02lld", static_cast<long long>(y),
           static_cast<long long>(m), static_cast<long long>(d),
           static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
           static_cast<long long>(rem % 60));
  return buf;
}

base::Status check_spec(const CertSpec& spec) {
  if (!name_ok(spec.common_name)) {
    return base::Status(base::Code::kInvalidArgument,
                        "certificate name must be 1..64 of [A-Za-z0-9.-_]");
  }
  // X.509 GeneralizedTime years 1950..9999 as mbedTLS writes them.
  constexpr int64_t kMin = -631152000;    // 1950-01-01
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59
  if (spec.not_before_unix_s < kMin || spec.not_after_unix_s > kMax ||
      spec.not_after_unix_s <= spec.not_before_unix_s) {
    return base::Status(base::Code::kInvalidArgument, "certificate validity out of range");
  }
  return base::Status::ok();
}

struct Pk {
  Pk() { mbedtls_pk_init(&pk); }
  ~Pk() { mbedtls_pk_free(&pk); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
  mbedtls_pk_context pk;
};

struct CrtWriter {
  CrtWriter() { mbedtls_x509write_crt_init(&w); }
  ~CrtWriter() { mbedtls_x509write_crt_free(&w); }
  CrtWriter(const CrtWriter&) = delete;
  CrtWriter& operator=(const CrtWriter&) = delete;
  mbedtls_x509write_cert w;
};

struct Mpi {
  Mpi() { mbedtls_mpi_init(&v); }
  ~Mpi() { mbedtls_mpi_free(&v); }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
  mbedtls_mpi v;
};

base::Status gen_key(Drbg& drbg, Pk& key) {
  int rc = mbedtls_pk_setup(&key.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0) {
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.pk),
                             mbedtls_ctr_drbg_random, &drbg.ctr);
  }
  if (rc != 0) return mbed_error(base::Code::kInternal, "generating a P-256 key", rc);
  return base::Status::ok();
}

// Signs a certificate for `subject_key` named `cn`, issued by `issuer_key` named `issuer_dn`.
base::Result<CertAndKey> write_cert(Drbg& drbg, const CertSpec& spec, Pk& subject_key,
                                    Pk& issuer_key, const std::string& issuer_dn, bool is_ca) {
  using base::Code;
  CrtWriter crt;
  mbedtls_x509write_cert* w = &crt.w;
  mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(w, &subject_key.pk);
  mbedtls_x509write_crt_set_issuer_key(w, &issuer_key.pk);
  const std::string subject = "CN=" + spec.common_name;
  int rc = mbedtls_x509write_crt_set_subject_name(w, subject.c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(w, issuer_dn.c_str());
  if (rc != 0) return mbed_error(Code::kInvalidArgument, "certificate name", rc);
  // A random positive 127-bit serial (RFC 5280 section 4.1.2.2: at most 20 octets, positive).
  unsigned char serial_bytes[16];
  rc = mbedtls_ctr_drbg_random(&drbg.ctr, serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;
  Mpi serial;
  if (rc == 0) rc = mbedtls_mpi_read_binary(&serial.v, serial_bytes, sizeof serial_bytes);
  if (rc == 0) rc = mbedtls_x509write_crt_set_serial(w, &serial.v);
  if (rc != 0) return mbed_error(Code::kInternal, "certificate serial", rc);
  rc = mbedtls_x509write_crt_set_validity(w, x509_time(spec.not_before_unix_s).c_str(),
                                          x509_time(spec.not_after_unix_s).c_str());
  if (rc != 0) return mbed_error(Code::kInvalidArgument, "certificate validity", rc);
  rc = mbedtls_x509write_crt_set_basic_constraints(w, is_ca ? 1 : 0, is_ca ? 0 : -1);
  if (rc == 0) rc = mbedtls_x509write_crt_set_subject_key_identifier(w);
  if (rc == 0) rc = mbedtls_x509write_crt_set_authority_key_identifier(w);
  if (rc == 0) {
    rc = mbedtls_x509write_crt_set_key_usage(
        w, is_ca ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                 : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
  }
  if (rc == 0 && !is_ca) {
    // subjectAltName: SEQUENCE { [2] IA5String dNSName } -- mbedTLS 2.28 has no writer for it.
    // Names are at most 64 bytes, so both DER lengths fit the short form.
    std::string san;
    san.push_back('\x30');
    san.push_back(static_cast<char>(spec.common_name.size() + 2));
    san.push_back('\x82');
    san.push_back(static_cast<char>(spec.common_name.size()));
    san += spec.common_name;
    rc = mbedtls_x509write_crt_set_extension(
        w, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
        reinterpret_cast<const unsigned char*>(san.data()), san.size());
  }
  if (rc != 0) return mbed_error(Code::kInternal, "certificate extensions", rc);

  CertAndKey out;
  std::string buf(8192, '\0');
  rc = mbedtls_x509write_crt_pem(w, reinterpret_cast<unsigned char*>(buf.data()), buf.size(),
                                 mbedtls_ctr_drbg_random, &drbg.ctr);
  if (rc != 0) return mbed_error(Code::kInternal, "writing the certificate", rc);
  out.cert_pem.assign(buf.c_str());
  std::fill(buf.begin(), buf.end(), '\0');
  rc = mbedtls_pk_write_key_pem(&subject_key.pk, reinterpret_cast<unsigned char*>(buf.data()),
                                buf.size());
  if (rc != 0) return mbed_error(Code::kInternal, "writing the key", rc);
  out.key_pem.assign(buf.c_str());
  std::fill(buf.begin(), buf.end(), '\0');
  return out;
}

}  // namespace

base::Result<CertAndKey> make_ca(const CertSpec& spec) {
  AGENT_TRY(check_spec(spec));
  Drbg drbg;
  AGENT_TRY(drbg.seed());
  Pk key;
  AGENT_TRY(gen_key(drbg, key));
  return write_cert(drbg, spec, key, key, "CN=" + spec.common_name, /*is_ca=*/true);
}

base::Result<CertAndKey> make_node_cert(const CertAndKey& ca, const CertSpec& spec) {
  using base::Code;
  AGENT_TRY(check_spec(spec));
  Drbg drbg;
  AGENT_TRY(drbg.seed());
  mbedtls_x509_crt ca_crt;
  mbedtls_x509_crt_init(&ca_crt);
  std::string ca_pem = with_nul(ca.cert_pem);
  int rc = mbedtls_x509_crt_parse(&ca_crt, reinterpret_cast<const unsigned char*>(ca_pem.data()),
                                  ca_pem.size());
  char dn[256];
  int dn_len = rc == 0 ? mbedtls_x509_dn_gets(dn, sizeof dn, &ca_crt.subject) : 0;
  mbedtls_x509_crt_free(&ca_crt);
  if (rc != 0) return mbed_error(Code::kInvalidArgument, "parsing the CA certificate", rc);
  if (dn_len < 0) return mbed_error(Code::kInvalidArgument, "the CA's subject", dn_len);
  Pk ca_key;
  std::string key_pem = with_nul(ca.key_pem);
  rc = mbedtls_pk_parse_key(&ca_key.pk, reinterpret_cast<const unsigned char*>(key_pem.data()),
                            key_pem.size(), nullptr, 0);
  std::fill(key_pem.begin(), key_pem.end(), '\0');
  if (rc != 0) return mbed_error(Code::kInvalidArgument, "parsing the CA key", rc);
  Pk key;
  AGENT_TRY(gen_key(drbg, key));
  return write_cert(drbg, spec, key, ca_key, std::string(dn, static_cast<size_t>(dn_len)),
                    /*is_ca=*/false);
}

}  // namespace hal::tls
