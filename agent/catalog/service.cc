// See service.h.
#include "agent/catalog/service.h"

#include <set>

#include "agent/config/parse.h"
#include "agent/http/message.h"

namespace catalog {
namespace {

// A registration's error; the message is bounded (it may quote member names from the request).
base::Status bad(const std::string& message) {
  return base::error(base::Code::kInvalidArgument, "%s", message.substr(0, 512).c_str());
}

// A JSON object may name a member twice; cJSON keeps both, and which one counts would differ
// between members read by a loop (the last) and by lookup (the first). Refused instead, naming
// it: `case_insensitive` as Consul's decoder matches member names (Meta keys are exact).
// A member name as matched: ASCII case folded and '_' dropped, so Go's case-insensitive match
// and Consul's snake_case spellings (its config files' "check_id", "success_before_passing",
// which its HTTP API also translates) name the same member.
std::string member_key(std::string_view name) {
  std::string k;
  for (char ch : name) {
    if (ch != '_') k += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  return k;
}

bool member_is(std::string_view name, std::string_view member) { return member_key(name) == member_key(member); }

// Member names of a registration or check object match by member_key; of Meta or Header, exactly.
base::Status unique_members(const cJSON* obj, std::string_view where, bool case_insensitive) {
  std::set<std::string> seen;
  const cJSON* m = nullptr;
  cJSON_ArrayForEach(m, obj) {
    std::string k = m->string != nullptr ? m->string : "";
    if (case_insensitive) k = member_key(k);
    if (!seen.insert(k).second) {
      return bad(std::string(where) + " member \"" + std::string(m->string != nullptr ? m->string : "").substr(0, 64) + "\" is given twice");
    }
  }
  return base::Status::ok();
}

bool is_label_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool all_label_bytes(std::string_view s) {
  for (char c : s) {
    if (!is_label_byte(c)) return false;
  }
  return true;
}

bool has_control(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

// The members a registration may have, as Go's encoding/json would match them.
enum class Member { kId, kName, kTags, kAddress, kPort, kMeta, kIgnored, kKind, kChecks, kUnknown };

Member member_of(const char* name) {
  struct Known {
    const char* name;
    Member m;
  } static const known[] = {
      {"ID", Member::kId},           {"Name", Member::kName},
      {"Tags", Member::kTags},       {"Address", Member::kAddress},
      {"Port", Member::kPort},       {"Meta", Member::kMeta},
      {"EnableTagOverride", Member::kIgnored}, {"Weights", Member::kIgnored},
      {"TaggedAddresses", Member::kIgnored},   {"Kind", Member::kKind},
      {"Check", Member::kChecks},    {"Checks", Member::kChecks},
  };
  for (const Known& k : known) {
    if (member_is(name, k.name)) return k.m;
  }
  return Member::kUnknown;
}

base::Status check_address(const std::string& text, hal::SockAddr* out) {
  *out = hal::SockAddr{};
  if (text.empty()) return base::Status::ok();
  // A literal only: no port, no brackets, no Unix path, no name to resolve.
  const bool v6 = text.find(':') != std::string::npos;
  if (text.front() == '[' || text.front() == '/' || text.rfind("unix:", 0) == 0) {
    return bad(std::string("Address \"") + text + "\" is not an IPv4 or IPv6 address");
  }
  base::Result<hal::SockAddr> a = hal::SockAddr::parse(text, 1);
  if (!a.is_ok() || a->port != 1 || a->family != (v6 ? hal::AddrFamily::kIpv6 : hal::AddrFamily::kIpv4)) {
    return bad(std::string("Address \"") + text + "\" is not an IPv4 or IPv6 address (names are not resolved)");
  }
  *out = *a;
  out->port = 0;
  return base::Status::ok();
}

// "http://10.0.0.5:8080/health?x=1" -> the address (port 80 by default) and "/health?x=1".
base::Status parse_http_url(const std::string& url, hal::SockAddr* addr, std::string* target) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind("https://", 0) == 0) return bad(std::string("check HTTP \"") + url.substr(0, 200) + "\": https checks are not supported yet");
  if (url.rfind(kScheme, 0) != 0) return bad(std::string("check HTTP \"") + url.substr(0, 200) + "\": want an http:// URL");
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find_first_of("/?");
  const std::string authority = rest.substr(0, slash);
  *target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (target->front() == '?') target->insert(0, "/");
  for (char ch : *target) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7F || ch == '#') {
      return bad(std::string("check HTTP \"") + url.substr(0, 200) + "\": the path has spaces, control characters or a fragment");
    }
  }
  base::Result<hal::SockAddr> a = hal::SockAddr::parse(authority, 80);
  if (authority.empty() || authority.find('@') != std::string::npos || !a.is_ok() ||
      (a->family != hal::AddrFamily::kIpv4 && a->family != hal::AddrFamily::kIpv6) || a->port == 0) {
    return bad(std::string("check HTTP \"") + url.substr(0, 200) + "\": the host must be an IP address (names are not resolved), with an optional port");
  }
  *addr = *a;
  return base::Status::ok();
}

// One check definition (service.h).
base::Status decode_check(const cJSON* c, CheckDef* out) {
  if (!cJSON_IsObject(c)) return bad("a check must be a JSON object");
  AGENT_TRY(unique_members(c, "check", true));
  static const char* const kOtherKinds[] = {
      "HTTP", "UDP", "GRPC", "GRPCUseTLS", "H2PING", "H2PingUseTLS", "Method", "Header", "Body", "TLSSkipVerify", "TLSServerName", "DockerContainerID", "Shell",
      "AliasNode", "AliasService", "OSService", "DeregisterCriticalServiceAfter", "FailuresBeforeWarning", "OutputMaxSize", "DisableRedirects"};
  bool have_ttl = false;
  std::string interval_text, timeout_text;
  std::string unknown;
  const cJSON* m = nullptr;
  cJSON_ArrayForEach(m, c) {
    const std::string key = m->string != nullptr ? m->string : "";
    auto text = [&](std::string* to, size_t max) -> base::Status {
      if (!cJSON_IsString(m)) return bad(std::string("check ") + key + " must be a string");
      *to = m->valuestring;
      if (to->size() > max || has_control(*to)) return bad(std::string("check ") + key + " is too long or has control characters");
      return base::Status::ok();
    };
    if (member_is(key, "CheckID") || member_is(key, "ID")) {
      AGENT_TRY(text(&out->id, kCheckIdBytesMax));
    } else if (member_is(key, "Name")) {
      AGENT_TRY(text(&out->name, kCheckTextBytesMax));
    } else if (member_is(key, "Notes")) {
      AGENT_TRY(text(&out->notes, kCheckTextBytesMax));
    } else if (member_is(key, "Status")) {
      std::string st;
      AGENT_TRY(text(&st, 16));
      if (!st.empty() && !parse_check_status(st, &out->initial)) {
        return bad(std::string("check Status \"") + st + "\": want passing, warning or critical");
      }
    } else if (member_is(key, "TTL")) {
      if (cJSON_IsNull(m)) continue;
      std::string ttl;
      AGENT_TRY(text(&ttl, 32));
      if (!config::parse_duration(ttl, &out->ttl_ns) || out->ttl_ns < 100'000'000 || out->ttl_ns > 86400'000'000'000) {
        return bad(std::string("check TTL \"") + ttl + "\": want a duration from 100ms to 24h, like \"10s\"");
      }
      have_ttl = true;
    } else if (member_is(key, "HTTP")) {
      if (!cJSON_IsNull(m)) AGENT_TRY(text(&out->http, 1024));
    } else if (member_is(key, "Method")) {
      if (!cJSON_IsNull(m)) AGENT_TRY(text(&out->method, 8));
    } else if (member_is(key, "Body")) {
      if (!cJSON_IsNull(m)) {
        if (!cJSON_IsString(m) || std::string_view(m->valuestring).size() > 4096) return bad("check Body must be a string of at most 4 KiB");
        out->body = m->valuestring;
      }
    } else if (member_is(key, "Header")) {
      if (cJSON_IsNull(m)) continue;
      if (!cJSON_IsObject(m)) return bad("check Header must be an object of string lists, like {\"X-A\": [\"b\"]}");
      const cJSON* h = nullptr;
      std::vector<std::string> seen;
      cJSON_ArrayForEach(h, m) {
        const std::string name = h->string != nullptr ? h->string : "";
        for (const std::string& n : seen) {
          if (http::equals_ignore_case(n, name)) return bad(std::string("check Header \"") + name.substr(0, 64) + "\" is given twice");
        }
        seen.push_back(name);
        if (seen.size() > 16) return bad("check Header: at most 16 fields");
        bool token = !name.empty() && name.size() <= 64;
        for (char ch : name) token = token && (is_label_byte(ch) || ch == '.');
        if (!token || !cJSON_IsArray(h)) return bad(std::string("check Header \"") + name.substr(0, 64) + "\": want a field name and a list of strings");
        const cJSON* v = nullptr;
        size_t values = 0;
        cJSON_ArrayForEach(v, h) {
          if (!cJSON_IsString(v) || has_control(v->valuestring) || std::string_view(v->valuestring).size() > 1024 || ++values > 8) {
            return bad(std::string("check Header \"") + name + "\": at most 8 values of 1 KiB without control characters");
          }
          out->headers.emplace_back(name, v->valuestring);
        }
      }
    } else if (member_is(key, "SuccessBeforePassing") || member_is(key, "FailuresBeforeCritical")) {
      int64_t n = -1;
      if (!http::json_get_i64(c, key, &n) || n < 0 || n > 100) return bad(std::string("check ") + key + " must be a whole number from 0 to 100");
      if (member_is(key, "SuccessBeforePassing")) {
        out->success_before_passing = n;
      } else {
        out->failures_before_critical = n;
      }
    } else if (member_is(key, "Args") || member_is(key, "ScriptArgs")) {
      if (cJSON_IsNull(m)) continue;
      if (!out->args.empty()) return bad("check: Args and ScriptArgs are the same member; give one");
      const std::string want = std::string("check ") + key + " must be a list of 1 to " + std::to_string(kCheckArgsMax) +
                               " strings (the program first), each at most 4 KiB without control characters";
      if (!cJSON_IsArray(m)) return bad(want);
      const cJSON* a = nullptr;
      cJSON_ArrayForEach(a, m) {
        if (!cJSON_IsString(a) || has_control(a->valuestring) || std::string_view(a->valuestring).size() > 4096 ||
            out->args.size() == kCheckArgsMax) {
          return bad(want);
        }
        out->args.emplace_back(a->valuestring);
      }
      if (out->args.empty() || out->args[0].empty()) return bad(want);
    } else if (member_is(key, "TCP")) {
      if (!cJSON_IsNull(m)) AGENT_TRY(text(&out->tcp, 128));
    } else if (member_is(key, "Interval")) {
      if (!cJSON_IsNull(m)) AGENT_TRY(text(&interval_text, 32));
    } else if (member_is(key, "Timeout")) {
      if (!cJSON_IsNull(m)) AGENT_TRY(text(&timeout_text, 32));
    } else {
      bool other = false;
      for (const char* k : kOtherKinds) other = other || member_is(key, k);
      if (other && !cJSON_IsNull(m) && !(cJSON_IsString(m) && m->valuestring[0] == '\0') && !cJSON_IsFalse(m)) {
        return bad(std::string("check ") + key + ": only TTL, TCP, HTTP and Args (exec) checks are supported yet");
      }
      if (!other) unknown += (unknown.empty() ? "" : ", ") + key.substr(0, 64);
    }
  }
  if (!unknown.empty()) return bad(std::string("check: unknown member(s): ") + unknown);
  if (int{have_ttl} + int{!out->tcp.empty()} + int{!out->http.empty()} + int{!out->args.empty()} != 1) {
    return bad("a check needs exactly one of TTL, TCP, HTTP and Args (only those kinds are supported yet)");
  }
  if (have_ttl && (!interval_text.empty() || !timeout_text.empty() || out->success_before_passing != 0 ||
                   out->failures_before_critical != 0)) {
    return bad("check: Interval, Timeout, SuccessBeforePassing and FailuresBeforeCritical apply to TCP, HTTP and Args checks, not TTL ones");
  }
  if (out->http.empty() && (!out->method.empty() || !out->headers.empty() || !out->body.empty())) {
    return bad("check: Method, Header and Body apply to HTTP checks only");
  }
  if (!out->http.empty()) {
    AGENT_TRY(parse_http_url(out->http, &out->tcp_addr, &out->http_target));
    if (out->method.empty()) out->method = "GET";
    if (out->method != "GET" && out->method != "HEAD" && out->method != "POST" && out->method != "PUT") {
      return bad(std::string("check Method \"") + out->method + "\": want GET, HEAD, POST or PUT");
    }
  }
  if (!out->tcp.empty()) {
    base::Result<hal::SockAddr> a = hal::SockAddr::parse(out->tcp);
    if (!a.is_ok() || (a->family != hal::AddrFamily::kIpv4 && a->family != hal::AddrFamily::kIpv6) || a->port == 0) {
      return bad(std::string("check TCP \"") + out->tcp + "\": want an IP address and port, like \"10.0.0.5:8080\" or \"[fd00::5]:8080\"");
    }
    out->tcp_addr = *a;
  }
  if (!have_ttl) {
    if (interval_text.empty()) return bad("a TCP, HTTP or Args check needs an Interval");
    if (!config::parse_duration(interval_text, &out->interval_ns) || out->interval_ns < 1'000'000'000 ||
        out->interval_ns > 86400'000'000'000) {
      return bad(std::string("check Interval \"") + interval_text + "\": want a duration from 1s to 24h");
    }
    out->timeout_ns = 10'000'000'000;
    if (!timeout_text.empty() && (!config::parse_duration(timeout_text, &out->timeout_ns) ||
                                  out->timeout_ns < 100'000'000 || out->timeout_ns > 300'000'000'000)) {
      return bad(std::string("check Timeout \"") + timeout_text + "\": want a duration from 100ms to 5m");
    }
  }
  if (has_control(out->id) || out->id.find('/') != std::string::npos) {
    return bad(std::string("CheckID \"") + out->id.substr(0, 80) + "\" must have no '/' or control characters");
  }
  return base::Status::ok();
}

}  // namespace

std::string_view check_status_name(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPassing:
      return "passing";
    case CheckStatus::kWarning:
      return "warning";
    case CheckStatus::kCritical:
      break;
  }
  return "critical";
}

bool parse_check_status(std::string_view text, CheckStatus* out) {
  for (CheckStatus s : {CheckStatus::kPassing, CheckStatus::kWarning, CheckStatus::kCritical}) {
    if (text == check_status_name(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

base::Result<Service> decode_registration(std::string_view body, size_t bytes_max) {
  AGENT_ASSIGN_OR_RETURN(http::Json doc, http::Json::parse(body, bytes_max));
  const cJSON* root = doc.get();
  if (!cJSON_IsObject(root)) return base::error(base::Code::kInvalidArgument, "the registration must be a JSON object");
  AGENT_TRY(unique_members(root, "the registration's", true));
  Service s;
  bool have_name = false;
  std::string unknown;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, root) {
    const std::string key = item->string != nullptr ? item->string : "";
    switch (member_of(key.c_str())) {
      case Member::kId:
        if (!cJSON_IsString(item)) return bad(key + " must be a string");
        s.id = item->valuestring;
        break;
      case Member::kName:
        if (!cJSON_IsString(item)) return bad(key + " must be a string");
        s.name = item->valuestring;
        have_name = true;
        break;
      case Member::kTags: {
        if (cJSON_IsNull(item)) break;
        if (!cJSON_IsArray(item)) return bad(key + " must be an array of strings");
        const cJSON* t = nullptr;
        cJSON_ArrayForEach(t, item) {
          if (!cJSON_IsString(t)) return bad(key + " must be an array of strings");
          if (s.tags.size() == kTagsMax) return bad(key + ": at most 64 tags");
          const std::string tag = t->valuestring;
          if (tag.empty() || tag.size() > kTagBytesMax || has_control(tag)) {
            return bad(std::string("tag \"") + tag.substr(0, 64) + "\" must be 1 to 255 bytes without control characters");
          }
          s.tags.push_back(tag);
        }
        break;
      }
      case Member::kAddress:
        if (!cJSON_IsString(item)) return bad(key + " must be a string");
        s.address = item->valuestring;
        break;
      case Member::kPort: {
        int64_t port = -1;
        if (!http::json_get_i64(root, key, &port) || port < 0 || port > 65535) return bad(key + " must be a whole number from 0 to 65535");
        s.port = static_cast<uint16_t>(port);
        break;
      }
      case Member::kMeta: {
        if (cJSON_IsNull(item)) break;
        if (!cJSON_IsObject(item)) return bad(key + " must be an object of strings");
        AGENT_TRY(unique_members(item, "Meta", false));
        const cJSON* m = nullptr;
        cJSON_ArrayForEach(m, item) {
          const std::string mk = m->string != nullptr ? m->string : "";
          if (!cJSON_IsString(m)) return bad(std::string("Meta \"") + mk + "\" must be a string");
          if (s.meta.size() == kMetaKeysMax) return bad(key + ": at most 64 keys");
          if (mk.empty() || mk.size() > kMetaKeyBytesMax || !all_label_bytes(mk)) {
            return bad(std::string("Meta key \"") + mk.substr(0, 64) + "\" must be 1 to 128 letters, digits, '-' or '_'");
          }
          if (http::equals_ignore_case(std::string_view(mk).substr(0, 7), "consul-")) return bad(std::string("Meta key \"") + mk + "\": the consul- prefix is reserved");
          const std::string v = m->valuestring;
          if (v.size() > kMetaValueBytesMax) return bad(std::string("Meta \"") + mk + "\": a value is at most 512 bytes");
          s.meta[mk] = v;
        }
        break;
      }
      case Member::kIgnored:
        break;
      case Member::kKind:
        if (!cJSON_IsString(item) || item->valuestring[0] != '\0') {
          return bad(key + ": only plain services are supported (Kind \"\")");
        }
        break;
      case Member::kChecks: {
        if (cJSON_IsNull(item)) break;
        const bool list = cJSON_IsArray(item);
        const cJSON* c = list ? item->child : item;
        for (; c != nullptr; c = list ? c->next : nullptr) {
          if (s.checks.size() == kChecksMax) return bad("at most 8 checks per service");
          CheckDef d;
          AGENT_TRY(decode_check(c, &d));
          s.checks.push_back(std::move(d));
        }
        break;
      }
      case Member::kUnknown:
        unknown += (unknown.empty() ? "" : ", ") + key.substr(0, 64);
        break;
    }
  }
  if (!unknown.empty()) return bad(std::string("unknown member(s): ") + unknown);
  if (!have_name || s.name.empty()) return base::error(base::Code::kInvalidArgument, "Name is required");
  if (s.name.size() > kServiceNameBytesMax || !all_label_bytes(s.name)) {
    return bad(std::string("Name \"") + s.name.substr(0, 80) + "\" must be 1 to 63 letters, digits, '-' or '_' (one DNS label)");
  }
  if (s.id.empty()) s.id = s.name;
  if (s.id.size() > kServiceIdBytesMax || s.id.find('/') != std::string::npos || has_control(s.id)) {
    return bad(std::string("ID \"") + s.id.substr(0, 80) + "\" must be 1 to 128 bytes without '/' or control characters");
  }
  AGENT_TRY(check_address(s.address, &s.ip));
  for (size_t i = 0; i < s.checks.size(); ++i) {
    CheckDef& d = s.checks[i];
    if (d.id.empty()) d.id = "service:" + s.id + (s.checks.size() > 1 ? ":" + std::to_string(i + 1) : "");
    if (d.name.empty()) d.name = "Service '" + s.name + "' check";
    for (size_t j = 0; j < i; ++j) {
      if (s.checks[j].id == d.id) return bad(std::string("two checks have the CheckID \"") + d.id + "\"");
    }
  }
  return s;
}

void fill_registration(http::Json& doc, cJSON* o, const Service& s) {
  if (!s.checks.empty()) {
    cJSON* checks = doc.add_array(o, "Checks");
    for (const CheckDef& d : s.checks) {
      cJSON* c = doc.add_object(checks, "");
      doc.add_string(c, "CheckID", d.id);
      doc.add_string(c, "Name", d.name);
      if (!d.notes.empty()) doc.add_string(c, "Notes", d.notes);
      if (d.ttl_ns != 0) {
        doc.add_string(c, "TTL", config::format_duration(d.ttl_ns));
      } else {
        if (!d.tcp.empty()) doc.add_string(c, "TCP", d.tcp);
        if (!d.args.empty()) {
          cJSON* args = doc.add_array(c, "Args");
          for (const std::string& a : d.args) doc.add_string(args, "", a);
        }
        if (!d.http.empty()) {
          doc.add_string(c, "HTTP", d.http);
          doc.add_string(c, "Method", d.method);
          if (!d.body.empty()) doc.add_string(c, "Body", d.body);
          if (!d.headers.empty()) {
            cJSON* h = doc.add_object(c, "Header");
            for (const auto& [name, value] : d.headers) {
              cJSON* list = cJSON_GetObjectItemCaseSensitive(h, name.c_str());
              if (list == nullptr) list = doc.add_array(h, name);
              doc.add_string(list, "", value);
            }
          }
        }
        doc.add_string(c, "Interval", config::format_duration(d.interval_ns));
        doc.add_string(c, "Timeout", config::format_duration(d.timeout_ns));
        if (d.success_before_passing != 0) doc.add_i64(c, "SuccessBeforePassing", d.success_before_passing);
        if (d.failures_before_critical != 0) doc.add_i64(c, "FailuresBeforeCritical", d.failures_before_critical);
      }
      doc.add_string(c, "Status", check_status_name(d.initial));
    }
  }
  doc.add_string(o, "ID", s.id);
  doc.add_string(o, "Name", s.name);
  cJSON* tags = doc.add_array(o, "Tags");
  for (const std::string& t : s.tags) doc.add_string(tags, "", t);
  if (!s.address.empty()) doc.add_string(o, "Address", s.address);
  doc.add_i64(o, "Port", s.port);
  cJSON* meta = doc.add_object(o, "Meta");
  for (const auto& [k, v] : s.meta) doc.add_string(meta, k, v);
}

void fill_agent_service(http::Json& doc, cJSON* o, const Service& s, std::string_view datacenter) {
  doc.add_string(o, "ID", s.id);
  doc.add_string(o, "Service", s.name);
  cJSON* tags = doc.add_array(o, "Tags");
  for (const std::string& t : s.tags) doc.add_string(tags, "", t);
  cJSON* meta = doc.add_object(o, "Meta");
  for (const auto& [k, v] : s.meta) doc.add_string(meta, k, v);
  doc.add_i64(o, "Port", s.port);
  doc.add_string(o, "Address", s.address);
  cJSON* w = doc.add_object(o, "Weights");
  doc.add_i64(w, "Passing", 1);
  doc.add_i64(w, "Warning", 1);
  doc.add_bool(o, "EnableTagOverride", false);
  doc.add_string(o, "Datacenter", datacenter);
}

}  // namespace catalog
