// A kv::Backend for tests: a real state::Store with no consensus. A write is applied at once at
// the next index (last_applied + 1); reads run their fn on the calling thread (the store is the
// test's alone); every callback is posted to the loop, as the contract requires, so the API under
// test never sees one run inside its own call. Knobs make reads and writes fail, change the
// ReadMeta, and bound the watches. Header-only so unit_ctl can serve the real API from it too.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/kv/backend.h"
#include "agent/runtime/loop.h"
#include "agent/state/store.h"
#include "agent/wire/state_command.h"

namespace kvtest {

class TestBackend : public kv::Backend {
 public:
  TestBackend(runtime::Loop& loop, state::Store& store) : loop_(loop), store_(store) {}

  void write(std::string command, std::function<void(base::Result<state::ApplyResult>)> done) override {
    ++writes_;
    if (!write_error_.is_ok()) {
      base::Status e = write_error_;
      post([done = std::move(done), e] { done(e); });
      return;
    }
    const uint64_t index = store_.last_applied() + 1;
    std::vector<std::string> batch{std::move(command)};
    auto r = store_.apply(index, batch);
    if (!r.is_ok()) {
      base::Status e = r.status();
      post([done = std::move(done), e] { done(e); });
      return;
    }
    state::ApplyResult result = (*r)[0];
    post([done = std::move(done), result] { done(result); });
    fire();
  }

  void read(kv::Consistency mode, std::function<base::Status(const state::Store&)> fn,
            std::function<void(base::Status, kv::ReadMeta)> done) override {
    modes_.push_back(mode);
    kv::ReadMeta meta = meta_;
    if (!read_error_.is_ok()) {
      base::Status e = read_error_;
      post([done = std::move(done), e, meta] { done(e, meta); });
      return;
    }
    base::Status s = fn(store_);
    post([done = std::move(done), s, meta] { done(s, meta); });
  }

  uint64_t applied_index() const override { return store_.last_applied(); }

  base::Result<kv::WatchId> watch(uint64_t after, std::function<void()> fn) override {
    if (watches_.size() >= watches_max_) return base::error(base::Code::kResourceExhausted, "too many watches");
    const kv::WatchId id = next_watch_++;
    if (store_.last_applied() > after) {
      post(std::move(fn));
      return id;
    }
    watches_.emplace(id, Watch{after, std::move(fn)});
    return id;
  }

  void unwatch(kv::WatchId id) override { watches_.erase(id); }

  // Applies a set directly (as another client's write would arrive); returns its index.
  uint64_t set(const std::string& key, const std::string& value) {
    wire::StateCommand c;
    c.type = wire::StateCommandType::kKvSet;
    c.key = key;
    c.value = value;
    auto bytes = wire::encode_state_command(c);
    AGENT_ASSERT(bytes.is_ok());
    write(std::move(bytes).value(), [](base::Result<state::ApplyResult>) {});
    return store_.last_applied();
  }

  size_t watches() const { return watches_.size(); }
  const std::vector<kv::Consistency>& modes() const { return modes_; }
  uint64_t writes() const { return writes_; }
  void set_meta(kv::ReadMeta meta) { meta_ = meta; }
  void fail_reads(base::Status s) { read_error_ = std::move(s); }
  void fail_writes(base::Status s) { write_error_ = std::move(s); }
  void set_watches_max(size_t n) { watches_max_ = n; }

 private:
  struct Watch {
    uint64_t after;
    std::function<void()> fn;
  };

  void post(std::function<void()> fn) { AGENT_ASSERT(loop_.post(std::move(fn)).is_ok()); }

  void fire() {
    const uint64_t applied = store_.last_applied();
    for (auto it = watches_.begin(); it != watches_.end();) {
      if (applied > it->second.after) {
        post(std::move(it->second.fn));
        it = watches_.erase(it);
      } else {
        ++it;
      }
    }
  }

  runtime::Loop& loop_;
  state::Store& store_;
  kv::ReadMeta meta_{.known_leader = true, .last_contact_ms = 0};
  base::Status read_error_;
  base::Status write_error_;
  std::map<kv::WatchId, Watch> watches_;
  kv::WatchId next_watch_ = 1;
  size_t watches_max_ = 1 << 20;
  std::vector<kv::Consistency> modes_;
  uint64_t writes_ = 0;
};

}  // namespace kvtest
