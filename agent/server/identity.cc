#include "agent/server/identity.h"

namespace server {

namespace {
constexpr std::string_view kModule = "tls";
// A dev CA and certificate last a year: long enough for any dev session, short enough that a
// copied one does not outlive its use.
constexpr int64_t kDevValiditySec = 365 * 24 * 3600;

base::Result<std::string> read_pem(hal::Fs& fs, const std::string& key, const std::string& path) {
  auto text = fs.read_file(path, kPemBytesMax);
  if (!text.is_ok()) return base::error(text.status().code(), "%s %s: %s", key.c_str(), path.c_str(), text.status().message().c_str());
  return text;
}
}  // namespace

std::string server_name(const config::Config& config) { return "server." + config.datacenter + "." + config.domain; }

base::Result<hal::tls::Identity> load_identity(hal::Env& env, const config::Config& config, base::Logger& log) {
  hal::tls::Identity id;
  if (!config.tls.ca_file.empty()) {
    AGENT_ASSIGN_OR_RETURN(id.ca_pem, read_pem(*env.fs, "tls.ca_file", config.tls.ca_file));
    AGENT_ASSIGN_OR_RETURN(id.cert_pem, read_pem(*env.fs, "tls.cert_file", config.tls.cert_file));
    AGENT_ASSIGN_OR_RETURN(id.key_pem, read_pem(*env.fs, "tls.key_file", config.tls.key_file));
    return id;
  }
  if (!config.dev) {
    return base::error(base::Code::kFailedPrecondition,
                       "a server needs tls.ca_file, tls.cert_file and tls.key_file for RPC (make them with "
                       "`agentctl tls ca create` and `agentctl tls cert create -server`)");
  }
  std::string dir = config.data_dir + "/tls";
  std::string ca_path = dir + "/ca.pem", cert_path = dir + "/cert.pem", key_path = dir + "/key.pem";
  auto ca = env.fs->read_file(ca_path, kPemBytesMax);
  auto cert = env.fs->read_file(cert_path, kPemBytesMax);
  auto key = env.fs->read_file(key_path, kPemBytesMax);
  if (ca.is_ok() && cert.is_ok() && key.is_ok()) {
    id.ca_pem = *ca;
    id.cert_pem = *cert;
    id.key_pem = *key;
    return id;
  }
  AGENT_TRY(env.fs->make_dirs(dir, 0700));
  int64_t now = env.clock->wall_now().unix_sec();
  hal::tls::CertSpec ca_spec{"weft-dev-ca", now - 3600, now + kDevValiditySec};
  AGENT_ASSIGN_OR_RETURN(hal::tls::CertAndKey ca_pair, hal::tls::make_ca(ca_spec));
  hal::tls::CertSpec node_spec{server_name(config), now - 3600, now + kDevValiditySec};
  AGENT_ASSIGN_OR_RETURN(hal::tls::CertAndKey node, hal::tls::make_node_cert(ca_pair, node_spec));
  AGENT_TRY(env.fs->write_file(ca_path, base::as_bytes(ca_pair.cert_pem), 0600, true));
  AGENT_TRY(env.fs->write_file(cert_path, base::as_bytes(node.cert_pem), 0600, true));
  AGENT_TRY(env.fs->write_file(key_path, base::as_bytes(node.key_pem), 0600, true));
  AGENT_LOG_INFO(log, kModule, "dev: made a throwaway CA and RPC certificate %s under %s", node_spec.common_name.c_str(), dir.c_str());
  id.ca_pem = std::move(ca_pair.cert_pem);
  id.cert_pem = std::move(node.cert_pem);
  id.key_pem = std::move(node.key_pem);
  return id;
}

}  // namespace server
