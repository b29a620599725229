// Fuzzes boot/modules.h and boot/glob.h. The input is up to three sections split by "%%\n" lines:
// a modules.alias text, a modules.dep text, and modaliases one per line. Nothing may crash or
// assert; the reports stay within their bounds; match() finds exactly the modules a scan of every
// alias with glibc's fnmatch(3) finds, each once; every load order ends with the module's own file
// and names no file twice, or fails with one of the documented codes; and glob_match() agrees
// with glibc's fnmatch on the modalias lines taken pairwise as pattern and text.
#include <fnmatch.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/assert.h"
#include "boot/glob.h"
#include "boot/modules.h"

namespace {

constexpr size_t kKeysMax = 16;

std::vector<std::string_view> split(std::string_view text, std::string_view separator,
                                    size_t parts_max) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts_max) {
    const size_t at = text.find(separator);
    if (at == std::string_view::npos) break;
    out.push_back(text.substr(0, at));
    text.remove_prefix(at + separator.size());
  }
  out.push_back(text);
  return out;
}

bool glibc(std::string_view pattern, std::string_view text) {
  return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

void check_report(const boot::ParseReport& r, const boot::ModuleLimits& limits) {
  AGENT_ASSERT(r.entries + r.bad_lines <= r.lines);
  AGENT_ASSERT(r.bad.size() <= limits.bad_lines_kept_max && r.bad.size() <= r.bad_lines);
  for (const std::string& b : r.bad) AGENT_ASSERT(!b.empty() && b.find('\n') == std::string::npos);
}

void check_order(const boot::ModuleIndex& index, const std::string& module) {
  base::Result<std::vector<std::string>> order = index.load_order(module);
  if (!order.is_ok()) {
    const base::Code code = order.status().code();
    AGENT_ASSERT(code == base::Code::kNotFound || code == base::Code::kInvalidArgument ||
                 code == base::Code::kResourceExhausted);
    return;
  }
  AGENT_ASSERT(!order->empty());
  AGENT_ASSERT(boot::module_name_from_path(order->back()) == boot::normalize_module_name(module));
  const std::set<std::string> unique(order->begin(), order->end());
  AGENT_ASSERT(unique.size() == order->size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> parts = split(input, "%%\n", 3);
  const std::string_view alias_text = parts[0];
  const std::string_view dep_text = parts.size() > 1 ? parts[1] : std::string_view();
  std::vector<std::string_view> keys;
  if (parts.size() > 2) keys = split(parts[2], "\n", kKeysMax);

  boot::ModuleLimits limits;
  limits.alias_lines_max = 512;
  limits.dep_lines_max = 512;
  limits.pattern_bytes_max = 128;
  limits.deps_per_module_max = 16;
  limits.depth_max = 12;
  limits.bad_lines_kept_max = 4;
  base::Result<boot::ModuleIndex> loaded = boot::ModuleIndex::load(alias_text, dep_text, limits);
  if (!loaded.is_ok()) {
    AGENT_ASSERT(loaded.status().code() == base::Code::kResourceExhausted);
  } else {
    const boot::ModuleIndex& index = *loaded;
    check_report(index.alias_report(), limits);
    check_report(index.dep_report(), limits);
    AGENT_ASSERT(index.alias_count() == index.alias_report().entries);
    for (std::string_view key : keys) {
      const std::vector<std::string> found = index.match(key);
      const std::set<std::string> found_set(found.begin(), found.end());
      AGENT_ASSERT(found_set.size() == found.size());
      std::set<std::string> want;
      base::Result<std::string> normal = boot::normalize_alias(key);
      if (normal.is_ok()) {
        for (size_t i = 0; i < index.alias_count(); ++i) {
          const boot::ModuleIndex::Alias a = index.alias(i);
          if (glibc(a.pattern, *normal)) want.emplace(a.module);
        }
      }
      AGENT_ASSERT(found_set == want);
      for (const std::string& module : found) check_order(index, module);
    }
    for (size_t i = 0; i < index.alias_count() && i < kKeysMax; ++i) {
      check_order(index, std::string(index.alias(i).module));
    }
  }

  for (std::string_view pattern : keys) {
    if (!boot::glob_supported(pattern)) continue;
    for (std::string_view text : keys) {
      AGENT_ASSERT(boot::glob_match(pattern, text) == glibc(pattern, text));
    }
  }
  return 0;
}
