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
// Random-access files (create_file, read_at, write_at, truncate, sync_file) are what SQLite needs
// through its VFS (hal/sim/sqlite_vfs.h) and are not part of hal::Fs. A write_at or truncate
// changes the current content only and is remembered, in order, as an unsynced operation of the
// file; sync_file() makes the file's current content durable (fsync: the file's existence too).
// A crash then has two shapes, chosen per crash from the disk's seeded PRNG:
//   - clean (the default, and always when SimConfig::disk_tear_probability is 0): every unsynced
//     operation is lost, as above;
//   - torn (with probability disk_tear_probability): for every file with unsynced operations,
//     either the first k of them reached the platters and the (k+1)-th only as a prefix cut at a
//     sector boundary (SimConfig::disk_sector_bytes; the disk wrote in order and lost power in
//     the middle of a write), or only a sector-aligned prefix of the LAST write did (the cache
//     wrote the newest data first). k and the cut come from the PRNG. Bytes outside a write's
//     range are never changed (SQLite's "powersafe overwrite"), so a torn write is exactly what
//     the WAL's frame checksums must detect. Truncations survive whole or not at all.
// A whole-file write_file() of a file makes its crash clean again until the next sync.
//
// Power cuts during fsync: with probability SimConfig::disk_crash_in_sync_probability a
// sync_file() loses power instead of syncing -- the file's writes reached the disk's cache but
// the flush never completed -- and returns kIo; the node's on_power_lost hook then crashes the
// node (sim::Node sets it), and the crash drops or tears those writes like any others. This is
// the only way a simulated crash lands between a write and its fsync when both happen in one
// call (SQLite's COMMIT), so it is how torn WAL frames appear under a synchronous=FULL database.
//
// Power: the World calls power_off() when a node crashes, BEFORE it destroys the node's process,
// and crash() after: in between every change is refused with kIo (a dead process writes
// nothing -- SQLite's close would otherwise checkpoint its WAL while the simulated machine is
// "off"), and power_cycles() has moved on, which is how SQLite file handles opened before the
// crash know they are dead.
//
// Faults a test can inject: fail_durable_writes(n) makes the next n durable writes or file syncs
// fail with kIo ("fsync failed") leaving the old content (durable) in place; lie_about_syncs(true)
// makes durable writes and file syncs report success without making anything durable (a disk
// whose volatile cache ignores flushes: the negative control for code that relies on fsync); and
// the disk has a size (SimConfig::disk_bytes_max) past which writes fail with kResourceExhausted.
//
// Threading: the simulation thread only (the sim executor runs `work` inline on it).
// Ownership: sim::Node owns one SimFs for its whole life; it survives restarts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/random.h"
#include "hal/clock.h"
#include "hal/fs.h"

namespace sim {

class SimFs final : public hal::Fs {
 public:
  // `clock` (borrowed, outlives this) stamps modification times. `seed` drives the torn-crash
  // choices; `tear_probability` in [0, 1] is the chance that a crash is torn; `sector_bytes` (> 0)
  // is the tearing granularity.
  SimFs(hal::Clock& clock, uint64_t bytes_max, uint64_t seed = 1, double tear_probability = 0.0,
        uint32_t sector_bytes = 512);

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

  // --- appendable files (hal/fs.h) -------------------------------------------------------------
  // An appended byte is an unsynced write at the end of the file (write_at): a crash loses it,
  // or tears it, like any other. A handle follows its file through rename(); once its file is
  // removed or replaced, appends to it succeed and go nowhere (an unlinked inode). rename() is a
  // metadata operation and, like the others here, durable at once; it moves files only
  // (kInvalidArgument for a directory). Handles die with the node's process (crash()).
  base::Result<int64_t> open_append(std::string_view path, uint32_t mode) override;
  [[nodiscard]] base::Status append(int64_t file, base::ByteSpan data) override;
  void close_file(int64_t file) override;
  [[nodiscard]] base::Status rename(std::string_view from, std::string_view to) override;
  base::Result<std::string> read_range(std::string_view path, uint64_t offset,
                                       size_t bytes_max) override;
  size_t open_append_files() const { return appends_.size(); }

  // --- random-access files (the SQLite VFS) ----------------------------------------------------
  // Creates an empty file if absent (not durable until synced). kNotFound if the parent
  // directory does not exist, kIo if `path` is a directory or the power is off.
  [[nodiscard]] base::Status create_file(std::string_view path, uint32_t mode);
  bool file_exists(std::string_view path) const;
  // Reads up to out.size() bytes at `offset`; returns how many (fewer at the end of the file).
  base::Result<size_t> read_at(std::string_view path, uint64_t offset, std::span<uint8_t> out) const;
  // Writes at `offset`, growing the file (with zeros in any gap). Unsynced.
  [[nodiscard]] base::Status write_at(std::string_view path, uint64_t offset, base::ByteSpan data);
  // Sets the size (cutting or zero-extending). Unsynced.
  [[nodiscard]] base::Status truncate(std::string_view path, uint64_t size);
  // fsync: the file's current content becomes durable. kIo when an injected failure fires.
  [[nodiscard]] base::Status sync_file(std::string_view path);
  base::Result<uint64_t> file_size(std::string_view path) const;

  // --- power and crashes ----------------------------------------------------------------------
  // The process is dying: refuse every change until crash(). Moves power_cycles() on.
  void power_off();
  bool powered() const { return powered_; }
  // Incremented by every power_off(): a handle opened in an earlier cycle is stale.
  uint64_t power_cycles() const { return power_cycles_; }
  // The power cut: every change not made durable is lost, or (a torn crash, see above) partly
  // kept. Powers the disk back on. Returns how many files changed.
  size_t crash();
  // How many crashes were torn, and how many files a torn crash left with part of their
  // unsynced writes (for tests and the trace).
  uint64_t torn_crashes() const { return torn_crashes_; }
  uint64_t torn_files() const { return torn_files_; }
  void set_tear_probability(double p) { tear_probability_ = p; }
  void set_crash_in_sync_probability(double p) { crash_in_sync_probability_ = p; }
  // How many syncs lost power (see above).
  uint64_t power_cuts_in_sync() const { return power_cuts_in_sync_; }
  // Called when a sync_file() loses power, after power_off(); it must crash the node (which
  // calls crash()). The disk may be changed by the time it returns.
  std::function<void()> on_power_lost;
  uint32_t sector_bytes() const { return sector_bytes_; }
  // Makes every current content durable (as if the whole disk were synced). For tests.
  void sync_all();
  // The next `count` durable writes or file syncs fail with kIo and change nothing.
  void fail_durable_writes(uint32_t count) { durable_failures_ = count; }
  // While on, durable writes and file syncs succeed without making anything durable.
  void lie_about_syncs(bool on) { lie_about_syncs_ = on; }

  // Paths as this disk names them: absolute, "//" collapsed, no trailing "/".
  static std::string normalize(std::string_view path);

  // Files whose current content is not durable.
  size_t unsynced_files() const;
  uint64_t bytes_used() const { return bytes_used_; }

 private:
  // An unsynced random-access change: a write of `bytes` at `offset`, or (truncate) a new size.
  struct Op {
    bool truncate = false;
    uint64_t offset = 0;
    std::string bytes;
  };
  struct File {
    std::string data;
    std::optional<std::string> durable;  // nullopt: never durably written
    uint32_t mode = 0644;
    base::WallTime modified;
    // Changes since `durable` (or since an empty file, if never durable), in order. Valid only
    // while `ops_exact`: a whole-file write_file() replaces the content without them.
    std::vector<Op> ops;
    bool ops_exact = true;
  };
  struct Dir {
    uint32_t mode = 0755;
    base::WallTime modified;
  };

  static std::string parent_of(const std::string& path);
  bool has_children(const std::string& dir) const;
  base::Status check_power(const char* what, const std::string& path) const;
  // Applies `op` to `content` (at most `bytes_max` bytes of a write: a torn write).
  static void apply(const Op& op, std::string& content, uint64_t bytes_max = UINT64_MAX);
  // A torn crash of one file: returns whether any unsynced change survived.
  bool tear(File& f);

  hal::Clock& clock_;
  uint64_t bytes_max_;
  uint64_t bytes_used_ = 0;  // current contents only
  uint32_t durable_failures_ = 0;
  bool lie_about_syncs_ = false;
  uint64_t temp_counter_ = 0;
  base::Prng prng_;
  double tear_probability_;
  double crash_in_sync_probability_ = 0.0;
  uint64_t power_cuts_in_sync_ = 0;
  uint32_t sector_bytes_;
  bool powered_ = true;
  uint64_t power_cycles_ = 0;
  uint64_t torn_crashes_ = 0;
  uint64_t torn_files_ = 0;
  std::map<std::string, File> files_;
  std::map<std::string, Dir> dirs_;
  // Open appendable files: handle -> the path it writes ("" once its file is gone).
  std::map<int64_t, std::string> appends_;
  int64_t next_append_ = 1;
  // Appends of handles open on `path` (or, with `tree`, anything under it) now go nowhere.
  void orphan_appends(const std::string& path, bool tree);
};

}  // namespace sim
