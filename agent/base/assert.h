// Always-on assertions for broken invariants.
//
// AGENT_ASSERT stays in release builds (TigerBeetle's rule: a program that has lost its
// invariants must stop before it does damage). It prints the expression, file and line, then
// aborts. Untrusted input must never reach an assert: validate it and return a Status.
#pragma once

namespace base {
[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const char* msg);
}  // namespace base

#define AGENT_ASSERT(cond) \
  ((cond) ? (void)0 : ::base::assert_fail(#cond, __FILE__, __LINE__, nullptr))
#define AGENT_ASSERT_MSG(cond, msg) \
  ((cond) ? (void)0 : ::base::assert_fail(#cond, __FILE__, __LINE__, (msg)))
#define AGENT_UNREACHABLE() ::base::assert_fail("unreachable", __FILE__, __LINE__, nullptr)
