#include "agent/http/request_parser.h"

#include <cstring>
#include <utility>

namespace http {

namespace {

// Empty lines skipped before a request line (RFC 9112 §2.2 asks for at least one).
constexpr size_t kEmptyLinesBeforeRequestMax = 8;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// field-value bytes: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5). Everything else -- NUL, CR,
// LF, other controls, DEL -- is refused.
bool is_field_value_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls fn(element) for each non-empty element of a comma-separated list, trimmed of OWS.
template <typename Fn>
void for_each_list_element(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view el = trim_ows(list.substr(0, comma));
    if (!el.empty()) fn(el);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool starts_with_ignore_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equals_ignore_case(s.substr(0, prefix.size()), prefix);
}

// True if a segment of `path` (between '/') is "." or "..".
bool has_dot_segment(std::string_view path) {
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    std::string_view seg = path.substr(i, end - i);
    if (seg == "." || seg == "..") return true;
    if (slash == std::string_view::npos) break;
    i = slash + 1;
  }
  return false;
}

}  // namespace

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

void RequestParser::reset() {
  state_ = State::kHead;
  error_status_ = 0;
  error_reason_ = "";
  started_ = false;
  have_request_line_ = false;
  empty_lines_skipped_ = 0;
  header_bytes_ = 0;
  header_count_ = 0;
  line_.clear();
  body_mode_ = BodyMode::kNone;
  chunk_state_ = ChunkState::kSize;
  remaining_bytes_ = 0;
  request_ = Request();
}

Request RequestParser::take() {
  AGENT_ASSERT(state_ == State::kComplete);
  Request out = std::move(request_);
  reset();
  return out;
}

bool RequestParser::continue_expected() const {
  return state_ == State::kBody && request_.expect_continue && request_.body.empty() &&
         !(body_mode_ == BodyMode::kChunked && chunk_state_ != ChunkState::kSize) && line_.empty() &&
         (body_mode_ != BodyMode::kLength || remaining_bytes_ > 0);
}

void RequestParser::fail(int status, const char* reason) {
  state_ = State::kError;
  error_status_ = status;
  error_reason_ = reason;
}

size_t RequestParser::feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && (state_ == State::kHead || state_ == State::kBody)) {
    if (!started_) started_ = true;
    std::string_view rest = data.substr(used);
    used += (state_ == State::kHead) ? feed_head(rest) : feed_body(rest);
  }
  // A head that ends exactly at the end of the data with no body to follow is complete already
  // (finish_head sets kComplete); nothing more to do here.
  return used;
}

bool RequestParser::append_line(std::string_view piece, size_t bytes_max, int status, const char* reason) {
  // The line may hold its CR while the LF has not arrived yet: allow that one byte of slack.
  if (line_.size() + piece.size() > bytes_max + 1) {
    fail(status, reason);
    return false;
  }
  line_.append(piece);
  return true;
}

bool RequestParser::line_content(std::string_view* out) {
  std::string_view line(line_);
  if (line.empty() || line.back() != '\r') {
    fail(400, "line ends in a bare LF");
    return false;
  }
  line.remove_suffix(1);
  if (line.find('\r') != std::string_view::npos) {
    fail(400, "bare CR in line");
    return false;
  }
  *out = line;
  return true;
}

size_t RequestParser::feed_head(std::string_view data) {
  const void* lf = std::memchr(data.data(), '\n', data.size());
  size_t piece = lf ? static_cast<size_t>(static_cast<const char*>(lf) - data.data()) : data.size();
  std::string_view bytes = data.substr(0, piece);
  if (!have_request_line_) {
    if (line_.size() + bytes.size() > limits_.request_line_bytes_max + 1) {
      // 414 when the target is what overflowed: the method and its space are in, the space
      // after the target is not.
      line_.append(bytes.substr(0, limits_.request_line_bytes_max + 1 - line_.size()));
      size_t sp1 = line_.find(' ');
      bool in_target = sp1 != std::string::npos && line_.find(' ', sp1 + 1) == std::string::npos;
      fail(in_target ? 414 : 400, in_target ? "request target too long" : "request line too long");
      return piece;
    }
    line_.append(bytes);
  } else {
    if (header_bytes_ + line_.size() + bytes.size() > limits_.header_bytes_max) {
      fail(431, "header section too large");
      return piece;
    }
    line_.append(bytes);
  }
  if (!lf) return piece;
  if (have_request_line_) header_bytes_ += line_.size() + 1;
  on_head_line();
  line_.clear();
  return piece + 1;
}

void RequestParser::on_head_line() {
  std::string_view line;
  if (!line_content(&line)) return;
  if (!have_request_line_) {
    if (line.empty()) {
      if (++empty_lines_skipped_ > kEmptyLinesBeforeRequestMax) fail(400, "too many empty lines");
      return;
    }
    if (parse_request_line(line)) have_request_line_ = true;
    return;
  }
  if (line.empty()) {
    finish_head();
    return;
  }
  if (is_ows(line.front())) {
    fail(400, "obsolete line folding");
    return;
  }
  if (header_count_ >= limits_.header_count_max) {
    fail(431, "too many header fields");
    return;
  }
  ++header_count_;
  parse_field(line, /*trailer=*/false);
}

bool RequestParser::parse_request_line(std::string_view line) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) {
    fail(400, "invalid method");
    return false;
  }
  // "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    fail(400, "malformed HTTP version");
    return false;
  }
  if (version[5] != '1') {
    fail(505, "HTTP version not supported");
    return false;
  }
  request_.version_minor = version[7] >= '1' ? 1 : 0;
  request_.keep_alive = request_.version_minor >= 1;
  request_.method.assign(method);
  return parse_target(target);
}

bool RequestParser::parse_target(std::string_view target) {
  if (target.empty()) {
    fail(400, "empty request target");
    return false;
  }
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '#') {
      fail(400, "invalid byte in request target");
      return false;
    }
  }
  request_.target.assign(target);
  if (target == "*") {
    if (request_.method != "OPTIONS") {
      fail(400, "asterisk-form target outside OPTIONS");
      return false;
    }
    request_.path = "*";
    return true;
  }
  std::string_view origin = target;
  if (target.front() != '/') {
    // absolute-form (RFC 9112 §3.2.2): keep the path and query, drop scheme and authority.
    size_t skip = 0;
    if (starts_with_ignore_case(target, "http://")) skip = 7;
    else if (starts_with_ignore_case(target, "https://")) skip = 8;
    else {
      fail(400, "unsupported request target form");
      return false;
    }
    std::string_view after = target.substr(skip);
    size_t end = after.find_first_of("/?");
    if (end == 0) {
      fail(400, "absolute-form target without authority");
      return false;
    }
    origin = end == std::string_view::npos ? std::string_view("/") : after.substr(end);
  }
  size_t q = origin.find('?');
  std::string_view raw_path = origin.substr(0, q);
  if (raw_path.empty()) raw_path = "/";  // "http://h?x" has an empty path: it means "/"
  if (!percent_decode(raw_path, /*plus_is_space=*/false, &request_.path).is_ok()) {
    fail(400, "bad percent-encoding in path");
    return false;
  }
  if (has_dot_segment(request_.path)) {
    fail(400, "dot segment in path");
    return false;
  }
  for (char c : request_.path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      fail(400, "control byte in decoded path");
      return false;
    }
  }
  if (q == std::string_view::npos) return true;
  std::string_view query = origin.substr(q + 1);
  request_.raw_query.assign(query);
  std::string key;
  std::string value;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view k = pair.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      if (!percent_decode(k, true, &key).is_ok() || !percent_decode(v, true, &value).is_ok()) {
        fail(400, "bad percent-encoding in query");
        return false;
      }
      request_.query.emplace_back(std::move(key), std::move(value));
      key = std::string();
      value = std::string();
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return true;
}

bool RequestParser::parse_field(std::string_view line, bool trailer) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    fail(400, "header field without ':'");
    return false;
  }
  std::string_view name = line.substr(0, colon);
  if (!is_token(name)) {
    // Includes whitespace between the name and ':' (RFC 9112 §5.1: MUST be rejected with 400).
    fail(400, "invalid header field name");
    return false;
  }
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    if (!is_field_value_byte(static_cast<unsigned char>(c))) {
      fail(400, "invalid byte in header field value");
      return false;
    }
  }
  if (trailer) return true;  // validated, then dropped: nothing here reads trailers
  Header h;
  h.name.resize(name.size());
  for (size_t i = 0; i < name.size(); ++i) h.name[i] = lower(name[i]);
  h.value.assign(value);
  request_.headers.push_back(std::move(h));
  return true;
}

void RequestParser::finish_head() {
  size_t host_count = 0;
  size_t content_length_count = 0;
  const std::string* content_length = nullptr;
  bool have_te = false;
  bool te_chunked_last = false;
  bool te_bad = false;
  bool te_unsupported = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  const std::string* expect = nullptr;
  for (const Header& h : request_.headers) {
    const std::string& n = h.name;
    if (n == "host") {
      ++host_count;
    } else if (n == "content-length") {
      ++content_length_count;
      content_length = &h.value;
    } else if (n == "transfer-encoding") {
      have_te = true;
      for_each_list_element(h.value, [&](std::string_view el) {
        if (te_chunked_last) te_bad = true;  // something after "chunked": chunked is not last
        if (equals_ignore_case(el, "chunked")) te_chunked_last = true;
        else if (is_token(el)) te_unsupported = true;  // gzip, deflate, compress, ...
        else te_bad = true;
      });
    } else if (n == "connection") {
      for_each_list_element(h.value, [&](std::string_view el) {
        if (equals_ignore_case(el, "close")) conn_close = true;
        else if (equals_ignore_case(el, "keep-alive")) conn_keep_alive = true;
      });
    } else if (n == "expect") {
      if (expect == nullptr) expect = &h.value;
      else {
        fail(417, "more than one Expect field");
        return;
      }
    }
  }
  const bool http11 = request_.version_minor >= 1;
  if (http11 ? host_count != 1 : host_count > 1) {
    fail(400, host_count == 0 ? "missing Host" : "more than one Host");
    return;
  }
  if (have_te) {
    if (!http11) return fail(400, "Transfer-Encoding in HTTP/1.0");
    if (content_length_count > 0) return fail(400, "both Transfer-Encoding and Content-Length");
    if (te_bad || !te_chunked_last) return fail(400, "chunked is not the final transfer coding");
    if (te_unsupported) return fail(501, "unsupported transfer coding");
  }
  uint64_t length = 0;
  if (content_length_count > 1) return fail(400, "more than one Content-Length");
  if (content_length_count == 1) {
    const std::string& v = *content_length;
    if (v.empty()) return fail(400, "empty Content-Length");
    for (char c : v) {
      if (c < '0' || c > '9') return fail(400, "invalid Content-Length");
      // Saturate: anything past the body limit is refused below, however large.
      if (length <= limits_.body_bytes_max) length = length * 10 + static_cast<uint64_t>(c - '0');
    }
    if (length > limits_.body_bytes_max) return fail(413, "request body too large");
  }
  if (conn_close) request_.keep_alive = false;
  else if (!http11 && conn_keep_alive) request_.keep_alive = true;
  if (expect != nullptr) {
    if (!equals_ignore_case(*expect, "100-continue")) return fail(417, "unsupported expectation");
    request_.expect_continue = http11;
  }
  if (have_te) {
    body_mode_ = BodyMode::kChunked;
    chunk_state_ = ChunkState::kSize;
    header_bytes_ = 0;  // the trailer section gets its own header budget
    header_count_ = 0;
    state_ = State::kBody;
  } else if (length > 0) {
    body_mode_ = BodyMode::kLength;
    remaining_bytes_ = length;
    state_ = State::kBody;
  } else {
    body_mode_ = BodyMode::kNone;
    state_ = State::kComplete;
  }
}

size_t RequestParser::feed_body(std::string_view data) {
  if (body_mode_ == BodyMode::kChunked) return feed_chunked(data);
  AGENT_ASSERT(body_mode_ == BodyMode::kLength && remaining_bytes_ > 0);
  size_t n = data.size() < remaining_bytes_ ? data.size() : static_cast<size_t>(remaining_bytes_);
  request_.body.append(data.data(), n);
  remaining_bytes_ -= n;
  if (remaining_bytes_ == 0) state_ = State::kComplete;
  return n;
}

size_t RequestParser::feed_chunked(std::string_view data) {
  switch (chunk_state_) {
    case ChunkState::kSize:
    case ChunkState::kTrailer: {
      const void* lf = std::memchr(data.data(), '\n', data.size());
      size_t piece = lf ? static_cast<size_t>(static_cast<const char*>(lf) - data.data()) : data.size();
      std::string_view bytes = data.substr(0, piece);
      if (chunk_state_ == ChunkState::kSize) {
        if (!append_line(bytes, limits_.chunk_line_bytes_max, 400, "chunk-size line too long")) return piece;
      } else {
        if (header_bytes_ + line_.size() + bytes.size() > limits_.header_bytes_max) {
          fail(431, "trailer section too large");
          return piece;
        }
        line_.append(bytes);
      }
      if (!lf) return piece;
      if (chunk_state_ == ChunkState::kSize) {
        on_chunk_size_line();
      } else {
        header_bytes_ += line_.size() + 1;
        std::string_view line;
        if (line_content(&line)) {
          if (line.empty()) state_ = State::kComplete;
          else if (is_ows(line.front())) fail(400, "obsolete line folding in trailer");
          else if (++header_count_ > limits_.header_count_max) fail(431, "too many trailer fields");
          else parse_field(line, /*trailer=*/true);
        }
      }
      line_.clear();
      return piece + 1;
    }
    case ChunkState::kData: {
      size_t n = data.size() < remaining_bytes_ ? data.size() : static_cast<size_t>(remaining_bytes_);
      request_.body.append(data.data(), n);
      remaining_bytes_ -= n;
      if (remaining_bytes_ == 0) chunk_state_ = ChunkState::kDataCr;
      return n;
    }
    case ChunkState::kDataCr:
      if (data[0] != '\r') fail(400, "chunk data not followed by CRLF");
      else chunk_state_ = ChunkState::kDataLf;
      return 1;
    case ChunkState::kDataLf:
      if (data[0] != '\n') fail(400, "chunk data not followed by CRLF");
      else chunk_state_ = ChunkState::kSize;
      return 1;
  }
  AGENT_UNREACHABLE();
}

bool RequestParser::on_chunk_size_line() {
  std::string_view line;
  if (!line_content(&line)) return false;
  size_t i = 0;
  uint64_t size = 0;
  while (i < line.size() && hex_digit(line[i]) >= 0) {
    if (i >= 16) {
      fail(400, "chunk size too long");
      return false;
    }
    size = size * 16 + static_cast<uint64_t>(hex_digit(line[i]));
    ++i;
  }
  if (i == 0) {
    fail(400, "invalid chunk size");
    return false;
  }
  // Optional chunk extensions: BWS ";" ... of visible bytes, which are ignored.
  std::string_view ext = line.substr(i);
  while (!ext.empty() && is_ows(ext.front())) ext.remove_prefix(1);
  if (!ext.empty()) {
    if (ext.front() != ';') {
      fail(400, "invalid chunk size");
      return false;
    }
    for (char c : ext) {
      if (!is_field_value_byte(static_cast<unsigned char>(c))) {
        fail(400, "invalid byte in chunk extension");
        return false;
      }
    }
  }
  if (size > limits_.body_bytes_max - request_.body.size()) {
    fail(413, "request body too large");
    return false;
  }
  if (size == 0) {
    chunk_state_ = ChunkState::kTrailer;
  } else {
    remaining_bytes_ = size;
    chunk_state_ = ChunkState::kData;
  }
  return true;
}

}  // namespace http
