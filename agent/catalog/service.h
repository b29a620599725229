// A service registration as Consul's agent API takes it (issue 5 item 1):
// `PUT /v1/agent/service/register` with a body like
//   {"ID": "web-1", "Name": "web", "Tags": ["v2", "http"], "Address": "10.0.0.5", "Port": 8080,
//    "Meta": {"version": "2.1"}}
// and `GET /v1/agent/services` answering each as Consul's AgentService
//   {"ID", "Service", "Tags", "Meta", "Port", "Address", "Weights", "EnableTagOverride", "Datacenter"}.
//
// Decoding follows Go's encoding/json, which Consul uses: member names match case-insensitively
// ("name" is "Name"), and '_' in them is ignored, as Consul's config files spell them and its API
// translates ("check_id" is "CheckID"). Unlike Consul, a member Weft does not know is an error naming it, never
// ignored, and so is a member given twice in one object (Go keeps the last); members Consul knows that change nothing here (EnableTagOverride, Weights,
// TaggedAddresses, Kind "") are accepted.
//
// Checks: "Check" (one) or "Checks" (a list, at most kChecksMax), each
//   {"CheckID" or "ID", "Name", "Notes", "Status": "passing|warning|critical", and one of
//    "TTL": "10s"                                          (the service reports its status), or
//    "TCP": "10.0.0.5:8080", "Interval": "10s", "Timeout": "1s"   (the node connects each interval), or
//    "HTTP": "http://10.0.0.5:8080/health", "Method": "GET", "Header": {"X-A": ["b"]}, "Body": "",
//    "Interval", "Timeout"                               (the node asks each interval: 2xx passing,
//                                                         429 warning, else critical; redirects not
//                                                         followed)}.
//    "Args": ["/usr/bin/check-disk", "-w", "90"], "Interval", "Timeout"   (the node runs the
//                                                         program: exit 0 passing, 1 warning, else
//                                                         critical; its output kept; only where
//                                                         the operator set enable_exec_checks --
//                                                         LocalServices refuses it otherwise;
//                                                         "ScriptArgs" is the same member).
// TTL, TCP, HTTP and Args checks exist yet: a check with GRPC, an https URL or any
// other kind's member is refused naming it ("not supported yet"), so a registration never
// silently loses a check. Defaults as Consul's: CheckID "service:<service ID>" (":<n>" appended, from 1, when there
// are several), Name "Service '<name>' check", Status critical, Timeout 10s. TCP and HTTP checks
// also take Consul's "SuccessBeforePassing" and "FailuresBeforeCritical" (0..100, default 0: the
// status follows each result): that many consecutive results are needed before the status
// changes to passing (or warning) or to critical. Bounds: TTL
// 100ms..24h, Interval 1s..24h, Timeout 100ms..5m; TCP an IP literal with a port, HTTP an
// http:// URL with an IP literal host (names are not resolved); Method GET, HEAD, POST or PUT; at
// most 16 header fields of 8 values, 4 KiB of body.
//
// Bounds and rules (each violation is kInvalidArgument naming the member):
//   Name: 1..63 bytes of letters, digits, '-' and '_' (one DNS label, so <name>.service and
//         _<name>._tcp answer for it);
//   ID: 1..128 printable bytes without '/' (it is a path segment in deregister); default Name;
//   Tags: at most 64, each 1..255 bytes, no control bytes;
//   Address: "" (the node's address) or an IPv4/IPv6 literal;
//   Port: 0..65535;
//   Meta: at most 64 keys of 1..128 bytes of letters, digits, '-' and '_' (not starting with
//         "consul-", which Consul reserves), values at most 512 bytes (Consul's limits).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"
#include "agent/http/json.h"
#include "hal/net.h"

namespace catalog {

inline constexpr size_t kServiceNameBytesMax = 63;
inline constexpr size_t kServiceIdBytesMax = 128;
inline constexpr size_t kTagsMax = 64;
inline constexpr size_t kTagBytesMax = 255;
inline constexpr size_t kMetaKeysMax = 64;
inline constexpr size_t kMetaKeyBytesMax = 128;
inline constexpr size_t kMetaValueBytesMax = 512;
inline constexpr size_t kChecksMax = 8;
inline constexpr size_t kCheckArgsMax = 64;
inline constexpr size_t kCheckIdBytesMax = 192;
inline constexpr size_t kCheckTextBytesMax = 1024;  // Name, Notes
// A registration's JSON text at most (the largest shape allowed here is about 60 KiB).
inline constexpr size_t kRegistrationBytesMax = 128 * 1024;

enum class CheckStatus : uint8_t { kPassing, kWarning, kCritical };
std::string_view check_status_name(CheckStatus s);  // "passing", "warning", "critical"
bool parse_check_status(std::string_view text, CheckStatus* out);

struct CheckDef {
  std::string id;
  std::string name;
  std::string notes;
  int64_t ttl_ns = 0;       // a TTL check when non-zero
  std::string tcp;          // a TCP check when non-empty: "ip:port" as given
  hal::SockAddr tcp_addr;   // `tcp` parsed, or the HTTP URL's host and port
  std::string http;         // an HTTP check when non-empty: the URL as given
  std::string method;       // HTTP: GET when not given
  std::string http_target;  // HTTP: the URL's path and query ("/" at least)
  std::vector<std::pair<std::string, std::string>> headers;  // HTTP: extra fields, in order
  std::string body;         // HTTP
  std::vector<std::string> args;  // an exec check when non-empty: the program and its arguments
  int64_t interval_ns = 0;  // TCP, HTTP
  int64_t timeout_ns = 0;   // TCP, HTTP
  int64_t success_before_passing = 0;    // TCP, HTTP
  int64_t failures_before_critical = 0;  // TCP, HTTP
  CheckStatus initial = CheckStatus::kCritical;
  bool operator==(const CheckDef& o) const = default;
};

struct Service {
  std::string id;
  std::string name;
  std::vector<std::string> tags;
  std::string address;    // as given ("" or an IP literal)
  hal::SockAddr ip;       // `address` parsed (family kNone when empty)
  uint16_t port = 0;
  std::map<std::string, std::string> meta;
  std::vector<CheckDef> checks;

  bool operator==(const Service& o) const {
    return id == o.id && name == o.name && tags == o.tags && address == o.address && port == o.port && meta == o.meta &&
           checks == o.checks;
  }
};

// Decodes a registration body (JSON text, at most `bytes_max` bytes). kInvalidArgument says
// which member is wrong and why; kResourceExhausted when the body is too large.
base::Result<Service> decode_registration(std::string_view body, size_t bytes_max);

// Fills the object `o` with `s` as a registration that decode_registration reads back to `s`.
void fill_registration(http::Json& doc, cJSON* o, const Service& s);
// Fills the object `o` with `s` as Consul's AgentService.
void fill_agent_service(http::Json& doc, cJSON* o, const Service& s, std::string_view datacenter);

}  // namespace catalog
