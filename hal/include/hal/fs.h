// hal/fs.h -- files and directories.
//
// Contract:
//   - Paths are '/'-separated strings; the Windows port maps them.
//   - read_file() refuses (kResourceExhausted) files larger than `bytes_max`: every file read
//     from outside is bounded. kNotFound when the file does not exist.
//   - write_file() with `durable` writes a temporary file beside the target, fsyncs it, renames
//     it over the target and fsyncs the directory: after it returns OK the new content survives a
//     crash, and a crash before leaves the old content. A failed fsync is returned as kIo; the
//     caller must stop, never retry (STYLE.md). Without `durable` the write is plain and may be
//     lost on a crash -- the simulator's disk does lose such writes when a node crashes.
//   - list_dir() returns entry names (not "." or "..") sorted bytewise, so iteration is stable.
// Threading: every method may be called from any thread (the worker pool does file work).
// Not here: SQLite's own file access (SQLite has its VFS), memory mapping, file locking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/base/status.h"
#include "agent/base/time.h"

namespace hal {

enum class FileType : uint8_t { kRegular, kDirectory, kSymlink, kSocket, kOther };

struct FileInfo {
  FileType type = FileType::kOther;
  uint64_t size_bytes = 0;
  uint32_t mode = 0;  // permission bits
  base::WallTime modified;
};

class Fs {
 public:
  virtual ~Fs() = default;
  virtual base::Result<std::string> read_file(std::string_view path, size_t bytes_max) = 0;
  [[nodiscard]] virtual base::Status write_file(std::string_view path, base::ByteSpan data,
                                                uint32_t mode, bool durable) = 0;
  // Creates `path` and missing parents with `mode`. OK if it exists as a directory.
  [[nodiscard]] virtual base::Status make_dirs(std::string_view path, uint32_t mode) = 0;
  virtual base::Result<std::vector<std::string>> list_dir(std::string_view path) = 0;
  virtual base::Result<FileInfo> stat(std::string_view path) = 0;
  // Removes a file or an empty directory. kNotFound if absent.
  [[nodiscard]] virtual base::Status remove(std::string_view path) = 0;
  // Removes a directory tree without following symlinks. OK if absent.
  [[nodiscard]] virtual base::Status remove_tree(std::string_view path) = 0;
  // Makes a new private (0700) directory under the system's temporary directory.
  virtual base::Result<std::string> make_temp_dir(std::string_view prefix) = 0;
  [[nodiscard]] virtual base::Status chmod(std::string_view path, uint32_t mode) = 0;

  // Appendable files (task logs, issue 6): open_append() opens `path` for appending, creating it
  // with `mode`; the handle is close-on-exec. append() writes all of `data` or fails (kIo;
  // kResourceExhausted when the disk is full; no fsync: logs are not durable). rename() replaces
  // `to` atomically. The base versions say kUnimplemented for ports and fakes that have no such
  // files.
  virtual base::Result<int64_t> open_append(std::string_view path, uint32_t mode) {
    (void)mode;
    return base::error(base::Code::kUnimplemented, "open_append %.*s", static_cast<int>(path.size()), path.data());
  }
  [[nodiscard]] virtual base::Status append(int64_t file, base::ByteSpan data) {
    (void)file;
    (void)data;
    return base::error(base::Code::kUnimplemented, "append");
  }
  virtual void close_file(int64_t file) { (void)file; }
  [[nodiscard]] virtual base::Status rename(std::string_view from, std::string_view to) {
    (void)to;
    return base::error(base::Code::kUnimplemented, "rename %.*s", static_cast<int>(from.size()), from.data());
  }
  // The process's working directory, absolute (agentctl makes the paths it sends absolute: the
  // agent reads them from its own working directory).
  virtual base::Result<std::string> current_dir() {
    return base::error(base::Code::kUnimplemented, "current_dir");
  }
  // Up to `bytes_max` bytes of `path` from `offset` (fewer at its end; "" past it). kNotFound
  // when absent. For following logs without reading whole files.
  virtual base::Result<std::string> read_range(std::string_view path, uint64_t offset, size_t bytes_max) {
    (void)offset;
    (void)bytes_max;
    return base::error(base::Code::kUnimplemented, "read_range %.*s", static_cast<int>(path.size()), path.data());
  }
};

}  // namespace hal
