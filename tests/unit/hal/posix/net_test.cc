// Proves PosixNet over real loopback sockets: UDP (v4, v6, oversized datagrams dropped), TCP
// (connect/accept/read/write/half-close/EOF, refused connects reported by connect_result) and
// Unix stream sockets (mode applied, stale files replaced, live ones and non-sockets refused).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hal/posix/posix_fs.h"
#include "hal/posix/posix_net.h"
#include "test_util.h"

namespace {

using hal::SockAddr;
using hal::posix::PosixNet;
using posix_test::wait_ready;

// Reads from a stream until `want` bytes arrived or EOF, waiting for readiness in between.
std::string read_exactly(PosixNet& net, hal::Handle h, size_t want) {
  std::string got;
  uint8_t buf[4096];
  while (got.size() < want) {
    if (wait_ready(h, hal::kReadable) == 0) break;
    auto n = net.read(h, buf);
    if (!n.is_ok()) {
      if (n.status().code() == base::Code::kUnavailable) continue;
      break;
    }
    if (*n == 0) break;
    got.append(reinterpret_cast<char*>(buf), *n);
  }
  return got;
}

void write_all(PosixNet& net, hal::Handle h, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = net.write(h, base::as_bytes(std::string_view(data).substr(done)));
    if (!n.is_ok() && n.status().code() == base::Code::kUnavailable) {
      ASSERT_NE(wait_ready(h, hal::kWritable), 0);
      continue;
    }
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    done += *n;
  }
}

// Waits for EOF (read() == 0) on `h`; false if data or an error came first.
bool reads_eof(PosixNet& net, hal::Handle h) {
  uint8_t buf[64];
  for (int i = 0; i < 100; ++i) {
    if (wait_ready(h, hal::kReadable) == 0) return false;
    auto n = net.read(h, buf);
    if (!n.is_ok() && n.status().code() == base::Code::kUnavailable) continue;
    return n.is_ok() && *n == 0;
  }
  return false;
}

// A connected pair (client, server side) over a fresh listener on `bind`.
struct StreamPair {
  hal::Handle listener = hal::kInvalidHandle;
  hal::Handle client = hal::kInvalidHandle;
  hal::Handle server = hal::kInvalidHandle;
  SockAddr peer;
};

StreamPair connect_pair(PosixNet& net, const SockAddr& bind) {
  StreamPair p;
  auto l = net.listen(bind, {});
  EXPECT_TRUE(l.is_ok()) << l.status().to_string();
  if (!l.is_ok()) return p;
  p.listener = *l;
  auto addr = net.local_addr(p.listener);
  EXPECT_TRUE(addr.is_ok());
  auto c = net.connect(*addr);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  if (!c.is_ok()) return p;
  p.client = *c;
  EXPECT_NE(wait_ready(p.listener, hal::kReadable), 0);
  auto s = net.accept(p.listener, &p.peer);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  if (s.is_ok()) p.server = *s;
  EXPECT_NE(wait_ready(p.client, hal::kWritable), 0);
  EXPECT_TRUE(net.connect_result(p.client).is_ok());
  return p;
}

void udp_round_trip(const SockAddr& any_port) {
  PosixNet net;
  auto a = net.udp_open(any_port);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  auto b = net.udp_open(any_port);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  auto a_addr = net.local_addr(*a);
  auto b_addr = net.local_addr(*b);
  ASSERT_TRUE(a_addr.is_ok() && b_addr.is_ok());
  EXPECT_NE(b_addr->port, 0);
  EXPECT_EQ(b_addr->family, any_port.family);

  uint8_t buf[1500];
  SockAddr from;
  auto none = net.udp_recv(*b, buf, &from);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), base::Code::kUnavailable);

  auto sent = net.udp_send(*a, *b_addr, base::as_bytes(std::string_view("ping")));
  ASSERT_TRUE(sent.is_ok()) << sent.status().to_string();
  EXPECT_EQ(*sent, 4u);
  ASSERT_NE(wait_ready(*b, hal::kReadable) & hal::kReadable, 0);
  auto got = net.udp_recv(*b, buf, &from);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *got), "ping");
  EXPECT_EQ(from, *a_addr);
  net.close(*a);
  net.close(*b);
  EXPECT_EQ(net.open_count(), 0u);
}

TEST(PosixNet, UdpRoundTripIpv4) { udp_round_trip(SockAddr::ipv4(127, 0, 0, 1, 0)); }

TEST(PosixNet, UdpRoundTripIpv6) { udp_round_trip(SockAddr::ipv6_loopback(0)); }

TEST(PosixNet, OversizedDatagramIsDroppedNotTruncated) {
  PosixNet net;
  auto a = net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  auto b = net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  auto b_addr = net.local_addr(*b);
  ASSERT_TRUE(b_addr.is_ok());
  std::vector<uint8_t> big(2000, 'x');
  ASSERT_TRUE(net.udp_send(*a, *b_addr, big).is_ok());
  ASSERT_TRUE(net.udp_send(*a, *b_addr, base::as_bytes(std::string_view("small"))).is_ok());

  uint8_t buf[100];
  ASSERT_NE(wait_ready(*b, hal::kReadable), 0);
  auto r = net.udp_recv(*b, buf, nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), base::Code::kResourceExhausted);
  EXPECT_NE(r.status().message().find("2000"), std::string::npos) << r.status().message();
  // The big datagram is gone; the next one arrives whole.
  ASSERT_NE(wait_ready(*b, hal::kReadable), 0);
  auto r2 = net.udp_recv(*b, buf, nullptr);
  ASSERT_TRUE(r2.is_ok()) << r2.status().to_string();
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *r2), "small");
  net.close(*a);
  net.close(*b);
}

// The batched calls (recvmmsg/sendmmsg), and Net's portable defaults (loops over the single calls,
// what lwIP and the simulator get) called on the same sockets: the same datagrams, sizes, peers
// and order; a datagram too long for its buffer flagged by a size past it; none queued is
// kUnavailable.
void udp_batches(bool portable) {
  PosixNet net;
  auto a = net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  auto b = net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  auto a_addr = net.local_addr(*a);
  auto b_addr = net.local_addr(*b);
  ASSERT_TRUE(a_addr.is_ok() && b_addr.is_ok());
  auto recv = [&](std::span<hal::UdpMessage> m) {
    return portable ? net.hal::Net::udp_recv_batch(*b, m) : net.udp_recv_batch(*b, m);
  };
  std::vector<std::vector<uint8_t>> bodies = {{'o', 'n', 'e'}, std::vector<uint8_t>(2000, 'x'), {'t', 'w', 'o'}, {}, {'3'}};
  std::vector<hal::UdpMessage> out;
  for (auto& body : bodies) out.push_back(hal::UdpMessage{std::span<uint8_t>(body), body.size(), *b_addr});
  auto sent = portable ? net.hal::Net::udp_send_batch(*a, out) : net.udp_send_batch(*a, out);
  ASSERT_TRUE(sent.is_ok()) << sent.status().to_string();
  EXPECT_EQ(*sent, bodies.size());

  ASSERT_NE(wait_ready(*b, hal::kReadable) & hal::kReadable, 0);
  uint8_t bufs[8][100];
  std::vector<hal::UdpMessage> in(8);
  for (size_t i = 0; i < in.size(); ++i) in[i].buf = std::span<uint8_t>(bufs[i], sizeof bufs[i]);
  auto got = recv(in);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  ASSERT_EQ(*got, bodies.size());  // loopback queues each datagram before sendmmsg returns
  for (size_t i = 0; i < bodies.size(); ++i) {
    if (bodies[i].size() > sizeof bufs[i]) {
      EXPECT_GT(in[i].size, in[i].buf.size()) << i;
      continue;
    }
    EXPECT_EQ(std::vector<uint8_t>(bufs[i], bufs[i] + in[i].size), bodies[i]) << i;
    EXPECT_EQ(in[i].peer, *a_addr) << i;
  }
  auto none = recv(in);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), base::Code::kUnavailable);
  // A destination of the other family fails as udp_send does, before anything goes.
  std::vector<hal::UdpMessage> bad = {hal::UdpMessage{std::span<uint8_t>(bodies[0]), 3, SockAddr::ipv6_loopback(b_addr->port)}};
  auto refused = portable ? net.hal::Net::udp_send_batch(*a, bad) : net.udp_send_batch(*a, bad);
  EXPECT_FALSE(refused.is_ok());
  net.close(*a);
  net.close(*b);
}

TEST(PosixNet, UdpBatches) { udp_batches(/*portable=*/false); }
TEST(PosixNet, UdpBatchesPortableDefaults) { udp_batches(/*portable=*/true); }

TEST(PosixNet, UdpSendToOtherFamilyFails) {
  PosixNet net;
  auto a = net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(a.is_ok());
  auto r = net.udp_send(*a, SockAddr::ipv6_loopback(9), base::as_bytes(std::string_view("x")));
  EXPECT_FALSE(r.is_ok());
  auto bad = net.udp_open(SockAddr::unix_path("/tmp/x"));
  EXPECT_EQ(bad.status().code(), base::Code::kInvalidArgument);
  net.close(*a);
}

TEST(PosixNet, UdpBindPortInUseIsAlreadyExists) {
  PosixNet net;
  auto a = net.udp_open(SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_TRUE(a.is_ok());
  auto addr = net.local_addr(*a);
  auto b = net.udp_open(*addr);
  ASSERT_FALSE(b.is_ok());
  EXPECT_EQ(b.status().code(), base::Code::kAlreadyExists);
  EXPECT_NE(b.status().message().find("in use"), std::string::npos) << b.status().message();
  net.close(*a);
}

void tcp_conversation(const SockAddr& bind) {
  PosixNet net;
  StreamPair p = connect_pair(net, bind);
  ASSERT_NE(p.server, hal::kInvalidHandle);
  EXPECT_EQ(p.peer.family, bind.family);
  EXPECT_TRUE(p.peer.is_loopback());

  // Nothing to read yet: would block.
  uint8_t buf[16];
  auto none = net.read(p.server, buf);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), base::Code::kUnavailable);
  auto no_accept = net.accept(p.listener, nullptr);
  EXPECT_EQ(no_accept.status().code(), base::Code::kUnavailable);

  write_all(net, p.client, "hello server");
  EXPECT_EQ(read_exactly(net, p.server, 12), "hello server");
  write_all(net, p.server, "hello client");
  EXPECT_EQ(read_exactly(net, p.client, 12), "hello client");

  // Half-close: the server sees EOF but can still answer, and the client still reads.
  net.shutdown_write(p.client);
  EXPECT_TRUE(reads_eof(net, p.server));
  write_all(net, p.server, "after half-close");
  EXPECT_EQ(read_exactly(net, p.client, 16), "after half-close");
  net.close(p.server);
  EXPECT_TRUE(reads_eof(net, p.client));
  net.close(p.client);
  net.close(p.listener);
  EXPECT_EQ(net.open_count(), 0u);
}

TEST(PosixNet, TcpIpv4Conversation) { tcp_conversation(SockAddr::ipv4(127, 0, 0, 1, 0)); }

TEST(PosixNet, TcpIpv6Conversation) { tcp_conversation(SockAddr::ipv6_loopback(0)); }

TEST(PosixNet, LargeTransferSurvivesPartialWrites) {
  PosixNet net;
  StreamPair p = connect_pair(net, SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_NE(p.server, hal::kInvalidHandle);
  // Bigger than the socket buffers, so writes go partial and would block until the reader reads.
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  size_t written = 0;
  std::string got;
  uint8_t buf[65536];
  hal::posix::PosixPoller poller;
  ASSERT_TRUE(poller.add(p.client, hal::kWritable).is_ok());
  ASSERT_TRUE(poller.add(p.server, hal::kReadable).is_ok());
  hal::posix::PosixClock clock;
  const base::MonoTime deadline = clock.mono_now() + posix_test::kPatience;
  bool saw_would_block = false;
  while (got.size() < data.size() && clock.mono_now() < deadline) {
    hal::PollEvent events[4];
    auto n = poller.wait(base::Duration::millis(100), events);
    ASSERT_TRUE(n.is_ok());
    for (size_t i = 0; i < *n; ++i) {
      if (events[i].handle == p.client && written < data.size()) {
        auto w = net.write(p.client, base::as_bytes(std::string_view(data).substr(written)));
        if (w.is_ok()) {
          written += *w;
        } else {
          ASSERT_EQ(w.status().code(), base::Code::kUnavailable) << w.status().to_string();
          saw_would_block = true;
        }
        if (written == data.size()) {
          ASSERT_TRUE(poller.modify(p.client, 0).is_ok());
        }
      }
      if (events[i].handle == p.server) {
        auto r = net.read(p.server, buf);
        if (r.is_ok()) got.append(reinterpret_cast<char*>(buf), *r);
      }
    }
    // Keep the writer ahead: write until it would block before reading much.
    while (written < data.size()) {
      auto w = net.write(p.client, base::as_bytes(std::string_view(data).substr(written)));
      if (!w.is_ok()) {
        saw_would_block = saw_would_block || w.status().code() == base::Code::kUnavailable;
        break;
      }
      written += *w;
    }
  }
  EXPECT_TRUE(saw_would_block);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  poller.remove(p.client);
  poller.remove(p.server);
}

TEST(PosixNet, ConnectToClosedPortFailsThroughConnectResult) {
  PosixNet net;
  // Learn a port nobody listens on: bind a listener, note its port, close it.
  auto l = net.listen(SockAddr::ipv4(127, 0, 0, 1, 0), {});
  ASSERT_TRUE(l.is_ok());
  auto addr = net.local_addr(*l);
  ASSERT_TRUE(addr.is_ok());
  net.close(*l);

  auto c = net.connect(*addr);
  ASSERT_TRUE(c.is_ok()) << "connect() starts the attempt and returns at once: "
                         << c.status().to_string();
  const uint8_t ready = wait_ready(*c, hal::kWritable);
  EXPECT_NE(ready, 0);
  base::Status s = net.connect_result(*c);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), base::Code::kIo);
  EXPECT_NE(s.message().find("refused"), std::string::npos) << s.message();
  net.close(*c);
}

TEST(PosixNet, WriteToClosedPeerIsIoNotSigpipe) {
  PosixNet net;
  StreamPair p = connect_pair(net, SockAddr::ipv4(127, 0, 0, 1, 0));
  ASSERT_NE(p.server, hal::kInvalidHandle);
  net.close(p.server);
  ASSERT_TRUE(reads_eof(net, p.client));
  // The first write may be accepted (the RST comes back after it); a later one fails with kIo.
  base::Code code = base::Code::kOk;
  for (int i = 0; i < 1000 && code == base::Code::kOk; ++i) {
    auto w = net.write(p.client, base::as_bytes(std::string_view("x")));
    if (!w.is_ok()) code = w.status().code();
    if (w.is_ok()) {
      wait_ready(p.client, hal::kReadable);  // let the RST arrive
    }
  }
  EXPECT_EQ(code, base::Code::kIo);
  net.close(p.client);
  net.close(p.listener);
}

TEST(PosixNet, TcpListenPortInUseIsAlreadyExists) {
  PosixNet net;
  auto l = net.listen(SockAddr::ipv4(127, 0, 0, 1, 0), {});
  ASSERT_TRUE(l.is_ok());
  auto addr = net.local_addr(*l);
  auto again = net.listen(*addr, {});
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), base::Code::kAlreadyExists);
  net.close(*l);
  // SO_REUSEADDR: the port is free again at once, even though the old socket just closed.
  auto l2 = net.listen(*addr, {});
  ASSERT_TRUE(l2.is_ok()) << l2.status().to_string();
  net.close(*l2);
}

TEST(PosixNet, UnixSocketIsOwnerOnlyAndTalks) {
  posix_test::TempDir dir;
  hal::posix::PosixFs fs;
  PosixNet net;
  const std::string path = dir.join("agent.sock");
  StreamPair p = connect_pair(net, SockAddr::unix_path(path));
  ASSERT_NE(p.server, hal::kInvalidHandle);
  auto info = fs.stat(path);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->type, hal::FileType::kSocket);
  EXPECT_EQ(info->mode, 0600u);
  auto local = net.local_addr(p.listener);
  ASSERT_TRUE(local.is_ok());
  EXPECT_EQ(*local, SockAddr::unix_path(path));
  EXPECT_EQ(p.peer.family, hal::AddrFamily::kUnix);

  write_all(net, p.client, "status?");
  EXPECT_EQ(read_exactly(net, p.server, 7), "status?");
  net.shutdown_write(p.client);
  EXPECT_TRUE(reads_eof(net, p.server));
  net.close(p.client);
  net.close(p.server);
  net.close(p.listener);
}

TEST(PosixNet, UnixListenModeIsConfigurable) {
  posix_test::TempDir dir;
  hal::posix::PosixFs fs;
  PosixNet net;
  const std::string path = dir.join("shared.sock");
  hal::ListenOptions opts;
  opts.unix_mode = 0660;
  auto l = net.listen(SockAddr::unix_path(path), opts);
  ASSERT_TRUE(l.is_ok()) << l.status().to_string();
  EXPECT_EQ(fs.stat(path)->mode, 0660u);
  net.close(*l);
}

TEST(PosixNet, UnixStaleSocketIsReplacedLiveOneAndFilesAreNot) {
  posix_test::TempDir dir;
  hal::posix::PosixFs fs;
  PosixNet net;
  const std::string path = dir.join("agent.sock");
  auto first = net.listen(SockAddr::unix_path(path), {});
  ASSERT_TRUE(first.is_ok());
  // Someone is listening: refuse rather than steal the path.
  auto live = net.listen(SockAddr::unix_path(path), {});
  ASSERT_FALSE(live.is_ok());
  EXPECT_EQ(live.status().code(), base::Code::kAlreadyExists);
  net.close(*first);
  ASSERT_TRUE(fs.stat(path).is_ok()) << "closing leaves the socket file behind (stale)";

  hal::ListenOptions keep;
  keep.unix_unlink_stale = false;
  auto kept = net.listen(SockAddr::unix_path(path), keep);
  EXPECT_EQ(kept.status().code(), base::Code::kAlreadyExists);

  auto second = net.listen(SockAddr::unix_path(path), {});
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  net.close(*second);

  const std::string file = dir.join("not-a-socket");
  ASSERT_TRUE(
      fs.write_file(file, base::as_bytes(std::string_view("keep me")), 0600, false).is_ok());
  auto refused = net.listen(SockAddr::unix_path(file), {});
  EXPECT_EQ(refused.status().code(), base::Code::kAlreadyExists);
  EXPECT_EQ(*fs.read_file(file, 100), "keep me");
}

TEST(PosixNet, UnixConnectToNobodyFails) {
  posix_test::TempDir dir;
  PosixNet net;
  auto c = net.connect(SockAddr::unix_path(dir.join("nobody.sock")));
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), base::Code::kNotFound);
  auto too_long = net.connect(SockAddr::unix_path("/" + std::string(200, 'x')));
  EXPECT_EQ(too_long.status().code(), base::Code::kInvalidArgument);
  EXPECT_EQ(net.open_count(), 0u);
}

TEST(PosixNetDeathTest, CloseOfUnknownHandleAsserts) {
  PosixNet net;
  EXPECT_DEATH(net.close(12345), "does not own");
}

}  // namespace
