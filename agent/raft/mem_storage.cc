// MemStorage: see mem_storage.h.
#include "agent/raft/mem_storage.h"

#include <algorithm>

namespace raft {

std::vector<Entry> MemStorage::entries(Index from) const {
  AGENT_ASSERT(from >= 1);
  from = std::max(from, first_index());
  if (from > last_index()) return {};
  return std::vector<Entry>(current_.log.begin() + static_cast<ptrdiff_t>(from - first_index()), current_.log.end());
}

// Drops log entries <= upto (upto >= s.start.index).
static void drop_prefix(std::vector<Entry>& log, Index start, Index upto) {
  const size_t n = std::min<size_t>(log.size(), upto - start);
  log.erase(log.begin(), log.begin() + static_cast<ptrdiff_t>(n));
}

void MemStorage::apply(State& s, const Write& w) {
  switch (w.kind) {
    case Write::kHardState: s.hs = w.hs; break;
    case Write::kTruncate:
      if (w.from > s.start.index && w.from <= s.start.index + s.log.size()) s.log.resize(w.from - 1 - s.start.index);
      break;
    case Write::kAppend:
      for (const Entry& e : w.entries) s.log.push_back(e);
      break;
    case Write::kSnapshot:
      drop_prefix(s.log, s.start.index, w.meta.index);
      s.start = w.meta;
      break;
    case Write::kCompact:
    {
      if (w.from <= s.start.index) break;
      AGENT_ASSERT(w.from <= s.start.index + s.log.size());
      const Term t = s.log[w.from - s.start.index - 1].term;
      // The configuration as of `from` (§4.1): the latest kConfig entry compacted away, else
      // the one the log start already recorded.
      wire::RaftMembership config = s.start.config;
      for (size_t i = w.from - s.start.index; i-- > 0;) {
        if (s.log[i].type != wire::EntryType::kConfig) continue;
        const base::Status st = wire::decode_raft_membership(s.log[i].data, &config);
        AGENT_ASSERT_MSG(st.is_ok(), "mem storage: undecodable configuration entry");
        break;
      }
      drop_prefix(s.log, s.start.index, w.from);
      s.start = SnapshotMeta{w.from, t, std::move(config)};
      break;
    }
  }
}

base::Status MemStorage::save_hard_state(const HardState& hs) {
  Write w{Write::kHardState, hs, 0, {}, {}};
  apply(current_, w);
  unsynced_.push_back(std::move(w));
  return base::Status::ok();
}

base::Status MemStorage::apply_snapshot(const SnapshotMeta& meta) {
  if (meta.index < current_.start.index || meta.index == 0 || meta.term == 0) {
    return base::error(base::Code::kInvalidArgument, "mem storage: snapshot at %llu behind the log start %llu",
                       static_cast<unsigned long long>(meta.index),
                       static_cast<unsigned long long>(current_.start.index));
  }
  Write w{Write::kSnapshot, {}, 0, {}, meta};
  apply(current_, w);
  unsynced_.push_back(std::move(w));
  return base::Status::ok();
}

base::Status MemStorage::compact(Index upto) {
  if (upto <= current_.start.index) return base::Status::ok();
  if (upto > last_index()) {
    return base::error(base::Code::kInvalidArgument, "mem storage: compact to %llu past the log's end %llu",
                       static_cast<unsigned long long>(upto), static_cast<unsigned long long>(last_index()));
  }
  Write w{Write::kCompact, {}, upto, {}, {}};
  apply(current_, w);
  unsynced_.push_back(std::move(w));
  return base::Status::ok();
}

base::Status MemStorage::truncate_suffix(Index from) {
  if (from <= current_.start.index) {
    return base::error(base::Code::kInvalidArgument, "mem storage: truncate from %llu, at or before the log start",
                       static_cast<unsigned long long>(from));
  }
  Write w{Write::kTruncate, {}, from, {}, {}};
  apply(current_, w);
  unsynced_.push_back(std::move(w));
  return base::Status::ok();
}

base::Status MemStorage::append(std::span<const Entry> entries) {
  if (entries.empty()) return base::Status::ok();
  Index next = last_index() + 1;
  for (const Entry& e : entries) {
    if (e.index != next++) {
      return base::error(base::Code::kInvalidArgument, "mem storage: append of index %llu after %llu",
                         static_cast<unsigned long long>(e.index), static_cast<unsigned long long>(last_index()));
    }
  }
  Write w{Write::kAppend, {}, 0, std::vector<Entry>(entries.begin(), entries.end()), {}};
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
