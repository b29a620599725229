#include "agent/ctl/kv_cmd.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "agent/ctl/ctl.h"
#include "agent/http/json.h"
#include "hal/crypto.h"
#include "cJSON.h"

namespace ctl {

namespace {

// Consul's kv_max_value_size: a larger value would only be refused by the agent.
constexpr size_t kValueBytesMax = 512 * 1024;
// A watch round waits this long at the agent; the client allows a minute more (Consul's wait
// jitter is at most wait/16).
constexpr int64_t kWatchWaitSeconds = 300;

struct Entry {
  std::string key;
  std::string value;
  uint64_t flags = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t lock_index = 0;
  std::string session;
};

uint64_t u64_of(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsNumber(v) && v->valuedouble >= 0) return static_cast<uint64_t>(v->valuedouble);
  return 0;
}

// Parses /v1/kv's DirEntry array. False (and a line on err) if it is not one.
bool parse_entries(const std::string& body, std::vector<Entry>* out, FILE* err) {
  auto doc = http::Json::parse(body, 64 << 20);
  if (!doc.is_ok() || !cJSON_IsArray(doc->get())) {
    std::fprintf(err, "agentctl kv: the agent's answer is not a list of entries\n");
    return false;
  }
  const cJSON* e;
  cJSON_ArrayForEach(e, doc->get()) {
    Entry x;
    if (!http::json_get_string(e, "Key", &x.key)) {
      std::fprintf(err, "agentctl kv: an entry without a Key\n");
      return false;
    }
    std::string b64;
    if (http::json_get_string(e, "Value", &b64)) {
      auto v = hal::crypto::base64_decode(b64, kValueBytesMax * 2);
      if (!v.is_ok()) {
        std::fprintf(err, "agentctl kv: %s: the value is not base64\n", x.key.c_str());
        return false;
      }
      x.value = std::move(v).value();
    }
    x.flags = u64_of(e, "Flags");
    x.create_index = u64_of(e, "CreateIndex");
    x.modify_index = u64_of(e, "ModifyIndex");
    x.lock_index = u64_of(e, "LockIndex");
    http::json_get_string(e, "Session", &x.session);
    out->push_back(std::move(x));
  }
  return true;
}

// `consul kv get -detailed`: tabwriter with padding 6 after the longest name (11 characters).
void print_detailed(const Entry& e, FILE* out) {
  auto line = [out](const char* name, const std::string& v) { std::fprintf(out, "%-17s%s\n", name, v.c_str()); };
  line("CreateIndex", std::to_string(e.create_index));
  line("Flags", std::to_string(e.flags));
  line("Key", e.key);
  line("LockIndex", std::to_string(e.lock_index));
  line("ModifyIndex", std::to_string(e.modify_index));
  line("Session", e.session.empty() ? "-" : e.session);
  std::fprintf(out, "%-17s", "Value");
  std::fwrite(e.value.data(), 1, e.value.size(), out);
  std::fputc('\n', out);
}

void print_value_line(const std::string& v, FILE* out) {
  std::fwrite(v.data(), 1, v.size(), out);
  std::fputc('\n', out);
}

// Parsed flags of a kv subcommand: booleans, values, and the remaining words.
struct Flags {
  bool recurse = false, keys = false, detailed = false, stale = false, consistent = false, cas = false;
  bool has_separator = false, has_modify_index = false, has_flags = false, has_count = false;
  std::string separator;
  uint64_t modify_index = 0, flags = 0, count = 0;
  std::vector<std::string> words;
};

bool parse_number(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Reads the flags `allowed` (names) from args; prints the problem and returns false otherwise.
bool parse_flags(const std::vector<std::string>& args, std::initializer_list<std::string_view> allowed, const char* cmd,
                 Flags* f, FILE* err) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name, value;
    bool has_value = false;
    if (!split_cmd_flag(args[i], &name, &value, &has_value)) {
      f->words.push_back(args[i]);
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::fprintf(err, "agentctl kv %s: unknown flag -%s\n", cmd, name.c_str());
      return false;
    }
    bool* boolean = name == "recurse"      ? &f->recurse
                    : name == "keys"       ? &f->keys
                    : name == "detailed"   ? &f->detailed
                    : name == "stale"      ? &f->stale
                    : name == "consistent" ? &f->consistent
                    : name == "cas"        ? &f->cas
                                           : nullptr;
    if (boolean != nullptr) {
      if (has_value && value != "true" && value != "false") {
        std::fprintf(err, "agentctl kv %s: -%s takes no value (or true/false)\n", cmd, name.c_str());
        return false;
      }
      *boolean = !has_value || value == "true";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        std::fprintf(err, "agentctl kv %s: -%s needs a value\n", cmd, name.c_str());
        return false;
      }
      value = args[++i];
    }
    if (name == "separator") {
      f->has_separator = true;
      f->separator = value;
      continue;
    }
    uint64_t* number = name == "modify-index" ? &f->modify_index : name == "flags" ? &f->flags : &f->count;
    bool* present = name == "modify-index" ? &f->has_modify_index : name == "flags" ? &f->has_flags : &f->has_count;
    if (!parse_number(value, number)) {
      std::fprintf(err, "agentctl kv %s: -%s: want a whole number, got \"%s\"\n", cmd, name.c_str(), value.c_str());
      return false;
    }
    *present = true;
  }
  return true;
}

// Calls the agent; kExitOk with the answer in *r, or the exit status to return.
int call(const CmdEnv& env, const std::string& method, const std::string& target, std::string body,
         base::Duration timeout, http::ClientResponse* r) {
  auto resp = env.call(method, target, std::move(body), timeout);
  if (!resp.is_ok()) return kExitUnreachable;
  *r = std::move(resp).value();
  return kExitOk;
}

int fail(const CmdEnv& env, const http::ClientResponse& r) {
  std::fprintf(env.err, "Error! %s\n", answer_error(r).c_str());
  return kExitFailed;
}

int kv_get(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage =
      "usage: agentctl kv get KEY [-recurse] [-keys] [-separator S] [-detailed] [-stale|-consistent]\n";
  Flags f;
  if (!parse_flags(args, {"recurse", "keys", "separator", "detailed", "stale", "consistent"}, "get", &f, env.err)) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  if (f.words.size() > 1 || (f.words.empty() && !f.recurse && !f.keys)) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  if (f.stale && f.consistent) {
    std::fprintf(env.err, "agentctl kv get: -stale and -consistent exclude each other\n");
    return kExitUsage;
  }
  if (f.keys && f.detailed) {
    std::fprintf(env.err, "agentctl kv get: -detailed does not apply to -keys\n");
    return kExitUsage;
  }
  const std::string key = f.words.empty() ? "" : f.words[0];
  std::string target = "/v1/kv/" + escape_key(key);
  std::vector<std::string> params;
  if (f.keys) {
    params.push_back("keys");
    // consul kv get -keys cuts at "/" unless told otherwise; an empty separator lists every key.
    const std::string sep = f.has_separator ? f.separator : "/";
    if (!sep.empty()) params.push_back("separator=" + escape_query(sep));
  } else if (f.recurse) {
    params.push_back("recurse");
  }
  if (f.stale) params.push_back("stale");
  if (f.consistent) params.push_back("consistent");
  for (size_t i = 0; i < params.size(); ++i) target += (i == 0 ? "?" : "&") + params[i];
  http::ClientResponse r;
  if (int rc = call(env, "GET", target, "", env.timeout, &r); rc != kExitOk) return rc;
  const bool listing = f.keys || f.recurse;
  if (r.status == 404) {
    if (env.json) std::fprintf(env.out, listing ? "[]\n" : "null\n");
    if (listing) return kExitOk;  // nothing under the prefix: an empty answer, as consul prints
    std::fprintf(env.err, "Error! No key exists at: %s\n", key.c_str());
    return kExitFailed;
  }
  if (r.status != 200) return fail(env, r);
  if (env.json) {
    std::fprintf(env.out, "%s\n", r.body.c_str());
    return kExitOk;
  }
  if (f.keys) {
    auto doc = http::Json::parse(r.body, 64 << 20);
    if (!doc.is_ok() || !cJSON_IsArray(doc->get())) {
      std::fprintf(env.err, "agentctl kv get: the agent's answer is not a list of keys\n");
      return kExitFailed;
    }
    const cJSON* k;
    cJSON_ArrayForEach(k, doc->get()) {
      if (cJSON_IsString(k)) std::fprintf(env.out, "%s\n", k->valuestring);
    }
    return kExitOk;
  }
  std::vector<Entry> entries;
  if (!parse_entries(r.body, &entries, env.err)) return kExitFailed;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (f.detailed) {
      if (i > 0) std::fputc('\n', env.out);
      print_detailed(e, env.out);
    } else if (f.recurse) {
      std::fprintf(env.out, "%s:", e.key.c_str());
      print_value_line(e.value, env.out);
    } else {
      print_value_line(e.value, env.out);
    }
  }
  return kExitOk;
}

// Reads all of `in` up to the value limit. False (with a line on err) past it or on a read error.
bool read_value(FILE* in, std::string* out, FILE* err) {
  char buf[16 * 1024];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, in);
    out->append(buf, n);
    if (out->size() > kValueBytesMax) {
      std::fprintf(err, "agentctl kv put: the value on standard input is over 512 KiB (Consul's limit)\n");
      return false;
    }
    if (n < sizeof buf) break;
  }
  if (std::ferror(in)) {
    std::fprintf(err, "agentctl kv put: reading standard input failed\n");
    return false;
  }
  return true;
}

int kv_put(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage = "usage: agentctl kv put KEY [VALUE|-] [-flags N] [-cas [-modify-index N]]\n";
  Flags f;
  if (!parse_flags(args, {"flags", "cas", "modify-index"}, "put", &f, env.err)) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  if (f.words.empty() || f.words.size() > 2 || f.words[0].empty()) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  if (f.has_modify_index && !f.cas) {
    std::fprintf(env.err, "Cannot specify -modify-index without -cas!\n");
    return kExitUsage;
  }
  const std::string& key = f.words[0];
  std::string value;
  if (f.words.size() == 2) {
    if (f.words[1] == "-") {
      if (env.in == nullptr || !read_value(env.in, &value, env.err)) return kExitUsage;
    } else {
      value = f.words[1];
    }
  }
  if (value.size() > kValueBytesMax) {
    std::fprintf(env.err, "agentctl kv put: the value is over 512 KiB (Consul's limit)\n");
    return kExitUsage;
  }
  std::string target = "/v1/kv/" + escape_key(key);
  std::vector<std::string> params;
  if (f.has_flags) params.push_back("flags=" + std::to_string(f.flags));
  if (f.cas) params.push_back("cas=" + std::to_string(f.modify_index));
  for (size_t i = 0; i < params.size(); ++i) target += (i == 0 ? "?" : "&") + params[i];
  http::ClientResponse r;
  if (int rc = call(env, "PUT", target, std::move(value), env.timeout, &r); rc != kExitOk) return rc;
  if (r.status != 200) return fail(env, r);
  const bool ok = r.body == "true";
  if (env.json) {
    std::fprintf(env.out, "%s\n", ok ? "true" : "false");
  } else if (ok) {
    std::fprintf(env.out, "Success! Data written to: %s\n", key.c_str());
  }
  if (!ok) {
    std::fprintf(env.err, "Error! Did not write to %s: CAS failed\n", key.c_str());
    return kExitFailed;
  }
  return kExitOk;
}

int kv_delete(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage = "usage: agentctl kv delete KEY [-recurse] [-cas -modify-index N]\n";
  Flags f;
  if (!parse_flags(args, {"recurse", "cas", "modify-index"}, "delete", &f, env.err)) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  if (f.words.size() > 1 || (f.words.empty() && !f.recurse) || (!f.words.empty() && f.words[0].empty() && !f.recurse)) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  if (f.cas && f.recurse) {
    std::fprintf(env.err, "Cannot specify both -cas and -recurse!\n");
    return kExitUsage;
  }
  if (f.has_modify_index && !f.cas) {
    std::fprintf(env.err, "Cannot specify -modify-index without -cas!\n");
    return kExitUsage;
  }
  if (f.cas && !f.has_modify_index) {
    std::fprintf(env.err, "Must specify -modify-index with -cas!\n");
    return kExitUsage;
  }
  const std::string key = f.words.empty() ? "" : f.words[0];
  std::string target = "/v1/kv/" + escape_key(key);
  if (f.recurse) target += "?recurse";
  if (f.cas) target += "?cas=" + std::to_string(f.modify_index);
  http::ClientResponse r;
  if (int rc = call(env, "DELETE", target, "", env.timeout, &r); rc != kExitOk) return rc;
  if (r.status != 200) return fail(env, r);
  const bool ok = r.body == "true";
  if (env.json) {
    std::fprintf(env.out, "%s\n", ok ? "true" : "false");
  } else if (ok) {
    if (f.recurse) std::fprintf(env.out, "Success! Deleted keys with prefix: %s\n", key.c_str());
    else std::fprintf(env.out, "Success! Deleted key: %s\n", key.c_str());
  }
  if (!ok) {
    std::fprintf(env.err, "Error! Did not delete key %s: CAS failed\n", key.c_str());
    return kExitFailed;
  }
  return kExitOk;
}

// A blocking-query loop: prints the current state, then every change, until -count prints or
// forever (bounded by a very large round count, like `logs -f`).
int kv_watch(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage = "usage: agentctl kv watch KEY [-recurse] [-count N]\n";
  Flags f;
  if (!parse_flags(args, {"recurse", "count"}, "watch", &f, env.err)) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  if (f.words.size() > 1 || (f.words.empty() && !f.recurse) || (f.has_count && f.count == 0)) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  const std::string key = f.words.empty() ? "" : f.words[0];
  const std::string base_target = "/v1/kv/" + escape_key(key) + (f.recurse ? "?recurse&" : "?");
  uint64_t index = 0;
  uint64_t printed = 0;
  // What was printed last: an index that moved without a change here (a write elsewhere moves a
  // missing key's or an empty prefix's index) prints nothing, as Consul's watch plans compare.
  int last_status = 0;
  std::string last_body;
  for (uint64_t round = 0; round < 100000000; ++round) {
    std::string target = base_target + "index=" + std::to_string(index) + "&wait=" +
                         std::to_string(kWatchWaitSeconds) + "s";
    http::ClientResponse r;
    if (int rc = call(env, "GET", target, "", base::Duration::seconds(kWatchWaitSeconds + 60), &r); rc != kExitOk) {
      return rc;
    }
    if (r.status != 200 && r.status != 404) return fail(env, r);
    uint64_t new_index = 0;
    const std::string* h = r.header("x-consul-index");
    if (h == nullptr || !parse_number(*h, &new_index) || new_index == 0) {
      std::fprintf(env.err, "agentctl kv watch: the agent's answer has no X-Consul-Index\n");
      return kExitFailed;
    }
    // Print the first answer and every change (a wait that ended is not one).
    if (round == 0 || (new_index != index && (r.status != last_status || r.body != last_body))) {
      last_status = r.status;
      last_body = r.body;
      if (env.json) {
        std::fprintf(env.out, "%s\n", r.status == 404 ? (f.recurse ? "[]" : "null") : r.body.c_str());
      } else if (r.status == 404) {
        if (!f.recurse) std::fprintf(env.out, "(no key at %s)\n", key.c_str());
        else std::fprintf(env.out, "(no keys under %s)\n", key.c_str());
      } else {
        std::vector<Entry> entries;
        if (!parse_entries(r.body, &entries, env.err)) return kExitFailed;
        for (const Entry& e : entries) {
          if (f.recurse) std::fprintf(env.out, "%s:", e.key.c_str());
          print_value_line(e.value, env.out);
        }
        if (f.recurse) std::fputs("--\n", env.out);
      }
      std::fflush(env.out);
      if (f.has_count && ++printed >= f.count) return kExitOk;
    }
    // Consul's client rule: an index that goes backwards (a restored snapshot) starts over.
    index = new_index < index ? 0 : new_index;
  }
  return kExitOk;
}

}  // namespace

int cmd_kv(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage =
      "usage: agentctl kv get KEY [-recurse] [-keys] [-separator S] [-detailed] [-stale|-consistent]\n"
      "       agentctl kv put KEY [VALUE|-] [-flags N] [-cas [-modify-index N]]\n"
      "       agentctl kv delete KEY [-recurse] [-cas -modify-index N]\n"
      "       agentctl kv watch KEY [-recurse] [-count N]\n";
  if (args.empty()) {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "get") return kv_get(env, rest);
  if (args[0] == "put") return kv_put(env, rest);
  if (args[0] == "delete") return kv_delete(env, rest);
  if (args[0] == "watch") return kv_watch(env, rest);
  std::fprintf(env.err, "agentctl kv: unknown subcommand \"%s\"\n%s", args[0].c_str(), usage);
  return kExitUsage;
}

}  // namespace ctl
