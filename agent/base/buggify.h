// AGENT_BUGGIFY: fault sites in production code that fire only in simulation (FoundationDB's
// BUGGIFY). Write `if (AGENT_BUGGIFY(0.01)) { take the rare path }` where a rare branch -- a
// short read, a delayed flush, an early timeout -- deserves exercise.
//
// Outside builds that define WEFT_BUGGIFY the macro is the constant `false` and the site
// compiles away. With WEFT_BUGGIFY defined (simulation test builds), it asks the hook a
// simulator installed: the simulator (sim::World with SimConfig::buggify) decides, from the run's
// seed, whether this site (file and line) is enabled in this run at all -- FoundationDB enables
// each site in a quarter of runs -- and if so fires it with probability `p`. With no hook
// installed it is false, so unit tests are unaffected.
//
// Determinism: the hook's answer depends only on the seed, the site's file name and line, and
// how many times sites were asked before -- never on addresses. Threading: sites are evaluated on
// the simulation thread only (there is only one in a simulation).
#pragma once

namespace base::buggify {

// Returns whether the site at file:line fires now, with per-fire probability `p`.
using Hook = bool (*)(void* ctx, double p, const char* file, int line);

inline Hook g_hook = nullptr;
inline void* g_ctx = nullptr;

// Installs (or, with nullptr, removes) the simulator's hook.
inline void install(Hook hook, void* ctx) {
  g_hook = hook;
  g_ctx = ctx;
}

inline bool fire(double p, const char* file, int line) { return g_hook != nullptr && g_hook(g_ctx, p, file, line); }

}  // namespace base::buggify

#if defined(WEFT_BUGGIFY)
#define AGENT_BUGGIFY(p) (::base::buggify::fire((p), __FILE__, __LINE__))
#else
#define AGENT_BUGGIFY(p) (false)
#endif
