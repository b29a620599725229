#include "agent/ctl/tls_cmd.h"

#include <cstdlib>

#include "agent/ctl/ctl.h"
#include "hal/tls.h"

namespace ctl {

namespace {

constexpr const char* kUsage =
    "usage: agentctl tls ca create [-dir D] [-days N]\n"
    "       agentctl tls cert create -server|-client [-dc DC] [-domain DOMAIN] [-ca FILE] [-key FILE] [-dir D] [-days N]\n";
constexpr size_t kPemBytesMax = 64 * 1024;
constexpr int64_t kDaysMax = 36500;

bool parse_days(const std::string& s, int64_t* days) {
  if (s.empty() || s.size() > 5) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > kDaysMax) return false;
  *days = v;
  return true;
}

bool exists(hal::Env& env, const std::string& path) { return env.fs->stat(path).is_ok(); }

int write_pair(hal::Env& env, const std::string& cert_path, const std::string& key_path,
               const hal::tls::CertAndKey& pair, FILE* out, FILE* err) {
  base::Status s = env.fs->write_file(key_path, base::as_bytes(pair.key_pem), 0600, true);
  if (s.is_ok()) s = env.fs->write_file(cert_path, base::as_bytes(pair.cert_pem), 0644, true);
  if (!s.is_ok()) {
    std::fprintf(err, "agentctl tls: %s\n", s.to_string().c_str());
    return kExitFailed;
  }
  std::fprintf(out, "==> Saved %s\n==> Saved %s\n", cert_path.c_str(), key_path.c_str());
  return kExitOk;
}

}  // namespace

int cmd_tls(hal::Env& env, const std::vector<std::string>& args, FILE* out, FILE* err) {
  if (args.size() < 2 || args[1] != "create" || (args[0] != "ca" && args[0] != "cert")) {
    std::fputs(kUsage, err);
    return kExitUsage;
  }
  bool is_ca = args[0] == "ca";
  std::string dir = ".", dc = "dc1", domain = "weft", ca_file = "weft-agent-ca.pem", key_file = "weft-agent-ca-key.pem";
  int64_t days = is_ca ? 1825 : 365;  // Consul's defaults: 5 years for the CA, 1 year for a cert
  int kind = 0;                        // cert: 1 server, 2 client
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* v) {
      if (i + 1 >= args.size()) return false;
      *v = args[++i];
      return !v->empty();
    };
    std::string v;
    bool ok = true;
    if (a == "-dir") {
      ok = value(&dir);
    } else if (a == "-days") {
      ok = value(&v) && parse_days(v, &days);
    } else if (!is_ca && a == "-server") {
      kind = 1;
    } else if (!is_ca && a == "-client") {
      kind = 2;
    } else if (!is_ca && a == "-dc") {
      ok = value(&dc);
    } else if (!is_ca && a == "-domain") {
      ok = value(&domain);
    } else if (!is_ca && a == "-ca") {
      ok = value(&ca_file);
    } else if (!is_ca && a == "-key") {
      ok = value(&key_file);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(err, "agentctl tls: bad or incomplete flag %s\n%s", a.c_str(), kUsage);
      return kExitUsage;
    }
  }
  int64_t now = env.clock->wall_now().unix_sec();
  // An hour of slack before now, for clocks a little behind ours.
  hal::tls::CertSpec spec{"", now - 3600, now + days * 86400};
  if (is_ca) {
    std::string cert_path = dir + "/weft-agent-ca.pem", key_path = dir + "/weft-agent-ca-key.pem";
    if (exists(env, cert_path) || exists(env, key_path)) {
      std::fprintf(err, "agentctl tls: %s or %s exists; not overwriting\n", cert_path.c_str(), key_path.c_str());
      return kExitFailed;
    }
    spec.common_name = "weft-agent-ca";
    auto ca = hal::tls::make_ca(spec);
    if (!ca.is_ok()) {
      std::fprintf(err, "agentctl tls: %s\n", ca.status().to_string().c_str());
      return kExitFailed;
    }
    return write_pair(env, cert_path, key_path, *ca, out, err);
  }
  if (kind == 0) {
    std::fprintf(err, "agentctl tls cert create: say -server or -client\n%s", kUsage);
    return kExitUsage;
  }
  hal::tls::CertAndKey ca;
  auto ca_pem = env.fs->read_file(ca_file, kPemBytesMax);
  auto ca_key = env.fs->read_file(key_file, kPemBytesMax);
  if (!ca_pem.is_ok() || !ca_key.is_ok()) {
    std::fprintf(err, "agentctl tls: cannot read the CA (%s, %s): %s\n", ca_file.c_str(), key_file.c_str(),
                 (!ca_pem.is_ok() ? ca_pem.status() : ca_key.status()).to_string().c_str());
    return kExitFailed;
  }
  ca.cert_pem = *ca_pem;
  ca.key_pem = *ca_key;
  std::string role = kind == 1 ? "server" : "client";
  spec.common_name = role + "." + dc + "." + domain;
  auto cert = hal::tls::make_node_cert(ca, spec);
  if (!cert.is_ok()) {
    std::fprintf(err, "agentctl tls: %s\n", cert.status().to_string().c_str());
    return kExitFailed;
  }
  for (int n = 0; n < 1000; ++n) {
    std::string base = dir + "/" + dc + "-" + role + "-" + domain + "-" + std::to_string(n);
    if (exists(env, base + ".pem") || exists(env, base + "-key.pem")) continue;
    return write_pair(env, base + ".pem", base + "-key.pem", *cert, out, err);
  }
  std::fprintf(err, "agentctl tls: no free file name in %s\n", dir.c_str());
  return kExitFailed;
}

}  // namespace ctl
