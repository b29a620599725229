// See init.h. Raw system calls only: PID 1 runs before anything else is set up, and must not
// depend on the agent's runtime.
#include "boot/init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstring>

#include <dirent.h>

#include <vector>

#include "boot/config_url.h"
#include "boot/config_volume.h"
#include "boot/dhcp/message.h"
#include "boot/dhcp_run.h"
#include "boot/kmod.h"
#include "boot/static_ip.h"
#include "hal/posix/posix_netns.h"

namespace boot {

namespace {

constexpr const char* kAgentLog = "/run/weft/agent.log";
constexpr const char* kMaintenance = "/run/weft/maintenance";
constexpr int kExitConfig = 2;  // agent::kExitUsage: the configuration is wrong
constexpr int kRestartDelayMaxS = 30;
constexpr int kStopWaitS = 10;

// A line on the console, prefixed "weft: ".
void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "weft: ");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n), fmt, ap);
  va_end(ap);
  if (n > static_cast<int>(sizeof buf) - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  ssize_t ignored = ::write(2, buf, static_cast<size_t>(n));
  (void)ignored;
}

int64_t now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

void mount_one(const char* source, const char* target, const char* type, unsigned long flags, const char* data) {
  ::mkdir(target, 0755);
  if (::mount(source, target, type, flags, data) != 0 && errno != EBUSY) {
    say("mount %s on %s: %s", type, target, strerror(errno));
  }
}

// /dev/console on 0, 1 and 2 (the kernel gives init none when the initramfs has no /dev/console).
void open_console() {
  int fd = ::open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return;
  for (int i = 0; i < 3; ++i) {
    if (fd != i) ::dup2(fd, i);
  }
  if (fd > 2) ::close(fd);
}

void write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t ignored = ::write(fd, text.data(), text.size());
  (void)ignored;
  ::close(fd);
}

std::string read_small(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The value of `key=` on the kernel command line, or "".
std::string cmdline_value(const std::string& cmdline, const std::string& key) {
  size_t at = 0;
  while (at < cmdline.size()) {
    size_t end = cmdline.find_first_of(" \n", at);
    if (end == std::string::npos) end = cmdline.size();
    std::string word = cmdline.substr(at, end - at);
    if (word.compare(0, key.size() + 1, key + "=") == 0) return word.substr(key.size() + 1);
    at = end + 1;
  }
  return "";
}

void unblock_signals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// fork() for a child of init: the child (0 returned) leads a session of its own with no
// signal blocked.
pid_t fork_child(const char* what) {
  pid_t pid = ::fork();
  if (pid < 0) say("cannot start %s: %s", what, strerror(errno));
  if (pid == 0) {
    ::setsid();
    unblock_signals();
  }
  return pid;
}

pid_t start_agent() {
  pid_t pid = fork_child("the agent");
  if (pid != 0) return pid;
  int in = ::open("/dev/null", O_RDONLY);
  int log = ::open(kAgentLog, O_WRONLY | O_CREAT | O_APPEND, 0640);
  if (in >= 0) ::dup2(in, 0);
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
  }
  char arg0[] = "agent";
  char* argv[] = {arg0, nullptr};
  ::execv("/proc/self/exe", argv);
  _exit(127);
}

// The terminals the kernel prints its console on (console=tty0 console=ttyS0: both), from
// /sys/class/tty/console/active; /dev/console alone when that cannot be read.
std::vector<std::string> console_devices() {
  std::vector<std::string> out;
  const std::string active = read_small("/sys/class/tty/console/active");
  size_t at = 0;
  while (at < active.size() && out.size() < 4) {
    size_t end = active.find_first_of(" \n", at);
    if (end == std::string::npos) end = active.size();
    std::string name = active.substr(at, end - at);
    bool ok = !name.empty();
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) != 0);
    if (ok) out.push_back("/dev/" + name);
    at = end + 1;
  }
  if (out.empty()) out.push_back("/dev/console");
  return out;
}

pid_t start_console(const InitOptions& options, const std::string& device) {
  pid_t pid = fork_child("the console");
  if (pid != 0) return pid;
  int fd = ::open(device.c_str(), O_RDWR);
  if (fd >= 0) {
    ::ioctl(fd, TIOCSCTTY, 1);
    for (int i = 0; i < 3; ++i) ::dup2(fd, i);
    if (fd > 2) ::close(fd);
  }
  _exit(run_console(options));
}

// SIGTERM to `pid` and up to kStopWaitS for it; then every other process.
[[noreturn]] void go_down(pid_t agent, int how, const char* what) {
  say("%s: stopping the agent", what);
  if (agent > 0) {
    ::kill(agent, SIGTERM);
    for (int i = 0; i < kStopWaitS * 10; ++i) {
      pid_t p = ::waitpid(-1, nullptr, WNOHANG);
      if (p == agent) break;
      if (p <= 0) usleep(100 * 1000);
    }
  }
  ::kill(-1, SIGTERM);
  for (int i = 0; i < 20 && ::waitpid(-1, nullptr, WNOHANG) >= 0; ++i) usleep(100 * 1000);
  ::kill(-1, SIGKILL);
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  ::sync();
  say("%s", what);
  ::reboot(how);
  // reboot(2) failed (not PID 1, or no privilege): nothing is left to run.
  for (;;) pause();
}

// The modules the hardware asks for (kmod.h), said on the console.
void load_modules() {
  auto kmod = Kmod::open();
  if (!kmod.is_ok()) {
    say("kernel modules: %s", kmod.status().message().c_str());
    return;
  }
  KmodReport r = (*kmod)->load_hardware();
  std::string names;
  for (const std::string& m : r.loaded) names += " " + m;
  say("kernel modules: %zu devices, %zu loaded:%s", r.devices, r.loaded.size(), names.c_str());
  for (const std::string& f : r.failed) say("kernel module %s", f.c_str());
}

constexpr int kLeaseWaitS = 30;


// ip=<address>...: the address (and gateway, DNS servers) on its device, or the first link;
// that link leaves `dhcp_links` (all of them for ip=off).
void apply_static(const KernelIp& ip, const std::vector<std::string>& links, std::vector<std::string>* dhcp_links) {
  if (ip.address == 0) {  // ip=off
    dhcp_links->clear();
    say("ip=off: no DHCP");
    return;
  }
  const std::string device = !ip.device.empty() ? ip.device : links.empty() ? "" : links[0];
  if (device.empty()) {
    say("ip=: no link to put %s on", dhcp::ipv4_string(ip.address).c_str());
    return;
  }
  base::Status s = hal::posix::set_link_address(device, ip.address, ip.prefix_len, true);
  if (s.is_ok() && ip.gateway != 0) s = hal::posix::add_route(0, 0, ip.gateway, device);
  if (!s.is_ok()) {
    say("ip=: %s", s.message().c_str());
    return;
  }
  std::string resolv;
  for (uint32_t d : ip.dns) resolv += "nameserver " + dhcp::ipv4_string(d) + "\n";
  if (!resolv.empty()) write_file("/etc/resolv.conf", resolv);
  dhcp_links->erase(std::remove(dhcp_links->begin(), dhcp_links->end(), device), dhcp_links->end());
  say("ip=: %s/%u on %s%s", dhcp::ipv4_string(ip.address).c_str(), ip.prefix_len, device.c_str(),
      ip.gateway != 0 ? (", via " + dhcp::ipv4_string(ip.gateway)).c_str() : "");
}

// DHCP on every link but loopback, in a child of its own (dhcp_run.h); -1 when there is none.
pid_t start_dhcp(const std::vector<std::string>& links) {
  if (links.empty()) return -1;
  pid_t pid = fork_child("the DHCP client");
  if (pid != 0) return pid;
  _exit(run_dhcp(links));
}

// Up to kLeaseWaitS for a first lease (the agent then advertises the leased address).
void wait_for_lease() {
  say("dhcp: waiting up to %d s for a lease", kLeaseWaitS);
  for (int i = 0; i < kLeaseWaitS * 10; ++i) {
    DIR* d = ::opendir(kDhcpStateDir);
    bool any = false;
    while (d != nullptr && !any) {
      dirent* e = ::readdir(d);
      if (e == nullptr) break;
      any = e->d_name[0] != '.' && std::strstr(e->d_name, ".tmp") == nullptr;
    }
    if (d != nullptr) ::closedir(d);
    if (any) return;
    usleep(100 * 1000);
  }
  say("dhcp: no lease after %d s; starting the agent anyway (the client keeps asking)", kLeaseWaitS);
}

// Loopback and every other link the kernel has, up; the others' names.
std::vector<std::string> bring_links_up() {
  std::vector<std::string> links;
  std::string up;
  DIR* d = ::opendir("/sys/class/net");
  while (d != nullptr) {
    dirent* e = ::readdir(d);
    if (e == nullptr) break;
    if (e->d_name[0] == '.') continue;
    const std::string name = e->d_name;
    if (auto s = hal::posix::set_link_up(name); !s.is_ok()) {
      say("link %s: %s", name.c_str(), s.message().c_str());
    } else if (name != "lo") {
      up += " " + name;
      links.push_back(name);
    }
  }
  if (d != nullptr) ::closedir(d);
  if (auto s = hal::posix::set_link_up("lo"); !s.is_ok()) say("loopback: %s", s.message().c_str());
  say("links up: lo%s", up.c_str());
  std::sort(links.begin(), links.end());
  return links;
}

// A node with no name from any source: "weft-" and the last six hex digits of its first NIC's
// MAC address (stable across reboots), or of the boot's random id when it has no NIC.
std::string default_hostname() {
  char current[256] = "";
  if (::gethostname(current, sizeof current - 1) == 0 && current[0] != '\0' && std::strcmp(current, "(none)") != 0) return "";
  std::string mac;
  DIR* d = ::opendir("/sys/class/net");
  std::vector<std::string> links;
  while (d != nullptr) {
    dirent* e = ::readdir(d);
    if (e == nullptr) break;
    if (e->d_name[0] != '.' && std::strcmp(e->d_name, "lo") != 0) links.emplace_back(e->d_name);
  }
  if (d != nullptr) ::closedir(d);
  std::sort(links.begin(), links.end());
  for (const std::string& l : links) {
    mac = read_small(("/sys/class/net/" + l + "/address").c_str());
    if (mac.size() >= 17 && mac.compare(0, 17, "00:00:00:00:00:00") != 0) break;
    mac.clear();
  }
  if (mac.empty()) mac = read_small("/proc/sys/kernel/random/boot_id");  // 36 chars of hex and '-'
  std::string hex;
  for (char c : mac) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() < 6) return "weft-node";
  return "weft-" + hex.substr(hex.size() - 6);
}

}  // namespace

bool is_init(const std::vector<std::string>& args) {
  if (::getpid() == 1) return true;
  if (args.empty()) return false;
  const std::string& a0 = args[0];
  return a0 == "init" || (a0.size() >= 5 && a0.compare(a0.size() - 5, 5, "/init") == 0);
}

int run_init(const std::vector<std::string>& args, const InitOptions& options) {
  (void)args;
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  open_console();
  say("Weft %s starting as the node's first process", options.version.c_str());
  mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr);
  mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr);
  mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  open_console();
  mount_one("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
  mount_one("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  mount_one("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_one("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr);
  ::mkdir("/run/weft", 0755);
  ::mkdir("/var", 0755);
  ::mkdir("/var/lib", 0755);
  load_modules();
  const std::vector<std::string> links = bring_links_up();
  // Node config beyond the image's: the disk image's config partition (node.json), then a
  // NoCloud CIDATA volume (its user-data), each Weft JSON.
  const ConfigVolume partition = find_labelled_volume("WEFTCONFIG", "node.json", "/run/weft/config", "/etc/agent/55-partition.json");
  if (partition.found) {
    say("config partition WEFTCONFIG on %s (%s)%s%s", partition.device.c_str(), partition.filesystem.c_str(),
        partition.user_data ? ": node.json is /etc/agent/55-partition.json" : ": no node.json",
        partition.error.empty() ? "" : ("; " + partition.error).c_str());
  }
  const ConfigVolume volume = find_config_volume("/run/weft/cidata", "/etc/agent/60-cidata.json");
  if (volume.found) {
    say("config volume CIDATA on %s (%s)%s%s", volume.device.c_str(), volume.filesystem.c_str(),
        volume.user_data ? ": user-data is /etc/agent/60-cidata.json" : ": no user-data",
        volume.error.empty() ? "" : ("; " + volume.error).c_str());
  }
  const std::string cmdline = read_small("/proc/cmdline");
  // A static address from ip= takes its link out of DHCP (ip=off: no DHCP at all).
  std::vector<std::string> dhcp_links = links;
  KernelIp kernel_ip;
  if (const std::string ip = cmdline_value(cmdline, "ip"); !ip.empty()) {
    auto parsed = parse_kernel_ip(ip);
    if (!parsed.is_ok()) {
      say("%s: using DHCP", parsed.status().message().c_str());
    } else {
      kernel_ip = std::move(parsed).value();
      if (!kernel_ip.dhcp) apply_static(kernel_ip, links, &dhcp_links);
    }
  }
  std::string hostname = cmdline_value(cmdline, "agent.node_name");
  if (hostname.empty()) hostname = kernel_ip.hostname;
  if (hostname.empty()) hostname = volume.meta.local_hostname;
  if (hostname.empty()) hostname = default_hostname();
  if (!hostname.empty() && ::sethostname(hostname.data(), hostname.size()) != 0) {
    say("hostname %s: %s", hostname.c_str(), strerror(errno));
  }
  pid_t dhcp_pid = start_dhcp(dhcp_links);
  if (dhcp_pid > 0) wait_for_lease();
  int64_t dhcp_started = now_s();
  // The data disk, where the agent keeps its state (data_dir's default, /var/lib/agent).
  std::string data_why;
  const std::string data_dev = find_data_disk("/var/lib/agent", &data_why);
  if (!data_dev.empty()) {
    say("data disk WEFT-DATA on %s (ext4) at /var/lib/agent: the node's state outlives a reboot", data_dev.c_str());
  } else {
    say("no data disk%s%s: the node's state is kept in memory", data_why.empty() ? "" : ": ", data_why.c_str());
  }
  // The agent's keys and ids need the kernel's random pool; early in boot on a machine without a
  // hardware source it is not ready yet, and a blocking read makes the kernel gather jitter
  // entropy until it is (a second or so).
  unsigned char byte = 0;
  if (::getrandom(&byte, 1, GRND_NONBLOCK) != 1) {
    say("waiting for the kernel's random pool");
    while (::getrandom(&byte, 1, 0) != 1 && errno == EINTR) {
    }
  }
  ::unlink(kMaintenance);

  // agent.config=<url>: the last config source, fetched now that the network is up; a failure is
  // maintenance mode (`continue` fetches again).
  const std::string config_url = cmdline_value(cmdline, "agent.config");
  auto fetch_config = [&config_url]() {
    if (config_url.empty()) return true;
    base::Status s = fetch_config_url(config_url, "/etc/agent/70-url.json");
    if (s.is_ok()) {
      say("agent.config: fetched %s into /etc/agent/70-url.json", config_url.c_str());
      return true;
    }
    write_file(kMaintenance, "the node's config could not be fetched: " + s.message() + "\nfix the server, then `continue`\n");
    say("maintenance mode: %s", s.message().c_str());
    return false;
  };
  bool maintenance = !fetch_config();
  pid_t agent = maintenance ? -1 : start_agent();
  int64_t agent_started = now_s();
  int restart_delay = 1;
  int64_t restart_at = 0;
  if (agent < 0 && !maintenance) restart_at = now_s() + 1;
  // A console on every terminal the kernel's console is on (the serial port and the screen).
  const std::vector<std::string> devices = console_devices();
  std::vector<pid_t> consoles(devices.size(), -1);
  std::vector<int64_t> console_started(devices.size(), 0);
  for (size_t i = 0; i < devices.size(); ++i) {
    consoles[i] = start_console(options, devices[i]);
    console_started[i] = now_s();
  }
  if (::getpid() != 1 && agent < 0 && consoles[0] < 0) return 1;

  sigset_t wanted;
  sigemptyset(&wanted);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGPWR, SIGHUP}) sigaddset(&wanted, sig);
  for (;;) {
    timespec tick{1, 0};
    siginfo_t info{};
    const int sig = sigtimedwait(&wanted, &info, &tick);
    if (sig == SIGTERM || sig == SIGINT) go_down(agent, RB_AUTOBOOT, "rebooting");
    if (sig == SIGUSR2 || sig == SIGPWR) go_down(agent, RB_POWER_OFF, "powering off");
    if (sig == SIGUSR1) go_down(agent, RB_HALT_SYSTEM, "halting");
    if (sig == SIGHUP && agent <= 0) {
      ::unlink(kMaintenance);
      maintenance = !fetch_config();
      restart_delay = 1;
      restart_at = now_s();
    }
    // Every ended child: ours, or an orphan handed to PID 1.
    for (;;) {
      int status = 0;
      pid_t p = ::waitpid(-1, &status, WNOHANG);
      if (p <= 0) break;
      auto c = std::find(consoles.begin(), consoles.end(), p);
      if (c != consoles.end()) {
        *c = -1;
      } else if (p == dhcp_pid) {
        dhcp_pid = -1;
        say("the DHCP client ended; starting it again");
      } else if (p == agent) {
        agent = -1;
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (code == kExitConfig) {
          maintenance = true;
          write_file(kMaintenance, "the agent's configuration is wrong (exit 2): `log` shows why; fix it with "
                                   "`config set KEY VALUE`, then `continue`\n");
          say("maintenance mode: the agent's configuration is wrong; the console stays up (type `maintenance`)");
        } else {
          restart_delay = now_s() - agent_started < 60 ? std::min(restart_delay * 2, kRestartDelayMaxS) : 1;
          restart_at = now_s() + restart_delay;
          say("the agent ended (code %d); starting it again in %d s", code, restart_delay);
        }
      }
    }
    if (agent <= 0 && !maintenance && restart_at != 0 && now_s() >= restart_at) {
      restart_at = 0;
      agent = start_agent();
      agent_started = now_s();
    }
    if (dhcp_pid == -1 && !dhcp_links.empty() && now_s() > dhcp_started + 5) {
      dhcp_pid = start_dhcp(dhcp_links);
      dhcp_started = now_s();
    }
    // At most once a second: a console whose input is gone ends at once.
    for (size_t i = 0; i < consoles.size(); ++i) {
      if (consoles[i] <= 0 && now_s() > console_started[i]) {
        consoles[i] = start_console(options, devices[i]);
        console_started[i] = now_s();
      }
    }
  }
}

}  // namespace boot
