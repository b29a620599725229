// A job: the one JSON job format of the whole project, in Nomad's job shape and member names
// (issue 6 item 1). Static jobs in a node's config, `agentctl job validate`, the node's local
// allocation store and (later) the scheduler all read and write this type.
//
// Input is what Nomad's HTTP API takes (`PUT /v1/jobs` bodies, `nomad job run -output`): either
// {"Job": {...}} or the job object itself. Member names match as Go's encoding/json matches them
// (case-insensitively), and '_' is ignored so snake_case files work ("kill_timeout" is
// "KillTimeout"). Durations are Go nanosecond integers as Nomad's API writes them, or Go
// duration strings ("30s", "1m30s"). A member is one of:
//   - supported: decoded and checked here;
//   - known to Nomad but not supported by Weft: accepted only when its value is null, false, 0,
//     "", [] or {} (as `nomad job run -output` writes every member), else the problem
//     "<path>: not supported by Weft";
//   - unknown (a misspelling): always the problem "<path>: unknown field".
// decode_job() never stops at the first problem: it lists every one (up to kProblemsMax), each
// naming its path as "Job.TaskGroups[0].Tasks[1].Config.command: required".
//
// Supported (defaults as Nomad's):
//   Job: ID (required), Name (default ID), Type service|batch|system|sysbatch (service),
//        Priority 1..100 (50), Datacenters (["*"]), Region ("global"), Namespace ("default"),
//        Meta, TaskGroups (1..kGroupsMax).
//   TaskGroup: Name (required), Count 0..kCountMax (1), RestartPolicy, Meta, Networks (at most one:
//        Mode "host"|"bridge", ReservedPorts/DynamicPorts [{Label, Value, To}]), Services, Tasks.
//   Task: Name (required), Driver exec|oci (required), Config (per driver, below), Env, User,
//        Resources {CPU MHz (100), MemoryMB (300), MemoryMaxMB (0)}, RestartPolicy (merged over the
//        group's), KillTimeout (5s, at most 1h), KillSignal (SIGINT), Services, Lifecycle
//        {Hook prestart|poststart|poststop, Sidecar}, LogConfig {MaxFiles (10), MaxFileSizeMB (10)}
//        ("Logs" is accepted as the same member), Meta, Leader.
//   RestartPolicy: Attempts, Interval, Delay, Mode fail|delay. Defaults by job type: service and
//        system 2 in 30m, 15s, fail; batch and sysbatch 3 in 24h, 15s, fail.
//   Config for exec: command (required), args. For oci: image (required: an image reference in
//        the node's image store "name:tag", or a path to an OCI layout directory or archive),
//        command, args, work_dir, network_mode "host"|"none"|"bridge" (the group's: "bridge" --
//        the allocation's network namespace -- when the group's network Mode is "bridge", else
//        "host"; "bridge" needs such a group and "host" cannot leave one), ports [labels].
//   Service: Name (required, one DNS label), PortLabel, Tags, Meta, Checks [{Name, Type
//        http|tcp|script, Path (http), Method, Command, Args (script), PortLabel, Interval (10s),
//        Timeout (2s)}]. A Name may use ${NOMAD_JOB_NAME}, ${NOMAD_GROUP_NAME}, ${NOMAD_TASK_NAME}.
//
// Bounds (each exceeded is a problem): text kJobBytesMax; names 1..kNameBytesMax bytes of
// [A-Za-z0-9._-] (they become path segments and DNS labels); at most kGroupsMax groups,
// kTasksMax tasks a group, kEnvMax Env entries, kArgsMax args, kServicesMax services a task or
// group, kChecksMax checks a service, kMetaMax Meta entries; any string kStringBytesMax.
// Also checked, as Nomad checks them: RestartPolicy Attempts 0..1000, Interval 5s..7d, Delay
// 0..1h, Attempts x Delay within Interval, no Mode "delay" with 0 Attempts; check Interval 1s..24h
// and Timeout 1s..1h; a PortLabel or oci port names a port of the group's network; task names
// unique in a group, group names in a job; at most one Leader task. Accepted but not kept:
// Service Provider "consul"|"nomad" (Weft's catalog answers both) and LogConfig Enabled true.
//
// Threading: pure functions. Not here: placement (constraints, affinities, spreads are "not
// supported" until the scheduling issue), interpolation of ${...} in task fields (the
// supervisor's), checking that the image exists or the user is known (the node's, at start).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sched {

inline constexpr size_t kJobBytesMax = 1 << 20;
inline constexpr size_t kNameBytesMax = 128;
inline constexpr size_t kStringBytesMax = 16 << 10;
inline constexpr size_t kGroupsMax = 64;
inline constexpr size_t kTasksMax = 32;
inline constexpr int32_t kCountMax = 1000;
inline constexpr size_t kEnvMax = 256;
inline constexpr size_t kArgsMax = 256;
inline constexpr size_t kServicesMax = 16;
inline constexpr size_t kChecksMax = 8;
inline constexpr size_t kMetaMax = 64;
inline constexpr size_t kPortsMax = 32;
inline constexpr size_t kProblemsMax = 100;

enum class JobType : uint8_t { kService, kBatch, kSystem, kSysbatch };
std::string_view job_type_name(JobType t);  // "service", ...

enum class RestartMode : uint8_t { kFail, kDelay };

struct RestartPolicy {
  int32_t attempts = 2;
  int64_t interval_ns = 30LL * 60 * 1000000000;
  int64_t delay_ns = 15LL * 1000000000;
  RestartMode mode = RestartMode::kFail;
  bool operator==(const RestartPolicy&) const = default;
};
// Nomad's defaults for a job of type `t`.
RestartPolicy default_restart_policy(JobType t);

struct Resources {
  int32_t cpu_mhz = 100;
  int32_t memory_mb = 300;
  int32_t memory_max_mb = 0;  // 0: no oversubscription; else >= memory_mb
  bool operator==(const Resources&) const = default;
};

enum class LifecycleHook : uint8_t { kMain, kPrestart, kPoststart, kPoststop };

struct Lifecycle {
  LifecycleHook hook = LifecycleHook::kMain;  // kMain: no Lifecycle block
  bool sidecar = false;
  bool operator==(const Lifecycle&) const = default;
};

struct LogConfig {
  int32_t max_files = 10;         // 1..100
  int32_t max_file_size_mb = 10;  // 1..1024
  bool operator==(const LogConfig&) const = default;
};

struct ServiceCheck {
  std::string name;
  std::string type;  // "http", "tcp", "script"
  std::string path;  // http
  std::string method;  // http; "" is GET
  std::string command;  // script
  std::vector<std::string> args;  // script
  std::string port_label;  // "" is the service's
  int64_t interval_ns = 10LL * 1000000000;
  int64_t timeout_ns = 2LL * 1000000000;
  bool operator==(const ServiceCheck&) const = default;
};

struct Service {
  std::string name;
  std::string port_label;
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  std::vector<ServiceCheck> checks;
  bool operator==(const Service&) const = default;
};

struct Port {
  std::string label;
  int32_t value = 0;  // static port for ReservedPorts; 0 for dynamic until assigned
  int32_t to = 0;     // container-side port when mapped (0: same as value)
  bool operator==(const Port&) const = default;
};

struct Network {
  std::string mode = "host";  // "host" or "bridge"
  std::vector<Port> reserved_ports;
  std::vector<Port> dynamic_ports;
  bool operator==(const Network&) const = default;
};

// Driver configuration, decoded per driver.
struct TaskConfig {
  std::string command;  // exec: required; oci: overrides the image's entrypoint when set
  std::vector<std::string> args;
  std::string image;  // oci
  std::string work_dir;  // oci
  std::string network_mode;  // oci: "host" (default), "none", "bridge"
  std::vector<std::string> ports;  // oci: port labels of the group network to map
  bool operator==(const TaskConfig&) const = default;
};

struct Task {
  std::string name;
  std::string driver;  // "exec" or "oci"
  TaskConfig config;
  std::map<std::string, std::string> env;
  std::string user;  // "" runs as the agent's user
  Resources resources;
  RestartPolicy restart;  // the effective policy: the job type's default, the group's, then the task's
  int64_t kill_timeout_ns = 5LL * 1000000000;
  std::string kill_signal = "SIGINT";
  std::vector<Service> services;
  Lifecycle lifecycle;
  LogConfig logs;
  std::map<std::string, std::string> meta;
  bool leader = false;
  bool operator==(const Task&) const = default;
};

struct TaskGroup {
  std::string name;
  int32_t count = 1;
  RestartPolicy restart;  // the group's effective policy (type default merged with the group's)
  std::map<std::string, std::string> meta;
  std::optional<Network> network;
  std::vector<Service> services;
  std::vector<Task> tasks;
  bool operator==(const TaskGroup&) const = default;
};

struct Job {
  std::string id;
  std::string name;
  JobType type = JobType::kService;
  int32_t priority = 50;
  std::vector<std::string> datacenters = {"*"};
  std::string region = "global";
  std::string namespace_ = "default";
  std::map<std::string, std::string> meta;
  std::vector<TaskGroup> groups;
  bool operator==(const Job&) const = default;
};

struct JobDecode {
  std::optional<Job> job;             // set only when `problems` is empty
  std::vector<std::string> problems;  // one line each, "<path>: <what>", in document order
  size_t problems_dropped = 0;        // past kProblemsMax
};

// Decodes and checks a job (JSON text, untrusted, at most kJobBytesMax bytes).
JobDecode decode_job(std::string_view text);

// The job as Nomad-shaped JSON ({"Job": {...}}, every supported member written, durations as
// nanosecond integers) that decode_job() reads back to an equal Job. For the local store and the
// HTTP API.
std::string encode_job(const Job& job);

}  // namespace sched
