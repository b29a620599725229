// The configuration schema: one table of every key the agent understands.
//
// Each key has a dotted name ("ports.http"), a type, a default written as text in the same
// syntax an operator would type, a unit and a one-line description (for `agent -help` and
// `agent config show`). Every source (JSON files, kernel command line, environment, flags)
// resolves names against this table, and load() (config.h) parses values by the key's type and
// stores them into config::Config through the key's setter. To add a key: add a field to Config,
// add one row to the table in schema.cc, and (if it needs one) a cross-field check in config.cc.
//
// Naming: keys are lower-case snake_case words joined by dots; a dot means "nested object" in
// JSON ("ports": {"http": 7700} is ports.http). The environment name of a key is derived from it
// (env_name()), and the table is checked at first use so that no two keys share one.
//
// Threading: the table is built once on first use (thread-safe static) and is immutable after.
// Not here: reading any source (sources.h), parsing values or cross-field checks (config.h).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace config {

struct Config;

enum class KeyType : uint8_t {
  kString,    // any text (length-bounded)
  kBool,      // true/false
  kInt,       // a decimal integer within [int_min, int_max]
  kBytes,     // a byte count: an integer, or text with a binary suffix ("256KiB", "1MiB")
  kDuration,  // Go-style: "500ms", "10s", "1m30s"; within [int_min, int_max] nanoseconds
  kEnum,      // one of `choices`
  kIp,        // an IPv4 or IPv6 address, no port
  kAddress,   // "host[:port]", host an IPv4 address, [IPv6] or a DNS name
  kList,      // a list of `item` values (kString, kEnum or kAddress)
  kMap,       // string -> string (labels); entries can be set one by one ("labels.rack")
};

// The parsed, typed value of one key. Only the member matching the key's type is meaningful.
struct Value {
  bool b = false;
  int64_t i = 0;  // kInt, kBytes, kDuration (nanoseconds)
  std::string s;  // kString, kEnum, kIp, kAddress
  std::vector<std::string> list;
  std::map<std::string, std::string> map;
};

struct KeySpec {
  std::string_view name;  // "ports.http"
  KeyType type = KeyType::kString;
  KeyType item = KeyType::kString;  // element type of a kList
  std::string_view default_text;    // in operator syntax; "" for empty string/list/map
  std::string_view unit;            // "port", "bytes", "duration", "" when it has none
  std::string_view description;     // one line, for -help
  int64_t int_min = 0;              // kInt, kDuration (ns), kBytes; also max length of kString
  int64_t int_max = 0;
  std::span<const std::string_view> choices;  // kEnum, and kList of kEnum
  std::string_view alias;  // another accepted name (kernel command line "agent.role=worker")
  bool secret = false;     // never printed: config show and the JSON say "<hidden>"
  size_t items_max = 0;    // kList and kMap: at most this many entries
  // Extra check after the type's own (a DNS label, a base64 key): false with *why set when the
  // value is not acceptable. May be null.
  bool (*check)(const Value& value, std::string* why) = nullptr;
  // Stores a parsed value of this key's type into the config. Never null.
  void (*store)(Config& config, const Value& value) = nullptr;
};

// Every key, in the order they are documented.
std::span<const KeySpec> schema();

// The key called `name` (or whose alias is `name`), or nullptr.
const KeySpec* find_key(std::string_view name);

// When `name` is "<map key>.<entry>" (e.g. "labels.rack"), the map key's spec, with the entry
// name in *entry. Otherwise nullptr.
const KeySpec* find_map_entry(std::string_view name, std::string* entry);

// True when `prefix` is the first dotted component(s) of some key ("ports", "http").
bool is_group(std::string_view prefix);

// The environment variable that sets `key`: "AGENT_" + upper case, dots to underscores
// ("ports.http" -> "AGENT_PORTS_HTTP", "http.body_bytes_max" -> "AGENT_HTTP_BODY_BYTES_MAX").
std::string env_name(std::string_view key);

// The spec whose env_name() is `var` ("AGENT_PORTS_HTTP"), or nullptr.
const KeySpec* find_env(std::string_view var);

// Levenshtein distance, bounded: stops counting at `limit` + 1. For "did you mean" hints.
size_t edit_distance(std::string_view a, std::string_view b, size_t limit);

// The candidate closest to `typo` when close enough to be a plausible typo (distance at most 2,
// or a third of its length for long names), else "". Ties go to the first candidate.
std::string_view closest(std::string_view typo, std::span<const std::string_view> candidates);

// Names of every key and alias, for suggestions.
std::span<const std::string_view> key_names();

// A human-readable description of what a key accepts: "an integer 1..65535",
// "a duration like \"10s\"", "one of debug|info|warn|error". Used in type errors.
std::string describe_type(const KeySpec& spec);

// The help text: one line per key with its default, unit and description.
std::string help_text();

}  // namespace config
