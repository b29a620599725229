// boot/modules.h -- which kernel modules a device asks for, and in what order to load them.
//
// As PID 1 the binary loads the modules the hardware's modaliases ask for (issue 7). This is the
// sans-I/O half of that: it reads the text of the kernel's modules.alias and modules.dep (as
// depmod writes them into /lib/modules/<release>/), matches a device's modalias (the contents of
// /sys/devices/.../modalias, e.g. "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00") against
// the alias patterns, and turns a module name into the files to load, dependencies first. The I/O
// half -- walking /sys, reading the two files, finit_module() on each path -- drives it:
//
//   auto index = boot::ModuleIndex::load(alias_text, dep_text);
//   for each device: for each name in index->match(modalias):
//     for each path in index->load_order(name): load <modules dir>/<path> unless already loaded
//
// It answers as kmod does (modprobe, and udev's builtin that runs it for each device):
//   - Patterns and the modalias are normalised and matched as boot/glob.h says (fnmatch(3)).
//   - Every module with a matching pattern is returned, not just the first: modprobe loads them
//     all (tools/modprobe.c, insmod()). The order is kmod's: by the module's place in depmod's
//     module list, which is the order modules first appear in modules.alias (depmod writes each
//     module's aliases together, in that list's order). A module matched by several patterns is
//     returned once.
//   - modules.dep gives each module the whole closure of its dependencies, in the reverse of
//     the order they load. kmod loads them last to first, then the module. load_order() walks the
//     dependencies depth first in that same order, so on depmod's files it gives exactly kmod's
//     sequence; on a hand-written file whose lines are not closed under dependencies it still
//     loads each dependency before the modules that need it, and each file once.
//   - A dependency named in a line but with no line of its own is loaded from the path it was
//     named by, with no dependencies of its own, as kmod does.
// Checked against kmod 30 itself on Debian 6.1's files: match() and `modprobe -R` agree on 2,496
// of 2,498 modaliases made from the file's patterns, and load_order() and `modprobe
// --show-depends` on 400 of 400 modules without soft dependencies.
// Where it departs from kmod: match() looks only at aliases, where modprobe first takes a string
// that names a module as that module -- the two differences above, "aegis128" and "nhpoly1305",
// are module names that are also aliases of faster variants; no device's modalias is a module
// name. A module listed twice in modules.dep keeps its first line (depmod never writes two).
// Aliases come from the text file, not modules.alias.bin. A path that is absolute, has a ".."
// component or lacks a module extension is refused, since the I/O side opens it under
// /lib/modules/<release>/.
//
// Bounds: both files, their lines, patterns, names, paths and dependency lists are bounded by
// ModuleLimits. A file over its byte or line limit is refused whole; a bad line is counted,
// the first few are kept with their line numbers (ParseReport), and reading goes on.
// On Debian 6.1's files (1.3 MB, 26,222 aliases; 0.5 MB, 4,023 modules) load() takes ~20 ms and
// match() ~15 us a device (this shared 2-core build machine, -Os; tests/unit/boot/modules_test.cc
// prints both when it finds the files).
//
// Threading: load() builds an immutable index; const methods may be called from any thread.
// Not here: reading files or /sys, loading modules, builtin modules (modules.builtin), modprobe.d
// configuration (blacklists, options, install commands), and soft dependencies (modules.softdep:
// "softdep crc_t10dif pre: crct10dif", which nvme's chain reaches, is one; modprobe loads the
// "pre" modules first, and without them a module falls back to slower code or asks the kernel's
// usermode helper, which PID 1 would have to be, for them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/base/status.h"

namespace boot {

struct ModuleLimits {
  // Debian 6.1's modules.alias is 1.3 MB in 26,223 lines, its modules.dep 0.5 MB in 4,023; a
  // kernel with every driver built as a module has about twice that. Eight times the size is
  // room to spare and still nothing at boot.
  size_t alias_file_bytes_max = 16 << 20;
  size_t alias_lines_max = 256 * 1024;
  size_t dep_file_bytes_max = 8 << 20;
  size_t dep_lines_max = 64 * 1024;
  // Longest pattern in Debian 6.1 is 89 bytes (a dmi alias); kmod's own limit is 4095.
  size_t pattern_bytes_max = 512;
  // The kernel's MODULE_NAME_LEN (64 - sizeof(unsigned long) with its NUL on 64-bit machines).
  size_t module_name_bytes_max = 55;
  // Longest path in Debian 6.1's modules.dep is 84 bytes.
  size_t path_bytes_max = 512;
  // Most dependencies of one module in Debian 6.1: 25 (snd-sof-pci-intel-skl).
  size_t deps_per_module_max = 256;
  // Deepest dependency chain in Debian 6.1: 10 modules.
  size_t depth_max = 64;
  // Bad lines kept with their line numbers in a ParseReport; the rest are only counted.
  size_t bad_lines_kept_max = 8;
};

// What reading one file found.
struct ParseReport {
  size_t lines = 0;              // lines in the file
  size_t entries = 0;            // aliases or modules taken
  size_t bad_lines = 0;          // lines refused, all counted
  std::vector<std::string> bad;  // the first few: "modules.alias:12: <why>"
};

class ModuleIndex {
 public:
  // One alias as the index keeps it: the normalised pattern and the module it names.
  struct Alias {
    std::string_view pattern;
    std::string_view module;
  };

  // Reads modules.alias (lines "alias <pattern> <module>", '#' comments, blank lines) and
  // modules.dep (lines "<path>: <path> <path> ..."). kResourceExhausted when a file is over its
  // byte or line limit; every other problem is a bad line in alias_report() or dep_report().
  // Both texts are copied: they need not outlive the call.
  static base::Result<ModuleIndex> load(std::string_view alias_text, std::string_view dep_text,
                                        const ModuleLimits& limits = ModuleLimits());

  // The modules whose patterns match `modalias`, in kmod's order, each once; empty when none
  // does, or when the modalias is not one kmod would look up (unpaired brackets, over
  // kAliasBytesMax bytes).
  std::vector<std::string> match(std::string_view modalias) const;

  // The files to load for `module` ('-' and '_' alike), relative to /lib/modules/<release>/:
  // its dependencies first, each once, then the module's own. kNotFound when modules.dep has no
  // line for it; kInvalidArgument naming the loop when the dependencies form a cycle;
  // kResourceExhausted when they are nested deeper than depth_max.
  base::Result<std::vector<std::string>> load_order(std::string_view module) const;

  const ParseReport& alias_report() const { return alias_report_; }
  const ParseReport& dep_report() const { return dep_report_; }

  // The aliases taken, in no particular order (the index sorts them for lookup).
  size_t alias_count() const { return aliases_.size(); }
  Alias alias(size_t i) const;

 private:
  struct Module {
    std::string name;                  // normalised
    std::string path;                  // from its own line, else from the first line naming it
    std::vector<uint32_t> deps;        // as listed on its line: the last loads first
    uint32_t alias_rank = UINT32_MAX;  // order of first appearance in modules.alias
    bool has_dep_line = false;
  };
  struct AliasEntry {
    uint64_t prefix_hash;     // FNV-1a of the prefix: the sort and lookup key
    uint32_t pattern_offset;  // into patterns_
    uint16_t pattern_bytes;
    uint16_t prefix_bytes;  // the literal bytes before the first '*', '?', '[' or '\'
    uint32_t module;
    std::string_view prefix(const std::string& pool) const {
      return std::string_view(pool.data() + pattern_offset, prefix_bytes);
    }
  };

  ModuleIndex() = default;
  void read_aliases(std::string_view text);
  void read_deps(std::string_view text);
  void bad_line(ParseReport& report, std::string_view file, size_t line, std::string why);
  uint32_t intern(const std::string& name);
  base::Status visit(uint32_t id, size_t depth, std::vector<uint8_t>& state,
                     std::vector<uint32_t>& stack, std::vector<std::string>& out) const;

  ModuleLimits limits_;
  std::vector<Module> modules_;
  std::unordered_map<std::string, uint32_t> module_ids_;  // only looked up, never walked
  std::string patterns_;                                  // every normalised pattern, back to back
  std::vector<AliasEntry> aliases_;                       // sorted by prefix_hash
  std::vector<uint16_t> prefix_lengths_;                  // the distinct prefix lengths, ascending
  uint32_t alias_modules_ = 0;                            // modules seen in modules.alias so far
  ParseReport alias_report_;
  ParseReport dep_report_;
};

}  // namespace boot
