// PosixNetNamespaces: see posix_netns.h.
#include "hal/posix/posix_netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "hal/posix/os_error.h"

extern char** environ;

namespace hal::posix {
namespace {

constexpr long kNsfsMagic = 0x6e736673;  // NSFS_MAGIC, linux/magic.h
// Most of nft's own error output kept for the message.
constexpr size_t kNftOutputMax = 4096;

std::string ipv4_text(uint32_t a) {
  char buf[16];
  snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
  return buf;
}

bool valid_name(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max || s == "." || s == "..") return false;
  for (char c : s) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

// One rtnetlink request. Every message here is a header, a fixed struct and a few short
// attributes: the buffer is bounded, and overflowing it is a programming error.
class Msg {
 public:
  Msg(uint16_t type, uint16_t flags) {
    auto* h = reinterpret_cast<nlmsghdr*>(buf_);
    h->nlmsg_type = type;
    h->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    len_ = NLMSG_HDRLEN;
  }
  template <class T>
  void put(const T& v) { raw(&v, sizeof v); }
  void attr(uint16_t type, const void* data, size_t n) {
    nlattr a{};
    a.nla_type = type;
    a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + n);
    raw(&a, sizeof a);
    raw(data, n);
  }
  void attr_str(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  void attr_u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  size_t nest() {
    size_t at = len_;
    attr(0, nullptr, 0);
    return at;
  }
  void end(size_t at, uint16_t type) {
    auto* a = reinterpret_cast<nlattr*>(buf_ + at);
    a->nla_type = type;
    a->nla_len = static_cast<uint16_t>(len_ - at);
  }
  nlmsghdr* header(uint32_t seq) {
    auto* h = reinterpret_cast<nlmsghdr*>(buf_);
    h->nlmsg_len = static_cast<uint32_t>(len_);
    h->nlmsg_seq = seq;
    return h;
  }

 private:
  void raw(const void* p, size_t n) {
    const size_t padded = NLMSG_ALIGN(n);
    AGENT_ASSERT(len_ + padded <= sizeof buf_ && "netlink request overflows its buffer");
    if (n > 0) memcpy(buf_ + len_, p, n);
    memset(buf_ + len_ + n, 0, padded - n);
    len_ += padded;
  }
  alignas(nlmsghdr) uint8_t buf_[512]{};
  size_t len_ = 0;
};

// A NETLINK_ROUTE socket, in the network namespace of the thread that opened it.
class Netlink {
 public:
  ~Netlink() {
    if (fd_ >= 0) ::close(fd_);
  }
  base::Status open() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) return os_error(errno, "netlink socket");
    timeval tv{2, 0};  // an answer is immediate; never wait long for one that will not come
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return base::Status::ok();
  }
  // Sends `m` and waits for its acknowledgement. `absent_ok`: ENODEV/ESRCH count as success.
  base::Status request(Msg& m, const std::string& what, bool absent_ok = false) {
    nlmsghdr* h = m.header(++seq_);
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    if (::sendto(fd_, h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return os_error(errno, what);
    alignas(nlmsghdr) uint8_t buf[8192];
    for (int reads = 0; reads < 16; ++reads) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return os_error(errno, what + ": no answer");
      }
      size_t left = static_cast<size_t>(n);
      for (auto* r = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(r, left); r = NLMSG_NEXT(r, left)) {
        if (r->nlmsg_seq != seq_ || r->nlmsg_type != NLMSG_ERROR) continue;
        if (r->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return base::error(base::Code::kIo, "%s: short answer", what.c_str());
        const int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
        if (err == 0 || (absent_ok && (err == ENODEV || err == ESRCH || err == ENOENT || err == EADDRNOTAVAIL))) return base::Status::ok();
        return os_error(err, what);
      }
    }
    return base::error(base::Code::kIo, "%s: no acknowledgement", what.c_str());
  }

 private:
  int fd_ = -1;
  uint32_t seq_ = 0;
};

// A link request naming the link `name` (RTM_NEWLINK finds an existing one by name when it
// gives no index); `up` sets IFF_UP.
Msg link_msg(uint16_t type, uint16_t flags, const std::string& name, bool up = false) {
  Msg m(type, flags);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_flags = up ? IFF_UP : 0;
  ifi.ifi_change = up ? IFF_UP : 0;
  m.put(ifi);
  m.attr_str(IFLA_IFNAME, name);
  return m;
}

base::Status link_up(Netlink& nl, const std::string& name) {
  Msg m = link_msg(RTM_NEWLINK, 0, name, true);
  return nl.request(m, "set " + name + " up");
}

base::Status delete_link(Netlink& nl, const std::string& name) {
  Msg m = link_msg(RTM_DELLINK, 0, name);
  return nl.request(m, "delete " + name, true);
}

base::Status add_address(Netlink& nl, const std::string& link, uint32_t address, uint8_t prefix_len, bool add = true) {
  const unsigned index = if_nametoindex(link.c_str());
  if (index == 0) return os_error(errno, "find link " + link);
  Msg m(add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = prefix_len;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = index;
  m.put(ifa);
  const uint32_t be = htonl(address);
  m.attr(IFA_LOCAL, &be, sizeof be);
  m.attr(IFA_ADDRESS, &be, sizeof be);
  return nl.request(m, (add ? "add address " : "remove address ") + ipv4_text(address) + (add ? " to " : " from ") + link, !add);
}

// A route in the main table: destination/prefix via `gateway` (0: on-link) out of `oif` (0: any).
base::Status new_route(Netlink& nl, uint32_t destination, uint8_t prefix_len, uint32_t gateway, unsigned oif) {
  Msg r(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
  rtmsg rt{};
  rt.rtm_family = AF_INET;
  rt.rtm_dst_len = prefix_len;
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_BOOT;
  rt.rtm_scope = gateway == 0 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  rt.rtm_type = RTN_UNICAST;
  r.put(rt);
  if (prefix_len > 0) {
    const uint32_t dst = htonl(destination);
    r.attr(RTA_DST, &dst, sizeof dst);
  }
  if (gateway != 0) {
    const uint32_t gw = htonl(gateway);
    r.attr(RTA_GATEWAY, &gw, sizeof gw);
  }
  if (oif != 0) r.attr_u32(RTA_OIF, oif);
  return nl.request(r, "add the route " + ipv4_text(destination) + "/" + std::to_string(prefix_len) + " via " + ipv4_text(gateway));
}

base::Status write_sysctl(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return os_error(errno, "open " + path);
  ssize_t n = ::write(fd, "1", 1);
  const int err = errno;
  ::close(fd);
  return n == 1 ? base::Status::ok() : os_error(err, "write " + path);
}

// The namespace work of create(), on a thread of its own (unshare moves only the calling thread).
base::Status create_on_thread(const std::string& pin, const Bridge& bridge, const std::string& host_link, uint32_t address) {
  Netlink host;
  AGENT_TRY(host.open());
  const unsigned bridge_index = if_nametoindex(bridge.name.c_str());
  if (bridge_index == 0) return os_error(errno, "find bridge " + bridge.name);
  int fd = ::open(pin.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd < 0) return os_error(errno, "create " + pin);
  ::close(fd);
  if (::unshare(CLONE_NEWNET) != 0) return os_error(errno, "unshare a network namespace");
  if (::mount("/proc/thread-self/ns/net", pin.c_str(), "none", MS_BIND, nullptr) != 0) {
    return os_error(errno, "pin the network namespace at " + pin);
  }
  auto unpin = [&] {
    ::umount2(pin.c_str(), MNT_DETACH);
    ::unlink(pin.c_str());
  };
  int ns = ::open(pin.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    base::Status s = os_error(errno, "open " + pin);
    unpin();
    return s;
  }
  Msg m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, host_link);
  m.attr_u32(IFLA_MASTER, bridge_index);
  size_t info = m.nest();
  m.attr_str(IFLA_INFO_KIND, "veth");
  size_t data = m.nest();
  size_t peer = m.nest();
  m.put(ifinfomsg{});
  m.attr_str(IFLA_IFNAME, "eth0");
  m.attr_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(ns));
  m.end(peer, VETH_INFO_PEER);
  m.end(data, IFLA_INFO_DATA);
  m.end(info, IFLA_LINKINFO);
  base::Status s = host.request(m, "create veth " + host_link);
  ::close(ns);
  if (s.is_ok()) s = link_up(host, host_link);
  Netlink inside;
  if (s.is_ok()) s = inside.open();
  if (s.is_ok()) s = link_up(inside, "lo");
  if (s.is_ok()) s = link_up(inside, "eth0");
  if (s.is_ok()) s = add_address(inside, "eth0", address, bridge.prefix_len);
  if (s.is_ok()) s = new_route(inside, 0, 0, bridge.gateway, 0);
  if (!s.is_ok()) {
    (void)delete_link(host, host_link);
    unpin();
  }
  return s;
}

const char* find_nft() {
  for (const char* p : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

}  // namespace

base::Status set_link_up(const std::string& name) {
  if (!valid_name(name, IFNAMSIZ - 1)) return base::error(base::Code::kInvalidArgument, "link name \"%s\"", name.c_str());
  Netlink nl;
  AGENT_TRY(nl.open());
  return link_up(nl, name);
}

base::Status set_link_address(const std::string& name, uint32_t address, uint8_t prefix_len, bool add) {
  if (!valid_name(name, IFNAMSIZ - 1) || prefix_len > 32) return base::error(base::Code::kInvalidArgument, "link %s", name.c_str());
  Netlink nl;
  AGENT_TRY(nl.open());
  return add_address(nl, name, address, prefix_len, add);
}

base::Status add_route(uint32_t destination, uint8_t prefix_len, uint32_t gateway, const std::string& name) {
  if (!valid_name(name, IFNAMSIZ - 1) || prefix_len > 32) return base::error(base::Code::kInvalidArgument, "link %s", name.c_str());
  const unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return os_error(errno, "find link " + name);
  Netlink nl;
  AGENT_TRY(nl.open());
  return new_route(nl, destination, prefix_len, gateway, index);
}

base::Status PosixNetNamespaces::setup_bridge(const Bridge& bridge) {
  if (!valid_name(bridge.name, IFNAMSIZ - 1)) {
    return base::error(base::Code::kInvalidArgument, "bridge name \"%s\": want 1..15 of [A-Za-z0-9._-]", bridge.name.c_str());
  }
  Netlink nl;
  AGENT_TRY(nl.open());
  if (if_nametoindex(bridge.name.c_str()) == 0) {
    Msg m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, bridge.name);
    size_t info = m.nest();
    m.attr_str(IFLA_INFO_KIND, "bridge");
    m.end(info, IFLA_LINKINFO);
    base::Status s = nl.request(m, "create bridge " + bridge.name);
    if (!s.is_ok() && s.code() != base::Code::kAlreadyExists) return s;
  }
  AGENT_TRY(add_address(nl, bridge.name, bridge.gateway, bridge.prefix_len));
  AGENT_TRY(link_up(nl, bridge.name));
  AGENT_TRY(write_sysctl("/proc/sys/net/ipv4/ip_forward"));
  return write_sysctl("/proc/sys/net/ipv4/conf/" + bridge.name + "/route_localnet");
}

base::Status PosixNetNamespaces::create(const std::string& name, const Bridge& bridge, const std::string& host_link,
                                        uint32_t address) {
  if (!valid_name(name, 128)) return base::error(base::Code::kInvalidArgument, "namespace name \"%s\"", name.c_str());
  if (!valid_name(host_link, IFNAMSIZ - 1)) {
    return base::error(base::Code::kInvalidArgument, "link name \"%s\": want 1..15 of [A-Za-z0-9._-]", host_link.c_str());
  }
  if (::mkdir(pin_dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    // One level up too (/run/weft), as mkdir -p.
    const size_t slash = pin_dir_.rfind('/');
    if (slash != std::string::npos && slash > 0) ::mkdir(pin_dir_.substr(0, slash).c_str(), 0755);
    if (::mkdir(pin_dir_.c_str(), 0755) != 0 && errno != EEXIST) return os_error(errno, "create " + pin_dir_);
  }
  const std::string pin = path(name);
  struct statfs fs {};
  if (::statfs(pin.c_str(), &fs) == 0 && static_cast<long>(fs.f_type) == kNsfsMagic) return base::Status::ok();
  base::Status result;
  std::thread worker([&] { result = create_on_thread(pin, bridge, host_link, address); });
  worker.join();
  return result;
}

base::Status PosixNetNamespaces::destroy(const std::string& name, const std::string& host_link) {
  if (!valid_name(name, 128)) return base::error(base::Code::kInvalidArgument, "namespace name \"%s\"", name.c_str());
  base::Status s;
  if (valid_name(host_link, IFNAMSIZ - 1)) {
    Netlink nl;
    s = nl.open();
    if (s.is_ok()) s = delete_link(nl, host_link);
  }
  const std::string pin = path(name);
  if (::umount2(pin.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT && s.is_ok()) {
    s = os_error(errno, "unpin " + pin);
  }
  if (::unlink(pin.c_str()) != 0 && errno != ENOENT && s.is_ok()) s = os_error(errno, "remove " + pin);
  return s;
}

std::string port_mapping_script(const Bridge& bridge, const std::vector<PortMapping>& mappings) {
  const uint32_t mask = bridge.prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - bridge.prefix_len);
  const std::string subnet = ipv4_text(bridge.gateway & mask) + "/" + std::to_string(bridge.prefix_len);
  std::string s =
      "table ip weft\n"
      "delete table ip weft\n"
      "table ip weft {\n"
      "  chain prerouting {\n"
      "    type nat hook prerouting priority dstnat; policy accept;\n"
      "    fib daddr type local jump ports\n"
      "  }\n"
      "  chain output {\n"
      "    type nat hook output priority -100; policy accept;\n"
      "    fib daddr type local jump ports\n"
      "  }\n"
      "  chain ports {\n";
  for (const PortMapping& m : mappings) {
    s += std::string("    ") + (m.udp ? "udp" : "tcp") + " dport " + std::to_string(m.host_port) + " dnat to " +
         ipv4_text(m.address) + ":" + std::to_string(m.port) + "\n";
  }
  s += "  }\n"
       "  chain postrouting {\n"
       "    type nat hook postrouting priority srcnat; policy accept;\n"
       "    ip saddr " + subnet + " oifname != \"" + bridge.name + "\" masquerade\n"
       "    ip saddr 127.0.0.0/8 oifname \"" + bridge.name + "\" masquerade\n"
       "  }\n"
       "}\n";
  return s;
}

base::Status PosixNetNamespaces::map_ports(const Bridge& bridge, const std::vector<PortMapping>& mappings) {
  if (!valid_name(bridge.name, IFNAMSIZ - 1)) return base::error(base::Code::kInvalidArgument, "bridge name");
  const char* nft = find_nft();
  if (nft == nullptr) return base::error(base::Code::kUnimplemented, "port mapping needs nftables: no nft program on this node");
  const std::string script = port_mapping_script(bridge, mappings);
  int in = ::memfd_create("weft-ports.nft", MFD_CLOEXEC);
  if (in < 0) return os_error(errno, "memfd_create");
  if (::write(in, script.data(), script.size()) != static_cast<ssize_t>(script.size()) || ::lseek(in, 0, SEEK_SET) != 0) {
    base::Status s = os_error(errno, "write the nftables script");
    ::close(in);
    return s;
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in);
    return os_error(errno, "pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  char* argv[] = {const_cast<char*>("nft"), const_cast<char*>("-f"), const_cast<char*>("-"), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, nft, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return os_error(rc, std::string("run ") + nft);
  }
  std::string said;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (said.size() < kNftOutputMax) said.append(buf, std::min(static_cast<size_t>(n), kNftOutputMax - said.size()));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return base::Status::ok();
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  return base::error(base::Code::kIo, "nft -f: %s", said.empty() ? "failed" : said.c_str());
}

}  // namespace hal::posix
