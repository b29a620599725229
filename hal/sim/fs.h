// hal/sim/fs.h -- sim::SimFs: a node's in-memory disk, with the crash semantics of a real one.
//
// Every file has the content the node reads now and, separately, the content that is durable
// (what the disk holds after a power cut). write_file(durable=true) is the contract's
// temp-file + fsync + rename + fsync-directory sequence: it sets both at once, atomically. A
// plain write (durable=false) changes only the current content. crash() -- called by the World
// when the node crashes -- throws every non-durable change away: a file last written without
// `durable` goes back to its last durable content, or vanishes if it never had one. That is the
// deliberate fault: code that forgets `durable` loses data in simulation, as it would on a
// machine that loses power.
//
// Simplifications, on purpose: directory creation, remove(), remove_tree() and chmod() are
// durable at once (real metadata operations need a directory fsync; nothing in the contract lets
// a caller ask for one). Paths are normalised ("//" collapsed, trailing "/" dropped; a relative
// path is taken from "/"); there are no symlinks and no "..".
//
// Faults a test can inject: fail_durable_writes(n) makes the next n durable writes fail with kIo
// ("fsync failed") leaving the old content, and the disk has a size (SimConfig::disk_bytes_max)
// past which writes fail with kResourceExhausted.
//
// Threading: the simulation thread only (the sim executor runs `work` inline on it).
// Ownership: sim::Node owns one SimFs for its whole life; it survives restarts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hal/clock.h"
#include "hal/fs.h"

namespace sim {

class SimFs final : public hal::Fs {
 public:
  // `clock` (borrowed, outlives this) stamps modification times.
  SimFs(hal::Clock& clock, uint64_t bytes_max);

  base::Result<std::string> read_file(std::string_view path, size_t bytes_max) override;
  [[nodiscard]] base::Status write_file(std::string_view path, base::ByteSpan data, uint32_t mode,
                                        bool durable) override;
  [[nodiscard]] base::Status make_dirs(std::string_view path, uint32_t mode) override;
  base::Result<std::vector<std::string>> list_dir(std::string_view path) override;
  base::Result<hal::FileInfo> stat(std::string_view path) override;
  [[nodiscard]] base::Status remove(std::string_view path) override;
  [[nodiscard]] base::Status remove_tree(std::string_view path) override;
  base::Result<std::string> make_temp_dir(std::string_view prefix) override;
  [[nodiscard]] base::Status chmod(std::string_view path, uint32_t mode) override;

  // The power cut: every change not made durable is lost. Returns how many files changed.
  size_t crash();
  // Makes every current content durable (as if the whole disk were synced). For tests.
  void sync_all();
  // The next `count` durable writes fail with kIo and change nothing.
  void fail_durable_writes(uint32_t count) { durable_failures_ = count; }

  // Files whose current content is not durable.
  size_t unsynced_files() const;
  uint64_t bytes_used() const { return bytes_used_; }

 private:
  struct File {
    std::string data;
    std::optional<std::string> durable;  // nullopt: never durably written
    uint32_t mode = 0644;
    base::WallTime modified;
  };
  struct Dir {
    uint32_t mode = 0755;
    base::WallTime modified;
  };

  static std::string normalize(std::string_view path);
  static std::string parent_of(const std::string& path);
  bool has_children(const std::string& dir) const;

  hal::Clock& clock_;
  uint64_t bytes_max_;
  uint64_t bytes_used_ = 0;  // current contents only
  uint32_t durable_failures_ = 0;
  uint64_t temp_counter_ = 0;
  std::map<std::string, File> files_;
  std::map<std::string, Dir> dirs_;
};

}  // namespace sim
