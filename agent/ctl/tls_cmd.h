// agentctl tls: the cluster CA and node certificates for RPC's mutual TLS, made locally (no agent
// needed), in Consul's shape (`consul tls ca create`, `consul tls cert create`):
//
//   agentctl tls ca create [-dir D] [-days N]
//       writes D/weft-agent-ca.pem and D/weft-agent-ca-key.pem (the key 0600)
//   agentctl tls cert create -server|-client [-dc DC] [-domain DOMAIN] [-ca FILE] [-key FILE]
//                            [-dir D] [-days N]
//       a certificate for server.<dc>.<domain> (or client.<dc>.<domain>) signed by the CA,
//       written as D/<dc>-server-<domain>-<n>.pem and ...-key.pem with the first free n
//
// Existing files are never overwritten. Keys are EC P-256 (hal/tls.h). Exit codes as ctl.h.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "hal/env.h"

namespace ctl {

int cmd_tls(hal::Env& env, const std::vector<std::string>& args, FILE* out, FILE* err);

}  // namespace ctl
