// See config_url.h.
#include "boot/config_url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

namespace boot {

namespace {

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Waits for `events` on `fd` until `deadline_ms`; false on timeout or error.
bool wait_for(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

base::Result<std::string> get_once(const HttpUrl& u, const std::string& url) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return base::error(base::Code::kIo, "%s: socket: %s", url.c_str(), strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const int64_t deadline = now_ms() + kFetchTimeoutS * 1000;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(u.port);
  to.sin_addr.s_addr = htonl(u.address);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS) {
    return base::error(base::Code::kUnavailable, "%s: connect: %s", url.c_str(), strerror(errno));
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (!wait_for(fd, POLLOUT, deadline) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    return base::error(base::Code::kUnavailable, "%s: connect: %s", url.c_str(), err != 0 ? strerror(err) : "timed out");
  }
  const std::string request = "GET " + u.path + " HTTP/1.0\r\nHost: " + u.host + "\r\nUser-Agent: weft-boot\r\nAccept: application/json\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) return base::error(base::Code::kUnavailable, "%s: send timed out", url.c_str());
    } else {
      return base::error(base::Code::kUnavailable, "%s: send: %s", url.c_str(), strerror(errno));
    }
  }
  std::string response;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (response.size() + static_cast<size_t>(n) > kConfigUrlBytesMax + 16384) {
        return base::error(base::Code::kResourceExhausted, "%s: larger than %zu bytes", url.c_str(), kConfigUrlBytesMax);
      }
      response.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(fd, POLLIN, deadline)) return base::error(base::Code::kUnavailable, "%s: no answer in %d s", url.c_str(), kFetchTimeoutS);
    } else {
      return base::error(base::Code::kUnavailable, "%s: read: %s", url.c_str(), strerror(errno));
    }
  }
  auto body = http_body(response);
  if (!body.is_ok()) return base::error(body.status().code(), "%s: %s", url.c_str(), body.status().message().c_str());
  if (body->size() > kConfigUrlBytesMax) return base::error(base::Code::kResourceExhausted, "%s: larger than %zu bytes", url.c_str(), kConfigUrlBytesMax);
  return body;
}

}  // namespace

base::Result<HttpUrl> parse_http_url(std::string_view url) {
  auto bad = [&](const char* why) {
    return base::error(base::Code::kInvalidArgument, "agent.config=%.*s: %s", static_cast<int>(std::min<size_t>(url.size(), 200)),
                       url.data(), why);
  };
  if (url.compare(0, 8, "https://") == 0) return bad("https is not supported at boot yet: use http:// on a trusted network");
  if (url.compare(0, 7, "http://") != 0) return bad("want http://<IPv4>[:port]/path");
  std::string_view rest = url.substr(7);
  const size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  HttpUrl u;
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  for (char c : u.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("the path has spaces or control characters");
  }
  std::string_view host = hostport;
  if (size_t colon = hostport.find(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    std::string_view port = hostport.substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) return bad("bad port");
    u.port = static_cast<uint16_t>(p);
  }
  in_addr a{};
  const std::string h(host);
  if (h.empty() || ::inet_pton(AF_INET, h.c_str(), &a) != 1) return bad("the host must be an IPv4 address (no DNS before the agent runs)");
  u.address = ntohl(a.s_addr);
  u.host = std::string(hostport);
  return u;
}

base::Result<std::string> http_body(std::string_view response) {
  const size_t end = response.find("\r\n\r\n");
  if (end == std::string_view::npos) return base::error(base::Code::kInvalidArgument, "not an HTTP response");
  std::string_view status = response.substr(0, response.find("\r\n"));
  if (status.compare(0, 7, "HTTP/1.") != 0 || status.size() < 12) return base::error(base::Code::kInvalidArgument, "not an HTTP response");
  const std::string_view code = status.substr(9, 3);
  if (code != "200") {
    return base::error(base::Code::kUnavailable, "HTTP %.*s", static_cast<int>(std::min<size_t>(status.size() - 9, 80)), status.data() + 9);
  }
  return std::string(response.substr(end + 4));
}

base::Status fetch_config_url(const std::string& url, const std::string& config_file) {
  AGENT_ASSIGN_OR_RETURN(HttpUrl u, parse_http_url(url));
  base::Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto body = get_once(u, url);
    if (body.is_ok()) {
      int fd = ::open(config_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) return base::error(base::Code::kIo, "write %s: %s", config_file.c_str(), strerror(errno));
      const bool ok = ::write(fd, body->data(), body->size()) == static_cast<ssize_t>(body->size());
      ::close(fd);
      return ok ? base::Status::ok() : base::error(base::Code::kIo, "write %s", config_file.c_str());
    }
    last = body.status();
    if (last.code() == base::Code::kInvalidArgument || last.code() == base::Code::kResourceExhausted) break;
    ::sleep(1 << attempt);  // the network may still be coming up: 1 s, 2 s
  }
  return last;
}

}  // namespace boot
