// kv_api: a blocking HTTP/1.1 keep-alive client for the two KV APIs the lab and the benchmark
// drive -- Weft's Consul-compatible /v1/kv and etcd v3's JSON gateway (/v3/kv/...) -- reduced to
// the three operations a register needs: read, write, compare-and-set.
//
// Contract. A KvConn is one TCP connection to one endpoint, used by one thread; it connects
// lazily and reconnects after any error. Every call is bounded by the connection's timeout (the
// whole request: connect, send, the full answer) and by size bounds on what it reads (headers
// kHeaderBytesMax, body kBodyBytesMax): a slow or hostile server costs at most the timeout.
//
// Outcomes follow Jepsen's vocabulary (tests/lin/README.md): a call returns kOk, kFail -- it
// certainly did not take effect (nothing was sent, or the server answered with a definite "no":
// a read that failed, a cas whose compare did not match) -- or kInfo: unknown, it may or may not
// have taken effect (a timeout, a connection lost after the request went out, a 5xx, an answer
// we cannot parse). Only a connection refused/unreachable before any byte was sent makes a write
// kFail.
//
// The compare-and-set is by version, as both APIs do it: `cas(key, version, value)` succeeds iff
// the key's modify index (Consul's ModifyIndex, etcd's mod_revision) equals `version`, 0 meaning
// "absent". With values unique per write this is exactly "the value is the one read at that
// version", which is what the checker's `cas K A B` means.
//
// Not here: TLS, redirects, chunked request bodies, deletes, anything beyond a single key.
// Plain POSIX sockets: this is a test tool, outside agent/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvlin {

enum class Api : uint8_t { kConsul, kEtcd };

enum class Outcome : uint8_t { kOk, kFail, kInfo };

inline constexpr size_t kHeaderBytesMax = 16 * 1024;
inline constexpr size_t kBodyBytesMax = 4 * 1024 * 1024;

// How reads are asked for. kConsistent: Consul `?consistent`, etcd linearizable range (its
// default). kDefault: Consul's default mode (no parameter), etcd linearizable too. kStale: Consul
// `?stale`, etcd `serializable: true` -- the negative control: a partitioned member answers from
// its own, possibly old, state.
enum class ReadMode : uint8_t { kConsistent, kDefault, kStale };

struct ReadResult {
  Outcome outcome = Outcome::kInfo;
  bool found = false;     // false: the key is absent (Consul 404, etcd no kvs)
  std::string value;      // raw bytes, when found
  uint64_t version = 0;   // modify index / mod_revision, when found
  std::string error;      // why, when not kOk
};

struct WriteResult {
  Outcome outcome = Outcome::kInfo;
  // False when nothing was sent (the connection could not be made): the operation certainly did
  // not happen. Then outcome is kFail -- which for a cas must not be recorded as "the compare did
  // not match": a history may simply leave such an operation out.
  bool sent = true;
  std::string error;
};

// Monotonic clock in nanoseconds (CLOCK_MONOTONIC): the history's time base.
int64_t mono_ns();

std::string base64_encode(std::string_view in);
bool base64_decode(std::string_view in, std::string* out);

class KvConn {
 public:
  // endpoint: "host:port" (IPv4 dotted quad or a name resolvable by getaddrinfo).
  KvConn(Api api, std::string endpoint, int timeout_ms);
  ~KvConn();
  KvConn(const KvConn&) = delete;
  KvConn& operator=(const KvConn&) = delete;

  ReadResult read(std::string_view key, ReadMode mode);
  WriteResult write(std::string_view key, std::string_view value);
  // Succeeds iff the key's version is `version` (0: the key is absent). kFail: the compare did
  // not match (the server said so: Consul `false`, etcd succeeded=false).
  WriteResult cas(std::string_view key, uint64_t version, std::string_view value);

  const std::string& endpoint() const { return endpoint_; }
  void close_connection();

 private:
  struct Response {
    int status = 0;
    std::string body;
  };
  // Sends one request and reads the whole answer. Returns kOk with *resp filled, kFail if nothing
  // was sent (connect failed), kInfo on any failure after the request may have gone out.
  Outcome round_trip(std::string_view method, std::string_view target, std::string_view body,
                     Response* resp, std::string* error);
  bool connect_now(int64_t deadline_ns, std::string* error);
  bool send_all(std::string_view data, int64_t deadline_ns, std::string* error);
  bool read_response(int64_t deadline_ns, Response* resp, bool* close_after, std::string* error);
  bool fill(int64_t deadline_ns, std::string* error);  // reads more bytes into in_

  Api api_;
  std::string endpoint_;
  std::string host_;
  std::string port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string in_;  // bytes received and not yet consumed
};

}  // namespace kvlin
