#include "agent/http/client.h"

#include <cstdio>
#include <cstring>
#include <utility>

namespace http {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool safe_value(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool framing_field(std::string_view name) {
  return equals_ignore_case(name, "host") || equals_ignore_case(name, "content-length") ||
         equals_ignore_case(name, "transfer-encoding") || equals_ignore_case(name, "connection");
}

}  // namespace

void write_request(const ClientRequest& request, std::string* out) {
  out->append(request.method);
  out->push_back(' ');
  out->append(request.target.empty() ? std::string_view("/") : std::string_view(request.target));
  out->append(" HTTP/1.1\r\nHost: ");
  out->append(safe_value(request.host) && !request.host.empty() ? std::string_view(request.host)
                                                                   : std::string_view("localhost"));
  out->append("\r\n");
  for (const Header& h : request.headers) {
    if (framing_field(h.name) || !is_token(h.name) || !safe_value(h.value)) continue;
    out->append(h.name);
    out->append(": ");
    out->append(h.value);
    out->append("\r\n");
  }
  bool has_body_semantics = !request.body.empty() || request.method == "POST" || request.method == "PUT" ||
                            request.method == "PATCH";
  if (has_body_semantics) {
    char buf[48];
    int n = std::snprintf(buf, sizeof buf, "Content-Length: %zu\r\n", request.body.size());
    out->append(buf, static_cast<size_t>(n));
  }
  out->append("Connection: close\r\n\r\n");
  out->append(request.body);
}

// --- ResponseParser -----------------------------------------------------------------------------

ResponseParser::ResponseParser(ClientLimits limits, bool head_request)
    : limits_(limits), head_request_(head_request) {}

void ResponseParser::fail(const char* why) {
  state_ = State::kError;
  error_ = why;
}

ClientResponse ResponseParser::take() {
  AGENT_ASSERT(state_ == State::kComplete);
  return std::move(response_);
}

bool ResponseParser::append_body(std::string_view bytes) {
  if (response_.body.size() + bytes.size() > limits_.body_bytes_max) {
    fail("response body too large");
    return false;
  }
  response_.body.append(bytes);
  return true;
}

// Accumulates one line (bounded); calls the state's line handler when it is complete.
size_t ResponseParser::feed_line(std::string_view data, size_t bytes_max) {
  const void* lf = std::memchr(data.data(), '\n', data.size());
  size_t piece = lf ? static_cast<size_t>(static_cast<const char*>(lf) - data.data()) : data.size();
  if (line_.size() + piece > bytes_max) {
    fail("response head too large");
    return piece;
  }
  line_.append(data.data(), piece);
  if (!lf) return piece;
  std::string_view line(line_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // a client may be lenient
  if (state_ == State::kHead || state_ == State::kTrailer) {
    head_bytes_ += line_.size() + 1;
    on_head_line(line);
  } else {
    on_chunk_line(line);
  }
  line_.clear();
  return piece + 1;
}

size_t ResponseParser::feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && state_ != State::kComplete && state_ != State::kError) {
    std::string_view rest = data.substr(used);
    switch (state_) {
      case State::kHead:
      case State::kTrailer: {
        size_t budget = limits_.head_bytes_max > head_bytes_ ? limits_.head_bytes_max - head_bytes_ : 0;
        used += feed_line(rest, budget);
        break;
      }
      case State::kChunkSize:
        used += feed_line(rest, 1024);
        break;
      case State::kBodyLength:
      case State::kChunkData: {
        size_t n = rest.size() < remaining_bytes_ ? rest.size() : static_cast<size_t>(remaining_bytes_);
        if (!append_body(rest.substr(0, n))) return used;
        used += n;
        remaining_bytes_ -= n;
        if (remaining_bytes_ == 0) {
          if (state_ == State::kBodyLength) state_ = State::kComplete;
          else {
            state_ = State::kChunkCrlf;
            remaining_bytes_ = 2;
          }
        }
        break;
      }
      case State::kChunkCrlf: {
        char want = remaining_bytes_ == 2 ? '\r' : '\n';
        if (rest[0] != want) {
          fail("chunk data not followed by CRLF");
          return used;
        }
        ++used;
        if (--remaining_bytes_ == 0) state_ = State::kChunkSize;
        break;
      }
      case State::kBodyEof:
        if (!append_body(rest)) return used;
        used += rest.size();
        break;
      case State::kComplete:
      case State::kError:
        break;
    }
  }
  return used;
}

void ResponseParser::finish_eof() {
  if (state_ == State::kBodyEof) state_ = State::kComplete;
  else if (state_ != State::kComplete && state_ != State::kError) fail("connection closed before the response ended");
}

void ResponseParser::on_head_line(std::string_view line) {
  if (state_ == State::kTrailer) {
    if (line.empty()) state_ = State::kComplete;
    return;  // trailer fields are dropped
  }
  if (!have_status_) {
    // "HTTP/1.x SSS reason"
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) {
      fail("malformed status line");
      return;
    }
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (line[i] < '0' || line[i] > '9') {
        fail("malformed status code");
        return;
      }
      status = status * 10 + (line[i] - '0');
    }
    if (status < 100) {
      fail("malformed status code");
      return;
    }
    response_.status = status;
    have_status_ = true;
    return;
  }
  if (line.empty()) {
    finish_head();
    return;
  }
  if (response_.headers.size() >= limits_.header_count_max) {
    fail("too many response header fields");
    return;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    fail("malformed response header field");
    return;
  }
  Header h;
  std::string_view name = line.substr(0, colon);
  h.name.resize(name.size());
  for (size_t i = 0; i < name.size(); ++i) h.name[i] = lower(name[i]);
  h.value.assign(trim_ows(line.substr(colon + 1)));
  response_.headers.push_back(std::move(h));
}

void ResponseParser::finish_head() {
  int status = response_.status;
  if (status >= 100 && status < 200 && status != 101) {
    // Interim response (100 Continue, 102, 103): the final one follows.
    response_ = ClientResponse();
    have_status_ = false;
    head_bytes_ = 0;
    return;
  }
  if (head_request_ || status < 200 || status == 204 || status == 304) {
    state_ = State::kComplete;
    return;
  }
  const std::string* te = response_.header("transfer-encoding");
  const std::string* cl = response_.header("content-length");
  if (te != nullptr) {
    std::string_view v = trim_ows(*te);
    size_t comma = v.rfind(',');
    std::string_view last = trim_ows(comma == std::string_view::npos ? v : v.substr(comma + 1));
    if (!equals_ignore_case(last, "chunked")) {
      state_ = State::kBodyEof;  // RFC 9112 §6.3: read until close
      return;
    }
    state_ = State::kChunkSize;
    return;
  }
  if (cl != nullptr) {
    uint64_t n = 0;
    if (cl->empty()) return fail("invalid Content-Length");
    for (char c : *cl) {
      if (c < '0' || c > '9') return fail("invalid Content-Length");
      if (n > limits_.body_bytes_max) return fail("response body too large");
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n > limits_.body_bytes_max) return fail("response body too large");
    remaining_bytes_ = n;
    state_ = n == 0 ? State::kComplete : State::kBodyLength;
    return;
  }
  state_ = State::kBodyEof;
}

void ResponseParser::on_chunk_line(std::string_view line) {
  size_t i = 0;
  uint64_t size = 0;
  while (i < line.size() && hex_digit(line[i]) >= 0) {
    if (i >= 16) return fail("chunk size too long");
    size = size * 16 + static_cast<uint64_t>(hex_digit(line[i]));
    ++i;
  }
  if (i == 0) return fail("invalid chunk size");
  std::string_view ext = trim_ows(line.substr(i));
  if (!ext.empty() && ext.front() != ';') return fail("invalid chunk size");
  if (size > limits_.body_bytes_max - response_.body.size()) return fail("response body too large");
  if (size == 0) {
    state_ = State::kTrailer;
    head_bytes_ = 0;
    return;
  }
  remaining_bytes_ = size;
  state_ = State::kChunkData;
}

// --- http_call ----------------------------------------------------------------------------------

namespace {

struct Call {
  hal::Net* net = nullptr;
  runtime::Loop* loop = nullptr;
  hal::Handle h = hal::kInvalidHandle;
  bool connected = false;
  std::string out;
  size_t out_offset = 0;
  ResponseParser parser;
  base::Status error;
  bool done = false;

  Call(ClientLimits limits, bool head) : parser(limits, head) {}

  void finish(base::Status st) {
    error = std::move(st);
    done = true;
  }

  void on_io(uint8_t ready) {
    if (done) return;
    if (!connected) {
      if (!(ready & (hal::kWritable | hal::kHangup | hal::kError))) return;
      base::Status st = net->connect_result(h);
      if (st.code() == base::Code::kUnavailable) return;  // still connecting
      if (!st.is_ok()) return finish(st);
      connected = true;
    }
    if (out_offset < out.size() && (ready & (hal::kWritable | hal::kError | hal::kHangup))) {
      while (out_offset < out.size()) {
        auto n = net->write(h, base::as_bytes(std::string_view(out).substr(out_offset)));
        if (!n.is_ok()) {
          if (n.status().code() == base::Code::kUnavailable) break;
          // The server may have answered early (413) and closed: read what it said first.
          out_offset = out.size();
          break;
        }
        out_offset += *n;
      }
      if (out_offset == out.size()) {
        if (!loop->set_interest(h, hal::kReadable).is_ok()) return finish(base::error(base::Code::kIo, "poller"));
      }
    }
    if (ready & (hal::kReadable | hal::kHangup | hal::kError)) read_some();
  }

  void read_some() {
    uint8_t buf[16 * 1024];
    for (int i = 0; i < 16 && !done; ++i) {
      auto n = net->read(h, std::span<uint8_t>(buf, sizeof buf));
      if (!n.is_ok()) {
        if (n.status().code() == base::Code::kUnavailable) return;
        return finish(n.status());
      }
      if (*n == 0) {
        parser.finish_eof();
        return check(true);
      }
      std::string_view data(reinterpret_cast<const char*>(buf), *n);
      parser.feed(data);
      check(false);
    }
  }

  void check(bool eof) {
    if (parser.complete()) return finish(base::Status::ok());
    if (parser.failed()) {
      std::string_view why = parser.error();
      base::Code code = why.find("too large") != std::string_view::npos ? base::Code::kResourceExhausted
                        : eof ? base::Code::kIo
                              : base::Code::kInvalidArgument;
      return finish(base::error(code, "http: %.*s", static_cast<int>(why.size()), why.data()));
    }
  }
};

}  // namespace

base::Result<ClientResponse> http_call(runtime::Loop& loop, hal::Net& net, const hal::SockAddr& to,
                                       const ClientRequest& request, base::Duration timeout,
                                       ClientLimits limits) {
  Call call(limits, request.method == "HEAD");
  call.net = &net;
  call.loop = &loop;
  write_request(request, &call.out);
  AGENT_ASSIGN_OR_RETURN(call.h, net.connect(to));
  base::Status st = loop.watch(call.h, hal::kWritable | hal::kReadable, [&call](uint8_t ready) { call.on_io(ready); });
  if (!st.is_ok()) {
    net.close(call.h);
    return st;
  }
  const base::MonoTime deadline = loop.refresh_now() + timeout;
  while (!call.done) {
    base::MonoTime now = loop.refresh_now();
    if (now >= deadline) {
      call.finish(base::error(base::Code::kTimeout, "http: no response within %lld ms",
                              static_cast<long long>(timeout.ms())));
      break;
    }
    base::Status run = loop.run_once(deadline - now);
    if (!run.is_ok()) {
      call.finish(run);
      break;
    }
  }
  loop.unwatch(call.h);
  net.close(call.h);
  if (!call.error.is_ok()) return call.error;
  return call.parser.take();
}

}  // namespace http
