// Fuzzes the HTTP request parser: any bytes, fed whole and again split at input-chosen points,
// under input-chosen (often tiny) limits. Invariants: never crash or assert; an unfinished parser
// consumes everything it is given; a finished or failed one consumes nothing; the body never
// passes body_bytes_max; errors are one of the documented statuses; a parsed request is
// well-formed (token method, lower-case token header names, no CR/LF/NUL in values, header count
// within the limit); and the split reading gives exactly the same requests and error as the
// whole one.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "agent/http/request_parser.h"

namespace {

#define FUZZ_CHECK(cond)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                        \
    }                                                                      \
  } while (0)

struct Outcome {
  std::vector<http::Request> requests;
  int error_status = 0;
};

bool valid_status(int s) {
  return s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505;
}

void check_request(const http::Request& r, const http::ParserLimits& limits) {
  FUZZ_CHECK(http::is_token(r.method));
  FUZZ_CHECK(!r.path.empty());
  FUZZ_CHECK(!r.target.empty());
  FUZZ_CHECK(r.body.size() <= limits.body_bytes_max);
  FUZZ_CHECK(r.headers.size() <= limits.header_count_max);
  FUZZ_CHECK(r.version_minor <= 1);
  for (const http::Header& h : r.headers) {
    FUZZ_CHECK(http::is_token(h.name));
    for (char c : h.name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    for (char c : h.value) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
  for (char c : r.path) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  for (const auto& kv : r.query) {
    FUZZ_CHECK(kv.first.find('\0') == std::string::npos);
    FUZZ_CHECK(kv.second.find('\0') == std::string::npos);
  }
}

// Feeds `input` in pieces whose sizes come from `cuts` (cycled; empty: all at once).
Outcome parse(std::string_view input, const std::vector<size_t>& cuts, const http::ParserLimits& limits) {
  Outcome out;
  http::RequestParser p(limits);
  size_t pos = 0;
  size_t cut_index = 0;
  std::string pending;
  // Bounded: every round consumes input, takes a request, or ends.
  for (size_t rounds = 0; rounds < 4 * input.size() + 16; ++rounds) {
    if (p.complete()) {
      out.requests.push_back(p.take());
      FUZZ_CHECK(!p.started() && !p.complete() && !p.failed());
      continue;
    }
    if (p.failed()) {
      out.error_status = p.error_status();
      FUZZ_CHECK(valid_status(out.error_status));
      FUZZ_CHECK(p.feed("GET / HTTP/1.1\r\n") == 0);
      return out;
    }
    if (pending.empty()) {
      if (pos == input.size()) return out;
      size_t n = cuts.empty() ? input.size() - pos : cuts[cut_index++ % cuts.size()];
      if (n > input.size() - pos) n = input.size() - pos;
      pending.assign(input.substr(pos, n));
      pos += n;
    }
    size_t before = pending.size();
    size_t used = p.feed(pending);
    FUZZ_CHECK(used <= before);
    FUZZ_CHECK(p.body_bytes() <= limits.body_bytes_max);
    if (!p.complete() && !p.failed()) FUZZ_CHECK(used == before);
    if (p.complete()) check_request(p.peek(), limits);
    if (p.complete() || p.failed()) FUZZ_CHECK(p.feed(std::string_view(pending).substr(used)) == 0);
    pending.erase(0, used);
  }
  FUZZ_CHECK(false && "parser made no progress");
  return out;
}

bool same_request(const http::Request& a, const http::Request& b) {
  if (a.method != b.method || a.target != b.target || a.path != b.path || a.raw_query != b.raw_query ||
      a.body != b.body || a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue ||
      a.version_minor != b.version_minor || a.headers.size() != b.headers.size() || a.query != b.query) {
    return false;
  }
  for (size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  // Byte 0 picks the limits (small ones reach every boundary quickly), bytes 1-3 seed the cuts.
  http::ParserLimits limits;
  uint8_t sel = data[0];
  if (sel & 1) limits.request_line_bytes_max = 16 + (sel >> 4) * 4;
  if (sel & 2) limits.header_bytes_max = 24 + (sel >> 4) * 8;
  if (sel & 4) limits.header_count_max = (sel >> 5);
  if (sel & 8) limits.body_bytes_max = (sel >> 4) * 3;
  std::vector<size_t> cuts;
  uint32_t seed = static_cast<uint32_t>(data[1]) | static_cast<uint32_t>(data[2]) << 8 |
                  static_cast<uint32_t>(data[3]) << 16;
  for (int i = 0; i < 16; ++i) {
    seed = seed * 1103515245u + 12345u;
    cuts.push_back(1 + (seed >> 16) % 9);
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 4, size - 4);

  Outcome whole = parse(input, {}, limits);
  Outcome split = parse(input, cuts, limits);
  Outcome bytewise = parse(input, {1}, limits);
  FUZZ_CHECK(whole.error_status == split.error_status);
  FUZZ_CHECK(whole.error_status == bytewise.error_status);
  FUZZ_CHECK(whole.requests.size() == split.requests.size());
  FUZZ_CHECK(whole.requests.size() == bytewise.requests.size());
  for (size_t i = 0; i < whole.requests.size(); ++i) {
    FUZZ_CHECK(same_request(whole.requests[i], split.requests[i]));
    FUZZ_CHECK(same_request(whole.requests[i], bytewise.requests[i]));
  }
  return 0;
}
