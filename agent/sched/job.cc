// See job.h. How this file is organised:
//   - member tables: for each Nomad object, the members Weft decodes (with the canonical name the
//     problems use) and the members Nomad's api package has that Weft does not support;
//   - Decoder: walks a cJSON tree, collecting problems with their paths instead of stopping;
//     one decode_* method per Nomad object;
//   - encode_*: the inverse, writing every supported member.
//
// The "known to Nomad" lists come from the field names of Nomad's api package (api/jobs.go Job,
// api/tasks.go TaskGroup, Task, RestartPolicy, LogConfig, TaskLifecycle, api/resources.go
// Resources, NetworkResource, Port, api/services.go Service, ServiceCheck), plus the members of
// a JobRegisterRequest around {"Job": ...}. encoding/json names a member by its Go field name
// (the mapstructure/hcl tags are for HCL only), so those are the names matched here.
#include "agent/sched/job.h"

#include <cmath>
#include <set>
#include <span>
#include <utility>

#include "agent/config/parse.h"
#include "agent/http/json.h"

namespace sched {
namespace {

constexpr int64_t kSecondNs = 1000000000;
constexpr int64_t kHourNs = 3600 * kSecondNs;
// Bounds Nomad leaves open; each is far past any sane job and keeps arithmetic in range.
constexpr int64_t kRestartAttemptsMax = 1000;
constexpr int64_t kRestartIntervalMinNs = 5 * kSecondNs;  // Nomad's RestartPolicyMinInterval
constexpr int64_t kRestartIntervalMaxNs = 7 * 24 * kHourNs;
constexpr int64_t kRestartDelayMaxNs = kHourNs;
constexpr int64_t kKillTimeoutMaxNs = kHourNs;
constexpr int64_t kCheckIntervalMinNs = kSecondNs;  // Nomad's minCheckInterval
constexpr int64_t kCheckIntervalMaxNs = 24 * kHourNs;
constexpr int64_t kCheckTimeoutMinNs = kSecondNs;  // Nomad's minCheckTimeout
constexpr int64_t kCheckTimeoutMaxNs = kHourNs;
constexpr int64_t kCpuMhzMax = 1000000;
constexpr int64_t kMemoryMbMin = 10;       // Nomad's minimum
constexpr int64_t kMemoryMbMax = 4 << 20;  // 4 TiB
constexpr size_t kDatacentersMax = 64;
constexpr size_t kTagsMax = 64;
constexpr size_t kKillSignalBytesMax = 16;
// A member name or key echoed in a problem is cut to this many bytes.
constexpr size_t kEchoBytesMax = 64;

// A member name as matched: ASCII case folded and '_' dropped (job.h).
std::string member_key(std::string_view name) {
  std::string k;
  for (char ch : name) {
    if (ch != '_') k += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  return k;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

bool is_name_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool is_name(std::string_view s) {
  if (s.empty() || s.size() > kNameBytesMax) return false;
  for (char c : s) {
    if (!is_name_byte(c)) return false;
  }
  return true;
}

// A service name is one DNS label once the ${NOMAD_*_NAME} it may use are replaced.
bool is_service_name(std::string_view s) {
  std::string t(s);
  for (std::string_view var : {"${NOMAD_JOB_NAME}", "${NOMAD_GROUP_NAME}", "${NOMAD_TASK_NAME}"}) {
    for (size_t at = t.find(var); at != std::string::npos; at = t.find(var))
      t.replace(at, var.size(), "x");
  }
  return config::is_dns_label(t);
}

// Env and Meta keys: become environment variable names (NOMAD_META_<key>).
bool is_env_key(std::string_view s) {
  return !s.empty() && s.size() <= kNameBytesMax && s.find('=') == std::string_view::npos &&
         !has_control(s);
}

// A member's path: "Job.TaskGroups[0]" and "Name" make "Job.TaskGroups[0].Name".
std::string join(const std::string& path, std::string_view member) {
  return path.empty() ? std::string(member) : path + "." + std::string(member);
}

std::string name_rule() {
  return "want 1 to " + std::to_string(kNameBytesMax) + " letters, digits, '.', '_' or '-'";
}

// A supported member: its canonical name (as problems print it) and the id its decoder switches on.
struct Field {
  std::string_view name;
  int id;
};

using Names = std::span<const std::string_view>;
using Fields = std::span<const Field>;

// --- member tables ----------------------------------------------------------------------------

enum { kEnvJob };
constexpr Field kEnvelopeFields[] = {{"Job", kEnvJob}};
constexpr std::string_view kEnvelopeUnsupported[] = {
    "EnforceIndex", "JobModifyIndex", "PolicyOverride", "PreserveCounts", "EvalPriority",
    "Submission",   "Region",         "Namespace",      "SecretID",       "IdempotencyToken"};

enum { kJId, kJName, kJType, kJPriority, kJDatacenters, kJRegion, kJNamespace, kJMeta, kJGroups };
constexpr Field kJobFields[] = {{"ID", kJId},
                                {"Name", kJName},
                                {"Type", kJType},
                                {"Priority", kJPriority},
                                {"Datacenters", kJDatacenters},
                                {"Region", kJRegion},
                                {"Namespace", kJNamespace},
                                {"Meta", kJMeta},
                                {"TaskGroups", kJGroups}};
constexpr std::string_view kJobUnsupported[] = {"AllAtOnce",
                                                "NodePool",
                                                "Constraints",
                                                "Affinities",
                                                "Update",
                                                "Multiregion",
                                                "Spreads",
                                                "Periodic",
                                                "ParameterizedJob",
                                                "Reschedule",
                                                "Migrate",
                                                "UI",
                                                "Stop",
                                                "ParentID",
                                                "Dispatched",
                                                "DispatchIdempotencyToken",
                                                "Payload",
                                                "ConsulToken",
                                                "ConsulNamespace",
                                                "VaultToken",
                                                "VaultNamespace",
                                                "NomadTokenID",
                                                "Status",
                                                "StatusDescription",
                                                "Stable",
                                                "Version",
                                                "SubmitTime",
                                                "CreateIndex",
                                                "ModifyIndex",
                                                "JobModifyIndex",
                                                "VersionTag"};

enum { kGName, kGCount, kGRestart, kGMeta, kGNetworks, kGServices, kGTasks };
constexpr Field kGroupFields[] = {
    {"Name", kGName},  {"Count", kGCount},       {"RestartPolicy", kGRestart},
    {"Meta", kGMeta},  {"Networks", kGNetworks}, {"Services", kGServices},
    {"Tasks", kGTasks}};
constexpr std::string_view kGroupUnsupported[] = {"Constraints",
                                                  "Affinities",
                                                  "Spreads",
                                                  "Volumes",
                                                  "Disconnect",
                                                  "ReschedulePolicy",
                                                  "EphemeralDisk",
                                                  "Update",
                                                  "Migrate",
                                                  "ShutdownDelay",
                                                  "MaxRunDuration",
                                                  "StopAfterClientDisconnect",
                                                  "MaxClientDisconnect",
                                                  "Scaling",
                                                  "Consul",
                                                  "PreventRescheduleOnLost"};

enum { kRAttempts, kRInterval, kRDelay, kRMode };
constexpr Field kRestartFields[] = {
    {"Attempts", kRAttempts}, {"Interval", kRInterval}, {"Delay", kRDelay}, {"Mode", kRMode}};
constexpr std::string_view kRestartUnsupported[] = {"RenderTemplates"};

enum { kNMode, kNReserved, kNDynamic };
constexpr Field kNetworkFields[] = {
    {"Mode", kNMode}, {"ReservedPorts", kNReserved}, {"DynamicPorts", kNDynamic}};
constexpr std::string_view kNetworkUnsupported[] = {"Device",   "CIDR",  "IP", "DNS",
                                                    "Hostname", "MBits", "CNI"};

enum { kPLabel, kPValue, kPTo };
constexpr Field kPortFields[] = {{"Label", kPLabel}, {"Value", kPValue}, {"To", kPTo}};
constexpr std::string_view kPortUnsupported[] = {"HostNetwork", "IgnoreCollision"};

enum {
  kTName,
  kTDriver,
  kTConfig,
  kTEnv,
  kTUser,
  kTResources,
  kTRestart,
  kTKillTimeout,
  kTKillSignal,
  kTServices,
  kTLifecycle,
  kTLogs,
  kTMeta,
  kTLeader
};
constexpr Field kTaskFields[] = {{"Name", kTName},
                                 {"Driver", kTDriver},
                                 {"Config", kTConfig},
                                 {"Env", kTEnv},
                                 {"User", kTUser},
                                 {"Resources", kTResources},
                                 {"RestartPolicy", kTRestart},
                                 {"KillTimeout", kTKillTimeout},
                                 {"KillSignal", kTKillSignal},
                                 {"Services", kTServices},
                                 {"Lifecycle", kTLifecycle},
                                 {"LogConfig", kTLogs},
                                 {"Logs", kTLogs},
                                 {"Meta", kTMeta},
                                 {"Leader", kTLeader}};
constexpr std::string_view kTaskUnsupported[] = {
    "Constraints", "Affinities",      "Artifacts",    "Vault",           "Consul",
    "Templates",   "DispatchPayload", "VolumeMounts", "CSIPluginConfig", "ShutdownDelay",
    "Kind",        "ScalingPolicies", "Secrets",      "Identity",        "Identities",
    "Actions",     "Schedule"};

enum { kRsCpu, kRsMemory, kRsMemoryMax };
constexpr Field kResourcesFields[] = {
    {"CPU", kRsCpu}, {"MemoryMB", kRsMemory}, {"MemoryMaxMB", kRsMemoryMax}};
constexpr std::string_view kResourcesUnsupported[] = {"Cores", "DiskMB",    "Networks", "Devices",
                                                      "NUMA",  "SecretsMB", "IOPS"};

enum { kLHook, kLSidecar };
constexpr Field kLifecycleFields[] = {{"Hook", kLHook}, {"Sidecar", kLSidecar}};

enum { kLcMaxFiles, kLcMaxFileSize, kLcEnabled };
constexpr Field kLogFields[] = {
    {"MaxFiles", kLcMaxFiles}, {"MaxFileSizeMB", kLcMaxFileSize}, {"Enabled", kLcEnabled}};
constexpr std::string_view kLogUnsupported[] = {"Disabled"};

enum { kCCommand, kCArgs, kCImage, kCWorkDir, kCNetworkMode, kCPorts };
constexpr Field kExecConfigFields[] = {{"command", kCCommand}, {"args", kCArgs}};
constexpr std::string_view kExecConfigUnsupported[] = {"pid_mode", "ipc_mode", "cap_add",
                                                       "cap_drop", "work_dir"};
constexpr Field kOciConfigFields[] = {
    {"image", kCImage},      {"command", kCCommand},          {"args", kCArgs},
    {"work_dir", kCWorkDir}, {"network_mode", kCNetworkMode}, {"ports", kCPorts}};
// Members of Nomad's docker and podman driver configs that an OCI job file may carry.
constexpr std::string_view kOciConfigUnsupported[] = {"entrypoint",
                                                      "volumes",
                                                      "mount",
                                                      "mounts",
                                                      "privileged",
                                                      "cap_add",
                                                      "cap_drop",
                                                      "labels",
                                                      "dns_servers",
                                                      "hostname",
                                                      "auth",
                                                      "force_pull",
                                                      "ipc_mode",
                                                      "pid_mode",
                                                      "devices",
                                                      "logging",
                                                      "interactive",
                                                      "tty",
                                                      "init",
                                                      "readonly_rootfs",
                                                      "security_opt",
                                                      "sysctl",
                                                      "ulimit",
                                                      "extra_hosts",
                                                      "working_dir",
                                                      "port_map",
                                                      "network_aliases",
                                                      "image_pull_timeout"};

enum { kSName, kSPortLabel, kSTags, kSMeta, kSChecks, kSProvider };
constexpr Field kServiceFields[] = {{"Name", kSName},     {"PortLabel", kSPortLabel},
                                    {"Tags", kSTags},     {"Meta", kSMeta},
                                    {"Checks", kSChecks}, {"Provider", kSProvider}};
constexpr std::string_view kServiceUnsupported[] = {
    "CanaryTags", "EnableTagOverride", "AddressMode",     "Address",  "CheckRestart",
    "Connect",    "CanaryMeta",        "TaggedAddresses", "TaskName", "OnUpdate",
    "Identity",   "Weights",           "Cluster",         "Kind",     "Id"};

enum {
  kCkName,
  kCkType,
  kCkPath,
  kCkMethod,
  kCkCommand,
  kCkArgs,
  kCkPortLabel,
  kCkInterval,
  kCkTimeout
};
constexpr Field kCheckFields[] = {
    {"Name", kCkName},           {"Type", kCkType},         {"Path", kCkPath},
    {"Method", kCkMethod},       {"Command", kCkCommand},   {"Args", kCkArgs},
    {"PortLabel", kCkPortLabel}, {"Interval", kCkInterval}, {"Timeout", kCkTimeout}};
constexpr std::string_view kCheckUnsupported[] = {"Protocol",
                                                  "Expose",
                                                  "AddressMode",
                                                  "Advertise",
                                                  "InitialStatus",
                                                  "Notes",
                                                  "TLSServerName",
                                                  "TLSSkipVerify",
                                                  "Header",
                                                  "CheckRestart",
                                                  "GRPCService",
                                                  "GRPCUseTLS",
                                                  "TaskName",
                                                  "SuccessBeforePassing",
                                                  "FailuresBeforeCritical",
                                                  "FailuresBeforeWarning",
                                                  "Body",
                                                  "OnUpdate",
                                                  "Id"};

// A RestartPolicy's members as given, to merge over the level above's effective policy.
struct RestartOverride {
  std::optional<int32_t> attempts;
  std::optional<int64_t> interval_ns;
  std::optional<int64_t> delay_ns;
  std::optional<RestartMode> mode;
  bool any() const { return attempts || interval_ns || delay_ns || mode; }
  RestartPolicy over(RestartPolicy p) const {
    if (attempts) p.attempts = *attempts;
    if (interval_ns) p.interval_ns = *interval_ns;
    if (delay_ns) p.delay_ns = *delay_ns;
    if (mode) p.mode = *mode;
    return p;
  }
};

// Nomad's empty values: what `nomad job run -output` writes for a member left out.
bool is_empty_value(const cJSON* v) {
  if (cJSON_IsNull(v) || cJSON_IsFalse(v)) return true;
  if (cJSON_IsNumber(v)) return v->valuedouble == 0;
  if (cJSON_IsString(v)) return v->valuestring[0] == '\0';
  if (cJSON_IsArray(v) || cJSON_IsObject(v)) return v->child == nullptr;
  return false;
}

std::string_view restart_mode_name(RestartMode m) {
  return m == RestartMode::kDelay ? "delay" : "fail";
}

std::string_view hook_name(LifecycleHook h) {
  switch (h) {
    case LifecycleHook::kPrestart:
      return "prestart";
    case LifecycleHook::kPoststart:
      return "poststart";
    case LifecycleHook::kPoststop:
      return "poststop";
    case LifecycleHook::kMain:
      break;
  }
  return "";
}

class Decoder {
 public:
  JobDecode result;

  void problem(const std::string& path, std::string_view what) {
    if (result.problems.size() == kProblemsMax) {
      ++result.problems_dropped;
      return;
    }
    result.problems.push_back(path + ": " + std::string(what));
  }

  // Calls on(id, item, path) for each supported member of `obj` that is not null; reports
  // unknown members, non-empty unsupported ones and members given twice. False when `obj` is
  // not an object (reported).
  template <typename F>
  bool members(const cJSON* obj, const std::string& path, Fields fields, Names unsupported,
               F&& on) {
    if (!cJSON_IsObject(obj)) {
      problem(path, "want an object");
      return false;
    }
    std::set<int> seen_ids;
    std::set<std::string> seen_keys;
    const cJSON* m = nullptr;
    cJSON_ArrayForEach(m, obj) {
      const std::string_view name = m->string != nullptr ? m->string : "";
      const std::string key = member_key(name);
      const Field* field = nullptr;
      for (const Field& f : fields) {
        if (member_key(f.name) == key) field = &f;
      }
      if (field != nullptr) {
        const std::string at = join(path, field->name);
        if (!seen_ids.insert(field->id).second) {
          problem(at, "given twice");
          continue;
        }
        if (!cJSON_IsNull(m)) on(field->id, m, at);
        continue;
      }
      const std::string at = join(path, config::printable(name.substr(0, kEchoBytesMax)));
      if (!seen_keys.insert(key).second) {
        problem(at, "given twice");
        continue;
      }
      bool known = false;
      for (std::string_view u : unsupported) known = known || member_key(u) == key;
      if (!known) {
        problem(at, "unknown field");
      } else if (!is_empty_value(m)) {
        problem(at, "not supported by Weft");
      }
    }
    return true;
  }

  bool text(const cJSON* v, const std::string& path, std::string* out,
            size_t bytes_max = kStringBytesMax) {
    if (!cJSON_IsString(v)) {
      problem(path, "want a string");
      return false;
    }
    const std::string_view s = v->valuestring;
    if (s.size() > bytes_max) {
      problem(path, "longer than " + std::to_string(bytes_max) + " bytes");
      return false;
    }
    *out = s;
    return true;
  }

  bool name(const cJSON* v, const std::string& path, std::string* out) {
    std::string s;
    if (!text(v, path, &s)) return false;
    if (!is_name(s)) {
      problem(path, config::quote(s) + ": " + name_rule());
      return false;
    }
    *out = std::move(s);
    return true;
  }

  // One of `choices`, exactly; "" is `empty_is` when that is given.
  bool choice(const cJSON* v, const std::string& path,
              std::initializer_list<std::string_view> choices, std::string* out,
              std::string_view empty_is = {}) {
    std::string s;
    if (!text(v, path, &s, kNameBytesMax)) return false;
    if (s.empty() && !empty_is.empty()) s = empty_is;
    std::string want;
    for (std::string_view c : choices) {
      if (s == c) {
        *out = std::move(s);
        return true;
      }
      want += (want.empty() ? "" : ", ") + std::string(c);
    }
    problem(path, config::quote(s) + ": want one of " + want);
    return false;
  }

  bool integer(const cJSON* v, const std::string& path, int64_t lo, int64_t hi, int64_t* out) {
    const bool whole = cJSON_IsNumber(v) && std::isfinite(v->valuedouble) &&
                       std::floor(v->valuedouble) == v->valuedouble &&
                       std::fabs(v->valuedouble) <= 9007199254740992.0;
    if (!whole || v->valuedouble < static_cast<double>(lo) ||
        v->valuedouble > static_cast<double>(hi)) {
      problem(path, "want a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
      return false;
    }
    *out = static_cast<int64_t>(v->valuedouble);
    return true;
  }

  bool int32(const cJSON* v, const std::string& path, int64_t lo, int64_t hi, int32_t* out) {
    int64_t n = 0;
    if (!integer(v, path, lo, hi, &n)) return false;
    *out = static_cast<int32_t>(n);
    return true;
  }

  bool boolean(const cJSON* v, const std::string& path, bool* out) {
    if (!cJSON_IsBool(v)) {
      problem(path, "want true or false");
      return false;
    }
    *out = cJSON_IsTrue(v);
    return true;
  }

  // Nanoseconds as a JSON integer (Nomad's API) or a Go duration string ("30s").
  bool duration(const cJSON* v, const std::string& path, int64_t lo_ns, int64_t hi_ns,
                int64_t* out) {
    const std::string want = "want a duration from " + config::format_duration(lo_ns) + " to " +
                             config::format_duration(hi_ns) +
                             " (nanoseconds, or a string like \"30s\")";
    int64_t ns = -1;
    if (cJSON_IsString(v)) {
      if (!config::parse_duration(v->valuestring, &ns)) ns = -1;
    } else if (cJSON_IsNumber(v) && std::isfinite(v->valuedouble) &&
               std::floor(v->valuedouble) == v->valuedouble && v->valuedouble >= 0 &&
               v->valuedouble <= 9007199254740992.0) {
      ns = static_cast<int64_t>(v->valuedouble);
    }
    if (ns < lo_ns || ns > hi_ns) {
      problem(path, want);
      return false;
    }
    *out = ns;
    return true;
  }

  // A list of at most `count_max` strings; `each` checks and stores one.
  template <typename F>
  void list(const cJSON* v, const std::string& path, size_t count_max, F&& each) {
    if (!cJSON_IsArray(v)) {
      problem(path, "want a list");
      return;
    }
    size_t i = 0;
    const cJSON* e = nullptr;
    cJSON_ArrayForEach(e, v) {
      if (i == count_max) {
        problem(path, "more than " + std::to_string(count_max) + " entries");
        return;
      }
      each(e, path + "[" + std::to_string(i) + "]");
      ++i;
    }
  }

  void strings(const cJSON* v, const std::string& path, size_t count_max,
               std::vector<std::string>* out) {
    list(v, path, count_max, [&](const cJSON* e, const std::string& at) {
      std::string s;
      if (text(e, at, &s)) out->push_back(std::move(s));
    });
  }

  // Env and Meta: an object of strings, keys exact.
  void string_map(const cJSON* v, const std::string& path, size_t count_max,
                  std::map<std::string, std::string>* out) {
    if (!cJSON_IsObject(v)) {
      problem(path, "want an object of strings");
      return;
    }
    size_t n = 0;
    const cJSON* e = nullptr;
    cJSON_ArrayForEach(e, v) {
      const std::string_view key = e->string != nullptr ? e->string : "";
      const std::string at = path + "." + config::printable(key.substr(0, kEchoBytesMax));
      if (++n > count_max) {
        problem(path, "more than " + std::to_string(count_max) + " entries");
        return;
      }
      if (!is_env_key(key)) {
        problem(at, "a key is 1 to " + std::to_string(kNameBytesMax) +
                        " bytes without '=' or control characters");
        continue;
      }
      if (out->count(std::string(key)) != 0) {
        problem(at, "given twice");
        continue;
      }
      std::string s;
      if (text(e, at, &s)) (*out)[std::string(key)] = std::move(s);
    }
  }

  void decode_restart(const cJSON* v, const std::string& path, RestartOverride* out) {
    members(v, path, kRestartFields, kRestartUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              int32_t n = 0;
              int64_t ns = 0;
              std::string s;
              switch (id) {
                case kRAttempts:
                  if (int32(m, at, 0, kRestartAttemptsMax, &n)) out->attempts = n;
                  break;
                case kRInterval:
                  if (duration(m, at, kRestartIntervalMinNs, kRestartIntervalMaxNs, &ns))
                    out->interval_ns = ns;
                  break;
                case kRDelay:
                  if (duration(m, at, 0, kRestartDelayMaxNs, &ns)) out->delay_ns = ns;
                  break;
                case kRMode:
                  if (choice(m, at, {"fail", "delay"}, &s))
                    out->mode = s == "delay" ? RestartMode::kDelay : RestartMode::kFail;
                  break;
              }
            });
  }

  // Nomad's RestartPolicy.Validate on an effective policy.
  void check_restart(const RestartPolicy& p, const std::string& path) {
    if (p.attempts == 0 && p.mode == RestartMode::kDelay) {
      problem(path, "Mode \"delay\" with 0 Attempts is ambiguous");
    }
    if (static_cast<int64_t>(p.attempts) * p.delay_ns > p.interval_ns) {
      problem(path, std::to_string(p.attempts) + " Attempts with a Delay of " +
                        config::format_duration(p.delay_ns) + " do not fit in an Interval of " +
                        config::format_duration(p.interval_ns));
    }
  }

  void decode_port(const cJSON* v, const std::string& path, bool reserved, Port* out) {
    bool have_label = false;
    bool have_value = false;
    members(v, path, kPortFields, kPortUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              switch (id) {
                case kPLabel:
                  have_label = name(m, at, &out->label);
                  break;
                case kPValue:
                  if (reserved) {
                    have_value = int32(m, at, 1, 65535, &out->value);
                  } else if (!is_empty_value(m)) {
                    problem(at,
                            "a dynamic port's Value is assigned at placement: give 0, or use "
                            "ReservedPorts");
                  }
                  break;
                case kPTo:
                  int32(m, at, 0, 65535, &out->to);
                  break;
              }
            });
    if (!cJSON_IsObject(v)) return;
    require(v, path, "Label", have_label);
    if (reserved) require(v, path, "Value", have_value);
  }

  void decode_network(const cJSON* v, const std::string& path, Network* out) {
    members(v, path, kNetworkFields, kNetworkUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              switch (id) {
                case kNMode:
                  choice(m, at, {"host", "bridge"}, &out->mode, "host");
                  break;
                case kNReserved:
                case kNDynamic: {
                  const bool reserved = id == kNReserved;
                  std::vector<Port>& ports = reserved ? out->reserved_ports : out->dynamic_ports;
                  list(m, at, kPortsMax, [&](const cJSON* e, const std::string& pat) {
                    ports.emplace_back();
                    decode_port(e, pat, reserved, &ports.back());
                  });
                  break;
                }
              }
            });
    if (out->reserved_ports.size() + out->dynamic_ports.size() > kPortsMax) {
      problem(path, "more than " + std::to_string(kPortsMax) + " ports");
    }
    std::set<std::string> labels;
    for (const auto* ports : {&out->reserved_ports, &out->dynamic_ports}) {
      for (const Port& p : *ports) {
        if (!p.label.empty() && !labels.insert(p.label).second) {
          problem(path, "port label " + config::quote(p.label) + " is given twice");
        }
      }
    }
  }

  void decode_check(const cJSON* v, const std::string& path, ServiceCheck* out) {
    bool have_type = false;
    members(v, path, kCheckFields, kCheckUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              switch (id) {
                case kCkName:
                  if (text(m, at, &out->name, kNameBytesMax) && has_control(out->name))
                    problem(at, "has control characters");
                  break;
                case kCkType:
                  have_type = choice(m, at, {"http", "tcp", "script"}, &out->type);
                  break;
                case kCkPath:
                  if (text(m, at, &out->path) && !out->path.empty() &&
                      (out->path[0] != '/' || has_control(out->path))) {
                    problem(
                        at,
                        config::quote(out->path) +
                            ": want an absolute path without control characters, like \"/health\"");
                  }
                  break;
                case kCkMethod:
                  if (text(m, at, &out->method, kNameBytesMax) && !out->method.empty() &&
                      out->method != "GET" && out->method != "HEAD" && out->method != "POST" &&
                      out->method != "PUT") {
                    problem(at, config::quote(out->method) + ": want GET, HEAD, POST or PUT");
                  }
                  break;
                case kCkCommand:
                  text(m, at, &out->command);
                  break;
                case kCkArgs:
                  strings(m, at, kArgsMax, &out->args);
                  break;
                case kCkPortLabel:
                  if (!(cJSON_IsString(m) && m->valuestring[0] == '\0'))
                    name(m, at, &out->port_label);
                  break;
                // Go's time.Duration members that are not pointers: 0 is "not given".
                case kCkInterval:
                  if (!is_empty_value(m))
                    duration(m, at, kCheckIntervalMinNs, kCheckIntervalMaxNs, &out->interval_ns);
                  break;
                case kCkTimeout:
                  if (!is_empty_value(m))
                    duration(m, at, kCheckTimeoutMinNs, kCheckTimeoutMaxNs, &out->timeout_ns);
                  break;
              }
            });
    if (!cJSON_IsObject(v)) return;
    require(v, path, "Type", have_type);
    if (out->type == "http" && out->path.empty())
      problem(path + ".Path", "required for an http check");
    if (out->type != "http" && (!out->path.empty() || !out->method.empty())) {
      problem(path, "Path and Method are for http checks only");
    }
    if (out->type == "script" && out->command.empty())
      problem(path + ".Command", "required for a script check");
    if (out->type != "script" && (!out->command.empty() || !out->args.empty())) {
      problem(path, "Command and Args are for script checks only");
    }
  }

  void decode_service(const cJSON* v, const std::string& path, Service* out) {
    bool have_name = false;
    members(v, path, kServiceFields, kServiceUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              std::string s;
              switch (id) {
                case kSName:
                  if (text(m, at, &out->name, kNameBytesMax)) {
                    have_name = true;
                    if (!is_service_name(out->name)) {
                      problem(at, config::quote(out->name) +
                                      ": want one DNS label (letters, digits and '-'), which may "
                                      "use ${NOMAD_JOB_NAME}, "
                                      "${NOMAD_GROUP_NAME} and ${NOMAD_TASK_NAME}");
                    }
                  }
                  break;
                case kSPortLabel:
                  if (!(cJSON_IsString(m) && m->valuestring[0] == '\0'))
                    name(m, at, &out->port_label);
                  break;
                case kSTags:
                  strings(m, at, kTagsMax, &out->tags);
                  break;
                case kSMeta:
                  string_map(m, at, kMetaMax, &out->meta);
                  break;
                case kSChecks:
                  list(m, at, kChecksMax, [&](const cJSON* e, const std::string& cat) {
                    out->checks.emplace_back();
                    decode_check(e, cat, &out->checks.back());
                  });
                  break;
                case kSProvider:
                  // Weft's catalog answers as Consul and as Nomad's service registry alike.
                  choice(m, at, {"consul", "nomad"}, &s, "consul");
                  break;
              }
            });
    if (cJSON_IsObject(v)) require(v, path, "Name", have_name);
  }

  void decode_services(const cJSON* v, const std::string& path, std::vector<Service>* out) {
    list(v, path, kServicesMax, [&](const cJSON* e, const std::string& at) {
      out->emplace_back();
      decode_service(e, at, &out->back());
    });
  }

  // Config, once the driver is known.
  void decode_config(const cJSON* v, const std::string& path, const std::string& driver,
                     TaskConfig* out) {
    const bool oci = driver == "oci";
    bool have_command = false;
    bool have_image = false;
    const bool is_object = v != nullptr && cJSON_IsObject(v);
    if (v != nullptr) {
      members(v, path, oci ? Fields(kOciConfigFields) : Fields(kExecConfigFields),
              oci ? Names(kOciConfigUnsupported) : Names(kExecConfigUnsupported),
              [&](int id, const cJSON* m, const std::string& at) {
                switch (id) {
                  case kCCommand:
                    have_command = text(m, at, &out->command) && !out->command.empty();
                    break;
                  case kCArgs:
                    strings(m, at, kArgsMax, &out->args);
                    break;
                  case kCImage:
                    have_image = text(m, at, &out->image) && !out->image.empty();
                    if (has_control(out->image)) problem(at, "has control characters");
                    break;
                  case kCWorkDir:
                    if (text(m, at, &out->work_dir) && !out->work_dir.empty() &&
                        out->work_dir[0] != '/') {
                      problem(at, config::quote(out->work_dir) + ": want an absolute path");
                    }
                    break;
                  case kCNetworkMode:
                    if (!(cJSON_IsString(m) && m->valuestring[0] == '\0'))  // "": the group's
                      choice(m, at, {"host", "none", "bridge"}, &out->network_mode);
                    break;
                  case kCPorts:
                    list(m, at, kPortsMax, [&](const cJSON* e, const std::string& pat) {
                      std::string label;
                      if (name(e, pat, &label)) out->ports.push_back(std::move(label));
                    });
                    break;
                }
              });
    }
    if (v != nullptr && !is_object) return;
    if (!oci && !have_command) problem(path + ".command", "required");
    if (oci && !have_image) problem(path + ".image", "required");
  }

  void decode_task(const cJSON* v, const std::string& path, Task* out, RestartOverride* restart) {
    bool have_name = false;
    const cJSON* config = nullptr;
    members(v, path, kTaskFields, kTaskUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              switch (id) {
                case kTName:
                  have_name = name(m, at, &out->name);
                  break;
                case kTDriver:
                  if (!(cJSON_IsString(m) && m->valuestring[0] == '\0'))
                    choice(m, at, {"exec", "oci"}, &out->driver);
                  break;
                case kTConfig:
                  config = m;
                  break;
                case kTEnv:
                  string_map(m, at, kEnvMax, &out->env);
                  break;
                case kTUser:
                  if (text(m, at, &out->user, kNameBytesMax) && has_control(out->user))
                    problem(at, "has control characters");
                  break;
                case kTResources:
                  decode_resources(m, at, &out->resources);
                  break;
                case kTRestart:
                  decode_restart(m, at, restart);
                  break;
                case kTKillTimeout:
                  duration(m, at, 0, kKillTimeoutMaxNs, &out->kill_timeout_ns);
                  break;
                case kTKillSignal:
                  if (text(m, at, &out->kill_signal, kNameBytesMax)) {
                    if (out->kill_signal.empty()) out->kill_signal = "SIGINT";
                    if (!is_signal_name(out->kill_signal))
                      problem(at, config::quote(out->kill_signal) +
                                      ": want a signal name like \"SIGTERM\"");
                  }
                  break;
                case kTServices:
                  decode_services(m, at, &out->services);
                  break;
                case kTLifecycle:
                  decode_lifecycle(m, at, &out->lifecycle);
                  break;
                case kTLogs:
                  decode_logs(m, at, &out->logs);
                  break;
                case kTMeta:
                  string_map(m, at, kMetaMax, &out->meta);
                  break;
                case kTLeader:
                  boolean(m, at, &out->leader);
                  break;
              }
            });
    if (!cJSON_IsObject(v)) return;
    require(v, path, "Name", have_name);
    if (out->driver.empty()) {
      require(v, path, "Driver", false);
    } else {
      decode_config(config, path + ".Config", out->driver, &out->config);
    }
  }

  static bool is_signal_name(std::string_view s) {
    if (s.size() < 4 || s.size() > kKillSignalBytesMax || s.substr(0, 3) != "SIG") return false;
    for (char c : s.substr(3)) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-')) return false;
    }
    return true;
  }

  // Reports "<path>.<name>: required" unless `have` or `obj` has the member with a value (whose
  // problem was reported where it stands).
  void require(const cJSON* obj, const std::string& path, std::string_view name, bool have,
               std::string_view more = {}) {
    if (!have && !has_member(obj, name)) problem(join(path, name), "required" + std::string(more));
  }

  // True when `obj` has the member `name` with a value: not null, "" or [] (a value of another
  // type has its problem reported already).
  static bool has_member(const cJSON* obj, std::string_view name) {
    const cJSON* m = nullptr;
    cJSON_ArrayForEach(m, obj) {
      if (m->string == nullptr || member_key(m->string) != member_key(name)) continue;
      const bool empty = cJSON_IsNull(m) || (cJSON_IsString(m) && m->valuestring[0] == '\0') ||
                         (cJSON_IsArray(m) && m->child == nullptr);
      if (!empty) return true;
    }
    return false;
  }

  void decode_resources(const cJSON* v, const std::string& path, Resources* out) {
    members(v, path, kResourcesFields, kResourcesUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              switch (id) {
                case kRsCpu:
                  int32(m, at, 1, kCpuMhzMax, &out->cpu_mhz);
                  break;
                case kRsMemory:
                  int32(m, at, kMemoryMbMin, kMemoryMbMax, &out->memory_mb);
                  break;
                case kRsMemoryMax:
                  int32(m, at, 0, kMemoryMbMax, &out->memory_max_mb);
                  break;
              }
            });
    if (out->memory_max_mb != 0 && out->memory_max_mb < out->memory_mb) {
      problem(path + ".MemoryMaxMB",
              "want 0 or at least MemoryMB (" + std::to_string(out->memory_mb) + ")");
    }
  }

  void decode_lifecycle(const cJSON* v, const std::string& path, Lifecycle* out) {
    bool have_hook = false;
    members(v, path, kLifecycleFields, {}, [&](int id, const cJSON* m, const std::string& at) {
      std::string s;
      switch (id) {
        case kLHook:
          if (choice(m, at, {"prestart", "poststart", "poststop"}, &s)) {
            have_hook = true;
            out->hook = s == "prestart"    ? LifecycleHook::kPrestart
                        : s == "poststart" ? LifecycleHook::kPoststart
                                           : LifecycleHook::kPoststop;
          }
          break;
        case kLSidecar:
          boolean(m, at, &out->sidecar);
          break;
      }
    });
    if (cJSON_IsObject(v)) require(v, path, "Hook", have_hook);
  }

  void decode_logs(const cJSON* v, const std::string& path, LogConfig* out) {
    members(v, path, kLogFields, kLogUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              switch (id) {
                case kLcMaxFiles:
                  int32(m, at, 1, 100, &out->max_files);
                  break;
                case kLcMaxFileSize:
                  int32(m, at, 1, 1024, &out->max_file_size_mb);
                  break;
                case kLcEnabled:
                  // Nomad's deprecated switch: logs are always kept, so only true (or null) is
                  // accepted.
                  if (!cJSON_IsTrue(m))
                    problem(at, cJSON_IsFalse(m) ? "not supported by Weft" : "want true or false");
                  break;
              }
            });
  }

  void decode_group(const cJSON* v, const std::string& path, JobType type, TaskGroup* out) {
    bool have_name = false;
    RestartOverride group_restart;
    std::vector<RestartOverride> task_restarts;
    members(v, path, kGroupFields, kGroupUnsupported,
            [&](int id, const cJSON* m, const std::string& at) {
              switch (id) {
                case kGName:
                  have_name = name(m, at, &out->name);
                  break;
                case kGCount:
                  int32(m, at, 0, kCountMax, &out->count);
                  break;
                case kGRestart:
                  decode_restart(m, at, &group_restart);
                  break;
                case kGMeta:
                  string_map(m, at, kMetaMax, &out->meta);
                  break;
                case kGNetworks: {
                  list(m, at, 1, [&](const cJSON* e, const std::string& nat) {
                    out->network.emplace();
                    decode_network(e, nat, &*out->network);
                  });
                  break;
                }
                case kGServices:
                  decode_services(m, at, &out->services);
                  break;
                case kGTasks:
                  list(m, at, kTasksMax, [&](const cJSON* e, const std::string& tat) {
                    out->tasks.emplace_back();
                    task_restarts.emplace_back();
                    decode_task(e, tat, &out->tasks.back(), &task_restarts.back());
                  });
                  break;
              }
            });
    if (!cJSON_IsObject(v)) return;
    require(v, path, "Name", have_name);
    require(v, path, "Tasks", !out->tasks.empty(), " (at least one task)");
    out->restart = group_restart.over(default_restart_policy(type));
    if (group_restart.any()) check_restart(out->restart, path + ".RestartPolicy");
    std::set<std::string> names;
    size_t leaders = 0;
    for (size_t i = 0; i < out->tasks.size(); ++i) {
      Task& t = out->tasks[i];
      const std::string at = path + ".Tasks[" + std::to_string(i) + "]";
      t.restart = task_restarts[i].over(out->restart);
      if (task_restarts[i].any()) check_restart(t.restart, at + ".RestartPolicy");
      if (!t.name.empty() && !names.insert(t.name).second)
        problem(at + ".Name", config::quote(t.name) + " names another task of the group");
      if (t.leader && ++leaders == 2)
        problem(at + ".Leader", "only one task of a group may be the leader");
    }
    check_port_labels(*out, path);
    check_network_modes(*out, path);
  }

  // An oci task without network_mode follows its group's network: the allocation's namespace
  // when the group's Mode is "bridge", else the host's. "bridge" needs such a group, and "host"
  // cannot leave one (its ports are mapped into the namespace).
  void check_network_modes(TaskGroup& g, const std::string& path) {
    const bool bridge = g.network && g.network->mode == "bridge";
    for (size_t i = 0; i < g.tasks.size(); ++i) {
      Task& t = g.tasks[i];
      if (t.driver != "oci") continue;
      const std::string at = path + ".Tasks[" + std::to_string(i) + "].Config.network_mode";
      if (t.config.network_mode.empty()) t.config.network_mode = bridge ? "bridge" : "host";
      if (t.config.network_mode == "bridge" && !bridge) {
        problem(at, "\"bridge\" joins the allocation's network namespace: give the group a Network with Mode \"bridge\"");
      } else if (t.config.network_mode == "host" && bridge) {
        problem(at, "\"host\" conflicts with the group's network Mode \"bridge\": leave it unset");
      }
    }
  }

  // Services, checks and OCI ports name ports of the group's network.
  void check_port_labels(const TaskGroup& g, const std::string& path) {
    std::set<std::string> labels;
    if (g.network) {
      for (const auto* ports : {&g.network->reserved_ports, &g.network->dynamic_ports}) {
        for (const Port& p : *ports) labels.insert(p.label);
      }
    }
    auto check = [&](const std::string& label, const std::string& at) {
      if (!label.empty() && labels.count(label) == 0) {
        problem(at, config::quote(label) + " is not a port label of the group's network");
      }
    };
    auto services = [&](const std::vector<Service>& list, const std::string& at) {
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string sat = at + ".Services[" + std::to_string(i) + "]";
        check(list[i].port_label, sat + ".PortLabel");
        for (size_t c = 0; c < list[i].checks.size(); ++c) {
          check(list[i].checks[c].port_label, sat + ".Checks[" + std::to_string(c) + "].PortLabel");
        }
      }
    };
    services(g.services, path);
    for (size_t i = 0; i < g.tasks.size(); ++i) {
      const std::string at = path + ".Tasks[" + std::to_string(i) + "]";
      services(g.tasks[i].services, at);
      for (size_t p = 0; p < g.tasks[i].config.ports.size(); ++p) {
        check(g.tasks[i].config.ports[p], at + ".Config.ports[" + std::to_string(p) + "]");
      }
    }
  }

  // The job's Type before its groups: their restart defaults depend on it, and Go's encoder
  // writes TaskGroups first. Problems with it are reported in document order, by decode_job.
  static JobType prescan_type(const cJSON* j) {
    const cJSON* m = nullptr;
    cJSON_ArrayForEach(m, j) {
      if (m->string == nullptr || member_key(m->string) != "type" || !cJSON_IsString(m)) continue;
      for (JobType t : {JobType::kService, JobType::kBatch, JobType::kSystem, JobType::kSysbatch}) {
        if (job_type_name(t) == m->valuestring) return t;
      }
      return JobType::kService;
    }
    return JobType::kService;
  }

  void decode_job_object(const cJSON* v, const std::string& path, Job* out) {
    bool have_id = false;
    const JobType type = prescan_type(v);
    std::set<std::string> group_names;
    members(
        v, path, kJobFields, kJobUnsupported, [&](int id, const cJSON* m, const std::string& at) {
          std::string s;
          switch (id) {
            case kJId:
              have_id = name(m, at, &out->id);
              break;
            case kJName:
              if (!(cJSON_IsString(m) && m->valuestring[0] == '\0')) name(m, at, &out->name);
              break;
            case kJType:
              if (choice(m, at, {"service", "batch", "system", "sysbatch"}, &s, "service"))
                out->type = type;
              break;
            case kJPriority:
              int32(m, at, 1, 100, &out->priority);
              break;
            case kJDatacenters:
              out->datacenters.clear();
              list(m, at, kDatacentersMax, [&](const cJSON* e, const std::string& dat) {
                std::string dc;
                if (!text(e, dat, &dc, kNameBytesMax)) return;
                bool ok = !dc.empty();
                for (char c : dc) ok = ok && (is_name_byte(c) || c == '*');
                if (!ok)
                  problem(dat, config::quote(dc) + ": " + name_rule() + " (and '*' as a wildcard)");
                out->datacenters.push_back(std::move(dc));
              });
              if (out->datacenters.empty()) out->datacenters = {"*"};
              break;
            case kJRegion:
              if (!(cJSON_IsString(m) && m->valuestring[0] == '\0')) name(m, at, &out->region);
              break;
            case kJNamespace:
              if (!(cJSON_IsString(m) && m->valuestring[0] == '\0')) name(m, at, &out->namespace_);
              break;
            case kJMeta:
              string_map(m, at, kMetaMax, &out->meta);
              break;
            case kJGroups:
              list(m, at, kGroupsMax, [&](const cJSON* e, const std::string& gat) {
                out->groups.emplace_back();
                TaskGroup& g = out->groups.back();
                decode_group(e, gat, type, &g);
                if (!g.name.empty() && !group_names.insert(g.name).second) {
                  problem(gat + ".Name", config::quote(g.name) + " names another group of the job");
                }
              });
              break;
          }
        });
    if (!cJSON_IsObject(v)) return;
    require(v, path, "ID", have_id);
    require(v, path, "TaskGroups", !out->groups.empty(), " (at least one group)");
    if (out->name.empty()) out->name = out->id;
  }
};

// --- encoding ---------------------------------------------------------------------------------

void encode_strings(http::Json& doc, cJSON* parent, std::string_view key,
                    const std::vector<std::string>& list) {
  cJSON* a = doc.add_array(parent, key);
  for (const std::string& s : list) doc.add_string(a, "", s);
}

void encode_map(http::Json& doc, cJSON* parent, std::string_view key,
                const std::map<std::string, std::string>& map) {
  cJSON* o = doc.add_object(parent, key);
  for (const auto& [k, v] : map) doc.add_string(o, k, v);
}

void encode_restart(http::Json& doc, cJSON* parent, const RestartPolicy& p) {
  cJSON* o = doc.add_object(parent, "RestartPolicy");
  doc.add_i64(o, "Attempts", p.attempts);
  doc.add_i64(o, "Interval", p.interval_ns);
  doc.add_i64(o, "Delay", p.delay_ns);
  doc.add_string(o, "Mode", restart_mode_name(p.mode));
}

void encode_services(http::Json& doc, cJSON* parent, const std::vector<Service>& services) {
  cJSON* a = doc.add_array(parent, "Services");
  for (const Service& s : services) {
    cJSON* o = doc.add_object(a, "");
    doc.add_string(o, "Name", s.name);
    doc.add_string(o, "PortLabel", s.port_label);
    encode_strings(doc, o, "Tags", s.tags);
    encode_map(doc, o, "Meta", s.meta);
    cJSON* checks = doc.add_array(o, "Checks");
    for (const ServiceCheck& c : s.checks) {
      cJSON* co = doc.add_object(checks, "");
      doc.add_string(co, "Name", c.name);
      doc.add_string(co, "Type", c.type);
      doc.add_string(co, "Path", c.path);
      doc.add_string(co, "Method", c.method);
      doc.add_string(co, "Command", c.command);
      encode_strings(doc, co, "Args", c.args);
      doc.add_string(co, "PortLabel", c.port_label);
      doc.add_i64(co, "Interval", c.interval_ns);
      doc.add_i64(co, "Timeout", c.timeout_ns);
    }
  }
}

void encode_ports(http::Json& doc, cJSON* parent, std::string_view key,
                  const std::vector<Port>& ports) {
  cJSON* a = doc.add_array(parent, key);
  for (const Port& p : ports) {
    cJSON* o = doc.add_object(a, "");
    doc.add_string(o, "Label", p.label);
    doc.add_i64(o, "Value", p.value);
    doc.add_i64(o, "To", p.to);
  }
}

void encode_task(http::Json& doc, cJSON* parent, const Task& t) {
  cJSON* o = doc.add_object(parent, "");
  doc.add_string(o, "Name", t.name);
  doc.add_string(o, "Driver", t.driver);
  cJSON* c = doc.add_object(o, "Config");
  if (t.driver == "oci") doc.add_string(c, "image", t.config.image);
  doc.add_string(c, "command", t.config.command);
  encode_strings(doc, c, "args", t.config.args);
  if (t.driver == "oci") {
    doc.add_string(c, "work_dir", t.config.work_dir);
    doc.add_string(c, "network_mode", t.config.network_mode);
    encode_strings(doc, c, "ports", t.config.ports);
  }
  encode_map(doc, o, "Env", t.env);
  doc.add_string(o, "User", t.user);
  cJSON* r = doc.add_object(o, "Resources");
  doc.add_i64(r, "CPU", t.resources.cpu_mhz);
  doc.add_i64(r, "MemoryMB", t.resources.memory_mb);
  doc.add_i64(r, "MemoryMaxMB", t.resources.memory_max_mb);
  encode_restart(doc, o, t.restart);
  doc.add_i64(o, "KillTimeout", t.kill_timeout_ns);
  doc.add_string(o, "KillSignal", t.kill_signal);
  encode_services(doc, o, t.services);
  if (t.lifecycle.hook == LifecycleHook::kMain) {
    doc.add_null(o, "Lifecycle");
  } else {
    cJSON* l = doc.add_object(o, "Lifecycle");
    doc.add_string(l, "Hook", hook_name(t.lifecycle.hook));
    doc.add_bool(l, "Sidecar", t.lifecycle.sidecar);
  }
  cJSON* logs = doc.add_object(o, "LogConfig");
  doc.add_i64(logs, "MaxFiles", t.logs.max_files);
  doc.add_i64(logs, "MaxFileSizeMB", t.logs.max_file_size_mb);
  encode_map(doc, o, "Meta", t.meta);
  doc.add_bool(o, "Leader", t.leader);
}

void encode_group(http::Json& doc, cJSON* parent, const TaskGroup& g) {
  cJSON* o = doc.add_object(parent, "");
  doc.add_string(o, "Name", g.name);
  doc.add_i64(o, "Count", g.count);
  encode_restart(doc, o, g.restart);
  encode_map(doc, o, "Meta", g.meta);
  cJSON* networks = doc.add_array(o, "Networks");
  if (g.network) {
    cJSON* n = doc.add_object(networks, "");
    doc.add_string(n, "Mode", g.network->mode);
    encode_ports(doc, n, "ReservedPorts", g.network->reserved_ports);
    encode_ports(doc, n, "DynamicPorts", g.network->dynamic_ports);
  }
  encode_services(doc, o, g.services);
  cJSON* tasks = doc.add_array(o, "Tasks");
  for (const Task& t : g.tasks) encode_task(doc, tasks, t);
}

}  // namespace

std::string_view job_type_name(JobType t) {
  switch (t) {
    case JobType::kBatch:
      return "batch";
    case JobType::kSystem:
      return "system";
    case JobType::kSysbatch:
      return "sysbatch";
    case JobType::kService:
      break;
  }
  return "service";
}

RestartPolicy default_restart_policy(JobType t) {
  RestartPolicy p;
  if (t == JobType::kBatch || t == JobType::kSysbatch) {
    p.attempts = 3;
    p.interval_ns = 24 * kHourNs;
  }
  return p;
}

JobDecode decode_job(std::string_view text) {
  Decoder d;
  if (text.size() > kJobBytesMax) {
    d.problem("Job", "the document is " + std::to_string(text.size()) + " bytes, more than " +
                         std::to_string(kJobBytesMax));
    return std::move(d.result);
  }
  base::Result<http::Json> doc = http::Json::parse(text, kJobBytesMax);
  if (!doc.is_ok()) {
    d.problem("Job", "not JSON: " + config::printable(doc.status().message()));
    return std::move(d.result);
  }
  const cJSON* root = doc->get();
  if (!cJSON_IsObject(root)) {
    d.problem("Job", "want a JSON object, {\"Job\": {...}} or the job itself");
    return std::move(d.result);
  }
  // {"Job": {...}} (a JobRegisterRequest) or the job itself: a job has no member "Job".
  bool envelope = false;
  const cJSON* m = nullptr;
  cJSON_ArrayForEach(m, root) envelope =
      envelope || (m->string != nullptr && member_key(m->string) == "job");
  Job job;
  if (!envelope) {
    d.decode_job_object(root, "Job", &job);
  } else {
    bool have_job = false;
    d.members(root, "", kEnvelopeFields, kEnvelopeUnsupported,
              [&](int, const cJSON* j, const std::string&) {
                have_job = true;
                d.decode_job_object(j, "Job", &job);
              });
    if (!have_job) d.problem("Job", "required");
  }
  if (d.result.problems.empty()) d.result.job = std::move(job);
  return std::move(d.result);
}

std::string encode_job(const Job& job) {
  http::Json doc = http::Json::object();
  cJSON* j = doc.add_object(doc.get(), "Job");
  doc.add_string(j, "ID", job.id);
  doc.add_string(j, "Name", job.name);
  doc.add_string(j, "Type", job_type_name(job.type));
  doc.add_i64(j, "Priority", job.priority);
  encode_strings(doc, j, "Datacenters", job.datacenters);
  doc.add_string(j, "Region", job.region);
  doc.add_string(j, "Namespace", job.namespace_);
  encode_map(doc, j, "Meta", job.meta);
  cJSON* groups = doc.add_array(j, "TaskGroups");
  for (const TaskGroup& g : job.groups) encode_group(doc, groups, g);
  base::Result<std::string> text = doc.dump();
  // Only an allocation failure fails a dump; like any other after start-up it ends the process.
  AGENT_ASSERT_MSG(text.is_ok(), "encode_job: out of memory");
  return std::move(text).value();
}

}  // namespace sched
