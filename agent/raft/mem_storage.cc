// MemStorage: see mem_storage.h.
#include "agent/raft/mem_storage.h"

namespace raft {

std::vector<Entry> MemStorage::entries(Index from) const {
  AGENT_ASSERT(from >= 1);
  if (from > current_.log.size()) return {};
  return std::vector<Entry>(current_.log.begin() + static_cast<ptrdiff_t>(from - 1), current_.log.end());
}

void MemStorage::apply(State& s, const Write& w) {
  switch (w.kind) {
    case Write::kHardState: s.hs = w.hs; break;
    case Write::kTruncate:
      if (w.from >= 1 && w.from <= s.log.size()) s.log.resize(w.from - 1);
      break;
    case Write::kAppend:
      for (const Entry& e : w.entries) s.log.push_back(e);
      break;
  }
}

base::Status MemStorage::save_hard_state(const HardState& hs) {
  Write w{Write::kHardState, hs, 0, {}};
  apply(current_, w);
  unsynced_.push_back(std::move(w));
  return base::Status::ok();
}

base::Status MemStorage::truncate_suffix(Index from) {
  if (from == 0) return base::error(base::Code::kInvalidArgument, "mem storage: truncate from index 0");
  Write w{Write::kTruncate, {}, from, {}};
  apply(current_, w);
  unsynced_.push_back(std::move(w));
  return base::Status::ok();
}

base::Status MemStorage::append(std::span<const Entry> entries) {
  if (entries.empty()) return base::Status::ok();
  Index next = current_.log.size() + 1;
  for (const Entry& e : entries) {
    if (e.index != next++) {
      return base::error(base::Code::kInvalidArgument, "mem storage: append of index %llu after %zu",
                         static_cast<unsigned long long>(e.index), current_.log.size());
    }
  }
  Write w{Write::kAppend, {}, 0, std::vector<Entry>(entries.begin(), entries.end())};
  apply(current_, w);
  unsynced_.push_back(std::move(w));
  return base::Status::ok();
}

base::Status MemStorage::sync() {
  if (fail_next_sync) {
    fail_next_sync = false;
    return base::error(base::Code::kIo, "mem storage: injected sync failure");
  }
  for (const Write& w : unsynced_) apply(durable_, w);
  unsynced_.clear();
  ++syncs_;
  return base::Status::ok();
}

void MemStorage::crash() {
  unsynced_.clear();
  current_ = durable_;
}

}  // namespace raft
