// boot/modules.cc -- reading modules.alias and modules.dep, matching, ordering.
//
// The index: every normalised pattern sits in one string; each alias keeps its offset there, the
// length of its literal prefix (the bytes before its first '*', '?', '[' or '\') and a hash of
// that prefix, and the aliases are sorted by the hash. A modalias can only match a pattern whose
// literal prefix begins it, so match() hashes the modalias's leading bytes once, reading off the
// hash at each distinct prefix length, finds the aliases with that hash (a binary search), checks
// that their prefix is those bytes indeed, and runs the glob on the rest of those few. For a PCI
// device that is a handful of patterns out of 26,000 -- its vendor and device
// ("pci:v00008086d0000100Esv") and the class-only ones ("pci:v") -- instead of all of them.
// Sorting hashes rather than the prefixes themselves, which share long runs ("pci:v0000"), makes
// the sort eight times cheaper; it had been nearly half of load()'s instructions.
#include "boot/modules.h"

#include <algorithm>

#include "boot/glob.h"

namespace boot {
namespace {

constexpr std::string_view kAliasFile = "modules.alias";
constexpr std::string_view kDepFile = "modules.dep";

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

inline bool is_control(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b < 0x20 || b == 0x7f;
}

bool has_control(std::string_view s) {
  for (char c : s) {
    if (is_control(c)) return true;
  }
  return false;
}

// 64-bit FNV-1a, one byte at a time so that a running hash gives every prefix's.
constexpr uint64_t kFnvBasis = 14695981039346656037ull;
inline uint64_t fnv_step(uint64_t h, char c) {
  return (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
}
uint64_t fnv(std::string_view s) {
  uint64_t h = kFnvBasis;
  for (char c : s) h = fnv_step(h, c);
  return h;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The first few blank-separated fields of a line, and whether there were more.
template <size_t N>
struct Fields {
  std::string_view field[N];
  size_t count = 0;
  bool more = false;
};

template <size_t N>
Fields<N> fields(std::string_view s) {
  Fields<N> out;
  size_t i = 0;
  for (;;) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) return out;
    if (out.count == N) {
      out.more = true;
      return out;
    }
    const size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    out.field[out.count++] = s.substr(start, i - start);
  }
}

// Calls fn(field) for each blank-separated field of `s`; stops early when fn returns false.
template <typename Fn>
void for_each_field(std::string_view s, Fn fn) {
  size_t i = 0;
  for (;;) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) return;
    const size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (!fn(s.substr(start, i - start))) return;
  }
}

// The number of lines in `text` (a last line without '\n' counts). find() is memchr().
size_t count_lines(std::string_view text) {
  size_t lines = 0;
  for (size_t pos = 0; pos < text.size(); ++lines) {
    const size_t nl = text.find('\n', pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  return lines;
}

// Calls fn(line_number, line) for each line, numbered from 1, without its '\n'.
template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  size_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    fn(++number, text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

base::Status check_size(std::string_view file, std::string_view text, size_t bytes_max,
                        size_t lines_max) {
  if (text.size() > bytes_max) {
    return base::error(base::Code::kResourceExhausted, "%.*s is %zu bytes (at most %zu)",
                       static_cast<int>(file.size()), file.data(), text.size(), bytes_max);
  }
  const size_t lines = count_lines(text);
  if (lines > lines_max) {
    return base::error(base::Code::kResourceExhausted, "%.*s has %zu lines (at most %zu)",
                       static_cast<int>(file.size()), file.data(), lines, lines_max);
  }
  return base::Status::ok();
}

// A module name as depmod writes it: letters, digits, '_' and '-', within the kernel's length.
bool valid_module_name(std::string_view name, size_t bytes_max) {
  if (name.empty() || name.size() > bytes_max) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

// Why `path` cannot be a module file under /lib/modules/<release>/, or empty when it can.
std::string path_problem(std::string_view path, const ModuleLimits& limits) {
  if (path.size() > limits.path_bytes_max) {
    return "path over " + std::to_string(limits.path_bytes_max) + " bytes";
  }
  if (has_control(path)) return "control byte in path";
  if (path.empty() || path.front() == '/') return "path is not relative";
  for (size_t start = 0; start <= path.size();) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (path.substr(start, slash - start) == "..") return "'..' in path";
    start = slash + 1;
  }
  static constexpr std::string_view kExtensions[] = {".ko", ".ko.gz", ".ko.xz", ".ko.zst"};
  const bool extension_ok = std::any_of(std::begin(kExtensions), std::end(kExtensions),
                                        [&](std::string_view ext) { return path.ends_with(ext); });
  if (!extension_ok) return "not a .ko, .ko.gz, .ko.xz or .ko.zst path";
  const size_t slash = path.rfind('/');
  const std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (!valid_module_name(file.substr(0, file.find('.')), limits.module_name_bytes_max)) {
    return "bad module name in path";
  }
  return "";
}

size_t literal_prefix_bytes(std::string_view pattern) {
  const size_t meta = pattern.find_first_of("*?[\\");
  return meta == std::string_view::npos ? pattern.size() : meta;
}

}  // namespace

base::Result<ModuleIndex> ModuleIndex::load(std::string_view alias_text, std::string_view dep_text,
                                            const ModuleLimits& limits) {
  AGENT_TRY(
      check_size(kAliasFile, alias_text, limits.alias_file_bytes_max, limits.alias_lines_max));
  AGENT_TRY(check_size(kDepFile, dep_text, limits.dep_file_bytes_max, limits.dep_lines_max));
  // The patterns and their entries use 32- and 16-bit offsets and lengths.
  AGENT_ASSERT(limits.alias_file_bytes_max <= UINT32_MAX && limits.pattern_bytes_max <= UINT16_MAX);
  ModuleIndex index;
  index.limits_ = limits;
  index.read_aliases(alias_text);
  index.read_deps(dep_text);
  return index;
}

uint32_t ModuleIndex::intern(const std::string& name) {
  auto [it, added] = module_ids_.emplace(name, static_cast<uint32_t>(modules_.size()));
  if (added) {
    modules_.emplace_back();
    modules_.back().name = name;
  }
  return it->second;
}

void ModuleIndex::bad_line(ParseReport& report, std::string_view file, size_t line,
                           std::string why) {
  ++report.bad_lines;
  if (report.bad.size() < limits_.bad_lines_kept_max) {
    report.bad.push_back(std::string(file) + ":" + std::to_string(line) + ": " + why);
  }
}

void ModuleIndex::read_aliases(std::string_view text) {
  // Debian's lines are 50 bytes on average, a third of that pattern.
  patterns_.reserve(text.size() / 2);
  aliases_.reserve(text.size() / 32);
  // depmod writes each module's aliases together: remembering the last one saves a lookup per
  // line.
  std::string last_name;
  uint32_t last_id = UINT32_MAX;
  for_each_line(text, [&](size_t number, std::string_view raw) {
    ++alias_report_.lines;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') return;
    const Fields<3> f = fields<3>(line);
    const std::string_view* t = f.field;
    if (f.count != 3 || f.more || t[0] != "alias") {
      bad_line(alias_report_, kAliasFile, number, "not \"alias <pattern> <module>\"");
      return;
    }
    if (t[1].size() > limits_.pattern_bytes_max) {
      bad_line(alias_report_, kAliasFile, number,
               "pattern over " + std::to_string(limits_.pattern_bytes_max) + " bytes");
      return;
    }
    if (has_control(t[1])) {
      bad_line(alias_report_, kAliasFile, number, "control byte in pattern");
      return;
    }
    base::Result<std::string> pattern = normalize_alias(t[1]);
    if (!pattern.is_ok()) {
      bad_line(alias_report_, kAliasFile, number, "pattern: " + pattern.status().message());
      return;
    }
    if (!glob_supported(*pattern)) {
      bad_line(alias_report_, kAliasFile, number,
               "pattern names a character class, equivalence class or collating symbol");
      return;
    }
    if (!valid_module_name(t[2], limits_.module_name_bytes_max)) {
      bad_line(alias_report_, kAliasFile, number, "bad module name");
      return;
    }
    const std::string name = normalize_module_name(t[2]);
    if (name != last_name) {
      last_name = name;
      last_id = intern(name);
      if (modules_[last_id].alias_rank == UINT32_MAX)
        modules_[last_id].alias_rank = alias_modules_++;
    }
    const size_t prefix_bytes = literal_prefix_bytes(*pattern);
    aliases_.push_back(
        AliasEntry{.prefix_hash = fnv(std::string_view(*pattern).substr(0, prefix_bytes)),
                   .pattern_offset = static_cast<uint32_t>(patterns_.size()),
                   .pattern_bytes = static_cast<uint16_t>(pattern->size()),
                   .prefix_bytes = static_cast<uint16_t>(prefix_bytes),
                   .module = last_id});
    patterns_ += *pattern;
    ++alias_report_.entries;
  });
  std::sort(aliases_.begin(), aliases_.end(),
            [](const AliasEntry& a, const AliasEntry& b) { return a.prefix_hash < b.prefix_hash; });
  std::vector<bool> seen(limits_.pattern_bytes_max + 1, false);
  for (const AliasEntry& a : aliases_) seen[a.prefix_bytes] = true;
  for (size_t length = 0; length < seen.size(); ++length) {
    if (seen[length]) prefix_lengths_.push_back(static_cast<uint16_t>(length));
  }
}

void ModuleIndex::read_deps(std::string_view text) {
  for_each_line(text, [&](size_t number, std::string_view raw) {
    ++dep_report_.lines;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') return;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      bad_line(dep_report_, kDepFile, number, "no ':' after the module's path");
      return;
    }
    const std::string_view path = trim(line.substr(0, colon));
    if (std::string why = path_problem(path, limits_); !why.empty()) {
      bad_line(dep_report_, kDepFile, number, why);
      return;
    }
    std::string problem;
    size_t dep_count = 0;
    for_each_field(line.substr(colon + 1), [&](std::string_view dep) {
      if (++dep_count > limits_.deps_per_module_max) {
        problem = "over " + std::to_string(limits_.deps_per_module_max) + " dependencies";
      } else if (std::string why = path_problem(dep, limits_); !why.empty()) {
        problem = "dependency: " + why;
      }
      return problem.empty();
    });
    if (!problem.empty()) {
      bad_line(dep_report_, kDepFile, number, problem);
      return;
    }
    const uint32_t id = intern(module_name_from_path(path));
    if (modules_[id].has_dep_line) {
      bad_line(dep_report_, kDepFile, number,
               "module " + modules_[id].name + " has a line already (the first is kept)");
      return;
    }
    // Interning may grow modules_: index it again after each call rather than hold a reference.
    modules_[id].has_dep_line = true;
    modules_[id].path = std::string(path);
    modules_[id].deps.reserve(dep_count);
    for_each_field(line.substr(colon + 1), [&](std::string_view dep) {
      const uint32_t dep_id = intern(module_name_from_path(dep));
      if (modules_[dep_id].path.empty()) modules_[dep_id].path = std::string(dep);
      modules_[id].deps.push_back(dep_id);
      return true;
    });
    ++dep_report_.entries;
  });
}

std::vector<std::string> ModuleIndex::match(std::string_view modalias) const {
  base::Result<std::string> key = normalize_alias(modalias);
  if (!key.is_ok()) return {};
  const std::string_view k = *key;
  std::vector<uint32_t> hits;
  uint64_t hash = kFnvBasis;  // of k's first `hashed` bytes
  size_t hashed = 0;
  for (uint16_t length : prefix_lengths_) {
    if (length > k.size()) break;
    for (; hashed < length; ++hashed) hash = fnv_step(hash, k[hashed]);
    const std::string_view prefix = k.substr(0, length);
    auto it = std::lower_bound(aliases_.begin(), aliases_.end(), hash,
                               [](const AliasEntry& a, uint64_t h) { return a.prefix_hash < h; });
    for (; it != aliases_.end() && it->prefix_hash == hash; ++it) {
      if (it->prefix_bytes != length || it->prefix(patterns_) != prefix) continue;  // a collision
      const std::string_view rest = std::string_view(patterns_).substr(it->pattern_offset + length,
                                                                       it->pattern_bytes - length);
      if (glob_match(rest, k.substr(length))) hits.push_back(it->module);
    }
  }
  std::sort(hits.begin(), hits.end(), [&](uint32_t a, uint32_t b) {
    return modules_[a].alias_rank < modules_[b].alias_rank;
  });
  hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
  std::vector<std::string> out;
  out.reserve(hits.size());
  for (uint32_t id : hits) out.push_back(modules_[id].name);
  return out;
}

base::Result<std::vector<std::string>> ModuleIndex::load_order(std::string_view module) const {
  const std::string name = normalize_module_name(module);
  auto it = module_ids_.find(name);
  if (it == module_ids_.end() || !modules_[it->second].has_dep_line) {
    return base::error(base::Code::kNotFound, "module %s is not in modules.dep", name.c_str());
  }
  std::vector<uint8_t> state(modules_.size(), 0);
  std::vector<uint32_t> stack;
  std::vector<std::string> out;
  AGENT_TRY(visit(it->second, 0, state, stack, out));
  return out;
}

// Depth first, dependencies in the reverse of their listed order (kmod's load order), each
// module's file after its dependencies'. state: 0 not seen, 1 on the stack, 2 done.
base::Status ModuleIndex::visit(uint32_t id, size_t depth, std::vector<uint8_t>& state,
                                std::vector<uint32_t>& stack, std::vector<std::string>& out) const {
  if (state[id] == 2) return base::Status::ok();
  if (state[id] == 1) {
    std::string loop;
    auto from = std::find(stack.begin(), stack.end(), id);
    for (auto s = from; s != stack.end(); ++s) loop += modules_[*s].name + " -> ";
    loop += modules_[id].name;
    return base::error(base::Code::kInvalidArgument, "dependency cycle in modules.dep: %s",
                       loop.c_str());
  }
  if (depth >= limits_.depth_max) {
    const uint32_t root = stack.empty() ? id : stack.front();
    return base::error(base::Code::kResourceExhausted,
                       "dependencies of %s nested over %zu deep in modules.dep",
                       modules_[root].name.c_str(), limits_.depth_max);
  }
  state[id] = 1;
  stack.push_back(id);
  const std::vector<uint32_t>& deps = modules_[id].deps;
  for (auto d = deps.rbegin(); d != deps.rend(); ++d) {
    AGENT_TRY(visit(*d, depth + 1, state, stack, out));
  }
  stack.pop_back();
  state[id] = 2;
  out.push_back(modules_[id].path);
  return base::Status::ok();
}

ModuleIndex::Alias ModuleIndex::alias(size_t i) const {
  AGENT_ASSERT(i < aliases_.size());
  const AliasEntry& a = aliases_[i];
  return Alias{.pattern = std::string_view(patterns_).substr(a.pattern_offset, a.pattern_bytes),
               .module = modules_[a.module].name};
}

}  // namespace boot
