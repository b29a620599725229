// PosixNet: sockets. The file is organised as: small helpers (socket creation with the options
// every socket gets), then UDP, then stream listen/accept/connect, then stream I/O, then the
// handle table. See posix_net.h for what this port adds to hal/net.h.
#include "hal/posix/posix_net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "hal/posix/os_error.h"
#include "hal/posix/os_sockaddr.h"

namespace hal::posix {
namespace {

// Closes `fd` on scope exit unless release()d: error paths in listen/connect stay short.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string describe(std::string_view op, const SockAddr& addr) {
  std::string s(op);
  s += ' ';
  s += addr.to_string();
  return s;
}

base::Status set_int_option(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) return os_error(errno, what);
  return base::Status::ok();
}

// A new non-blocking, close-on-exec socket for `domain` and `type`, with the options every socket
// of that kind gets here (IPV6_V6ONLY on IPv6).
base::Result<int> open_socket(int domain, int type) {
  int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return os_error(errno, "socket");
  if (domain == AF_INET6) {
    base::Status s = set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "setsockopt IPV6_V6ONLY");
    if (!s.is_ok()) {
      ::close(fd);
      return s;
    }
  }
  return fd;
}

bool is_tcp_domain(int domain) { return domain == AF_INET || domain == AF_INET6; }

// With unix_unlink_stale, clears the way for bind(): a socket file nobody accepts on is removed;
// a live one, or a path that is not a socket, is refused.
base::Status clear_unix_path(const std::string& path, bool unlink_stale) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return base::Status::ok();
    return os_error(errno, "lstat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return base::error(base::Code::kAlreadyExists,
                       "listen unix:%s: path exists and is not a socket", path.c_str());
  }
  if (!unlink_stale) return base::Status::ok();  // bind() reports EADDRINUSE
  // Probe: a listener accepts (or queues) the connect; a stale file refuses it.
  AGENT_ASSIGN_OR_RETURN(OsSockAddr os, to_os_sockaddr(SockAddr::unix_path(path)));
  AGENT_ASSIGN_OR_RETURN(int probe_fd, open_socket(AF_UNIX, SOCK_STREAM));
  FdGuard probe(probe_fd);
  if (::connect(probe.get(), os.get(), os.len) == 0 || errno == EAGAIN || errno == EINPROGRESS) {
    return base::error(base::Code::kAlreadyExists,
                       "listen unix:%s: another process is listening there", path.c_str());
  }
  if (errno != ECONNREFUSED && errno != ENOENT) return os_error(errno, "probe unix:" + path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return os_error(errno, "unlink stale socket " + path);
  return base::Status::ok();
}

}  // namespace

PosixNet::~PosixNet() {
  for (size_t fd = 0; fd < kinds_.size(); ++fd) {
    if (kinds_[fd] != Kind::kNone) ::close(static_cast<int>(fd));
  }
}

// --- UDP ----------------------------------------------------------------------------------------

base::Result<Handle> PosixNet::udp_open(const SockAddr& bind) {
  AGENT_ASSIGN_OR_RETURN(OsSockAddr os, to_os_sockaddr(bind));
  if (!is_tcp_domain(os.domain())) {
    return base::error(base::Code::kInvalidArgument, "udp_open %s: not an IP address",
                       bind.to_string().c_str());
  }
  AGENT_ASSIGN_OR_RETURN(int fd, open_socket(os.domain(), SOCK_DGRAM));
  FdGuard guard(fd);
  if (::bind(fd, os.get(), os.len) != 0) return os_error(errno, describe("bind udp", bind));
  track(fd, Kind::kUdp);
  return guard.release();
}

base::Result<size_t> PosixNet::udp_send(Handle h, const SockAddr& to, base::ByteSpan data) {
  expect(h, Kind::kUdp);
  AGENT_ASSIGN_OR_RETURN(OsSockAddr os, to_os_sockaddr(to));
  for (;;) {
    ssize_t n = ::sendto(h, data.data(), data.size(), MSG_NOSIGNAL, os.get(), os.len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    // EAFNOSUPPORT/EINVAL here mostly mean an IPv4 destination on an IPv6 socket or back.
    return os_error(errno, describe("sendto", to));
  }
}

base::Result<size_t> PosixNet::udp_recv(Handle h, std::span<uint8_t> buf, SockAddr* from) {
  expect(h, Kind::kUdp);
  for (;;) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    // MSG_TRUNC makes recvfrom return the datagram's real length even when it did not fit.
    ssize_t n =
        ::recvfrom(h, buf.data(), buf.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "recvfrom");
    }
    SockAddr sender = from_os_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    if (static_cast<size_t>(n) > buf.size()) {
      return base::error(base::Code::kResourceExhausted,
                         "datagram of %zd bytes from %s dropped: larger than the %zu-byte buffer",
                         n, sender.to_string().c_str(), buf.size());
    }
    if (from != nullptr) *from = std::move(sender);
    return static_cast<size_t>(n);
  }
}

namespace {
// Datagrams per recvmmsg/sendmmsg call: its headers live on the stack (about 13 KiB).
constexpr size_t kUdpBatchMax = 64;

// One datagram's header of a recvmmsg/sendmmsg batch: its address and its single buffer.
void fill_header(mmsghdr* hdr, iovec* iov, void* name, socklen_t namelen, uint8_t* data, size_t size) {
  *iov = iovec{data, size};
  *hdr = mmsghdr{};
  hdr->msg_hdr.msg_name = name;
  hdr->msg_hdr.msg_namelen = namelen;
  hdr->msg_hdr.msg_iov = iov;
  hdr->msg_hdr.msg_iovlen = 1;
}
}  // namespace

base::Result<size_t> PosixNet::udp_recv_batch(Handle h, std::span<UdpMessage> msgs) {
  expect(h, Kind::kUdp);
  const size_t count = std::min(msgs.size(), kUdpBatchMax);
  if (count == 0) return size_t{0};
  mmsghdr hdr[kUdpBatchMax];
  iovec iov[kUdpBatchMax];
  sockaddr_storage from[kUdpBatchMax];
  for (size_t i = 0; i < count; ++i) {
    fill_header(&hdr[i], &iov[i], &from[i], sizeof from[i], msgs[i].buf.data(), msgs[i].buf.size());
  }
  for (;;) {
    int n = ::recvmmsg(h, hdr, static_cast<unsigned>(count), MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "recvmmsg");
    }
    for (int i = 0; i < n; ++i) {
      UdpMessage& m = msgs[static_cast<size_t>(i)];
      // recvmmsg has no MSG_TRUNC length: a cut datagram is flagged, its size made one past the buffer.
      m.size = (hdr[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ? m.buf.size() + 1 : hdr[i].msg_len;
      m.peer = from_os_sockaddr(reinterpret_cast<sockaddr*>(&from[i]), hdr[i].msg_hdr.msg_namelen);
    }
    return static_cast<size_t>(n);
  }
}

base::Result<size_t> PosixNet::udp_send_batch(Handle h, std::span<const UdpMessage> msgs) {
  expect(h, Kind::kUdp);
  size_t count = std::min(msgs.size(), kUdpBatchMax);
  if (count == 0) return size_t{0};
  mmsghdr hdr[kUdpBatchMax];
  iovec iov[kUdpBatchMax];
  OsSockAddr to[kUdpBatchMax];
  for (size_t i = 0; i < count; ++i) {
    base::Result<OsSockAddr> os = to_os_sockaddr(msgs[i].peer);
    if (!os.is_ok()) {
      if (i == 0) return os.status();
      count = i;  // the ones before it go; the caller meets this one next
      break;
    }
    to[i] = *os;
    fill_header(&hdr[i], &iov[i], &to[i].storage, to[i].len, msgs[i].buf.data(), msgs[i].size);
  }
  for (;;) {
    int n = ::sendmmsg(h, hdr, static_cast<unsigned>(count), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, describe("sendmmsg", msgs[0].peer));
    }
    return static_cast<size_t>(n);
  }
}

// --- streams: listen, accept, connect
// -------------------------------------------------------------

base::Result<Handle> PosixNet::listen(const SockAddr& bind, const ListenOptions& options) {
  AGENT_ASSERT(options.backlog > 0);
  AGENT_ASSIGN_OR_RETURN(OsSockAddr os, to_os_sockaddr(bind));
  const bool is_unix = os.domain() == AF_UNIX;
  if (is_unix) AGENT_TRY(clear_unix_path(bind.path, options.unix_unlink_stale));
  AGENT_ASSIGN_OR_RETURN(int fd, open_socket(os.domain(), SOCK_STREAM));
  FdGuard guard(fd);
  if (!is_unix)
    AGENT_TRY(set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR"));
  if (::bind(fd, os.get(), os.len) != 0) return os_error(errno, describe("bind", bind));
  if (is_unix) {
    // fchmod on a socket fd does not reach the file bind() made; chmod the path. Nobody can
    // connect before listen(), so the mode is in place before the first client arrives.
    if (::chmod(bind.path.c_str(), options.unix_mode) != 0) {
      base::Status s = os_error(errno, "chmod " + bind.path);
      unlink(bind.path.c_str());
      return s;
    }
  }
  if (::listen(fd, options.backlog) != 0) {
    base::Status s = os_error(errno, describe("listen", bind));
    if (is_unix) unlink(bind.path.c_str());
    return s;
  }
  track(fd, Kind::kListener);
  return guard.release();
}

base::Result<Handle> PosixNet::accept(Handle listener, SockAddr* peer) {
  expect(listener, Kind::kListener);
  for (;;) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd =
        ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      // The client gave up between the readiness report and accept(): nothing to accept now.
      if (errno == ECONNABORTED || errno == EPROTO) {
        return base::error(base::Code::kUnavailable, "accept: connection aborted by the peer");
      }
      return os_error(errno, "accept");
    }
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
      // Best effort: a stream without NODELAY still works, only slower.
      set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt TCP_NODELAY").ignore();
    }
    if (peer != nullptr) *peer = from_os_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    track(fd, Kind::kStream);
    return fd;
  }
}

base::Result<Handle> PosixNet::connect(const SockAddr& to) {
  AGENT_ASSIGN_OR_RETURN(OsSockAddr os, to_os_sockaddr(to));
  AGENT_ASSIGN_OR_RETURN(int fd, open_socket(os.domain(), SOCK_STREAM));
  FdGuard guard(fd);
  if (is_tcp_domain(os.domain())) {
    set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt TCP_NODELAY").ignore();
  }
  // A non-blocking connect returns EINPROGRESS (or EINTR, after which it also carries on in the
  // background); either way the outcome arrives through writability and connect_result().
  if (::connect(fd, os.get(), os.len) != 0 && errno != EINPROGRESS && errno != EINTR) {
    if (errno == EAGAIN && os.domain() == AF_UNIX) {
      return base::error(base::Code::kUnavailable, "connect %s: listener's backlog is full",
                         to.to_string().c_str());
    }
    return os_error(errno, describe("connect", to));
  }
  track(fd, Kind::kStream);
  return guard.release();
}

base::Status PosixNet::connect_result(Handle h) {
  expect(h, Kind::kStream);
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(h, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return os_error(errno, "getsockopt SO_ERROR");
  if (err != 0) return os_error(err, "connect");
  sockaddr_storage ss;
  socklen_t ss_len = sizeof ss;
  if (getpeername(h, reinterpret_cast<sockaddr*>(&ss), &ss_len) != 0) {
    if (errno == ENOTCONN)
      return base::error(base::Code::kUnavailable, "connect: still in progress");
    return os_error(errno, "getpeername");
  }
  return base::Status::ok();
}

// --- stream I/O
// -----------------------------------------------------------------------------------

base::Result<size_t> PosixNet::read(Handle h, std::span<uint8_t> buf) {
  expect(h, Kind::kStream);
  AGENT_ASSERT_MSG(!buf.empty(), "read() needs a non-empty buffer: 0 bytes means EOF");
  for (;;) {
    ssize_t n = ::recv(h, buf.data(), buf.size(), 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    return os_error(errno, "read");
  }
}

base::Result<size_t> PosixNet::write(Handle h, base::ByteSpan data) {
  expect(h, Kind::kStream);
  if (data.empty()) return size_t{0};
  for (;;) {
    ssize_t n = ::send(h, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    return os_error(errno, "write");
  }
}

void PosixNet::shutdown_write(Handle h) {
  expect(h, Kind::kStream);
  // ENOTCONN (the peer already reset the connection) leaves nothing to shut down.
  ::shutdown(h, SHUT_WR);
}

base::Result<SockAddr> PosixNet::local_addr(Handle h) {
  AGENT_ASSERT_MSG(kind_of(h) != Kind::kNone, "local_addr on a handle this Net does not own");
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(h, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return os_error(errno, "getsockname");
  return from_os_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

void PosixNet::close(Handle h) {
  AGENT_ASSERT_MSG(kind_of(h) != Kind::kNone, "close of a handle this Net does not own");
  kinds_[static_cast<size_t>(h)] = Kind::kNone;
  // Linux releases the descriptor even when close() reports EINTR or EIO; never retry.
  ::close(h);
}

// --- handle table
// -----------------------------------------------------------------------------------

size_t PosixNet::open_count() const {
  size_t n = 0;
  for (Kind k : kinds_) n += k != Kind::kNone;
  return n;
}

void PosixNet::track(Handle h, Kind kind) {
  AGENT_ASSERT(h >= 0);
  const size_t i = static_cast<size_t>(h);
  if (i >= kinds_.size()) kinds_.resize(i + 1, Kind::kNone);
  AGENT_ASSERT_MSG(kinds_[i] == Kind::kNone,
                   "the kernel reused a descriptor this Net still tracks");
  kinds_[i] = kind;
}

PosixNet::Kind PosixNet::kind_of(Handle h) const {
  if (h < 0 || static_cast<size_t>(h) >= kinds_.size()) return Kind::kNone;
  return kinds_[static_cast<size_t>(h)];
}

void PosixNet::expect(Handle h, Kind kind) const {
  AGENT_ASSERT_MSG(kind_of(h) == kind,
                   "handle is not open in this Net, or is the wrong kind of socket");
}

}  // namespace hal::posix
