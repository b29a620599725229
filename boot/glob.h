// boot/glob.h -- the pattern language of modules.alias, as kmod speaks it.
//
// kmod matches a device's modalias against each alias pattern depmod indexed with glibc's
// fnmatch(pattern, modalias, 0) (libkmod-index.c, index_searchwild): no FNM_PATHNAME, FNM_PERIOD
// or FNM_NOESCAPE, so '*' and '?' match any byte, '/' and a leading '.' included, and '\' quotes
// the byte after it. Before that, depmod (writing modules.alias.bin) and kmod (looking a name up)
// both pass the pattern and the modalias through alias_normalize() (kmod's shared/util.c): '-'
// becomes '_' outside brackets, and a string whose brackets do not pair up is refused. Module
// names are normalised the same way ('-' to '_'). This file does the same in the C locale --
// bytes compare by value, ranges run over byte values -- and keeps glibc's answers in the odd
// cases, checked against glibc's own fnmatch by tests/unit/boot/glob_test.cc and by the
// module_index fuzz target:
//   - '[' opens a bracket expression; '!' or '^' right after it negates (POSIXLY_CORRECT unset,
//     as under udev and modprobe); a ']' first in the set is a member, a later one closes it;
//     "a-z" is a range unless the '-' is followed by ']' (then '-' is a member); '\' quotes a
//     member or a range's end.
//   - A '[' whose set never closes is an ordinary byte ("[ab" matches "[ab"), except where
//     glibc, reading that set, meets the pattern's end right after a '\' or a "x-": then the
//     position fails ("[a-" and "[a\" match nothing).
//   - A trailing '\' never matches.
//   - Pattern and text end at their first NUL byte, as C strings do.
// Where it departs: bracket expressions naming a character class ("[:alpha:]"), an equivalence
// class ("[=a=]") or a collating symbol ("[.a.]") are glibc's locale machinery, which no kernel
// alias uses and which alias_normalize() already refuses in most spellings. glob_supported() is
// false for them; glob_match() then reads that '[' as an ordinary member of the set.
//
// Matching is greedy with one backtrack point per '*', so it takes O(pattern x text) steps
// whatever the input: no exponential blow-up on "*a*a*a*b".
//
// Threading: pure functions over their arguments.
// Not here: the alias table and its index (modules.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/base/status.h"

namespace boot {

// Longest alias, modalias or pattern that kmod handles: its buffers are PATH_MAX (4096) with the
// NUL. Longer strings are refused here, where kmod would silently cut them.
inline constexpr size_t kAliasBytesMax = 4095;

// True when `text` matches `pattern` as glibc's fnmatch(pattern, text, 0) says in the C locale
// (see the file comment for the rules). Never fails; O(pattern.size() x text.size()) steps.
bool glob_match(std::string_view pattern, std::string_view text);

// False when `pattern` has a '[' followed by ':', '=' or '.' (character class, equivalence class,
// collating symbol): glob_match() is then not glibc's answer. A NUL ends the pattern first.
bool glob_supported(std::string_view pattern);

// kmod's alias_normalize(): '-' becomes '_' except between '[' and the next ']'. kInvalidArgument
// for a ']' with no '[' before it, a '[' with no ']' after it, or more than kAliasBytesMax bytes.
base::Result<std::string> normalize_alias(std::string_view alias);

// kmod's modname_normalize(): '-' becomes '_' and the name ends at its first '.' (so a file name
// "nvme-core.ko.xz" gives "nvme_core").
std::string normalize_module_name(std::string_view name);

// kmod's path_to_modname(): the module name of a path in modules.dep
// ("kernel/drivers/nvme/host/nvme-core.ko" gives "nvme_core"); empty when the path ends in '/'.
std::string module_name_from_path(std::string_view path);

}  // namespace boot
