// See oci_spec.h.
#include "agent/supervisor/oci_spec.h"

#include <charconv>

#include "agent/http/json.h"

namespace supervisor {

namespace {

// runc's default bounding/effective/permitted set (`runc spec`, libcontainer/specconv).
constexpr const char* kCapabilities[] = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                                         "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                                         "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
constexpr const char* kMaskedPaths[] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                                        "/proc/scsi"};
constexpr const char* kReadonlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

struct MountDef {
  const char* destination;
  const char* type;
  const char* source;
  std::vector<const char*> options;
};

bool parse_u32(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

struct Fields {
  std::string_view v[4];
  size_t n = 0;
};

// Calls fn with the first four ':'-separated fields of each line of `text` until it returns true.
template <typename Fn>
bool for_each_line(const std::string& text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    Fields f;
    size_t start = 0;
    for (size_t i = 0; i <= line.size() && f.n < 4; ++i) {
      if (i == line.size() || line[i] == ':') {
        f.v[f.n++] = line.substr(start, i - start);
        start = i + 1;
      }
    }
    if (fn(f)) return true;
  }
  return false;
}

// The id (third field) of `name` in an /etc/passwd- or /etc/group-shaped text; *gid gets a passwd
// line's fourth field when asked.
bool lookup(const std::string& text, std::string_view name, uint32_t* id, uint32_t* gid) {
  bool ok = false;
  for_each_line(text, [&](const Fields& f) {
    if (f.n < 3 || f.v[0] != name) return false;
    ok = parse_u32(f.v[2], id) && (gid == nullptr || (f.n == 4 && parse_u32(f.v[3], gid)));
    return true;
  });
  return ok;
}

}  // namespace

bool resolve_oci_user(const std::string& user, const std::string& passwd, const std::string& group, uint32_t* uid,
                      uint32_t* gid) {
  *uid = 0;
  *gid = 0;
  if (user.empty()) return true;
  std::string_view u = user, g;
  if (size_t colon = user.find(':'); colon != std::string::npos) {
    u = std::string_view(user).substr(0, colon);
    g = std::string_view(user).substr(colon + 1);
  }
  if (parse_u32(u, uid)) {
    // A numeric uid takes its passwd entry's group when the image has one (else 0).
    for_each_line(passwd, [&](const Fields& f) {
      uint32_t id = 0;
      if (f.n == 4 && parse_u32(f.v[2], &id) && id == *uid && parse_u32(f.v[3], gid)) return true;
      return false;
    });
  } else if (!lookup(passwd, u, uid, gid)) {
    return false;
  }
  if (!g.empty() && !parse_u32(g, gid) && !lookup(group, g, gid, nullptr)) return false;
  return true;
}

std::string oci_runtime_spec(const OciSpecInput& in) {
  http::Json doc = http::Json::object();
  doc.add_string("ociVersion", "1.0.2");
  cJSON* process = doc.add_object(doc.get(), "process");
  doc.add_bool(process, "terminal", false);
  cJSON* user = doc.add_object(process, "user");
  doc.add_u64(user, "uid", in.uid);
  doc.add_u64(user, "gid", in.gid);
  cJSON* args = doc.add_array(process, "args");
  for (const std::string& a : in.args) doc.add_string(args, "", a);
  cJSON* env = doc.add_array(process, "env");
  for (const std::string& e : in.env) doc.add_string(env, "", e);
  doc.add_string(process, "cwd", in.cwd.empty() ? "/" : in.cwd);
  cJSON* caps = doc.add_object(process, "capabilities");
  for (const char* set : {"bounding", "effective", "permitted"}) {
    cJSON* list = doc.add_array(caps, set);
    for (const char* c : kCapabilities) doc.add_string(list, "", c);
  }
  cJSON* rlimits = doc.add_array(process, "rlimits");
  cJSON* nofile = doc.add_object(rlimits, "");
  doc.add_string(nofile, "type", "RLIMIT_NOFILE");
  doc.add_u64(nofile, "hard", 1024);
  doc.add_u64(nofile, "soft", 1024);
  doc.add_bool(process, "noNewPrivileges", true);

  cJSON* root = doc.add_object(doc.get(), "root");
  doc.add_string(root, "path", "rootfs");
  doc.add_bool(root, "readonly", false);
  doc.add_string("hostname", in.hostname);

  std::vector<MountDef> mounts = {
      {"/proc", "proc", "proc", {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
  cJSON* mlist = doc.add_array(doc.get(), "mounts");
  for (const MountDef& m : mounts) {
    cJSON* o = doc.add_object(mlist, "");
    doc.add_string(o, "destination", m.destination);
    doc.add_string(o, "type", m.type);
    doc.add_string(o, "source", m.source);
    cJSON* opts = doc.add_array(o, "options");
    for (const char* opt : m.options) doc.add_string(opts, "", opt);
  }
  for (const auto& [host, container] : in.binds) {
    cJSON* o = doc.add_object(mlist, "");
    doc.add_string(o, "destination", container);
    doc.add_string(o, "type", "bind");
    doc.add_string(o, "source", host);
    cJSON* opts = doc.add_array(o, "options");
    doc.add_string(opts, "", "rbind");
    doc.add_string(opts, "", "rw");
  }

  cJSON* linux = doc.add_object(doc.get(), "linux");
  cJSON* resources = doc.add_object(linux, "resources");
  cJSON* devices = doc.add_array(resources, "devices");
  cJSON* deny = doc.add_object(devices, "");
  doc.add_bool(deny, "allow", false);
  doc.add_string(deny, "access", "rwm");
  if (in.memory_bytes_max > 0) {
    cJSON* memory = doc.add_object(resources, "memory");
    doc.add_i64(memory, "limit", static_cast<int64_t>(in.memory_bytes_max));
    doc.add_i64(memory, "swap", static_cast<int64_t>(in.memory_bytes_max));
  }
  if (in.cpu_shares > 0) doc.add_u64(doc.add_object(resources, "cpu"), "shares", in.cpu_shares);
  if (!in.cgroups_path.empty()) doc.add_string(linux, "cgroupsPath", in.cgroups_path);
  cJSON* ns = doc.add_array(linux, "namespaces");
  for (const char* t : {"pid", "ipc", "uts", "mount"}) doc.add_string(doc.add_object(ns, ""), "type", t);
  if (!in.netns_path.empty()) {
    cJSON* net = doc.add_object(ns, "");
    doc.add_string(net, "type", "network");
    doc.add_string(net, "path", in.netns_path);
  } else if (!in.host_network) {
    doc.add_string(doc.add_object(ns, ""), "type", "network");
  }
  cJSON* masked = doc.add_array(linux, "maskedPaths");
  for (const char* p : kMaskedPaths) doc.add_string(masked, "", p);
  cJSON* ro = doc.add_array(linux, "readonlyPaths");
  for (const char* p : kReadonlyPaths) doc.add_string(ro, "", p);
  auto text = doc.dump();
  return text.is_ok() ? *text : std::string();
}

}  // namespace supervisor
