// kv_api: see kv_api.h. One non-blocking socket per KvConn; every wait is a poll() bounded by the
// request's deadline.
#include "tests/lin/kv_api.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>

namespace kvlin {

int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Keys are sent unescaped in URLs and JSON: the tools only make keys of these characters.
bool key_is_plain(std::string_view key) {
  if (key.empty() || key.size() > 512) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// json_field: the raw value of the first `"name": <value>` in `body` -- a string's contents
// (no unescaping: base64 and decimal need none) or a bare token (number, true, false, null).
// A deliberately small scanner: the bodies come from the two APIs above, and each holds at most
// one key. Returns false if the field is absent or malformed.
bool json_field(std::string_view body, std::string_view name, std::string_view* out,
                bool* was_string) {
  std::string pat = "\"" + std::string(name) + "\"";
  size_t at = 0;
  while ((at = body.find(pat, at)) != std::string_view::npos) {
    size_t i = at + pat.size();
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' ||
                               body[i] == '\r'))
      ++i;
    if (i >= body.size() || body[i] != ':') {
      at = i;  // the name appeared as a value; keep looking
      continue;
    }
    ++i;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' ||
                               body[i] == '\r'))
      ++i;
    if (i >= body.size()) return false;
    if (body[i] == '"') {
      size_t end = body.find('"', i + 1);
      if (end == std::string_view::npos) return false;
      *out = body.substr(i + 1, end - i - 1);
      *was_string = true;
      return true;
    }
    size_t end = i;
    while (end < body.size() && body[end] != ',' && body[end] != '}' && body[end] != ']' &&
           body[end] != ' ' && body[end] != '\n' && body[end] != '\r')
      ++end;
    *out = body.substr(i, end - i);
    *was_string = false;
    return !out->empty();
  }
  return false;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return std::string(s.substr(b, e - b));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string status_error(int status, std::string_view body) {
  std::string b = trim(body.substr(0, 200));
  for (char& c : b)
    if (c == '\n' || c == '\r') c = ' ';
  return "HTTP " + std::to_string(status) + (b.empty() ? "" : ": " + b);
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) |
                 uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return false;  // data after padding
    int v = b64_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return pad <= 2;
}

KvConn::KvConn(Api api, std::string endpoint, int timeout_ms)
    : api_(api), endpoint_(std::move(endpoint)), timeout_ms_(timeout_ms) {
  size_t colon = endpoint_.rfind(':');
  host_ = endpoint_.substr(0, colon);
  port_ = colon == std::string::npos ? "80" : endpoint_.substr(colon + 1);
}

KvConn::~KvConn() { close_connection(); }

void KvConn::close_connection() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
}

bool KvConn::connect_now(int64_t deadline_ns, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    *error = "resolve " + endpoint_ + ": " + gai_strerror(rc);
    return false;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    *error = "connect " + endpoint_ + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    int64_t left_ms = (deadline_ns - mono_ns()) / 1'000'000;
    int n = left_ms > 0 ? ::poll(&p, 1, static_cast<int>(left_ms)) : 0;
    int err = 0;
    socklen_t len = sizeof err;
    if (n <= 0) {
      *error = "connect " + endpoint_ + ": timed out";
      ::close(fd);
      return false;
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      *error = "connect " + endpoint_ + ": " + std::strerror(err);
      ::close(fd);
      return false;
    }
  }
  fd_ = fd;
  in_.clear();
  return true;
}

bool KvConn::send_all(std::string_view data, int64_t deadline_ns, std::string* error) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    int64_t left_ms = (deadline_ns - mono_ns()) / 1'000'000;
    pollfd p{fd_, POLLOUT, 0};
    if (left_ms <= 0 || ::poll(&p, 1, static_cast<int>(left_ms)) <= 0) {
      *error = "send: timed out";
      return false;
    }
  }
  return true;
}

bool KvConn::fill(int64_t deadline_ns, std::string* error) {
  char buf[16384];
  for (int spins = 0; spins < 1'000'000; ++spins) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      *error = "connection closed by the server";
      return false;
    }
    if (errno != EAGAIN && errno != EINTR) {
      *error = std::string("recv: ") + std::strerror(errno);
      return false;
    }
    int64_t left_ms = (deadline_ns - mono_ns()) / 1'000'000;
    pollfd p{fd_, POLLIN, 0};
    if (left_ms <= 0 || ::poll(&p, 1, static_cast<int>(left_ms)) <= 0) {
      *error = "timed out waiting for the answer";
      return false;
    }
  }
  *error = "recv: too many wake-ups";
  return false;
}

bool KvConn::read_response(int64_t deadline_ns, Response* resp, bool* close_after,
                           std::string* error) {
  size_t head_end;
  while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (in_.size() > kHeaderBytesMax) {
      *error = "answer headers too long";
      return false;
    }
    if (!fill(deadline_ns, error)) return false;
  }
  std::string_view head(in_.data(), head_end);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
    std::string shown(status_line.substr(0, 40));
    for (char& c : shown)
      if (c < ' ' || c > '~') c = '?';
    *error = "bad status line \"" + shown + "\"";
    return false;
  }
  *close_after = status_line.substr(0, 8) == "HTTP/1.0";
  size_t sp = status_line.find(' ');
  uint64_t status = 0;
  if (sp == std::string_view::npos || !parse_u64(status_line.substr(sp + 1, 3), &status)) {
    *error = "bad status code";
    return false;
  }
  resp->status = static_cast<int>(status);
  bool chunked = false, have_length = false;
  uint64_t length = 0;
  size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos) e = head.size();
    std::string_view line = head.substr(pos, e - pos);
    pos = e + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = trim(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (!parse_u64(value, &length) || length > kBodyBytesMax) {
        *error = "bad or too large Content-Length";
        return false;
      }
      have_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = value.find("chunked") != std::string::npos;
    } else if (iequals(name, "connection")) {
      if (iequals(value, "close")) *close_after = true;
    }
  }
  in_.erase(0, head_end + 4);
  resp->body.clear();
  if (chunked) {
    for (int chunks = 0; chunks < 100000; ++chunks) {
      size_t e;
      while ((e = in_.find("\r\n")) == std::string::npos) {
        if (in_.size() > 64 || !fill(deadline_ns, error)) {
          if (error->empty()) *error = "bad chunk size line";
          return false;
        }
      }
      std::string size_text = in_.substr(0, e);
      size_t semi = size_text.find(';');
      if (semi != std::string::npos) size_text.resize(semi);
      uint64_t size = 0;
      auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size,
                                     16);
      if (ec != std::errc() || p != size_text.data() + size_text.size() ||
          resp->body.size() + size > kBodyBytesMax) {
        *error = "bad chunk size";
        return false;
      }
      in_.erase(0, e + 2);
      while (in_.size() < size + 2)
        if (!fill(deadline_ns, error)) return false;
      if (size == 0) {
        // No trailers are expected from either API; the last chunk ends with an empty line.
        in_.erase(0, 2);
        return true;
      }
      resp->body.append(in_, 0, size);
      in_.erase(0, size + 2);
    }
    *error = "too many chunks";
    return false;
  }
  if (!have_length) {
    // Read until the server closes (only sound with Connection: close).
    *close_after = true;
    for (;;) {
      std::string e;
      if (in_.size() > kBodyBytesMax) {
        *error = "answer too large";
        return false;
      }
      if (!fill(deadline_ns, &e)) break;
    }
    resp->body.swap(in_);
    in_.clear();
    return true;
  }
  while (in_.size() < length)
    if (!fill(deadline_ns, error)) return false;
  resp->body.assign(in_, 0, length);
  in_.erase(0, length);
  return true;
}

Outcome KvConn::round_trip(std::string_view method, std::string_view target,
                           std::string_view body, Response* resp, std::string* error) {
  int64_t deadline = mono_ns() + int64_t{timeout_ms_} * 1'000'000;
  if (fd_ < 0 && !connect_now(deadline, error)) return Outcome::kFail;
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  req.append(endpoint_).append("\r\nUser-Agent: weft-kvclient\r\n");
  if (!body.empty() || method != "GET") {
    req.append("Content-Type: application/json\r\nContent-Length: ");
    req.append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n").append(body);
  bool close_after = false;
  if (!send_all(req, deadline, error) || !read_response(deadline, resp, &close_after, error)) {
    close_connection();
    return Outcome::kInfo;
  }
  if (close_after) close_connection();
  return Outcome::kOk;
}

ReadResult KvConn::read(std::string_view key, ReadMode mode) {
  ReadResult r;
  if (!key_is_plain(key)) {
    r.outcome = Outcome::kFail;
    r.error = "key has characters the client does not escape";
    return r;
  }
  Response resp;
  Outcome o;
  if (api_ == Api::kConsul) {
    std::string target = "/v1/kv/" + std::string(key);
    if (mode == ReadMode::kConsistent) target += "?consistent";
    if (mode == ReadMode::kStale) target += "?stale";
    o = round_trip("GET", target, "", &resp, &r.error);
  } else {
    std::string body = "{\"key\":\"" + base64_encode(key) + "\"";
    if (mode == ReadMode::kStale) body += ",\"serializable\":true";
    body += "}";
    o = round_trip("POST", "/v3/kv/range", body, &resp, &r.error);
  }
  // A read that did not complete constrains nothing, whatever the reason.
  if (o != Outcome::kOk) {
    r.outcome = Outcome::kFail;
    return r;
  }
  r.outcome = Outcome::kFail;
  if (api_ == Api::kConsul) {
    if (resp.status == 404) {
      r.outcome = Outcome::kOk;
      r.found = false;
      return r;
    }
    if (resp.status != 200) {
      r.error = status_error(resp.status, resp.body);
      return r;
    }
    std::string_view v, idx;
    bool s1 = false, s2 = false;
    if (!json_field(resp.body, "ModifyIndex", &idx, &s2) || !parse_u64(idx, &r.version)) {
      r.error = "no ModifyIndex in " + status_error(resp.status, resp.body);
      return r;
    }
    if (!json_field(resp.body, "Value", &v, &s1)) {
      r.error = "no Value in " + status_error(resp.status, resp.body);
      return r;
    }
    if (!s1) {
      v = {};  // "Value": null is an empty value
    }
    if (!base64_decode(v, &r.value)) {
      r.error = "bad base64 in Value";
      return r;
    }
    r.found = true;
    r.outcome = Outcome::kOk;
    return r;
  }
  if (resp.status != 200) {
    r.error = status_error(resp.status, resp.body);
    return r;
  }
  std::string_view kvs, v, rev;
  bool s = false;
  size_t kvs_at = resp.body.find("\"kvs\"");
  if (kvs_at == std::string::npos) {
    // No kvs: absent. The gateway omits empty repeated fields.
    if (!json_field(resp.body, "header", &kvs, &s)) {
      r.error = "no header in " + status_error(resp.status, resp.body);
      return r;
    }
    r.outcome = Outcome::kOk;
    r.found = false;
    return r;
  }
  std::string_view rest(resp.body.data() + kvs_at, resp.body.size() - kvs_at);
  if (!json_field(rest, "mod_revision", &rev, &s) || !parse_u64(rev, &r.version)) {
    r.error = "no mod_revision in " + status_error(resp.status, resp.body);
    return r;
  }
  if (!json_field(rest, "value", &v, &s)) v = {};  // an empty value is omitted
  if (!base64_decode(v, &r.value)) {
    r.error = "bad base64 in value";
    return r;
  }
  r.found = true;
  r.outcome = Outcome::kOk;
  return r;
}

WriteResult KvConn::write(std::string_view key, std::string_view value) {
  WriteResult w;
  if (!key_is_plain(key)) {
    w.outcome = Outcome::kFail;
    w.error = "key has characters the client does not escape";
    return w;
  }
  Response resp;
  Outcome o;
  if (api_ == Api::kConsul) {
    o = round_trip("PUT", "/v1/kv/" + std::string(key), value, &resp, &w.error);
  } else {
    std::string body = "{\"key\":\"" + base64_encode(key) + "\",\"value\":\"" +
                       base64_encode(value) + "\"}";
    o = round_trip("POST", "/v3/kv/put", body, &resp, &w.error);
  }
  if (o != Outcome::kOk) {
    w.outcome = o;
    w.sent = o != Outcome::kFail;
    return w;
  }
  if (resp.status != 200) {
    w.outcome = Outcome::kInfo;
    w.error = status_error(resp.status, resp.body);
    return w;
  }
  if (api_ == Api::kConsul && trim(resp.body) != "true") {
    w.outcome = Outcome::kInfo;
    w.error = "unexpected answer " + status_error(resp.status, resp.body);
    return w;
  }
  w.outcome = Outcome::kOk;
  return w;
}

WriteResult KvConn::cas(std::string_view key, uint64_t version, std::string_view value) {
  WriteResult w;
  if (!key_is_plain(key)) {
    w.outcome = Outcome::kFail;
    w.error = "key has characters the client does not escape";
    return w;
  }
  Response resp;
  Outcome o;
  if (api_ == Api::kConsul) {
    o = round_trip("PUT", "/v1/kv/" + std::string(key) + "?cas=" + std::to_string(version),
                   value, &resp, &w.error);
  } else {
    std::string k = base64_encode(key);
    std::string body = "{\"compare\":[{\"key\":\"" + k +
                       "\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"" +
                       std::to_string(version) + "\"}],\"success\":[{\"request_put\":{\"key\":\"" +
                       k + "\",\"value\":\"" + base64_encode(value) + "\"}}]}";
    o = round_trip("POST", "/v3/kv/txn", body, &resp, &w.error);
  }
  if (o != Outcome::kOk) {
    w.outcome = o;
    w.sent = o != Outcome::kFail;
    return w;
  }
  if (resp.status != 200) {
    w.outcome = Outcome::kInfo;
    w.error = status_error(resp.status, resp.body);
    return w;
  }
  if (api_ == Api::kConsul) {
    std::string b = trim(resp.body);
    if (b == "true") {
      w.outcome = Outcome::kOk;
    } else if (b == "false") {
      w.outcome = Outcome::kFail;
    } else {
      w.outcome = Outcome::kInfo;
      w.error = "unexpected answer " + status_error(resp.status, resp.body);
    }
    return w;
  }
  std::string_view v;
  bool s = false;
  if (!json_field(resp.body, "header", &v, &s)) {
    w.outcome = Outcome::kInfo;
    w.error = "no header in " + status_error(resp.status, resp.body);
    return w;
  }
  // proto3 JSON omits false: no "succeeded" means the compare did not match.
  bool succeeded = json_field(resp.body, "succeeded", &v, &s) && v == "true";
  w.outcome = succeeded ? Outcome::kOk : Outcome::kFail;
  return w;
}

}  // namespace kvlin
