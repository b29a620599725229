// PosixCgroups: knob file helpers first, then probing, then create / usage / remove for both
// hierarchy versions. See posix_cgroup.h.
#include "hal/posix/posix_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <vector>

#include "hal/posix/os_error.h"

namespace hal::posix {
namespace {

// Knob files are a few bytes; cgroup.procs of a task a few hundred. Anything longer is cut.
constexpr size_t kKnobBytesMax = 64 * 1024;
constexpr uint32_t kSharesMin = 2, kSharesMax = 262144, kSharesDefault = 1024;
constexpr uint64_t kWeightDefault = 100;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

base::Status write_knob(const std::string& path, std::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return os_error(errno, "open " + path);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) return os_error(err, "write " + path + "=" + std::string(value));
  if (static_cast<size_t>(n) != value.size()) {
    return base::error(base::Code::kIo, "write %s: short write", path.c_str());
  }
  return base::Status::ok();
}

base::Result<std::string> read_knob(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error(errno, "open " + path);
  std::string out;
  char buf[4096];
  while (out.size() < kKnobBytesMax) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return os_error(err, "read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// A decimal number at the start of `s` (after blanks); 0 for anything else ("max").
uint64_t parse_u64(std::string_view s) {
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t')) s.remove_prefix(1);
  uint64_t v = 0;
  if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc()) return 0;
  return v;
}
// The value of `key` in a "key value" per line file (cpu.stat, memory.events, oom_control).
uint64_t keyed(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return parse_u64(line.substr(key.size() + 1));
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return 0;
}

// A knob's number, or 0 when the file is absent or unreadable ("Fields the machine cannot tell
// are 0").
uint64_t knob_u64(const std::string& path) {
  base::Result<std::string> text = read_knob(path);
  return text.is_ok() ? parse_u64(*text) : 0;
}

// A memory limit as the knob takes it: the byte count, or `unlimited` for 0 (no limit).
std::string limit_text(uint64_t bytes, const char* unlimited) {
  return bytes == 0 ? std::string(unlimited) : std::to_string(bytes);
}

bool has_word(std::string_view text, std::string_view word) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\n') ++j;
    if (text.substr(i, j - i) == word) return true;
    i = j;
  }
  return false;
}

base::Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return base::Status::ok();
  return os_error(errno, "mkdir " + path);
}

base::Status check_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 255 && name != "." && name != "..";
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return base::Status::ok();
  return base::error(base::Code::kInvalidArgument,
                     "cgroup name \"%.*s\": one segment of [A-Za-z0-9._-] expected",
                     static_cast<int>(name.size()), name.data());
}

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

// SIGKILL to every pid listed in `procs_file`; returns how many were listed.
size_t kill_listed(const std::string& procs_file) {
  base::Result<std::string> text = read_knob(procs_file);
  if (!text.is_ok()) return 0;
  size_t n = 0;
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    const uint64_t pid = parse_u64(rest.substr(0, nl));
    if (pid > 1) {
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      ++n;
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return n;
}

void sleep_ms(int ms) {
  timespec ts{0, static_cast<long>(ms) * 1000 * 1000};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace

PosixCgroups::PosixCgroups(std::string root) : root_(std::move(root)) {}

uint64_t PosixCgroups::weight_for_shares(uint32_t shares) {
  const uint64_t s = std::clamp(shares, kSharesMin, kSharesMax);
  return 1 + (s - 2) * 9999 / 262142;
}

PosixCgroups::State PosixCgroups::probe_locked() {
  State s;
  // cgroup v2: the unified hierarchy with the memory controller.
  const std::string controllers_file = root_ + "/cgroup.controllers";
  base::Result<std::string> controllers = read_knob(controllers_file);
  if (controllers.is_ok() && has_word(*controllers, "memory")) {
    const std::string parent = root_ + "/weft";
    if (base::Status st = make_dir(parent); !st.is_ok()) {
      s.why = "cgroup v2 found but " + st.message();
      return s;
    }
    // The root's subtree_control first (weft gets the controllers), then weft's (its children
    // do). The root's write may fail where it is already enabled or not ours to change; weft's
    // decides.
    const bool offers_cpu = has_word(*controllers, "cpu");
    write_knob(root_ + "/cgroup.subtree_control", "+memory").ignore();
    if (offers_cpu) write_knob(root_ + "/cgroup.subtree_control", "+cpu").ignore();
    if (base::Status st = write_knob(parent + "/cgroup.subtree_control", "+memory"); !st.is_ok()) {
      s.why = "cgroup v2 found but the memory controller cannot be enabled: " + st.message();
      return s;
    }
    s.mode = Mode::kV2;
    s.memory_dir = parent;
    if (offers_cpu && write_knob(parent + "/cgroup.subtree_control", "+cpu").is_ok())
      s.cpu_dir = parent;
    return s;
  }
  // cgroup v1: a memory hierarchy, with cpu and cpuacct where mounted.
  if (exists(root_ + "/memory/memory.limit_in_bytes")) {
    s.memory_dir = root_ + "/memory/weft";
    if (base::Status st = make_dir(s.memory_dir); !st.is_ok()) {
      s.memory_dir.clear();
      s.why = "cgroup v1 found but " + st.message();
      return s;
    }
    if (exists(root_ + "/cpu/cpu.shares")) {
      s.cpu_dir = root_ + "/cpu/weft";
      if (!make_dir(s.cpu_dir).is_ok()) s.cpu_dir.clear();
    }
    if (exists(root_ + "/cpuacct/cpuacct.usage")) {
      if (!s.cpu_dir.empty() && real_path(root_ + "/cpu") == real_path(root_ + "/cpuacct")) {
        s.cpuacct_dir = s.cpu_dir;  // one "cpu,cpuacct" hierarchy under two names
      } else {
        s.cpuacct_dir = root_ + "/cpuacct/weft";
        if (!make_dir(s.cpuacct_dir).is_ok()) s.cpuacct_dir.clear();
      }
    }
    s.mode = Mode::kV1;
    return s;
  }
  s.why = "neither cgroup v2 with the memory controller nor a v1 memory hierarchy under " + root_;
  return s;
}

PosixCgroups::Mode PosixCgroups::probe() {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = probe_locked();
  probed_ = true;
  return state_.mode;
}

PosixCgroups::State PosixCgroups::state() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!probed_) {
    state_ = probe_locked();
    probed_ = true;
  }
  return state_;
}

PosixCgroups::Mode PosixCgroups::mode() { return state().mode; }

std::string PosixCgroups::describe() {
  const State s = state();
  switch (s.mode) {
    case Mode::kV2:
      return "cgroup v2 at " + s.memory_dir + (s.cpu_dir.empty() ? " (memory)" : " (memory, cpu)");
    case Mode::kV1: {
      std::string d = "cgroup v1: memory at " + s.memory_dir;
      if (!s.cpu_dir.empty()) d += ", cpu at " + s.cpu_dir;
      if (!s.cpuacct_dir.empty() && s.cpuacct_dir != s.cpu_dir)
        d += ", cpuacct at " + s.cpuacct_dir;
      return d;
    }
    case Mode::kNone:
      break;
  }
  return "no cgroups: " + s.why;
}

base::Result<CgroupPlacement> PosixCgroups::create(std::string_view name_in,
                                                   const CgroupLimits& limits) {
  AGENT_TRY(check_name(name_in));
  const std::string name(name_in);
  const State s = state();
  CgroupPlacement placement;
  char num[32];
  if (s.mode == Mode::kNone) {
    placement.applied = "no cgroups: limits not applied (" + s.why + ")";
    return placement;
  }
  if (s.mode == Mode::kV2) {
    const std::string group = s.memory_dir + "/" + name;
    AGENT_TRY(make_dir(group));
    placement.applied = "cgroup v2:";
    const std::string max = limit_text(limits.memory_bytes_max, "max");
    AGENT_TRY(write_knob(group + "/memory.max", max));
    placement.applied += " memory.max=" + max;
    if (exists(group + "/memory.swap.max")) {
      const char* swap = limits.memory_bytes_max > 0 ? "0" : "max";
      AGENT_TRY(write_knob(group + "/memory.swap.max", swap));
      placement.applied += std::string(" memory.swap.max=") + swap;
    }
    if (!s.cpu_dir.empty()) {
      const uint64_t weight =
          limits.cpu_shares == 0 ? kWeightDefault : weight_for_shares(limits.cpu_shares);
      snprintf(num, sizeof num, "%llu", static_cast<unsigned long long>(weight));
      AGENT_TRY(write_knob(group + "/cpu.weight", num));
      placement.applied += std::string(" cpu.weight=") + num;
    }
    placement.procs_files.push_back(group + "/cgroup.procs");
    return placement;
  }
  // v1.
  const std::string mem = s.memory_dir + "/" + name;
  AGENT_TRY(make_dir(mem));
  placement.applied = "cgroup v1:";
  const std::string limit = limit_text(limits.memory_bytes_max, "-1");
  const bool memsw = exists(mem + "/memory.memsw.limit_in_bytes");
  if (memsw) AGENT_TRY(write_knob(mem + "/memory.memsw.limit_in_bytes", "-1"));
  AGENT_TRY(write_knob(mem + "/memory.limit_in_bytes", limit));
  placement.applied += " memory.limit_in_bytes=" + limit;
  if (memsw) {
    AGENT_TRY(write_knob(mem + "/memory.memsw.limit_in_bytes", limit));
    placement.applied += " memory.memsw.limit_in_bytes=" + limit;
  }
  placement.procs_files.push_back(mem + "/cgroup.procs");
  if (!s.cpu_dir.empty()) {
    const std::string cpu = s.cpu_dir + "/" + name;
    AGENT_TRY(make_dir(cpu));
    const uint32_t shares = limits.cpu_shares == 0
                                ? kSharesDefault
                                : std::clamp(limits.cpu_shares, kSharesMin, kSharesMax);
    snprintf(num, sizeof num, "%u", shares);
    AGENT_TRY(write_knob(cpu + "/cpu.shares", num));
    placement.applied += std::string(" cpu.shares=") + num;
    placement.procs_files.push_back(cpu + "/cgroup.procs");
  }
  if (!s.cpuacct_dir.empty() && s.cpuacct_dir != s.cpu_dir) {
    const std::string acct = s.cpuacct_dir + "/" + name;
    AGENT_TRY(make_dir(acct));
    placement.procs_files.push_back(acct + "/cgroup.procs");
  }
  return placement;
}

base::Result<CgroupUsage> PosixCgroups::usage(std::string_view name_in) {
  AGENT_TRY(check_name(name_in));
  const std::string name(name_in);
  const State s = state();
  CgroupUsage u;
  if (s.mode == Mode::kNone) return u;
  const std::string mem = s.memory_dir + "/" + name;
  if (!exists(mem))
    return base::error(base::Code::kNotFound, "cgroup %s: no such group", mem.c_str());
  if (s.mode == Mode::kV2) {
    u.memory_bytes = knob_u64(mem + "/memory.current");
    u.memory_peak_bytes = knob_u64(mem + "/memory.peak");  // Linux >= 5.19
    if (base::Result<std::string> t = read_knob(mem + "/cpu.stat"); t.is_ok())
      u.cpu_ns = keyed(*t, "usage_usec") * 1000;
    if (base::Result<std::string> t = read_knob(mem + "/memory.events"); t.is_ok())
      u.oom_kills = keyed(*t, "oom_kill");
    return u;
  }
  u.memory_bytes = knob_u64(mem + "/memory.usage_in_bytes");
  u.memory_peak_bytes = knob_u64(mem + "/memory.max_usage_in_bytes");
  if (base::Result<std::string> t = read_knob(mem + "/memory.oom_control"); t.is_ok())
    u.oom_kills = keyed(*t, "oom_kill");
  if (!s.cpuacct_dir.empty()) u.cpu_ns = knob_u64(s.cpuacct_dir + "/" + name + "/cpuacct.usage");
  return u;
}

base::Status PosixCgroups::remove(std::string_view name_in) {
  AGENT_TRY(check_name(name_in));
  const std::string name(name_in);
  const State s = state();
  std::vector<std::string> groups;
  for (const std::string* dir : {&s.memory_dir, &s.cpu_dir, &s.cpuacct_dir}) {
    if (dir->empty()) continue;
    const std::string g = *dir + "/" + name;
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  for (const std::string& g : groups) {
    if (!exists(g)) continue;
    // v2 >= 5.14 kills the whole group, forks in flight included, in one write.
    const bool killed = s.mode == Mode::kV2 && exists(g + "/cgroup.kill") &&
                        write_knob(g + "/cgroup.kill", "1").is_ok();
    if (!killed) kill_listed(g + "/cgroup.procs");
    // A killed process stays counted until it has exited; rmdir says EBUSY until then.
    for (int waited_ms = 0;; ++waited_ms) {
      if (::rmdir(g.c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || waited_ms >= kRemoveWaitMs) return os_error(errno, "rmdir " + g);
      if (!killed) kill_listed(g + "/cgroup.procs");  // one forked since the last look
      sleep_ms(1);
    }
  }
  return base::Status::ok();
}

}  // namespace hal::posix
