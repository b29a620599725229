#include "hal/posix/posix_sysinfo.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>

extern char** environ;

namespace hal::posix {
namespace {

// Every file read here is a few KiB at most; /proc/cpuinfo on a 256-CPU host is ~300 KiB.
constexpr size_t kProcFileBytesMax = 1 << 20;

// Reads a small /proc or /sys file whole; empty on any failure (a missing fact, not an error).
std::string slurp(const char* path) {
  std::string out;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  while (out.size() < kProcFileBytesMax) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// The value after "<key>:" on the line starting with `key`, trimmed; empty if there is none.
std::string_view field(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, key.size()) != key) continue;
    std::string_view rest = trim(line.substr(key.size()));
    if (rest.empty() || rest.front() != ':') continue;
    return trim(rest.substr(1));
  }
  return {};
}

// Leading decimal digits of `s` as a number; 0 if none.
uint64_t leading_u64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') break;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// "16314328 kB" -> bytes.
uint64_t kib_field(std::string_view text, std::string_view key) {
  return leading_u64(field(text, key)) * 1024;
}

uint32_t read_cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<uint32_t>(n);
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<uint32_t>(n) : 0;
}

uint32_t read_cpu_mhz() {
  uint64_t khz = leading_u64(trim(slurp("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")));
  if (khz > 0) return static_cast<uint32_t>(khz / 1000);
  std::string cpuinfo = slurp("/proc/cpuinfo");
  std::string_view mhz = field(cpuinfo, "cpu MHz");
  if (mhz.empty()) return 0;
  // "2893.202": round the integer part by the first decimal.
  uint64_t whole = leading_u64(mhz);
  size_t dot = mhz.find('.');
  if (dot != std::string_view::npos && dot + 1 < mhz.size() && mhz[dot + 1] >= '5') ++whole;
  return static_cast<uint32_t>(whole);
}

int prefix_length(const sockaddr* mask, int family) {
  if (mask == nullptr) return family == AF_INET ? 32 : 128;
  const uint8_t* bytes = nullptr;
  size_t n = 0;
  if (family == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else {
    bytes =
        reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  int bits = 0;
  for (size_t i = 0; i < n; ++i) bits += __builtin_popcount(bytes[i]);
  return bits;
}

uint32_t read_mtu(const std::string& name) {
  std::string path = "/sys/class/net/" + name + "/mtu";
  uint64_t mtu = leading_u64(trim(slurp(path.c_str())));
  if (mtu > 0) return static_cast<uint32_t>(mtu);
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq req;
  memset(&req, 0, sizeof req);
  strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  uint32_t out = 0;
  if (ioctl(fd, SIOCGIFMTU, &req) == 0 && req.ifr_mtu > 0) out = static_cast<uint32_t>(req.ifr_mtu);
  ::close(fd);
  return out;
}

std::string read_mac(const std::string& name) {
  std::string path = "/sys/class/net/" + name + "/address";
  std::string mac(trim(slurp(path.c_str())));
  // Loopback and tunnels report all zeros or nothing: no hardware address.
  if (mac.find_first_not_of("0:") == std::string::npos) return {};
  return mac;
}

std::vector<Interface> read_interfaces() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  std::map<std::string, Interface> by_name;  // ordered by name, as the contract wants
  std::map<std::string, std::vector<std::string>> v6;
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_name == nullptr) continue;
    Interface& iface = by_name[ifa->ifa_name];
    if (iface.name.empty()) {
      iface.name = ifa->ifa_name;
      iface.index = if_nametoindex(ifa->ifa_name);
      iface.up = (ifa->ifa_flags & IFF_UP) != 0;
      iface.loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    }
    if (ifa->ifa_addr == nullptr) continue;
    const int family = ifa->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    char text[INET6_ADDRSTRLEN];
    const void* ip = family == AF_INET
                         ? static_cast<const void*>(
                               &reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr)->sin_addr)
                         : static_cast<const void*>(
                               &reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr)->sin6_addr);
    if (inet_ntop(family, ip, text, sizeof text) == nullptr) continue;
    std::string cidr =
        std::string(text) + "/" + std::to_string(prefix_length(ifa->ifa_netmask, family));
    if (family == AF_INET) {
      iface.addresses.push_back(std::move(cidr));
    } else {
      v6[iface.name].push_back(std::move(cidr));
    }
  }
  freeifaddrs(list);
  std::vector<Interface> out;
  out.reserve(by_name.size());
  for (auto& [name, iface] : by_name) {
    for (auto& a : v6[name]) iface.addresses.push_back(std::move(a));
    iface.mtu = read_mtu(name);
    iface.mac = read_mac(name);
    out.push_back(std::move(iface));
  }
  return out;
}

}  // namespace

base::Result<SysFacts> PosixSysInfo::read() {
  SysFacts facts;
#if defined(__linux__)
  facts.os = "linux";
#endif
  utsname uts;
  if (uname(&uts) == 0) {
    facts.hostname = uts.nodename;
    facts.kernel_release = uts.release;
    facts.arch = uts.machine;
    if (facts.os.empty()) {
      facts.os = uts.sysname;
      std::transform(facts.os.begin(), facts.os.end(), facts.os.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      });
    }
  }
  char host[256];
  if (gethostname(host, sizeof host) == 0) {
    host[sizeof host - 1] = '\0';
    facts.hostname = host;
  }
  facts.cpu_count = read_cpu_count();
  facts.cpu_mhz = read_cpu_mhz();
  std::string meminfo = slurp("/proc/meminfo");
  facts.memory_total_bytes = kib_field(meminfo, "MemTotal");
  facts.memory_available_bytes = kib_field(meminfo, "MemAvailable");
  facts.interfaces = read_interfaces();
  if (facts.hostname.empty() && facts.kernel_release.empty() && facts.cpu_count == 0 &&
      facts.memory_total_bytes == 0 && facts.interfaces.empty()) {
    return base::error(base::Code::kIo,
                       "sysinfo: neither uname, sysconf, /proc nor getifaddrs answered");
  }
  return facts;
}

base::Result<ProcessFacts> PosixSysInfo::self() {
  ProcessFacts facts;
  facts.pid = static_cast<int64_t>(getpid());
  std::string status = slurp("/proc/self/status");
  if (status.empty())
    return base::error(base::Code::kIo, "sysinfo: cannot read /proc/self/status (no /proc?)");
  facts.rss_bytes = kib_field(status, "VmRSS");
  facts.rss_peak_bytes = kib_field(status, "VmHWM");
  if (DIR* dir = opendir("/proc/self/fd")) {
    uint32_t n = 0;
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(dir);
    // The directory stream's own descriptor is listed too.
    facts.open_fds = n > 0 ? n - 1 : 0;
  }
  return facts;
}

std::vector<std::string> PosixSysInfo::environment() {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) out.emplace_back(*e);
  return out;
}

}  // namespace hal::posix
