// The RPC identity of this agent: the cluster CA and this node's certificate and key (PEM), as
// rpc/endpoint.h's mutual TLS needs them.
//
// From the tls.ca_file, tls.cert_file and tls.key_file config keys (all three or none: config.cc
// checks), each read bounded (kPemBytesMax). In dev mode with none of them set, a throwaway CA and
// a server certificate named server.<dc>.<domain> are made with hal/tls.h's make_ca and
// make_node_cert and kept under <data_dir>/tls (ca.pem, cert.pem, key.pem; 0600), so a restarted
// dev agent keeps its identity. Outside dev mode a server with no tls.* files is an error that
// says how to make them (agentctl tls ca create / tls cert create).
//
// Threading: any thread; blocking file I/O (called once at start).
#pragma once

#include <string>

#include "agent/base/log.h"
#include "agent/base/status.h"
#include "agent/config/config.h"
#include "hal/env.h"
#include "hal/tls.h"

namespace server {

inline constexpr size_t kPemBytesMax = 64 * 1024;

// The DNS name every server certificate carries and every RPC client verifies.
std::string server_name(const config::Config& config);

base::Result<hal::tls::Identity> load_identity(hal::Env& env, const config::Config& config, base::Logger& log);

}  // namespace server
