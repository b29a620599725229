#include "agent/http/message.h"

#include <cstdio>

#include "agent/http/json.h"

namespace http {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (equals_ignore_case(h.name, name)) return &h.value;
  }
  return nullptr;
}

const std::string* Request::query_value(std::string_view name) const {
  for (const auto& kv : query) {
    if (kv.first == name) return &kv.second;
  }
  return nullptr;
}

Response& Response::set_header(std::string name, std::string value) {
  for (Header& h : headers) {
    if (equals_ignore_case(h.name, name)) {
      h.value = std::move(value);
      return *this;
    }
  }
  headers.push_back(Header{std::move(name), std::move(value)});
  return *this;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.push_back(Header{"Content-Type", "application/json"});
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view message) {
  Json doc = Json::object();
  doc.add_string("error", message);
  auto text = doc.dump();
  // Building a two-member object fails only when memory is gone or the message holds a NUL;
  // fall back to a fixed body rather than sending nothing.
  return json(status, text.is_ok() ? std::move(text).value() : std::string("{\"error\":\"internal\"}"));
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.push_back(Header{"Content-Type", "text/plain; charset=utf-8"});
  r.body = std::move(body);
  return r;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

base::Status percent_decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) {
        return base::error(base::Code::kInvalidArgument, "truncated percent-escape at %zu", i);
      }
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return base::error(base::Code::kInvalidArgument, "bad percent-escape at %zu", i);
      char d = static_cast<char>(hi * 16 + lo);
      if (d == '\0') return base::error(base::Code::kInvalidArgument, "percent-encoded NUL at %zu", i);
      out->push_back(d);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return base::Status::ok();
}

void append_http_date(base::WallTime t, std::string* out) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t secs = t.unix_sec();
  if (secs < 0) secs = 0;
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  const char* weekday = kDays[days % 7];  // 1970-01-01 was a Thursday
  // Civil date from days since the epoch (Howard Hinnant's days_from_civil, inverted).
  int64_t z = days + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", weekday, static_cast<int>(d),
                        kMonths[m - 1], static_cast<int>(y), static_cast<int>(rem / 3600),
                        static_cast<int>((rem / 60) % 60), static_cast<int>(rem % 60));
  if (n > 0) out->append(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
}

}  // namespace http
