// The four configuration sources. Each reads its raw input, resolves names against the schema,
// converts values (value.h) and appends Entries -- a key, a typed value and its origin -- and
// error lines to a Collected. None of them stops at the first problem.
//
// Syntax of each source:
//   JSON file   A top-level object. Nested objects are dotted keys ("ports": {"http": 7700} is
//               ports.http, and so is "ports.http": 7700); an object under a map key (labels)
//               is the map. A key given twice in one file, in either spelling, is an error
//               (cJSON keeps duplicates silently; we look). Files over kFileBytesMax or nested
//               deeper than kJsonDepthMax are refused. Origin "<path>: <key>". A top-level
//               "service" object or "services" array holds service definitions (ServiceDoc),
//               not keys; a top-level "jobs" array holds static jobs (the same shape of doc).
//   cmdline     Whitespace-separated tokens; only those starting "agent." are ours. A value may
//               be double-quoted (agent.labels.note="two words"; quotes may also wrap the whole
//               token, as the kernel allows). "agent.server" alone means true for a boolean.
//               A map entry is "agent.labels.rack=r12". Origin "kernel command line: agent.<key>".
//   environment AGENT_<KEY>: upper case, '.' -> '_' (AGENT_PORTS_HTTP, AGENT_LABELS); every key
//               has exactly one name (schema.cc checks no two collide). Lists and maps are
//               comma-separated. Other AGENT_* variables are errors, except kEnvNotConfig.
//               Origin "environment AGENT_PORTS_HTTP".
//   flags       -key=value, --key=value, -key value; booleans -server or -server=false (never
//               -server false). -labels.rack=r12 or -labels rack=r12 set a label; a repeated
//               list flag appends (-join a -join b). -config PATH (repeatable) names JSON files
//               or directories. "--" ends the flags; any positional argument is an error.
//               Origin "flag -ports.http" (spelled as given).
// Threading: plain functions over their arguments. Not here: precedence and defaults (load()).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/config/schema.h"
#include "hal/fs.h"

namespace config {

struct Entry {
  const KeySpec* spec = nullptr;  // never null in a Collected
  Value value;
  std::string origin;
};

// A service definition from a config file, in Consul's shape: a top-level "service" object or
// each object of a top-level "services" array (a Consul agent's service files work unchanged).
// Kept as compact JSON text: the catalog decodes it (catalog::decode_registration) when the agent
// starts, so config does not depend on the catalog's rules.
struct ServiceDoc {
  std::string json;
  std::string origin;  // "<path>: services[2]" or "<path>: service"
};
// Most service definitions read from all files, and the largest one.
inline constexpr size_t kServiceDocsMax = 512;
inline constexpr size_t kServiceDocBytesMax = 64 << 10;
// Most static jobs in the config files ("jobs": [...]; a jobs_dir adds its own files). Each is
// as large as its file allows (kFileBytesMax).
inline constexpr size_t kJobDocsMax = 64;

// A value refused where it was read. It is an error only if it would have taken effect: a later
// source setting the same key (a flag over a file, the console's file over a CIDATA volume's)
// replaces it, as it replaces a valid one.
struct ValueError {
  std::string key;
  size_t error_index;     // its line in Collected::errors
  size_t entries_before;  // Collected::entries read before it
};

struct Collected {
  std::vector<Entry> entries;       // in the order read; later overrides earlier
  std::vector<std::string> errors;  // one line each, naming key and origin
  std::vector<ValueError> value_errors;  // which of `errors` are refused values
  std::vector<ServiceDoc> services;  // JSON files only
  std::vector<ServiceDoc> jobs;      // JSON files only: "jobs" arrays, one entry per job
};

// One JSON document's settings; `path` names it in origins and errors.
void read_json(std::string_view text, std::string_view path, Collected* out);

// Every file named by `paths` (a directory: its *.json files, sorted). Paths that do not exist
// are skipped when `skip_missing`, else errors.
void read_files(hal::Fs& fs, const std::vector<std::string>& paths, bool skip_missing,
                Collected* out);

// Kernel-command-line `agent.*` tokens. Text longer than kCmdlineBytesMax is refused.
inline constexpr size_t kCmdlineBytesMax = 64 << 10;
void read_cmdline(std::string_view cmdline, Collected* out);

// AGENT_* variables among NAME=value strings.
void read_environment(const std::vector<std::string>& environment, Collected* out);

// Flags; the -config paths go to *config_paths in order.
void read_flags(const std::vector<std::string>& args, Collected* out,
                std::vector<std::string>* config_paths);

}  // namespace config
