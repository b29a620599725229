#include "agent/ctl/cmd_env.h"

#include "agent/http/json.h"

namespace ctl {

bool split_cmd_flag(std::string_view arg, std::string* name, std::string* value, bool* has_value) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  const size_t eq = arg.find('=');
  *has_value = eq != std::string_view::npos;
  *name = std::string(arg.substr(0, eq));
  *value = *has_value ? std::string(arg.substr(eq + 1)) : "";
  return !name->empty();
}

namespace {

std::string escape_except(std::string_view s, bool keep_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string escape_key(std::string_view key) { return escape_except(key, true); }
std::string escape_query(std::string_view value) { return escape_except(value, false); }

std::string answer_error(const http::ClientResponse& r) {
  auto doc = http::Json::parse(r.body, 1 << 20);
  std::string msg;
  if (doc.is_ok() && http::json_get_string(doc->get(), "error", &msg)) return msg;
  std::string_view body = r.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) body.remove_suffix(1);
  bool printable = !body.empty() && body.size() <= 512;
  for (unsigned char c : body) printable = printable && c >= 0x20 && c != 0x7f;
  if (printable) return std::string(body);
  return "HTTP " + std::to_string(r.status);
}

}  // namespace ctl
