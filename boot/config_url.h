// boot::fetch_config_url -- node config fetched at boot from the kernel command line's
// `agent.config=http://...` (issue 7 item 2: the last config source, overriding the others).
//
//   - parse_http_url() takes http://<IPv4>[:port]/<path> (no name resolution before the agent's
//     DNS is up, no TLS yet: https is refused with a message saying so). Pure.
//   - fetch_config_url() GETs it with HTTP/1.0 over a TCP socket: connect and every read bounded
//     by a deadline (kFetchTimeoutS in all), the answer at most kConfigUrlBytesMax, status 200
//     required; the body is written to `config_file` (Weft JSON, checked by the agent like any
//     config file: a broken one lands the node in maintenance mode with the agent's message).
//     Retried a few times while the network comes up. The error names the URL and the step.
// Threading: init's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/status.h"

namespace boot {

inline constexpr size_t kConfigUrlBytesMax = 1 << 20;
inline constexpr int kFetchTimeoutS = 10;

struct HttpUrl {
  uint32_t address = 0;  // host byte order
  uint16_t port = 80;
  std::string host;      // as written, for the Host header
  std::string path;      // "/..." 
};

base::Result<HttpUrl> parse_http_url(std::string_view url);

// Splits an HTTP/1.x response: OK with the body when the status is 200.
base::Result<std::string> http_body(std::string_view response);

base::Status fetch_config_url(const std::string& url, const std::string& config_file);

}  // namespace boot
