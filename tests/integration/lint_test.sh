#!/usr/bin/env bash
# Proves tools/lint catches what it exists to catch (negative controls): an OS header, a direct
# clock read, rand(), getenv() in agent/, and a Windows header outside hal/win32 -- and that the
# same tree without them passes. Runs the real script on a scratch copy of the layout.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)

make_tree() {
  rm -rf "$WORK/tree"
  mkdir -p "$WORK/tree/tools" "$WORK/tree/agent/core" "$WORK/tree/hal/posix" "$WORK/tree/boot"
  cp "$repo/tools/lint" "$WORK/tree/tools/lint"
  printf '// Uses no OS: rand() named in a comment is fine.\n#include <string>\nint f() { return 1; }\n' >"$WORK/tree/agent/core/ok.cc"
  printf '#include <sys/socket.h>\n' >"$WORK/tree/hal/posix/ok.cc"
}

make_tree
check "a clean tree passes" bash "$WORK/tree/tools/lint"

expect_caught() {  # expect_caught <description> <file under tree> <content>
  make_tree
  mkdir -p "$(dirname "$WORK/tree/$2")"
  printf '%s\n' "$3" >"$WORK/tree/$2"
  if out=$(bash "$WORK/tree/tools/lint" 2>&1); then
    fail "lint missed: $1"
  elif grep -q "$2" <<<"$out"; then
    ok "lint catches $1"
  else
    fail "lint failed but did not name $2: $out"
  fi
}

expect_caught "an OS header in agent/" agent/core/bad.cc '#include <sys/socket.h>'
expect_caught "unistd.h in agent/" agent/core/bad.h '#include <unistd.h>'
expect_caught "a steady_clock read in agent/" agent/core/bad.cc 'auto t = std::chrono::steady_clock::now();'
expect_caught "time(nullptr) in agent/" agent/core/bad.cc 'long t = time(nullptr);'
expect_caught "rand() in agent/" agent/core/bad.cc 'int x = rand();'
expect_caught "std::random_device in agent/" agent/core/bad.cc 'std::random_device rd;'
expect_caught "getenv in agent/" agent/core/bad.cc 'const char* h = getenv("HOME");'
expect_caught "windows.h outside hal/win32" hal/posix/bad.cc '#include <windows.h>'
expect_caught "lwIP outside hal/lwip" boot/bad.cc '#include "lwip/sockets.h"'
finish
