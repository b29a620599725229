// dhcp_drive: runs Weft's DHCPv4 client core (boot/dhcp/client.h) on a real link, for the
// interoperability test against dnsmasq (tests/integration/dhcp_dnsmasq_test.sh). A test tool,
// not the node's driver: it talks to the kernel directly (a UDP socket on port 68 bound to the
// link with SO_BINDTODEVICE, `ip addr` to apply what the core says) and reads CLOCK_MONOTONIC.
//
//   dhcp_drive --iface IF [--remember A.B.C.D] [--acks N] [--release] [--timeout-s S]
//              [--dump DIR] [--seed N]
//
// It starts the core (INIT-REBOOT when --remember is given), performs every action in order --
// sends, `ip addr replace` on configure, `ip addr del` on deconfigure -- and stops once the core
// has taken N ACKs (default 1: the first lease; more are renewals), then releases the lease when
// --release is given. --dump writes every packet received to DIR/rx-<n> (seeds for the fuzz
// corpus). One line per event on stdout, which the test reads:
//   send <TYPE> broadcast|unicast <to> xid=<hex>
//   recv <TYPE> <verdict> state=<STATE>
//   configure <addr>/<prefix> server=<id> router=<r> dns=<a,b> mtu=<m> domain=<d> routes=<dst/len
//   via r,...> lease=<s> t1=<s> t2=<s> deconfigure <addr>/<prefix> done acks=<n> naks=<n>
//   state=<STATE>
// Exit status: 0 done, 1 timed out (with the state it was in), 2 usage or socket error.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include "boot/dhcp/client.h"

namespace {

base::MonoTime mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return base::MonoTime::from_ns(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec);
}

bool read_mac(const std::string& iface, std::array<uint8_t, 6>* mac) {
  const std::string path = "/sys/class/net/" + iface + "/address";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return false;
  unsigned v[6];
  const int n = std::fscanf(f, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
  std::fclose(f);
  if (n != 6) return false;
  for (int i = 0; i < 6; ++i) (*mac)[i] = static_cast<uint8_t>(v[i]);
  return true;
}

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  if (rc != 0) std::fprintf(stderr, "dhcp_drive: `%s` exited %d\n", cmd.c_str(), rc);
  return rc;
}

std::string describe(const dhcp::Lease& l) {
  std::string s = dhcp::ipv4_string(l.address) + "/" + std::to_string(l.prefix_len);
  s += " server=" + dhcp::ipv4_string(l.server_id) + " router=" + dhcp::ipv4_string(l.router) +
       " dns=";
  for (size_t i = 0; i < l.dns_servers.size(); ++i)
    s += (i ? "," : "") + dhcp::ipv4_string(l.dns_servers[i]);
  s += " mtu=" + std::to_string(l.mtu) + " domain=" + l.domain_name + " routes=";
  for (size_t i = 0; i < l.routes.size(); ++i) {
    s += (i ? "," : "") + dhcp::ipv4_string(l.routes[i].destination) + "/" +
         std::to_string(l.routes[i].prefix_len) + "via" + dhcp::ipv4_string(l.routes[i].router);
  }
  s += " lease=" + std::to_string(l.lease_time.sec()) + " t1=" + std::to_string(l.t1.sec()) +
       " t2=" + std::to_string(l.t2.sec());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string iface, dump;
  std::optional<dhcp::Ipv4> remember;
  uint64_t acks_wanted = 1;
  bool release = false;
  int timeout_s = 60;
  uint64_t seed = static_cast<uint64_t>(getpid());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--iface" && v)
      iface = argv[++i];
    else if (a == "--remember" && v) {
      in_addr in{};
      if (inet_pton(AF_INET, argv[++i], &in) != 1) return 2;
      remember = ntohl(in.s_addr);
    } else if (a == "--acks" && v)
      acks_wanted = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--release")
      release = true;
    else if (a == "--timeout-s" && v)
      timeout_s = std::atoi(argv[++i]);
    else if (a == "--dump" && v)
      dump = argv[++i];
    else if (a == "--seed" && v)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr,
                   "usage: dhcp_drive --iface IF [--remember ADDR] [--acks N] [--release] "
                   "[--timeout-s S] [--dump DIR] [--seed N]\n");
      return 2;
    }
  }
  dhcp::ClientConfig config;
  if (iface.empty() || iface.size() >= IFNAMSIZ || !read_mac(iface, &config.mac)) {
    std::fprintf(stderr, "dhcp_drive: no interface '%s'\n", iface.c_str());
    return 2;
  }
  config.hostname = "weft-dhcp-drive";

  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface.c_str(),
                 static_cast<socklen_t>(iface.size())) != 0) {
    std::fprintf(stderr, "dhcp_drive: socket: %s\n", std::strerror(errno));
    return 2;
  }
  sockaddr_in bind_addr{};
  bind_addr.sin_family = AF_INET;
  bind_addr.sin_port = htons(dhcp::kClientPort);
  if (bind(fd, reinterpret_cast<sockaddr*>(&bind_addr), sizeof bind_addr) != 0) {
    std::fprintf(stderr, "dhcp_drive: bind :68: %s\n", std::strerror(errno));
    return 2;
  }

  dhcp::Client client(config, seed);
  const base::MonoTime deadline = mono_now() + base::Duration::seconds(timeout_s);
  client.start(mono_now(), remember);
  int dumped = 0;
  bool released = false;
  for (;;) {
    for (const dhcp::Action& a : client.take_effects().actions) {
      const dhcp::Lease& l = a.lease;
      const std::string cidr = dhcp::ipv4_string(l.address) + "/" + std::to_string(l.prefix_len);
      switch (a.kind) {
        case dhcp::Action::Kind::kDeconfigure:
          std::printf("deconfigure %s\n", cidr.c_str());
          run("ip addr del " + cidr + " dev " + iface);
          break;
        case dhcp::Action::Kind::kConfigure:
          std::printf("configure %s\n", describe(l).c_str());
          run("ip addr replace " + cidr + " broadcast " + dhcp::ipv4_string(l.broadcast) + " dev " +
              iface);
          break;
        case dhcp::Action::Kind::kSend: {
          const dhcp::Send& s = a.send;
          dhcp::Message m;
          (void)dhcp::decode(base::as_bytes(s.bytes), &m);
          sockaddr_in to{};
          to.sin_family = AF_INET;
          to.sin_port = htons(dhcp::kServerPort);
          to.sin_addr.s_addr = htonl(s.broadcast ? INADDR_BROADCAST : s.to);
          std::printf("send %s %s %s xid=%08x\n",
                      std::string(dhcp::message_type_name(s.type)).c_str(),
                      s.broadcast ? "broadcast" : "unicast",
                      dhcp::ipv4_string(s.broadcast ? 0xffffffff : s.to).c_str(), m.xid);
          if (sendto(fd, s.bytes.data(), s.bytes.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof to) < 0) {
            std::printf("sendto failed: %s\n", std::strerror(errno));
          }
          break;
        }
      }
    }
    std::fflush(stdout);
    if (released) break;
    if (client.counters().acks >= acks_wanted && client.state() == dhcp::State::kBound) {
      if (!release) break;
      client.release(mono_now());
      released = true;
      continue;
    }
    const base::MonoTime now = mono_now();
    if (now >= deadline) {
      std::printf("timeout state=%s\n", std::string(dhcp::state_name(client.state())).c_str());
      return 1;
    }
    const base::MonoTime wake = std::min(client.next_wakeup(), deadline);
    const int64_t wait_ms = wake <= now ? 0 : (wake - now).ms() + 1;
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(wait_ms));
    if (n > 0 && (p.revents & POLLIN)) {
      uint8_t buf[2048];
      const ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got > 0) {
        const std::span<const uint8_t> bytes(buf, static_cast<size_t>(got));
        if (!dump.empty()) {
          const std::string path = dump + "/rx-" + std::to_string(dumped++);
          if (FILE* f = std::fopen(path.c_str(), "wb")) {
            std::fwrite(buf, 1, static_cast<size_t>(got), f);
            std::fclose(f);
          }
        }
        dhcp::Message m;
        const bool decoded = dhcp::decode(bytes, &m) == dhcp::DecodeError::kNone;
        const dhcp::Verdict v = client.on_packet(bytes, mono_now());
        std::printf("recv %s %s state=%s\n",
                    decoded ? std::string(dhcp::message_type_name(m.type)).c_str() : "?",
                    std::string(dhcp::verdict_name(v)).c_str(),
                    std::string(dhcp::state_name(client.state())).c_str());
      }
    }
    const base::MonoTime after = mono_now();
    if (client.next_wakeup() <= after) client.on_tick(after);
  }
  std::printf("done acks=%llu naks=%llu state=%s\n",
              static_cast<unsigned long long>(client.counters().acks),
              static_cast<unsigned long long>(client.counters().naks),
              std::string(dhcp::state_name(client.state())).c_str());
  close(fd);
  return 0;
}
