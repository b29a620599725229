// Text forms of config values. Every parser walks its input once with explicit bounds and
// overflow checks; none allocates except the formatters.
#include "agent/config/parse.h"

#include <cstdio>

namespace config {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f'); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Reads digits at text[*pos...] into *out (non-negative). False on no digits or overflow.
bool read_digits(std::string_view text, size_t* pos, int64_t* out) {
  size_t start = *pos;
  int64_t v = 0;
  while (*pos < text.size() && is_digit(text[*pos])) {
    int d = text[*pos] - '0';
    if (v > (INT64_MAX - d) / 10) return false;
    v = v * 10 + d;
    ++*pos;
  }
  if (*pos == start) return false;
  *out = v;
  return true;
}

bool mul_ok(int64_t a, int64_t b, int64_t* out) {
  if (a != 0 && b > INT64_MAX / a) return false;
  *out = a * b;
  return true;
}

}  // namespace

bool parse_bool(std::string_view text, bool* out) {
  static constexpr std::string_view kTrue[] = {"true", "1", "yes", "on"};
  static constexpr std::string_view kFalse[] = {"false", "0", "no", "off"};
  for (auto t : kTrue) {
    if (iequals(text, t)) {
      *out = true;
      return true;
    }
  }
  for (auto f : kFalse) {
    if (iequals(text, f)) {
      *out = false;
      return true;
    }
  }
  return false;
}

bool parse_int(std::string_view text, int64_t* out) {
  bool negative = !text.empty() && text[0] == '-';
  size_t pos = negative ? 1 : 0;
  int64_t v = 0;
  if (!read_digits(text, &pos, &v) || pos != text.size()) return false;
  *out = negative ? -v : v;
  return true;
}

std::string env_lookup(const std::vector<std::string>& environment, std::string_view name) {
  for (const auto& kv : environment) {
    if (kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 && kv[name.size()] == '=') {
      return kv.substr(name.size() + 1);
    }
  }
  return "";
}

bool parse_duration(std::string_view text, int64_t* ns) {
  if (text == "0") {
    *ns = 0;
    return true;
  }
  struct Unit {
    std::string_view name;
    int64_t ns;
  };
  // Longest names first so "ms" is not read as "m" followed by garbage.
  static constexpr Unit kUnits[] = {{"ns", 1},
                                    {"us", 1000},
                                    {"ms", 1000000},
                                    {"s", 1000000000},
                                    {"m", 60LL * 1000000000},
                                    {"h", 3600LL * 1000000000}};
  size_t pos = 0;
  int64_t total = 0;
  if (text.empty()) return false;
  while (pos < text.size()) {
    int64_t n = 0;
    if (!read_digits(text, &pos, &n)) return false;
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(pos, u.name.size()) == u.name &&
          (unit == nullptr || u.name.size() > unit->name.size())) {
        unit = &u;
      }
    }
    if (unit == nullptr) return false;
    pos += unit->name.size();
    int64_t part = 0;
    if (!mul_ok(n, unit->ns, &part) || total > INT64_MAX - part) return false;
    total += part;
  }
  *ns = total;
  return true;
}

std::string format_duration(int64_t ns) {
  if (ns <= 0) return "0s";
  struct Unit {
    const char* name;
    int64_t ns;
  };
  static constexpr Unit kUnits[] = {{"h", 3600LL * 1000000000},
                                    {"m", 60LL * 1000000000},
                                    {"s", 1000000000},
                                    {"ms", 1000000},
                                    {"us", 1000},
                                    {"ns", 1}};
  std::string out;
  char buf[32];
  for (const Unit& u : kUnits) {
    int64_t n = ns / u.ns;
    ns %= u.ns;
    if (n == 0) continue;
    std::snprintf(buf, sizeof buf, "%lld%s", static_cast<long long>(n), u.name);
    out += buf;
  }
  return out;
}

bool parse_bytes(std::string_view text, int64_t* out) {
  size_t pos = 0;
  int64_t n = 0;
  if (!read_digits(text, &pos, &n)) return false;
  std::string_view suffix = text.substr(pos);
  int64_t mult = 1;
  if (suffix.empty() || suffix == "B")
    mult = 1;
  else if (suffix == "KiB")
    mult = 1LL << 10;
  else if (suffix == "MiB")
    mult = 1LL << 20;
  else if (suffix == "GiB")
    mult = 1LL << 30;
  else
    return false;
  return mul_ok(n, mult, out);
}

std::string format_bytes(int64_t bytes) {
  char buf[32];
  if (bytes > 0 && bytes % (1LL << 30) == 0) {
    std::snprintf(buf, sizeof buf, "%lldGiB", static_cast<long long>(bytes >> 30));
  } else if (bytes > 0 && bytes % (1LL << 20) == 0) {
    std::snprintf(buf, sizeof buf, "%lldMiB", static_cast<long long>(bytes >> 20));
  } else if (bytes > 0 && bytes % (1LL << 10) == 0) {
    std::snprintf(buf, sizeof buf, "%lldKiB", static_cast<long long>(bytes >> 10));
  } else {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(bytes));
  }
  return buf;
}

bool is_ipv4(std::string_view text) {
  size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= text.size() || text[pos] != '.') return false;
      ++pos;
    }
    size_t start = pos;
    int v = 0;
    while (pos < text.size() && is_digit(text[pos]) && pos - start < 3) {
      v = v * 10 + (text[pos] - '0');
      ++pos;
    }
    size_t len = pos - start;
    if (len == 0 || v > 255 || (len > 1 && text[start] == '0')) return false;
  }
  return pos == text.size();
}

bool is_ipv6(std::string_view text) {
  if (text.size() < 2 || text.size() > 45) return false;
  int groups = 0;
  bool double_colon = false;
  size_t pos = 0;
  if (text.substr(0, 2) == "::") {
    double_colon = true;
    pos = 2;
    if (pos == text.size()) return true;
  } else if (text[0] == ':') {
    return false;
  }
  while (pos < text.size()) {
    // An embedded IPv4 address may end the text, worth two groups.
    size_t end = text.find(':', pos);
    std::string_view piece =
        text.substr(pos, end == std::string_view::npos ? text.size() - pos : end - pos);
    if (end == std::string_view::npos && piece.find('.') != std::string_view::npos) {
      if (!is_ipv4(piece)) return false;
      groups += 2;
      pos = text.size();
      break;
    }
    if (piece.empty() || piece.size() > 4) return false;
    for (char c : piece) {
      if (!is_hex(c)) return false;
    }
    ++groups;
    pos += piece.size();
    if (pos == text.size()) break;
    // At a ':'.
    ++pos;
    if (pos < text.size() && text[pos] == ':') {
      if (double_colon) return false;
      double_colon = true;
      ++pos;
      if (pos == text.size()) break;
    } else if (pos == text.size()) {
      return false;  // a trailing single ':'
    }
  }
  return double_colon ? groups < 8 : groups == 8;
}

bool is_dns_label(std::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  if (text.front() == '-' || text.back() == '-') return false;
  for (char c : text) {
    char l = lower(c);
    if (!((l >= 'a' && l <= 'z') || is_digit(c) || c == '-')) return false;
  }
  return true;
}

bool is_dns_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return false;
  size_t pos = 0;
  while (true) {
    size_t dot = text.find('.', pos);
    std::string_view label =
        text.substr(pos, dot == std::string_view::npos ? text.size() - pos : dot - pos);
    if (!is_dns_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    pos = dot + 1;
  }
}

bool is_address(std::string_view text, std::string* why) {
  std::string_view host = text;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      *why = "unclosed '[' in IPv6 address";
      return false;
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        *why = "text after ']' is not \":port\"";
        return false;
      }
      port = rest.substr(1);
      has_port = true;
    }
    if (!is_ipv6(host)) {
      *why = "not an IPv6 address inside [ ]";
      return false;
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) {
        *why = "an IPv6 address needs brackets: [addr]:port";
        return false;
      }
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (!is_ipv4(host) && !is_dns_name(host)) {
      *why = "host is neither an IPv4 address nor a DNS name";
      return false;
    }
  }
  if (has_port) {
    int64_t p = 0;
    if (!parse_int(port, &p) || p < 1 || p > 65535 || port[0] == '-') {
      *why = "port must be an integer 1..65535";
      return false;
    }
  }
  return true;
}

bool base64_decoded_bytes(std::string_view text, size_t* out) {
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c);
    if (c == '=') {
      if (i + 2 < text.size()) return false;  // padding only in the last two places
      ++pad;
    } else if (pad > 0 || !(alnum || c == '+' || c == '/')) {
      return false;
    }
  }
  *out = text.size() / 4 * 3 - pad;
  return true;
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string quote(std::string_view text, size_t chars_max) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : text) {
    if (n++ == chars_max) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace config
