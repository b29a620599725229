// hal/posix/posix_fs.h -- hal::Fs over POSIX file calls.
//
// What this port adds to hal/fs.h:
//   - read_file() reads at most bytes_max bytes and refuses a file that holds more, whether
//     fstat says so up front or the file (a /proc entry reporting size 0) turns out longer.
//   - write_file() sets the file's mode to exactly `mode` (fchmod, so the umask does not narrow
//     it and an existing file gets it too). Durable writes go through "<dir>/.<name>.tmp.<pid>.<n>"
//     created with O_EXCL; on any failure before the rename the temporary is removed and the
//     target is untouched. A failed fsync is reported as kIo and is never retried.
//   - make_dirs() gives each directory it creates exactly `mode`; existing ones are left alone.
//   - stat() does not follow a final symlink (it reports kSymlink).
//   - remove_tree() walks with openat/unlinkat and O_NOFOLLOW, so a symlink inside the tree (or
//     swapped in while it runs) is unlinked, never followed; at most kTreeDepthMax levels deep.
//   - make_temp_dir() uses $TMPDIR, else /tmp, and mkdtemp (mode 0700); `prefix` may not hold '/'.
//   - open_append() returns the descriptor as the file handle; its mode is narrowed by the umask
//     like any open(O_CREAT). append() fails with os_error's code (kResourceExhausted for a full
//     disk, kIo for most else). read_range() reads with pread, so a file that grows meanwhile is
//     read consistently up to where it was.
// Threading: stateless apart from an atomic counter for temporary names; any thread.
// Not here: file locking, memory mapping, SQLite's files (its own VFS).
#pragma once

#include "hal/fs.h"

namespace hal::posix {

class PosixFs final : public hal::Fs {
 public:
  // Directory nesting remove_tree() descends; deeper trees fail with kResourceExhausted. Each
  // level holds one descriptor open, and nothing the agent creates nests a tenth as deep.
  static constexpr int kTreeDepthMax = 64;

  base::Result<std::string> read_file(std::string_view path, size_t bytes_max) override;
  [[nodiscard]] base::Status write_file(std::string_view path, base::ByteSpan data, uint32_t mode,
                                        bool durable) override;
  [[nodiscard]] base::Status make_dirs(std::string_view path, uint32_t mode) override;
  base::Result<std::vector<std::string>> list_dir(std::string_view path) override;
  base::Result<FileInfo> stat(std::string_view path) override;
  [[nodiscard]] base::Status remove(std::string_view path) override;
  [[nodiscard]] base::Status remove_tree(std::string_view path) override;
  base::Result<std::string> make_temp_dir(std::string_view prefix) override;
  [[nodiscard]] base::Status chmod(std::string_view path, uint32_t mode) override;

  base::Result<int64_t> open_append(std::string_view path, uint32_t mode) override;
  [[nodiscard]] base::Status append(int64_t file, base::ByteSpan data) override;
  void close_file(int64_t file) override;
  [[nodiscard]] base::Status rename(std::string_view from, std::string_view to) override;
  base::Result<std::string> current_dir() override;
  base::Result<std::string> read_range(std::string_view path, uint64_t offset,
                                       size_t bytes_max) override;
};

}  // namespace hal::posix
