// See dhcp_run.h.
#include "boot/dhcp_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "boot/dhcp/client.h"
#include "hal/posix/posix_netns.h"

namespace boot {

namespace {

base::MonoTime now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return base::MonoTime::from_ns(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}


void log_line(const std::string& line) {
  std::string l = "weft: dhcp: " + line + "\n";
  ssize_t ignored = ::write(2, l.data(), l.size());
  (void)ignored;
}

void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t ignored = ::write(fd, text.data(), text.size());
  (void)ignored;
  ::close(fd);
  ::rename(tmp.c_str(), path.c_str());
}

struct Link {
  std::string name;
  int fd = -1;
  std::unique_ptr<dhcp::Client> client;
};

bool read_mac(const std::string& link, std::array<uint8_t, 6>* mac) {
  FILE* f = std::fopen(("/sys/class/net/" + link + "/address").c_str(), "re");
  if (f == nullptr) return false;
  unsigned b[6];
  const int n = std::fscanf(f, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
  std::fclose(f);
  if (n != 6) return false;
  for (int i = 0; i < 6; ++i) (*mac)[i] = static_cast<uint8_t>(b[i]);
  return true;
}

int open_socket(const std::string& link) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, link.c_str(), static_cast<socklen_t>(link.size() + 1)) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(dhcp::kClientPort);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void apply(Link& l, const dhcp::Action& a) {
  const dhcp::Lease& lease = a.lease;
  switch (a.kind) {
    case dhcp::Action::Kind::kSend: {
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(dhcp::kServerPort);
      to.sin_addr.s_addr = a.send.broadcast ? htonl(INADDR_BROADCAST) : htonl(a.send.to);
      if (::sendto(l.fd, a.send.bytes.data(), a.send.bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
        log_line(l.name + ": send: " + std::strerror(errno));
      }
      return;
    }
    case dhcp::Action::Kind::kConfigure: {
      base::Status s = hal::posix::set_link_address(l.name, lease.address, lease.prefix_len, true);
      if (s.is_ok() && lease.router != 0) s = hal::posix::add_route(0, 0, lease.router, l.name);
      for (const dhcp::Route& r : lease.routes) {
        if (s.is_ok() && r.prefix_len != 0) s = hal::posix::add_route(r.destination, r.prefix_len, r.router, l.name);
      }
      if (!s.is_ok()) log_line(l.name + ": " + s.message());
      std::string resolv;
      for (uint32_t dns : lease.dns_servers) resolv += "nameserver " + dhcp::ipv4_string(dns) + "\n";
      if (!lease.domain_name.empty()) resolv += "search " + lease.domain_name + "\n";
      if (!resolv.empty()) write_file("/etc/resolv.conf", resolv);
      const std::string line = dhcp::ipv4_string(lease.address) + "/" + std::to_string(lease.prefix_len) + " " + dhcp::ipv4_string(lease.router);
      write_file(std::string(kDhcpStateDir) + "/" + l.name, line + "\n");
      log_line(l.name + ": leased " + line + " from " + dhcp::ipv4_string(lease.server_id));
      return;
    }
    case dhcp::Action::Kind::kDeconfigure: {
      (void)hal::posix::set_link_address(l.name, lease.address, lease.prefix_len, false);
      ::unlink((std::string(kDhcpStateDir) + "/" + l.name).c_str());
      log_line(l.name + ": lease of " + dhcp::ipv4_string(lease.address) + " lost");
      return;
    }
  }
}

}  // namespace

int run_dhcp(const std::vector<std::string>& links) {
  ::mkdir(kDhcpStateDir, 0755);
  std::vector<Link> running;
  for (const std::string& name : links) {
    dhcp::ClientConfig config;
    if (!read_mac(name, &config.mac)) continue;
    char host[64] = "";
    if (::gethostname(host, sizeof host - 1) == 0 && std::strcmp(host, "(none)") != 0) config.hostname = host;
    Link l;
    l.name = name;
    l.fd = open_socket(name);
    if (l.fd < 0) {
      log_line(name + ": socket: " + std::strerror(errno));
      continue;
    }
    uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<uint64_t>(now().ns()) ^ static_cast<uint64_t>(::getpid());
    l.client = std::make_unique<dhcp::Client>(config, seed);
    running.push_back(std::move(l));
  }
  if (running.empty()) return 1;
  for (Link& l : running) {
    l.client->start(now());
    for (const dhcp::Action& a : l.client->take_effects().actions) apply(l, a);
  }
  std::vector<pollfd> fds(running.size());
  std::vector<uint8_t> buf(dhcp::kMessageBytesMax);
  for (;;) {
    base::MonoTime wake = base::MonoTime::never();
    for (size_t i = 0; i < running.size(); ++i) {
      fds[i] = {running[i].fd, POLLIN, 0};
      wake = std::min(wake, running[i].client->next_wakeup());
    }
    const int64_t wait_ms = wake == base::MonoTime::never() ? 60'000 : std::clamp<int64_t>((wake.ns() - now().ns()) / 1'000'000 + 1, 0, 60'000);
    if (::poll(fds.data(), fds.size(), static_cast<int>(wait_ms)) < 0 && errno != EINTR) return 1;
    for (size_t i = 0; i < running.size(); ++i) {
      Link& l = running[i];
      if ((fds[i].revents & POLLIN) != 0) {
        for (int n = 0; n < 16; ++n) {  // bounded: others get their turn
          ssize_t got = ::recv(l.fd, buf.data(), buf.size(), MSG_TRUNC);
          if (got < 0) break;
          if (static_cast<size_t>(got) > buf.size()) continue;  // larger than any reply we take
          (void)l.client->on_packet(std::span<const uint8_t>(buf.data(), static_cast<size_t>(got)), now());
        }
      }
      if (l.client->next_wakeup() <= now()) l.client->on_tick(now());
      for (const dhcp::Action& a : l.client->take_effects().actions) apply(l, a);
    }
  }
}

}  // namespace boot
