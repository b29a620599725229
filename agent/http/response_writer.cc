#include "agent/http/response_writer.h"

#include <cstdio>

namespace http {

namespace {

bool framing_field(std::string_view name) {
  return equals_ignore_case(name, "content-length") || equals_ignore_case(name, "transfer-encoding") ||
         equals_ignore_case(name, "connection") || equals_ignore_case(name, "date");
}

bool safe_value(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void append_decimal(uint64_t v, std::string* out) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  out->append(buf, static_cast<size_t>(n));
}

bool status_has_body(int status) { return !(status < 200 || status == 204 || status == 304); }

size_t write_head_common(const Response& response, const ResponseFraming& framing, std::string_view date,
                         std::string* out) {
  int status = (response.status >= 100 && response.status <= 999) ? response.status : 500;
  out->append("HTTP/1.1 ");
  append_decimal(static_cast<uint64_t>(status), out);
  out->push_back(' ');
  out->append(reason_phrase(status));
  out->append("\r\n");
  if (!date.empty()) {
    out->append("Date: ");
    out->append(date);
    out->append("\r\n");
  }
  size_t dropped = 0;
  for (const Header& h : response.headers) {
    if (framing_field(h.name)) continue;
    if (!is_token(h.name) || !safe_value(h.value)) {
      ++dropped;
      continue;
    }
    out->append(h.name);
    out->append(": ");
    out->append(h.value);
    out->append("\r\n");
  }
  if (!framing.keep_alive) out->append("Connection: close\r\n");
  else if (framing.http10_client) out->append("Connection: keep-alive\r\n");
  return dropped;
}

}  // namespace

size_t write_response(const Response& response, const ResponseFraming& framing, std::string_view date,
                      std::string* out) {
  size_t dropped = write_head_common(response, framing, date, out);
  bool body_allowed = status_has_body(response.status);
  if (body_allowed) {
    out->append("Content-Length: ");
    append_decimal(response.body.size(), out);
    out->append("\r\n");
  }
  out->append("\r\n");
  if (body_allowed && !framing.head_request) out->append(response.body);
  return dropped;
}

size_t write_chunked_head(const Response& response, const ResponseFraming& framing, std::string_view date,
                          std::string* out) {
  size_t dropped = write_head_common(response, framing, date, out);
  if (status_has_body(response.status) && !framing.http10_client) out->append("Transfer-Encoding: chunked\r\n");
  out->append("\r\n");
  return dropped;
}

void write_chunk(std::string_view data, std::string* out) {
  if (data.empty()) return;
  char buf[20];
  int n = std::snprintf(buf, sizeof buf, "%zx\r\n", data.size());
  out->append(buf, static_cast<size_t>(n));
  out->append(data);
  out->append("\r\n");
}

void write_last_chunk(std::string* out) { out->append("0\r\n\r\n"); }

}  // namespace http
