#include "agent/ctl/cmd_env.h"

#include <algorithm>
#include <cstdio>

#include "agent/ctl/ctl.h"
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

std::string json_text(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsString(v) && v->valuestring != nullptr) return v->valuestring;
  if (cJSON_IsNumber(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v->valuedouble);
    return buf;
  }
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
  return "";
}

// Consul's columnize: every column but the last padded to its widest cell, two spaces between.
void print_table(const std::vector<std::vector<std::string>>& rows, FILE* out) {
  if (rows.empty()) return;
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
}

int call_ok(const CmdEnv& env, const std::string& method, const std::string& target, http::ClientResponse* r) {
  auto resp = env.call(method, target, "", env.timeout);
  if (!resp.is_ok()) return kExitUnreachable;
  *r = std::move(resp).value();
  if (r->status != 200) {
    std::fprintf(env.err, "Error! %s\n", answer_error(*r).c_str());
    return kExitFailed;
  }
  return kExitOk;
}

int fetch_json(const CmdEnv& env, const std::string& target, const char* command, bool print_raw, http::Json* doc) {
  http::ClientResponse r;
  if (int rc = call_ok(env, "GET", target, &r); rc != kExitOk) return rc;
  if (print_raw) {
    std::fprintf(env.out, "%s\n", r.body.c_str());
    return kExitOk;
  }
  auto parsed = http::Json::parse(r.body, 64 << 20);
  if (!parsed.is_ok()) {
    std::fprintf(env.err, "agentctl %s: the agent's answer is not JSON: %s\n", command, parsed.status().message().c_str());
    return kExitFailed;
  }
  *doc = std::move(parsed).value();
  return -1;
}

}  // namespace ctl
