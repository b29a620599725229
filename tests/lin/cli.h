// lincheck, the command-line front of the checker: reads one history file (Jepsen etcd log or
// Weft's history format, tests/lin/README.md), checks it and prints the verdict.
//
//   lincheck [--format=auto|jepsen|weft] [--budget-ms=N] [--memo-mb=N] <history>
//
// Exit status: 0 linearizable, 1 not linearizable (with an explanation), 2 unknown (a budget ran
// out) or an error (usage, unreadable file, malformed history).
//
// A function rather than main() so the unit test can run it; lincheck_main.cc only calls it.
// Not part of the agent binary: it is a test tool.
#pragma once

#include <cstdio>

namespace lin {

int lincheck_main(int argc, const char* const* argv, std::FILE* out, std::FILE* err);

}  // namespace lin
