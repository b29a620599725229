// supervisor::Supervisor -- the allocations this node runs and their tasks (issue 6 item 3):
// task directories, lifecycle, kills, restarts, logs, local persistence and the node's
// allocation API.
//
// An allocation is one instance of a job's task group on this node ("web.api[0]"). Today they
// come from static jobs in the node's config (start()); the scheduling issue adds the
// foundations as a second source feeding the same calls. State names are Nomad's: an
// allocation's client status is pending, running, complete or failed; a task is pending,
// running or dead (with Failed), with the last kTaskEventsMax task events ("Received",
// "Task Setup", "Started", "Terminated", "Restarting", "Not Restarting", "Killing", "Killed",
// "Driver Failure", "Sibling Task Failed", and Weft's "Reattached").
//
// Lifecycle (Nomad's): prestart tasks start first; non-sidecar prestart tasks must all finish
// with exit 0 before the main tasks start (a failed one fails the allocation); prestart sidecars
// keep running alongside. Poststart tasks start once every main task is running. When the main
// tasks have all ended, sidecars and poststart tasks are killed, then poststop tasks run. A main
// task that fails (its restart policy exhausted) kills its siblings ("Sibling Task Failed") and
// fails the allocation. A non-sidecar lifecycle task that exits 0 is done, whatever the job type.
//
// Tasks (the exec driver): a process with the task's argv, environment (NOMAD_* variables,
// PATH, then the task's Env with ${NOMAD_*} interpolated), user, working directory
// <data_dir>/allocs/<alloc>/<task> (with local/, tmp/, secrets/ inside; the shared alloc/ beside
// it) and a control group with the task's memory and CPU (hal::Cgroups; what was applied is in
// the "Task Setup" event). Output reaches the agent through two FIFOs per task and goes to
// rotated log files (task_log.h). No helper process per task: the agent holds the pipes and the
// exit handles on its own loop.
//
// Stops: the task's KillSignal to its process group, then SIGKILL after KillTimeout. Restarts:
// RestartTracker on every exit and start failure.
//
// Persistence (alloc_store.h): every transition is written before the next is taken. After
// the agent restarts it re-attaches to tasks still running (same pid and start time) without
// restarting them; a task whose process is gone (a reboot) is started again -- with no
// foundation involved. By default the agent leaves tasks running when it stops (so a restart
// re-attaches); `stop_tasks_on_shutdown` (dev mode) kills them.
//
// Threading: the loop thread. Ownership: borrows the Env, Loop and Logger; owns the store,
// processes' handles and log writers.
// Networks: an allocation whose group has a Network gets its ports assigned on the node
// (alloc_network.h); in Mode "bridge" also a network namespace on the node's bridge that every
// task of the allocation joins (exec and oci alike), with its ports mapped from the node's
// (hal/netns.h). Services register the node's port; their checks go straight to the
// namespace's address and port.
//
// Not here: placement (sched/), the oci driver's image handling (image store).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/log.h"
#include "agent/base/random.h"
#include "agent/base/status.h"
#include "agent/http/json.h"
#include "agent/image/store.h"
#include "agent/http/router.h"
#include "agent/runtime/loop.h"
#include "agent/runtime/worker_pool.h"
#include "agent/sched/job.h"
#include "agent/supervisor/alloc_network.h"
#include "agent/supervisor/alloc_store.h"
#include "agent/supervisor/restart.h"
#include "agent/supervisor/task_log.h"
#include "hal/env.h"

namespace supervisor {

inline constexpr size_t kTaskEventsMax = 10;
// Output read from one pipe per readiness callback (then the loop serves others).
inline constexpr size_t kReadChunkBytes = 64 << 10;
// Longest a follow request for logs waits for new output before answering empty.
inline constexpr base::Duration kLogWaitMax = base::Duration::seconds(300);

enum class TaskStateName : uint8_t { kPending, kRunning, kDead };
std::string_view task_state_name(TaskStateName s);  // "pending", "running", "dead"

struct TaskEvent {
  int64_t time_unix_ns = 0;
  std::string type;
  std::string message;
  int32_t exit_code = 0;
  bool operator==(const TaskEvent&) const = default;
};

// "${NAME}" in `in` replaced by vars' NAME; unknown names are left as written (as Nomad does).
std::string interpolate(const std::string& in, const std::map<std::string, std::string>& vars);

struct SupervisorOptions {
  std::string data_dir;  // allocations under <data_dir>/allocs, the store <data_dir>/allocs.db
  std::string node_name;
  std::string datacenter;
  bool stop_tasks_on_shutdown = false;
  // Tasks' services (item 3): while a task runs, each of its Services is registered on the node
  // as a Consul-shaped registration (JSON text, catalog::decode_registration's input) with ID
  // "_nomad-task-<alloc>-<task>-<service>-<port label>" and deregistered when it stops; checks
  // run by the node's health checker, so DNS answers only for healthy instances. A group's
  // Services likewise while the allocation runs. Unset: not registered.
  std::function<base::Status(const std::string& registration_json)> register_service;
  std::function<void(const std::string& service_id)> deregister_service;
  std::string check_address = "127.0.0.1";  // the host checks connect to (an IP literal)
  // The oci driver: the image store and the pool its heavy work runs on (both null: no oci
  // tasks), and the address containers' /etc/resolv.conf names (the node's DNS).
  image::ImageStore* images = nullptr;
  runtime::Executor* executor = nullptr;
  std::string dns_address = "127.0.0.1";
  // Network Mode "bridge" (hal/netns.h): the node's bridge, and whether the node's DNS answers
  // on every address (then a bridge container's resolv.conf names the bridge's gateway).
  hal::Bridge bridge{"weft0", kBridgeGateway, kBridgePrefixLen};
  bool dns_on_all_addresses = false;
};

class Supervisor {
 public:
  Supervisor(hal::Env& env, runtime::Loop& loop, base::Logger& log, SupervisorOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Opens the store, re-attaches to or restarts what it holds, then makes the allocations match
  // `static_jobs` (new ones started, changed ones replaced, removed ones stopped).
  [[nodiscard]] base::Status start(const std::vector<sched::Job>& static_jobs);
  // The agent is stopping: closes pipes and handles; kills tasks only with
  // stop_tasks_on_shutdown.
  void shutdown();
  void add_routes(http::Router& router);

  // Operator actions; kNotFound for an unknown allocation or task. An empty `task` means every
  // running task of the allocation.
  [[nodiscard]] base::Status stop_alloc(const std::string& id);
  [[nodiscard]] base::Status restart_task(const std::string& id, const std::string& task);
  [[nodiscard]] base::Status signal_task(const std::string& id, const std::string& task, const std::string& signal);

  size_t allocs_running() const;
  // Bytes of task output dropped because the log files could not be written.
  uint64_t log_bytes_dropped() const { return log_bytes_dropped_; }

 private:
  // One task of an allocation, and its process while there is one.
  struct TaskRun {
    std::string name;
    const sched::Task* spec = nullptr;  // into Alloc::job
    TaskStateName state = TaskStateName::kPending;
    bool failed = false;
    int32_t restarts = 0;
    int64_t started_unix_ns = 0;
    int64_t finished_unix_ns = 0;
    int64_t last_restart_unix_ns = 0;
    std::deque<TaskEvent> events;
    // The process, while there is one.
    int64_t pid = 0;
    uint64_t start_time = 0;
    bool own_child = false;
    hal::Handle exit = hal::kInvalidHandle;
    hal::Handle out = hal::kInvalidHandle;
    hal::Handle err = hal::kInvalidHandle;
    std::unique_ptr<TaskLog> out_log, err_log;
    std::unique_ptr<RestartTracker> restart;
    runtime::TimerId restart_timer = runtime::kNoTimer;
    runtime::TimerId kill_timer = runtime::kNoTimer;
    bool killing = false;   // a kill was sent: the exit is not a failure and no restart follows
    bool restart_after_kill = false;  // an operator's restart: start again once it has exited
    bool done = false;      // dead for good
    bool started_once = false;
    int64_t start_latency_ns = 0;  // the last start: from the decision to the program running
    std::vector<std::string> service_ids;  // registered while it runs
    // The oci driver.
    bool preparing = false;     // the image and rootfs are being prepared on the worker pool
    bool rootfs_ready = false;  // its rootfs is mounted (kept across restarts)
    int32_t oci_runs = 0;       // containers started: the next container ID's suffix
    std::string container_id;
    std::string image_digest;   // the image resolved at the first start (kept for restarts)
    int64_t runtime_pid = 0;    // the runtime's `run --detach` while it runs
    hal::Handle runtime_exit = hal::kInvalidHandle;
    base::MonoTime start_decided;
  };

  struct Alloc {
    AllocRecord rec;
    sched::Job job;
    const sched::TaskGroup* group = nullptr;
    std::vector<std::unique_ptr<TaskRun>> tasks;
    bool main_started = false;
    bool poststart_started = false;
    bool poststop_started = false;
    bool failing = false;  // a task failed: the rest are being killed
    AllocNetwork net;      // assigned at its first task start (rec.network_json)
    bool netns_ready = false;  // bridge: its namespace is made and its ports mapped
    bool net_released = false;  // bridge: its namespace was removed once every task ended
    std::vector<std::string> service_ids;  // the group's, registered while the allocation runs
  };

  struct LogWaiter {
    std::string alloc_id, task, stream;
    LogPosition at;
    bool with_time = false;
    http::Responder responder;
    runtime::TimerId timer = runtime::kNoTimer;
    bool answered = false;
  };


  Alloc* find(const std::string& id_or_prefix, base::Status* why);
  TaskRun* find_task(Alloc& a, const std::string& task);
  base::Status create_static(const sched::Job& job, const sched::TaskGroup& group, int32_t index);
  base::Status restore(AllocRecord rec);
  void advance(Alloc& a);
  void start_task(Alloc& a, TaskRun& t);
  void start_after(Alloc& a, TaskRun& t, base::Duration delay);
  void kill_task(Alloc& a, TaskRun& t, const char* event_type, const std::string& why);
  // A started process: the task is running (Started event with `message`, persisted).
  void mark_running(Alloc& a, TaskRun& t, const hal::TaskProcess& p, bool own_child, base::MonoTime decided, const std::string& message);
  // A start that failed: Driver Failure, then the restart policy's answer.
  void fail_start(Alloc& a, TaskRun& t, const std::string& why);
  // An exit's restart decision carried out.
  void finish_exit(Alloc& a, TaskRun& t, const RestartDecision& d);
  // The oci driver (oci_driver.cc).
  struct OciPrepared;
  void find_oci_runtime();
  void arm_reaper();
  void start_oci(Alloc& a, TaskRun& t, base::MonoTime decided);
  void run_container(Alloc& a, TaskRun& t, const OciPrepared& p, base::MonoTime decided, const std::string& bundle);
  void on_runtime_exit(Alloc& a, TaskRun& t);
  void delete_container(const std::string& container_id);
  void on_exit(Alloc& a, TaskRun& t);
  void on_output(Alloc& a, TaskRun& t, bool is_stderr);
  base::Status open_pipes(Alloc& a, TaskRun& t);
  void close_pipes(TaskRun& t);
  void watch_process(Alloc& a, TaskRun& t);
  void event(Alloc& a, TaskRun& t, std::string type, std::string message, int32_t exit_code = 0);
  void set_state(Alloc& a, TaskRun& t, TaskStateName s);
  // Registers (running) or deregisters the services of `t`, or of the group when `t` is null.
  void sync_services(Alloc& a, TaskRun* t, bool running);
  std::string service_registration(const Alloc& a, const TaskRun* t, const sched::Service& svc, std::string* id) const;
  void persist(Alloc& a);
  void collect(Alloc& a);
  // The allocation's ports (and, in Mode "bridge", its address, namespace and mappings), made
  // before its first task starts; a failure is the task's start failure.
  base::Status ensure_network(Alloc& a);
  // Every running bridge allocation's ports, mapped (hal::NetNamespaces::map_ports).
  base::Status sync_port_mappings();
  std::string netns_link(const Alloc& a) const;
  std::vector<std::string> task_env(const Alloc& a, const TaskRun& t) const;
  std::string alloc_dir(const Alloc& a) const;
  std::string tasks_json(const Alloc& a) const;
  double jitter() { return prng_.unit(); }
  int64_t wall_ns();

  void handle_list(http::Request& q, http::Responder r);
  void handle_alloc(http::Request& q, http::Responder r);
  void handle_client_alloc(http::Request& q, http::Responder r);
  void handle_logs(http::Request& q, http::Responder r);
  void fill_alloc(http::Json& doc, cJSON* o, const Alloc& a, bool with_job) const;
  // The API writes event times as numbers (Nomad's); the store as text (see tasks_json()).
  static void fill_events(http::Json& doc, cJSON* o, const TaskRun& t, bool time_as_text = false);
  // Answers the log waiters of `alloc_id` (and `task`, unless empty) that have output to read,
  // or every one of them with `force`.
  void answer_log_waiters(const std::string& alloc_id, const std::string& task, bool force);
  void answer_one(LogWaiter& w, bool force);
  void sweep_log_waiters();

  hal::Env& env_;
  runtime::Loop& loop_;
  base::Logger& log_;
  SupervisorOptions options_;
  base::Prng prng_;
  std::unique_ptr<AllocStore> store_;
  std::map<std::string, std::unique_ptr<Alloc>> allocs_;  // by id
  std::vector<uint8_t> read_buf_;
  uint64_t log_bytes_dropped_ = 0;
  std::vector<std::unique_ptr<LogWaiter>> log_waiters_;
  bool shutting_down_ = false;
  bool store_failed_ = false;
  std::string oci_runtime_;  // "" when the node has none
  bool subreaper_ = false;
  bool bridge_ready_ = false;
  runtime::TimerId reaper_timer_ = runtime::kNoTimer;
};

}  // namespace supervisor
