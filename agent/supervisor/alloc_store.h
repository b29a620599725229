// supervisor::AllocStore -- the node's own record of its allocations (issue 6 item 4), in a
// local SQLite file (<data_dir>/allocs.db), so that an agent restarted after a crash re-attaches
// to its tasks and one started after a reboot runs its allocations again with no foundation
// reachable.
//
// One row per allocation: its identity, where it came from ("static": the node's config; later
// "server"), what is wanted of it ("run" or "stop"), its client status, the job it runs (as
// sched::encode_job writes it) and its task states as JSON (Supervisor's own shape: Nomad's
// TaskState plus the pid and start time needed to re-attach) and its network (ports and address,
// alloc_network.h; the rows of a file an older agent made, which had no network, move to the
// current table when it opens). put() replaces the row in one
// transaction. The file is in WAL mode with synchronous=NORMAL: a transition lost at a power
// cut is harmless (the process it names is gone too), and no commit waits for an fsync, so
// put() is cheap enough for the loop thread (a few per task start or exit, never per output
// byte).
//
// Threading: the loop thread. Not here: what the rows mean (supervisor.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace supervisor {

struct AllocRecord {
  std::string id;
  std::string name;    // "<job>.<group>[<index>]"
  std::string source;  // "static"
  std::string desired;  // "run", "stop"
  std::string client_status;  // "pending", "running", "complete", "failed"
  std::string job_json;
  std::string group;
  int32_t index = 0;
  std::string tasks_json;
  std::string network_json;  // alloc_network.h's encode_alloc_network; "" until assigned
  int64_t create_unix_ns = 0;
  int64_t modify_unix_ns = 0;
};

// Most allocations a node keeps (running and finished ones not yet collected).
inline constexpr size_t kAllocsMax = 1024;

class AllocStore {
 public:
  // Opens or creates the file; `vfs` as hal::Env::sqlite_vfs.
  static base::Result<std::unique_ptr<AllocStore>> open(const std::string& path, const std::string& vfs);
  ~AllocStore();
  AllocStore(const AllocStore&) = delete;
  AllocStore& operator=(const AllocStore&) = delete;

  base::Result<std::vector<AllocRecord>> load();
  [[nodiscard]] base::Status put(const AllocRecord& r);
  [[nodiscard]] base::Status remove(const std::string& id);

 private:
  explicit AllocStore(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* remove_ = nullptr;
};

}  // namespace supervisor
