// The four sources. The shape of each function: tokenize the raw input, resolve the name against
// the schema (exact key, alias, or map entry "labels.<name>"), convert the value, append an Entry
// or an error line. Error lines read "<key>: <problem> (from <origin>)" when the key is known and
// "<origin>: unknown key ...; did you mean ...?" when it is not.
#include "agent/config/sources.h"

#include <algorithm>
#include <cstdio>

#include "agent/config/config.h"
#include "agent/config/parse.h"
#include "agent/config/value.h"
#include "cJSON.h"

namespace config {
namespace {

// Most *.json files read from one directory: far more than any node needs, few enough that a
// directory full of junk cannot stall start-up.
constexpr size_t kDirFilesMax = 256;

struct CJsonOwner {
  cJSON* json = nullptr;
  ~CJsonOwner() { cJSON_Delete(json); }
};

// Key names, aliases and group prefixes ("ports", "http"): what a JSON or flag name may be.
const std::vector<std::string_view>& name_candidates() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out(key_names().begin(), key_names().end());
    for (const KeySpec& k : schema()) {
      for (size_t dot = k.name.find('.'); dot != std::string_view::npos;
           dot = k.name.find('.', dot + 1)) {
        std::string_view group = k.name.substr(0, dot);
        if (std::find(out.begin(), out.end(), group) == out.end()) out.push_back(group);
      }
    }
    return out;
  }();
  return names;
}

const std::vector<std::string>& env_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const KeySpec& k : schema()) out.push_back(env_name(k.name));
    return out;
  }();
  return names;
}

// "; did you mean <prefix><name>?" or "".
std::string suggest(std::string_view typo, std::span<const std::string_view> candidates,
                    std::string_view prefix) {
  std::string_view best = closest(typo, candidates);
  if (best.empty()) return "";
  return "; did you mean " + std::string(prefix) + std::string(best) + "?";
}

void add_error(Collected* out, std::string_view key, std::string_view why,
               std::string_view origin) {
  out->errors.push_back(std::string(key) + ": " + std::string(why) + " (from " +
                        std::string(origin) + ")");
}

void add_text_entry(const KeySpec& spec, std::string_view text, std::string origin,
                    Collected* out) {
  Entry e;
  e.spec = &spec;
  std::string why;
  if (!value_from_text(spec, text, &e.value, &why)) {
    if (spec.type != KeyType::kMap) out->value_errors.push_back({std::string(spec.name), out->errors.size(), out->entries.size()});
    add_error(out, spec.name, why, origin);
    return;
  }
  e.origin = std::move(origin);
  out->entries.push_back(std::move(e));
}

void add_map_entry(const KeySpec& spec, const std::string& name, std::string_view text,
                   std::string origin, Collected* out) {
  Entry e;
  e.spec = &spec;
  e.value.map[name] = std::string(text);
  std::string why;
  if (!check_value(spec, e.value, &why)) {
    add_error(out, std::string(spec.name) + "." + printable(name), why, origin);
    return;
  }
  e.origin = std::move(origin);
  out->entries.push_back(std::move(e));
}

// 1-based line and column of byte `offset` in `text`.
std::string line_col(std::string_view text, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

// Deepest nesting of objects and arrays, counted outside strings, stopping past `limit`.
int json_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[')
      deepest = std::max(deepest, ++depth);
    else if (c == '}' || c == ']')
      --depth;
    if (deepest > limit) break;
  }
  return deepest;
}

class JsonWalker {
 public:
  JsonWalker(std::string_view path, Collected* out) : path_(path), out_(out) {}

  void walk(const cJSON* object, const std::string& prefix) {
    std::vector<std::string_view> members;  // names seen in this object
    for (const cJSON* child = object->child; child != nullptr; child = child->next) {
      std::string_view name = child->string != nullptr ? child->string : "";
      std::string full = prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
      std::string origin = printable(path_) + ": " + printable(full);
      if (std::find(members.begin(), members.end(), name) != members.end()) {
        out_->errors.push_back(origin + ": duplicate key " + quote(full) +
                               " (JSON keeps only one; remove the other)");
        continue;
      }
      members.push_back(name);
      std::string entry;
      if (prefix.empty() && (name == "service" || name == "services")) {
        add_services(child, origin);
      } else if (prefix.empty() && name == "jobs") {
        add_jobs(child, origin);
      } else if (const KeySpec* spec = find_key(full)) {
        if (spec->type == KeyType::kMap && cJSON_IsObject(child)) {
          // Each entry is its own leaf, so "labels": {...} and "labels.rack" collide.
          bool dup = false;
          for (const cJSON* e = child->child; e != nullptr; e = e->next) {
            std::string leaf = std::string(spec->name) + "." + (e->string ? e->string : "");
            if (!claim(leaf, origin)) dup = true;
          }
          if (dup) continue;
        } else if (!claim(std::string(spec->name), origin)) {
          continue;
        }
        Entry e;
        e.spec = spec;
        std::string why;
        if (!value_from_json(*spec, child, &e.value, &why)) {
          // A map merges entry by entry: a later one does not replace it whole.
          if (spec->type != KeyType::kMap) {
            out_->value_errors.push_back({std::string(spec->name), out_->errors.size(), out_->entries.size()});
          }
          add_error(out_, full, why, origin);
          continue;
        }
        e.origin = std::move(origin);
        out_->entries.push_back(std::move(e));
      } else if (const KeySpec* map = find_map_entry(full, &entry)) {
        if (!claim(std::string(map->name) + "." + entry, origin)) continue;
        if (!cJSON_IsString(child)) {
          add_error(out_, printable(full), "want a string", origin);
          continue;
        }
        add_map_entry(*map, entry, child->valuestring, std::move(origin), out_);
      } else if (is_group(full)) {
        if (!cJSON_IsObject(child)) {
          add_error(out_, full, "want an object holding " + full + ".* keys", origin);
          continue;
        }
        walk(child, full);
      } else {
        out_->errors.push_back(origin + ": unknown key " + quote(full) +
                               suggest(full, name_candidates(), ""));
      }
    }
  }

 private:
  // "service": {...} or "services": [{...}, ...]: each object kept whole for the catalog.
  void add_services(const cJSON* value, const std::string& origin) {
    const bool list = std::string_view(value->string) == "services";
    if (!list && cJSON_IsObject(value)) {
      add_service(value, origin);
    } else if (list && cJSON_IsArray(value)) {
      int i = 0;
      for (const cJSON* e = value->child; e != nullptr; e = e->next, ++i) {
        std::string where = origin + "[" + std::to_string(i) + "]";
        if (!cJSON_IsObject(e)) {
          out_->errors.push_back(where + ": want a service definition (a JSON object)");
          continue;
        }
        add_service(e, where);
      }
    } else {
      out_->errors.push_back(origin + (list ? ": want an array of service definitions"
                                            : ": want a service definition (a JSON object)"));
    }
  }
  void add_service(const cJSON* object, const std::string& origin) {
    if (out_->services.size() >= kServiceDocsMax) {
      out_->errors.push_back(origin + ": more than " + std::to_string(kServiceDocsMax) +
                             " service definitions in the config files; refused");
      return;
    }
    char* text = cJSON_PrintUnformatted(object);
    if (text == nullptr) {
      out_->errors.push_back(origin + ": out of memory");
      return;
    }
    std::string json(text);
    cJSON_free(text);
    if (json.size() > kServiceDocBytesMax) {
      out_->errors.push_back(origin + ": service definition larger than " +
                             format_bytes(kServiceDocBytesMax) + "; refused");
      return;
    }
    out_->services.push_back(ServiceDoc{std::move(json), origin});
  }

  // "jobs": [{...}, ...]: static jobs, each kept whole for the supervisor (sched::decode_job).
  void add_jobs(const cJSON* value, const std::string& origin) {
    if (!cJSON_IsArray(value)) {
      out_->errors.push_back(origin + ": want an array of jobs");
      return;
    }
    int i = 0;
    for (const cJSON* e = value->child; e != nullptr; e = e->next, ++i) {
      std::string where = origin + "[" + std::to_string(i) + "]";
      if (!cJSON_IsObject(e)) {
        out_->errors.push_back(where + ": want a job (a JSON object)");
        continue;
      }
      if (out_->jobs.size() >= kJobDocsMax) {
        out_->errors.push_back(where + ": more than " + std::to_string(kJobDocsMax) + " jobs in the config files; refused");
        return;
      }
      char* text = cJSON_PrintUnformatted(e);
      if (text == nullptr) {
        out_->errors.push_back(where + ": out of memory");
        continue;
      }
      out_->jobs.push_back(ServiceDoc{std::string(text), where});
      cJSON_free(text);
    }
  }

  // Records that this file sets `leaf`; false (and an error) if it already did.
  bool claim(const std::string& leaf, const std::string& origin) {
    if (std::find(leaves_.begin(), leaves_.end(), leaf) != leaves_.end()) {
      out_->errors.push_back(origin + ": duplicate key " + quote(leaf) +
                             " (set twice in this file)");
      return false;
    }
    leaves_.push_back(leaf);
    return true;
  }

  std::string_view path_;
  Collected* out_;
  std::vector<std::string> leaves_;
};

std::string join_path(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

void read_one_file(hal::Fs& fs, const std::string& raw_path, Collected* out) {
  std::string path = printable(raw_path);
  base::Result<std::string> text = fs.read_file(raw_path, kFileBytesMax);
  if (!text.is_ok()) {
    if (text.status().code() == base::Code::kResourceExhausted) {
      out->errors.push_back(path + ": file is larger than " + format_bytes(kFileBytesMax) +
                            "; refused");
    } else {
      out->errors.push_back(path + ": cannot read: " + printable(text.status().to_string()));
    }
    return;
  }
  read_json(*text, raw_path, out);
}

}  // namespace

void read_json(std::string_view text, std::string_view path, Collected* out) {
  std::string where = printable(path);
  if (text.size() > kFileBytesMax) {
    out->errors.push_back(where + ": file is larger than " + format_bytes(kFileBytesMax) +
                          "; refused");
    return;
  }
  if (json_depth(text, kJsonDepthMax) > kJsonDepthMax) {
    out->errors.push_back(where + ": JSON nested deeper than " + std::to_string(kJsonDepthMax) +
                          " levels; refused");
    return;
  }
  const char* end = nullptr;
  CJsonOwner root;
  root.json = cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false);
  size_t offset = end != nullptr ? static_cast<size_t>(end - text.data()) : 0;
  if (root.json == nullptr) {
    out->errors.push_back(where + ":" + line_col(text, offset) + ": invalid JSON near " +
                          quote(text.substr(std::min(offset, text.size()), 16)));
    return;
  }
  while (offset < text.size() && (text[offset] == ' ' || text[offset] == '\t' ||
                                  text[offset] == '\n' || text[offset] == '\r')) {
    ++offset;
  }
  if (offset < text.size()) {
    out->errors.push_back(where + ":" + line_col(text, offset) +
                          ": unexpected text after the JSON object");
    return;
  }
  if (!cJSON_IsObject(root.json)) {
    out->errors.push_back(where + ": want a JSON object at the top level");
    return;
  }
  JsonWalker(path, out).walk(root.json, "");
}

void read_files(hal::Fs& fs, const std::vector<std::string>& paths, bool skip_missing,
                Collected* out) {
  for (const std::string& raw_path : paths) {
    std::string path = printable(raw_path);
    base::Result<hal::FileInfo> info = fs.stat(raw_path);
    if (!info.is_ok()) {
      if (info.status().code() == base::Code::kNotFound) {
        if (!skip_missing) out->errors.push_back(path + ": no such file or directory");
      } else {
        out->errors.push_back(path + ": cannot read: " + printable(info.status().to_string()));
      }
      continue;
    }
    if (info->type != hal::FileType::kDirectory) {
      read_one_file(fs, raw_path, out);
      continue;
    }
    base::Result<std::vector<std::string>> names = fs.list_dir(raw_path);
    if (!names.is_ok()) {
      out->errors.push_back(path + ": cannot list: " + printable(names.status().to_string()));
      continue;
    }
    std::vector<std::string> files;
    for (const std::string& name : *names) {
      // Hidden files are editors' swap and backup files, not config.
      if (name.size() > 5 && name[0] != '.' && name.compare(name.size() - 5, 5, ".json") == 0) {
        files.push_back(name);
      }
    }
    std::sort(files.begin(), files.end());
    if (files.size() > kDirFilesMax) {
      out->errors.push_back(path + ": more than " + std::to_string(kDirFilesMax) +
                            " .json files; refused");
      continue;
    }
    for (const std::string& name : files) read_one_file(fs, join_path(raw_path, name), out);
  }
}

void read_cmdline(std::string_view cmdline, Collected* out) {
  static constexpr std::string_view kWhere = "kernel command line";
  if (cmdline.size() > kCmdlineBytesMax) {
    out->errors.push_back(std::string(kWhere) + ": longer than " + format_bytes(kCmdlineBytesMax) +
                          "; refused");
    return;
  }
  size_t pos = 0;
  while (pos < cmdline.size()) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (pos < cmdline.size() && space(cmdline[pos])) ++pos;
    if (pos == cmdline.size()) break;
    std::string token;
    bool quoted = false;
    while (pos < cmdline.size() && (quoted || !space(cmdline[pos]))) {
      if (cmdline[pos] == '"')
        quoted = !quoted;
      else
        token += cmdline[pos];
      ++pos;
    }
    if (token.compare(0, 6, "agent.") != 0) continue;
    size_t eq = token.find('=');
    std::string name = token.substr(6, eq == std::string::npos ? std::string::npos : eq - 6);
    // agent.config=<url> is the first process's (boot/config_url.h): it fetches the document
    // into a config file before the agent starts.
    if (name == "config") continue;
    std::string origin = std::string(kWhere) + ": agent." + printable(name);
    if (quoted) {
      out->errors.push_back(origin + ": unterminated double quote");
      continue;
    }
    std::string entry;
    const KeySpec* spec = find_key(name);
    const KeySpec* map = spec == nullptr ? find_map_entry(name, &entry) : nullptr;
    if (spec == nullptr && map == nullptr) {
      out->errors.push_back(origin + ": unknown key " + quote(name) +
                            suggest(name, key_names(), "agent."));
      continue;
    }
    if (eq == std::string::npos) {
      if (spec != nullptr && spec->type == KeyType::kBool) {
        add_text_entry(*spec, "true", std::move(origin), out);
      } else {
        add_error(out, printable(name), "want a value: agent." + printable(name) + "=<value>",
                  origin);
      }
      continue;
    }
    std::string_view value = std::string_view(token).substr(eq + 1);
    if (spec != nullptr)
      add_text_entry(*spec, value, std::move(origin), out);
    else
      add_map_entry(*map, entry, value, std::move(origin), out);
  }
}

void read_environment(const std::vector<std::string>& environment, Collected* out) {
  std::vector<std::string_view> candidates(env_names().begin(), env_names().end());
  for (const std::string& var : environment) {
    size_t eq = var.find('=');
    std::string_view name = std::string_view(var).substr(0, eq);
    std::string_view value = eq == std::string::npos ? "" : std::string_view(var).substr(eq + 1);
    if (name.substr(0, 6) != "AGENT_") continue;
    if (std::find(std::begin(kEnvNotConfig), std::end(kEnvNotConfig), name) !=
        std::end(kEnvNotConfig)) {
      continue;
    }
    std::string origin = "environment " + printable(name);
    const KeySpec* spec = find_env(name);
    if (spec == nullptr) {
      out->errors.push_back(origin + ": unknown variable " + printable(name) +
                            suggest(name, candidates, ""));
      continue;
    }
    add_text_entry(*spec, value, std::move(origin), out);
  }
}

void read_flags(const std::vector<std::string>& args, Collected* out,
                std::vector<std::string>* config_paths) {
  // Index in out->entries of each list key's first flag, so repeats append to it.
  std::vector<std::pair<const KeySpec*, size_t>> lists;
  bool after_bool = false;  // the previous flag was a boolean without '='
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (size_t j = i + 1; j < args.size(); ++j) {
        out->errors.push_back("unexpected argument " + quote(args[j]) + " after \"--\"");
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      std::string hint = after_bool ? " (a boolean flag takes its value as -name=value)" : "";
      out->errors.push_back("unexpected argument " + quote(arg) + hint);
      after_bool = false;
      continue;
    }
    after_bool = false;
    size_t dashes = arg.compare(0, 2, "--") == 0 ? 2 : 1;
    size_t eq = arg.find('=');
    bool has_value = eq != std::string::npos;
    std::string name = arg.substr(dashes, has_value ? eq - dashes : std::string::npos);
    std::string spelled = printable(arg.substr(0, has_value ? eq : std::string::npos));
    std::string origin = "flag " + spelled;
    std::string value = has_value ? arg.substr(eq + 1) : "";

    std::string entry;
    const KeySpec* spec = name == "config" ? nullptr : find_key(name);
    const KeySpec* map = spec == nullptr ? find_map_entry(name, &entry) : nullptr;
    if (name != "config" && spec == nullptr && map == nullptr) {
      std::vector<std::string_view> candidates(key_names().begin(), key_names().end());
      candidates.push_back("config");
      out->errors.push_back("unknown flag " + quote(spelled) +
                            suggest(name, candidates, std::string(dashes, '-')));
      continue;
    }
    if (spec != nullptr && spec->type == KeyType::kBool && !has_value) {
      add_text_entry(*spec, "true", std::move(origin), out);
      after_bool = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        add_error(out, printable(name),
                  "want a value: " + spelled + " <value> or " + spelled + "=<value>", origin);
        continue;
      }
      value = args[++i];
    }
    if (name == "config") {
      if (value.empty())
        add_error(out, "config", "want a path", origin);
      else
        config_paths->push_back(value);
      continue;
    }
    if (map != nullptr) {
      add_map_entry(*map, entry, value, std::move(origin), out);
      continue;
    }
    size_t before = out->entries.size();
    add_text_entry(*spec, value, origin, out);
    if (spec->type != KeyType::kList || out->entries.size() == before) continue;
    auto first =
        std::find_if(lists.begin(), lists.end(), [&](const auto& p) { return p.first == spec; });
    if (first == lists.end()) {
      lists.emplace_back(spec, before);
      continue;
    }
    // A repeated list flag: move the new items onto the first flag's list, then recheck it.
    Entry added = std::move(out->entries.back());
    out->entries.pop_back();
    Entry& into = out->entries[first->second];
    for (std::string& item : added.value.list) into.value.list.push_back(std::move(item));
    std::string why;
    if (!check_value(*spec, into.value, &why)) {
      add_error(out, spec->name, why, origin);
      into.value.list.clear();
    }
  }
}

}  // namespace config
