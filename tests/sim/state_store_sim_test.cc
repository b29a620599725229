// state::Store on a simulated node's disk (through the node's SQLite VFS) under crashes that
// lose unsynced writes and tear them: the Store runs with synchronous=NORMAL, so a crash may take
// any number of recent batches -- but after reopening, last_applied must be the end of a batch
// that was applied, and the contents must be exactly what they were right after that batch.
// Then the host's recovery (re-applying the batches after last_applied, as it would from the
// Raft log) must bring it back to the same contents. Many crash cycles per seed, half torn.
#include <gtest/gtest.h>

#include <cinttypes>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/state/store.h"
#include "agent/wire/state_command.h"
#include "hal/sim/seeds.h"
#include "hal/sim/world.h"
#include "sim_helpers.h"

namespace {

constexpr const char* kPath = "/var/lib/weft/state.db";

std::string encode(const wire::StateCommand& c) {
  auto r = wire::encode_state_command(c);
  AGENT_ASSERT(r.is_ok());
  return *r;
}

// A batch of 1..8 random KV commands over a small key space (so deletes and cas hit), values up
// to 3 KB (so the WAL grows by several pages per batch and checkpoints happen).
std::vector<std::string> random_batch(base::Prng& prng) {
  std::vector<std::string> out;
  const int n = static_cast<int>(prng.range(1, 8));
  for (int i = 0; i < n; ++i) {
    wire::StateCommand c;
    c.key = "k/" + std::to_string(prng.uniform(6)) + "/" + std::to_string(prng.uniform(20));
    switch (prng.uniform(10)) {
      case 0:
        c.type = wire::StateCommandType::kKvDelete;
        break;
      case 1:
        c.type = wire::StateCommandType::kKvDeleteTree;
        c.key = "k/" + std::to_string(prng.uniform(6)) + "/";
        break;
      case 2:
        c.type = wire::StateCommandType::kKvCas;
        c.index = prng.uniform(50);
        c.value = "cas";
        break;
      default:
        c.type = wire::StateCommandType::kKvSet;
        c.value = std::string(static_cast<size_t>(prng.range(0, 3000)), static_cast<char>('a' + prng.uniform(26)));
        c.flags = prng.uniform(4);
        break;
    }
    out.push_back(encode(c));
  }
  return out;
}

// Opens the store; an open whose fsync lost power (the node is down then) is retried after a
// restart, as the host would be restarted.
std::unique_ptr<state::Store> open_store(sim::World& w, sim::Node& n) {
  state::StoreOptions o;
  o.vfs = n.sqlite_vfs().name();
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto r = state::Store::open(kPath, o);
    if (r.is_ok()) return std::move(r).value();
    EXPECT_FALSE(n.up()) << r.status().to_string();
    if (n.up()) return nullptr;
    w.restart(n.id());
  }
  ADD_FAILURE() << "the store did not open in 20 attempts";
  return nullptr;
}

std::vector<state::KvEntry> contents(state::Store& s) {
  auto r = s.list("");
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : std::vector<state::KvEntry>{};
}

}  // namespace

TEST(StateStoreSim, CrashesAndTornWritesLeaveABatchBoundary) {
  uint64_t crashes = 0, torn = 0, cuts = 0, batches_lost = 0, batches_kept = 0;
  // 10 seeds, ~2 s in release; unoptimised builds (the ASan stage, ~40x slower) run 3.
#if defined(__OPTIMIZE__)
  constexpr uint64_t kSeeds = 10;
#else
  constexpr uint64_t kSeeds = 3;
#endif
  for (uint64_t seed : sim::test_seeds(kSeeds)) {
    WEFT_SIM_SEED_SCOPE(seed);
    sim::SimConfig cfg;
    cfg.disk_tear_probability = 0.5;
    cfg.disk_crash_in_sync_probability = 0.05;  // syncs are rare here: only checkpoints sync
    sim::World w(seed, cfg);
    sim::Node& n = w.node(w.add_node("f1"));
    ASSERT_TRUE(n.fs().make_dirs("/var/lib/weft", 0700).is_ok());
    base::Prng prng(w.derive_seed(0x5354, seed));

    // The "Raft log": every batch ever committed, by first index; and the expected contents after
    // each batch (keyed by the batch's last index).
    std::map<uint64_t, std::vector<std::string>> log;
    std::map<uint64_t, std::vector<state::KvEntry>> after;
    after[0] = {};
    uint64_t next_index = 1;
    // The reference replica: a node whose disk never crashes applies every batch first.
    sim::Node& r = w.node(w.add_node("ref"));
    r.fs().set_tear_probability(0);
    r.fs().set_crash_in_sync_probability(0);
    ASSERT_TRUE(r.fs().make_dirs("/var/lib/weft", 0700).is_ok());
    std::unique_ptr<state::Store> ref = open_store(w, r);
    std::unique_ptr<state::Store> store = open_store(w, n);
    ASSERT_TRUE(store && ref);

    for (int cycle = 0; cycle < 12; ++cycle) {
      // A power cut in an fsync (disk_crash_in_sync_probability; here only checkpoints sync)
      // crashes the node in the middle of a batch or just after it: the node is down then, and
      // the cycle goes on to the reopen.
      auto applied = [&](uint64_t first, const std::vector<std::string>& batch) {
        auto res = store->apply(first, batch);
        EXPECT_TRUE(res.is_ok() || !n.up()) << res.status().to_string();
        return res.is_ok() && n.up();
      };
      // Catch up from the log (what the host does after a restart), then new batches.
      uint64_t attempted = store->last_applied();
      for (auto it = log.upper_bound(store->last_applied()); it != log.end() && n.up(); ++it) {
        ASSERT_EQ(it->first, store->last_applied() + 1);
        attempted = it->first + it->second.size() - 1;
        if (!applied(it->first, it->second)) break;
        ASSERT_EQ(contents(*store), after.at(store->last_applied())) << "replay diverged at " << it->first;
      }
      const int batches = static_cast<int>(prng.range(1, 40));
      for (int b = 0; b < batches && n.up(); ++b) {
        std::vector<std::string> batch = random_batch(prng);
        ASSERT_TRUE(ref->apply(next_index, batch).is_ok());
        log[next_index] = batch;
        next_index += batch.size();
        after[next_index - 1] = contents(*ref);
        attempted = next_index - 1;
        if (!applied(next_index - batch.size(), batch)) break;
        ASSERT_EQ(contents(*store), after.at(next_index - 1));
      }
      w.crash(n.id());  // no-op if a power cut in an fsync crashed it already
      store.reset();    // the handle died with the process; closing it writes nothing
      ++crashes;
      w.restart(n.id());
      store = open_store(w, n);
      ASSERT_TRUE(store) << "seed " << seed << " cycle " << cycle;
      const uint64_t la = store->last_applied();
      ASSERT_TRUE(after.count(la)) << "seed " << seed << ": last_applied " << la << " is not a batch boundary";
      ASSERT_LE(la, attempted);
      EXPECT_EQ(contents(*store), after.at(la)) << "seed " << seed << " cycle " << cycle << " at " << la;
      (la < attempted ? batches_lost : batches_kept)++;
    }
    torn += n.fs().torn_files();
    cuts += n.fs().power_cuts_in_sync();
    store.reset();
    ref.reset();
  }
  printf("state store sim: %" PRIu64 " crashes (%" PRIu64 " in fsync), %" PRIu64
         " files torn, recent batches lost in %" PRIu64 " and all kept in %" PRIu64 "\n",
         crashes, cuts, torn, batches_lost, batches_kept);
  EXPECT_GT(torn, 0u);
  EXPECT_GT(batches_lost, 0u);  // synchronous=NORMAL: crashes must sometimes cost batches
}
