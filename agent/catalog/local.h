// catalog::LocalServices: the services registered on this node (issue 5 item 1), as Consul's
// agent keeps its local state. The node's DNS server answers for them (<svc>.service,
// <tag>.<svc>.service, _<svc>._tcp SRV) and, once anti-entropy exists, the node pushes them to
// the catalog on the foundations.
//
// API (Consul's shapes; service.h for the registration's rules):
//   PUT /v1/agent/service/register             body: a registration; replaces one with the same ID
//   PUT /v1/agent/service/deregister/<id>      404 "Unknown service ID" if none
//   GET /v1/agent/services                     {"<id>": AgentService, ...}
//   GET /v1/agent/service/<id>                 AgentService, or 404
//   GET /v1/agent/checks                       {"<check id>": HealthCheck, ...}
//   PUT /v1/agent/check/pass|warn|fail/<id>[?note=TEXT]   a TTL check's status, its output TEXT
//   PUT /v1/agent/check/update/<id>            body {"Status": "passing", "Output": "..."}
//
// Exec checks (Args, only after enable_exec_checks): the program runs each Interval without a
// shell, stdin /dev/null, its stdout and stderr kept as the output (the first
// kCheckOutputBytesMax bytes; the rest read and dropped); exit 0 passing, 1 warning, anything else
// critical; still running at Timeout -> its process group killed, critical. One run at a time.
// Checks (TTL and TCP, yet): each registered service's checks start with their definition's
// Status (critical by default, as Consul). A TTL check whose status was not set for its TTL turns
// critical with the output "TTL expired". A TCP check connects to its address first at once and
// then every Interval: connected within Timeout -> passing, refused, failed or timed out ->
// critical, the reason in the output (one attempt at a time; the socket closed at once). An HTTP
// check does the same and then sends its request (Connection: close, User-Agent "Weft Health
// Check" unless given) and reads the response within the same Timeout: 2xx passing, 429
// warning, anything else critical (redirects are not followed: 3xx is critical), the status and
// the start of the body in the output (a body over kCheckResponseBytesMax is critical). A check ID is unique on the node: a registration whose
// check ID another service's check holds is refused. Re-registering a service keeps the status
// of each check it still has (same ID and TTL). An instance is critical if any of its checks is,
// else warning if any is, else passing; the DNS server leaves critical ones out. Statuses are
// persisted for TTL checks only (check-states.json, written on each change, not synced): after a
// restart a TTL check starts where it was and its TTL runs again; others start from their
// definition's Status.
// Output is kept up to kCheckOutputBytesMax bytes (Consul's default, 4 KiB).
//
// Services may also come from the node's config files ("service"/"services", in the same shape:
// put_from_config), registered at start and never written to the file.
//
// Durability: registrations survive a restart, as Consul's do: each change rewrites
// <data_dir>/services.json (a JSON array of registrations, written durably in one rename)
// before it is answered; a failed write answers 500 and stops the agent (STYLE.md: never retry
// a failed fsync), since whether the file holds the change is then unknown. At start a file
// that does not decode is an error naming the file (the agent does not start with half its
// services).
//
// Bounds: at most `services_max` services; the file at most kServicesFileBytesMax.
// Threading: the loop thread. Ownership: borrows the Fs and logger.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "agent/base/log.h"
#include "agent/catalog/service.h"
#include "agent/http/client.h"
#include "agent/http/router.h"
#include "agent/runtime/loop.h"
#include "hal/fs.h"
#include "hal/net.h"
#include "hal/process.h"

namespace catalog {

inline constexpr size_t kServicesMaxDefault = 512;
inline constexpr size_t kServicesFileBytesMax = 8u << 20;
inline constexpr size_t kCheckOutputBytesMax = 4096;
inline constexpr size_t kStatesFileBytesMax = 4u << 20;
// An HTTP check's response body is read up to this; a longer one makes the check critical.
inline constexpr size_t kCheckResponseBytesMax = 64 * 1024;

struct CheckState {
  std::string service_id;
  CheckDef def;
  CheckStatus status = CheckStatus::kCritical;
  std::string output;
  runtime::TimerId timer = runtime::kNoTimer;  // TTL: its expiry; TCP: the next run or the attempt's timeout
  hal::Handle conn = hal::kInvalidHandle;      // TCP, HTTP: the connection being attempted
  bool connected = false;                      // HTTP: connected, the request going out
  std::string http_out;                        // HTTP: the request's bytes
  size_t http_out_at = 0;
  std::unique_ptr<http::ResponseParser> parser;  // HTTP: the response
  int64_t pid = 0;                          // exec: the child running (0: none)
  hal::Handle out = hal::kInvalidHandle;    // exec: its stdout and stderr
  std::string exec_out;                     // exec: its output so far, at most kCheckOutputBytesMax
  base::MonoTime deadline;                  // exec: when it is killed
  int64_t successes = 0;  // TCP, HTTP: consecutive passing (or warning) results
  int64_t failures = 0;   // TCP, HTTP: consecutive critical results
};

// A check of the node itself rather than of one service (the agent's own health), as Consul's
// node-level checks: in /v1/agent/checks and the catalog with an empty ServiceID, and a node
// check not passing makes each of the node's instances not passing in ?passing queries.
struct NodeCheck {
  std::string name;
  CheckStatus status = CheckStatus::kPassing;
  std::string output;
};

class LocalServices {
 public:
  // `on_fatal` runs after a failed write of the file (the agent stops).
  LocalServices(runtime::Loop& loop, hal::Fs& fs, hal::Net& net, std::string data_dir, std::string datacenter, std::string node_name,
                base::Logger& log, std::function<void()> on_fatal, size_t services_max = kServicesMaxDefault);
  ~LocalServices();
  LocalServices(const LocalServices&) = delete;
  LocalServices& operator=(const LocalServices&) = delete;

  // Reads <data_dir>/services.json if it exists, and check-states.json: TTL checks registered
  // after (from the file, the config files or the API) start from their kept states.
  [[nodiscard]] base::Status load();
  // Drops the kept states not used by then (the agent calls it once its config services are in),
  // so a check registered later starts from its definition.
  void forget_restored() { restored_.clear(); }
  void add_routes(http::Router& router);

  // Registers or replaces `s`; kResourceExhausted past services_max, kAlreadyExists when another
  // service holds one of its check IDs, kIo if the file write failed.
  [[nodiscard]] base::Status put(const Service& s);
  // Allows exec checks ("Args"), run through `processes` (the operator's enable_exec_checks);
  // without it a registration with one is refused (kPermissionDenied). Call before load().
  void enable_exec_checks(hal::Processes* processes) { exec_ = processes; }
  // Registers `s` from the node's config files: as put(), but not written to services.json (the
  // files hold it; a service removed from them is gone after a restart). An API registration or
  // deregistration of its ID later takes it over as any other.
  [[nodiscard]] base::Status put_from_config(const Service& s);
  bool from_config(const std::string& id) const { return from_config_.count(id) != 0; }
  // Sets a TTL check's status and output (restarting its TTL); kNotFound if no such check.
  [[nodiscard]] base::Status set_check(const std::string& check_id, CheckStatus status, std::string_view output);
  const std::map<std::string, CheckState>& checks() const { return checks_; }
  // Sets the node-level check `id` (made on first use; its status change bumps version()). A
  // service check may not take its ID.
  void set_node_check(const std::string& id, const std::string& name, CheckStatus status, std::string_view output);
  const std::map<std::string, NodeCheck>& node_checks() const { return node_checks_; }
  // The instance's health from its checks (passing with none).
  CheckStatus service_health(const std::string& service_id) const;
  // kNotFound if no such ID.
  [[nodiscard]] base::Status remove(const std::string& id);

  const std::map<std::string, Service>& services() const { return services_; }
  // Bumped by every change of the services or of a check's status (not of its output alone), so a
  // reader (the DNS view) knows when to rebuild.
  uint64_t version() const { return version_; }

 private:
  base::Status put(const Service& s, bool from_config);
  void save_states();
  void load_states();
  base::Status save(const std::map<std::string, Service>& next, const std::set<std::string>& from_config);
  // Makes checks_ follow services_ (new checks at their initial status, kept ones unchanged).
  void sync_checks();
  void arm_ttl(const std::string& check_id, CheckState& c);
  // TCP and HTTP checks: the next attempt after `delay`; an attempt; its I/O; its end.
  void arm_probe(const std::string& check_id, CheckState& c, base::Duration delay);
  void run_probe(const std::string& check_id);
  void on_probe_io(const std::string& check_id, const std::string& what);
  void finish_probe(const std::string& check_id, CheckStatus status, const std::string& output);
  // Exec checks: the child started; its output read; its exit awaited (polled) until the deadline.
  void run_exec(const std::string& check_id);
  void on_exec_output(const std::string& check_id);
  void await_exit(const std::string& check_id);
  // Children killed before they were reaped, reaped each second until gone.
  void reap_later(int64_t pid);
  void reap();
  void stop_check(CheckState& c);
  void set_status(const std::string& check_id, CheckState& c, CheckStatus status, std::string_view output);
  void handle_checks(http::Request& req, http::Responder resp);
  void handle_ttl(http::Request& req, http::Responder resp);
  void handle_update(http::Request& req, http::Responder resp);
  void handle_register(http::Request& req, http::Responder resp);
  void handle_deregister(http::Request& req, http::Responder resp);
  void handle_list(http::Request& req, http::Responder resp);
  void handle_one(http::Request& req, http::Responder resp);

  runtime::Loop& loop_;
  hal::Fs& fs_;
  hal::Net& net_;
  std::string path_;
  std::string states_path_;
  std::string datacenter_;
  std::string node_name_;
  base::Logger& log_;
  std::function<void()> on_fatal_;
  size_t services_max_;
  std::map<std::string, Service> services_;  // by ID
  std::map<std::string, CheckState> checks_;  // by check ID
  std::set<std::string> from_config_;         // IDs of services registered by put_from_config
  std::map<std::string, NodeCheck> node_checks_;  // by check ID
  std::map<std::string, NodeCheck> restored_;  // TTL checks' states read at load(), until used
  uint64_t version_ = 0;
  hal::Processes* exec_ = nullptr;
  std::vector<int64_t> unreaped_;
  runtime::TimerId reap_timer_ = runtime::kNoTimer;
};

}  // namespace catalog
