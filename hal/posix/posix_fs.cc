// PosixFs: the file is organised as path helpers, then reading, writing (plain and durable),
// directories, and removal. See posix_fs.h for what this port adds to hal/fs.h.
#include "hal/posix/posix_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "hal/posix/os_error.h"

namespace hal::posix {
namespace {

std::atomic<uint64_t> temp_counter{0};

// A NUL-terminated copy of `path`, or kInvalidArgument for an empty path or one holding a NUL.
base::Result<std::string> c_path(std::string_view path) {
  if (path.empty()) return base::error(base::Code::kInvalidArgument, "empty path");
  if (path.find('\0') != std::string_view::npos) {
    return base::error(base::Code::kInvalidArgument, "path contains a NUL byte");
  }
  return std::string(path);
}

std::string with(const char* op, const std::string& path) {
  std::string s(op);
  s += ' ';
  s += path;
  return s;
}

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports close()'s error (NFS and some disks report write errors only here).
  int close_now() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

base::Status write_all(int fd, base::ByteSpan data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, with("write", path));
    }
    done += static_cast<size_t>(n);
  }
  return base::Status::ok();
}

// fsync; a failure is always kIo, whatever errno said (hal/fs.h), and the caller must stop.
base::Status sync_fd(int fd, const std::string& path) {
  if (fsync(fd) == 0) return base::Status::ok();
  base::Status s = os_error(errno, with("fsync", path));
  return base::error(base::Code::kIo, "%s (not retried)", s.message().c_str());
}

FileType type_of(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  if (S_ISSOCK(mode)) return FileType::kSocket;
  return FileType::kOther;
}

// Removes everything inside the directory open at `dir_fd` (which this function consumes).
base::Status remove_children(int dir_fd, const std::string& path, int depth) {
  if (depth > PosixFs::kTreeDepthMax) {
    ::close(dir_fd);
    return base::error(base::Code::kResourceExhausted, "remove_tree %s: deeper than %d levels",
                       path.c_str(), PosixFs::kTreeDepthMax);
  }
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    base::Status s = os_error(errno, with("fdopendir", path));
    ::close(dir_fd);
    return s;
  }
  // Names first, removal after: unlinking while readdir() walks the same stream may skip entries.
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    dirent* e = readdir(dir);
    if (e == nullptr) break;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  if (errno != 0) {
    base::Status s = os_error(errno, with("readdir", path));
    closedir(dir);
    return s;
  }
  const int fd = dirfd(dir);
  base::Status result;
  for (const std::string& name : names) {
    const std::string child = path + "/" + name;
    struct stat st;
    if (fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed by someone else meanwhile
      result = os_error(errno, with("stat", child));
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      // O_NOFOLLOW: if the directory was swapped for a symlink since fstatat, refuse to enter it.
      const int child_fd =
          openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child_fd < 0) {
        result = os_error(errno, with("open", child));
        break;
      }
      result = remove_children(child_fd, child, depth + 1);
      if (!result.is_ok()) break;
      if (unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        result = os_error(errno, with("rmdir", child));
        break;
      }
    } else if (unlinkat(fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      result = os_error(errno, with("unlink", child));
      break;
    }
  }
  closedir(dir);
  return result;
}

}  // namespace

// --- reading
// ---------------------------------------------------------------------------------------

base::Result<std::string> PosixFs::read_file(std::string_view path_view, size_t bytes_max) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (raw < 0) return os_error(errno, with("open", path));
  Fd fd(raw);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return os_error(errno, with("stat", path));
  if (S_ISDIR(st.st_mode))
    return base::error(base::Code::kFailedPrecondition, "read %s: is a directory", path.c_str());
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > bytes_max) {
    return base::error(base::Code::kResourceExhausted,
                       "read %s: %lld bytes, more than the %zu allowed", path.c_str(),
                       static_cast<long long>(st.st_size), bytes_max);
  }
  std::string out;
  if (S_ISREG(st.st_mode)) out.reserve(static_cast<size_t>(st.st_size));
  // Read one byte past the bound at most, to tell "exactly bytes_max" from "more".
  const size_t limit = bytes_max == SIZE_MAX ? SIZE_MAX : bytes_max + 1;
  char buf[16384];
  while (out.size() < limit) {
    const size_t want = std::min(sizeof buf, limit - out.size());
    ssize_t n = ::read(fd.get(), buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, with("read", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  if (out.size() > bytes_max) {
    return base::error(base::Code::kResourceExhausted, "read %s: longer than the %zu bytes allowed",
                       path.c_str(), bytes_max);
  }
  return out;
}

// --- writing
// -----------------------------------------------------------------------------------------

base::Status PosixFs::write_file(std::string_view path_view, base::ByteSpan data, uint32_t mode,
                                 bool durable) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  if (path.back() == '/')
    return base::error(base::Code::kInvalidArgument, "write %s: names a directory", path.c_str());
  const mode_t perm = static_cast<mode_t>(mode & 07777);

  if (!durable) {
    int raw = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, perm);
    if (raw < 0) return os_error(errno, with("open", path));
    Fd fd(raw);
    if (fchmod(fd.get(), perm) != 0) return os_error(errno, with("chmod", path));
    AGENT_TRY(write_all(fd.get(), data, path));
    if (fd.close_now() != 0) return os_error(errno, with("close", path));
    return base::Status::ok();
  }

  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  char suffix[64];
  snprintf(suffix, sizeof suffix, ".tmp.%ld.%llu", static_cast<long>(getpid()),
           static_cast<unsigned long long>(temp_counter.fetch_add(1)));
  const std::string tmp = (dir == "/" ? "" : dir) + "/." + name + suffix;

  int raw = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, perm);
  if (raw < 0) return os_error(errno, with("create", tmp));
  base::Status s;
  {
    Fd fd(raw);
    s = fchmod(fd.get(), perm) == 0 ? base::Status::ok() : os_error(errno, with("chmod", tmp));
    if (s.is_ok()) s = write_all(fd.get(), data, tmp);
    if (s.is_ok()) s = sync_fd(fd.get(), tmp);
    if (s.is_ok() && fd.close_now() != 0) s = os_error(errno, with("close", tmp));
  }
  if (s.is_ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    s = os_error(errno, with("rename to", path));
  if (!s.is_ok()) {
    unlink(tmp.c_str());
    return s;
  }
  // The rename is durable only once the directory entry is: fsync the directory.
  int dir_raw = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_raw < 0) return os_error(errno, with("open", dir));
  Fd dir_fd(dir_raw);
  return sync_fd(dir_fd.get(), dir);
}

// --- directories
// -----------------------------------------------------------------------------------

base::Status PosixFs::make_dirs(std::string_view path_view, uint32_t mode) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  const mode_t perm = static_cast<mode_t>(mode & 07777);
  // Walk the prefixes ending before each '/', then the whole path; empty components ("a//b",
  // a leading '/') are skipped.
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    const bool empty_component = next == pos;
    pos = next + 1;
    if (empty_component) continue;
    const std::string prefix = path.substr(0, next);
    if (::mkdir(prefix.c_str(), perm) == 0) {
      // mkdir's mode is narrowed by the umask; the contract says `mode`.
      if (::chmod(prefix.c_str(), perm) != 0) return os_error(errno, with("chmod", prefix));
      continue;
    }
    if (errno != EEXIST) return os_error(errno, with("mkdir", prefix));
    struct stat st;
    // Follows symlinks: a symlink to a directory is a fine parent (e.g. /var/run -> /run).
    if (::stat(prefix.c_str(), &st) != 0) return os_error(errno, with("stat", prefix));
    if (!S_ISDIR(st.st_mode)) {
      return base::error(base::Code::kAlreadyExists, "mkdir %s: exists and is not a directory",
                         prefix.c_str());
    }
  }
  return base::Status::ok();
}

base::Result<std::vector<std::string>> PosixFs::list_dir(std::string_view path_view) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return os_error(errno, with("opendir", path));
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    dirent* e = readdir(dir);
    if (e == nullptr) break;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  const int err = errno;
  closedir(dir);
  if (err != 0) return os_error(err, with("readdir", path));
  std::sort(names.begin(), names.end());  // std::string's < is bytewise
  return names;
}

base::Result<FileInfo> PosixFs::stat(std::string_view path_view) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return os_error(errno, with("stat", path));
  FileInfo info;
  info.type = type_of(st.st_mode);
  info.size_bytes = static_cast<uint64_t>(st.st_size);
  info.mode = static_cast<uint32_t>(st.st_mode & 07777);
  info.modified = base::WallTime::from_unix_ns(
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  return info;
}

base::Status PosixFs::chmod(std::string_view path_view, uint32_t mode) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  if (::chmod(path.c_str(), static_cast<mode_t>(mode & 07777)) != 0)
    return os_error(errno, with("chmod", path));
  return base::Status::ok();
}

base::Result<std::string> PosixFs::make_temp_dir(std::string_view prefix) {
  if (prefix.find('/') != std::string_view::npos || prefix.find('\0') != std::string_view::npos) {
    return base::error(base::Code::kInvalidArgument, "temp dir prefix may not contain '/' or NUL");
  }
  // hal/posix is where the environment may be read; agent/ goes through SysInfo::environment().
  const char* env_tmp = getenv("TMPDIR");
  std::string base_dir = env_tmp != nullptr && env_tmp[0] != '\0' ? env_tmp : "/tmp";
  while (base_dir.size() > 1 && base_dir.back() == '/') base_dir.pop_back();
  std::string templ = base_dir + "/" + std::string(prefix) + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return os_error(errno, with("mkdtemp", templ));
  return templ;
}

// --- removal -------------------------------------------------------------------------------------

base::Status PosixFs::remove(std::string_view path_view) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return os_error(errno, with("remove", path));
  if (S_ISDIR(st.st_mode)) {
    if (::rmdir(path.c_str()) != 0) return os_error(errno, with("rmdir", path));
  } else if (::unlink(path.c_str()) != 0) {
    return os_error(errno, with("unlink", path));
  }
  return base::Status::ok();
}

base::Status PosixFs::remove_tree(std::string_view path_view) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return base::Status::ok();
    return os_error(errno, with("stat", path));
  }
  if (!S_ISDIR(st.st_mode)) {
    // A file, or a symlink (to a directory or not): remove the entry itself, never its target.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return os_error(errno, with("unlink", path));
    return base::Status::ok();
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return os_error(errno, with("open", path));
  AGENT_TRY(remove_children(fd, path, 1));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return os_error(errno, with("rmdir", path));
  return base::Status::ok();
}

// --- appendable files ---------------------------------------------------------------------------

base::Result<int64_t> PosixFs::open_append(std::string_view path_view, uint32_t mode) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
                        static_cast<mode_t>(mode));
  if (fd < 0) return os_error(errno, with("open", path));
  return static_cast<int64_t>(fd);
}

base::Status PosixFs::append(int64_t file, base::ByteSpan data) {
  if (file < 0 || file > INT32_MAX) {
    return base::error(base::Code::kInvalidArgument, "append: bad file %lld",
                       static_cast<long long>(file));
  }
  // O_APPEND: each write() lands at the end as one piece; a partial one continues there.
  return write_all(static_cast<int>(file), data, "file " + std::to_string(file));
}

void PosixFs::close_file(int64_t file) {
  if (file >= 0 && file <= INT32_MAX) ::close(static_cast<int>(file));
}

base::Result<std::string> PosixFs::current_dir() {
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof buf) == nullptr) return os_error(errno, "getcwd");
  return std::string(buf);
}

base::Status PosixFs::rename(std::string_view from_view, std::string_view to_view) {
  AGENT_ASSIGN_OR_RETURN(std::string from, c_path(from_view));
  AGENT_ASSIGN_OR_RETURN(std::string to, c_path(to_view));
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return os_error(errno, "rename " + from + " to " + to);
  }
  return base::Status::ok();
}

base::Result<std::string> PosixFs::read_range(std::string_view path_view, uint64_t offset,
                                              size_t bytes_max) {
  AGENT_ASSIGN_OR_RETURN(std::string path, c_path(path_view));
  if (offset > static_cast<uint64_t>(INT64_MAX)) return std::string();
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (raw < 0) return os_error(errno, with("open", path));
  Fd fd(raw);
  std::string out;
  out.resize(bytes_max);
  size_t got = 0;
  while (got < bytes_max) {
    ssize_t n =
        ::pread(fd.get(), out.data() + got, bytes_max - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, with("read", path));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace hal::posix
