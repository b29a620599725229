#include "hal/sim/seeds.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace sim {

namespace {

bool parse_u64(const char* s, uint64_t* out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  unsigned long long v = strtoull(s, &end, 0);
  if (!end || *end) return false;
  *out = v;
  return true;
}

// The seed being run, for the abort handler; plain globals because a signal handler reads them.
volatile sig_atomic_t g_active = 0;
uint64_t g_seed = 0;
bool g_handler_installed = false;

void on_abort(int sig) {
  if (g_active) {
    char buf[160];
    const unsigned long long s = g_seed;
    int n = snprintf(buf, sizeof buf, "\nsim: aborted while running seed=%llu; replay with WEFT_SIM_SEED=%llu\n", s, s);
    if (n > 0) {
      ssize_t ignored = write(STDERR_FILENO, buf, static_cast<size_t>(n));
      (void)ignored;
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

std::vector<uint64_t> test_seeds(uint64_t count_default) {
  uint64_t one = 0;
  if (parse_u64(getenv("WEFT_SIM_SEED"), &one)) return {one};
  uint64_t count = count_default;
  uint64_t env_count = 0;
  if (parse_u64(getenv("WEFT_SIM_SEEDS"), &env_count) && env_count > 0) count = env_count;
  std::vector<uint64_t> seeds;
  seeds.reserve(count);
  for (uint64_t i = 1; i <= count; ++i) seeds.push_back(i);
  return seeds;
}

bool replaying_one_seed() {
  uint64_t one = 0;
  return parse_u64(getenv("WEFT_SIM_SEED"), &one);
}

std::string seed_banner(uint64_t seed) {
  char buf[96];
  snprintf(buf, sizeof buf, "seed=%llu (replay: WEFT_SIM_SEED=%llu)", static_cast<unsigned long long>(seed),
           static_cast<unsigned long long>(seed));
  return buf;
}

SeedScope::SeedScope(uint64_t seed) : previous_(g_seed), had_previous_(g_active != 0) {
  if (!g_handler_installed) {
    signal(SIGABRT, on_abort);
    g_handler_installed = true;
  }
  g_seed = seed;
  g_active = 1;
}

SeedScope::~SeedScope() {
  g_seed = previous_;
  g_active = had_previous_ ? 1 : 0;
}

}  // namespace sim
