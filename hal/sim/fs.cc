#include "hal/sim/fs.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace sim {

SimFs::SimFs(hal::Clock& clock, uint64_t bytes_max, uint64_t seed, double tear_probability, uint32_t sector_bytes)
    : clock_(clock),
      bytes_max_(bytes_max),
      prng_(seed),
      tear_probability_(tear_probability),
      sector_bytes_(sector_bytes) {
  AGENT_ASSERT(sector_bytes_ > 0);
  dirs_.emplace("/", Dir{0755, clock_.wall_now()});
}

base::Status SimFs::check_power(const char* what, const std::string& path) const {
  if (powered_) return base::Status::ok();
  return base::error(base::Code::kIo, "%s %s: the node has lost power", what, path.c_str());
}

std::string SimFs::normalize(std::string_view path) {
  std::string out = "/";
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) {
      if (out.size() > 1) out += '/';
      out.append(path.substr(i, j - i));
    }
    i = j;
  }
  return out;
}

std::string SimFs::parent_of(const std::string& path) {
  if (path == "/") return "/";
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool SimFs::has_children(const std::string& dir) const {
  const std::string prefix = dir == "/" ? "/" : dir + "/";
  auto f = files_.lower_bound(prefix);
  if (f != files_.end() && f->first.compare(0, prefix.size(), prefix) == 0) return true;
  auto d = dirs_.upper_bound(prefix);
  if (d != dirs_.end() && d->first.compare(0, prefix.size(), prefix) == 0 && d->first != dir) return true;
  return false;
}

base::Result<std::string> SimFs::read_file(std::string_view path_in, size_t bytes_max) {
  const std::string path = normalize(path_in);
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (dirs_.count(path)) return base::error(base::Code::kIo, "read %s: is a directory", path.c_str());
    return base::error(base::Code::kNotFound, "read %s: no such file", path.c_str());
  }
  if (it->second.data.size() > bytes_max) {
    return base::error(base::Code::kResourceExhausted, "read %s: %zu bytes, more than %zu", path.c_str(),
                       it->second.data.size(), bytes_max);
  }
  return it->second.data;
}

base::Status SimFs::write_file(std::string_view path_in, base::ByteSpan data, uint32_t mode, bool durable) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("write", path));
  if (path == "/" || dirs_.count(path)) return base::error(base::Code::kIo, "write %s: is a directory", path.c_str());
  if (!dirs_.count(parent_of(path))) {
    return base::error(base::Code::kNotFound, "write %s: parent directory does not exist", path.c_str());
  }
  auto it = files_.find(path);
  const uint64_t old_size = it == files_.end() ? 0 : it->second.data.size();
  if (bytes_used_ - old_size + data.size() > bytes_max_) {
    return base::error(base::Code::kResourceExhausted, "write %s: no space left on the simulated disk", path.c_str());
  }
  if (durable && durable_failures_ > 0) {
    --durable_failures_;
    // The temporary file is written and its fsync fails: the target is untouched.
    return base::error(base::Code::kIo, "write %s: fsync failed (injected)", path.c_str());
  }
  if (it == files_.end()) it = files_.emplace(path, File{}).first;
  File& f = it->second;
  f.data.assign(reinterpret_cast<const char*>(data.data()), data.size());
  f.mode = mode;
  f.modified = clock_.wall_now();
  if (durable && !lie_about_syncs_) {
    f.durable = f.data;
    f.ops.clear();
    f.ops_exact = true;
  } else {
    f.ops.clear();
    f.ops_exact = false;  // replaced whole: a crash goes back to the durable content
  }
  bytes_used_ = bytes_used_ - old_size + data.size();
  return base::Status::ok();
}

base::Status SimFs::make_dirs(std::string_view path_in, uint32_t mode) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("mkdir", path));
  if (files_.count(path)) return base::error(base::Code::kAlreadyExists, "mkdir %s: a file is in the way", path.c_str());
  // Walk down from the root creating what is missing; a file on the way is an error.
  size_t pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    const std::string prefix = path.substr(0, slash);
    if (files_.count(prefix)) {
      return base::error(base::Code::kAlreadyExists, "mkdir %s: %s is a file", path.c_str(), prefix.c_str());
    }
    if (!prefix.empty() && !dirs_.count(prefix)) dirs_.emplace(prefix, Dir{mode, clock_.wall_now()});
    pos = slash + 1;
  }
  return base::Status::ok();
}

base::Result<std::vector<std::string>> SimFs::list_dir(std::string_view path_in) {
  const std::string path = normalize(path_in);
  if (!dirs_.count(path)) {
    if (files_.count(path)) return base::error(base::Code::kIo, "list %s: not a directory", path.c_str());
    return base::error(base::Code::kNotFound, "list %s: no such directory", path.c_str());
  }
  const std::string prefix = path == "/" ? "/" : path + "/";
  std::vector<std::string> names;
  auto collect = [&](const auto& map) {
    for (auto it = map.lower_bound(prefix); it != map.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      std::string rest = it->first.substr(prefix.size());
      if (rest.empty() || rest.find('/') != std::string::npos) continue;
      names.push_back(std::move(rest));
    }
  };
  collect(files_);
  collect(dirs_);
  std::sort(names.begin(), names.end());
  return names;
}

base::Result<hal::FileInfo> SimFs::stat(std::string_view path_in) {
  const std::string path = normalize(path_in);
  if (auto it = files_.find(path); it != files_.end()) {
    return hal::FileInfo{hal::FileType::kRegular, it->second.data.size(), it->second.mode, it->second.modified};
  }
  if (auto it = dirs_.find(path); it != dirs_.end()) {
    return hal::FileInfo{hal::FileType::kDirectory, 0, it->second.mode, it->second.modified};
  }
  return base::error(base::Code::kNotFound, "stat %s: no such file or directory", path.c_str());
}

base::Status SimFs::remove(std::string_view path_in) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("remove", path));
  if (auto it = files_.find(path); it != files_.end()) {
    bytes_used_ -= it->second.data.size();
    files_.erase(it);
    orphan_appends(path, false);
    return base::Status::ok();
  }
  if (path != "/" && dirs_.count(path)) {
    if (has_children(path)) return base::error(base::Code::kFailedPrecondition, "remove %s: directory not empty", path.c_str());
    dirs_.erase(path);
    return base::Status::ok();
  }
  return base::error(base::Code::kNotFound, "remove %s: no such file or directory", path.c_str());
}

base::Status SimFs::remove_tree(std::string_view path_in) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("remove", path));
  orphan_appends(path, true);
  if (auto it = files_.find(path); it != files_.end()) {
    bytes_used_ -= it->second.data.size();
    files_.erase(it);
    return base::Status::ok();
  }
  if (!dirs_.count(path)) return base::Status::ok();
  const std::string prefix = path == "/" ? "/" : path + "/";
  for (auto it = files_.lower_bound(prefix); it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    bytes_used_ -= it->second.data.size();
    it = files_.erase(it);
  }
  for (auto it = dirs_.lower_bound(prefix); it != dirs_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = dirs_.erase(it);
  }
  if (path != "/") dirs_.erase(path);
  return base::Status::ok();
}

base::Result<std::string> SimFs::make_temp_dir(std::string_view prefix) {
  AGENT_TRY(make_dirs("/tmp", 01777));
  for (int attempt = 0; attempt < 1000; ++attempt) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, "%06llu", static_cast<unsigned long long>(++temp_counter_));
    std::string path = normalize("/tmp/" + std::string(prefix) + suffix);
    if (dirs_.count(path) || files_.count(path)) continue;
    AGENT_TRY(make_dirs(path, 0700));
    return path;
  }
  return base::error(base::Code::kResourceExhausted, "make_temp_dir: no free name");
}

base::Status SimFs::chmod(std::string_view path_in, uint32_t mode) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("chmod", path));
  if (auto it = files_.find(path); it != files_.end()) {
    it->second.mode = mode;
    return base::Status::ok();
  }
  if (auto it = dirs_.find(path); it != dirs_.end()) {
    it->second.mode = mode;
    return base::Status::ok();
  }
  return base::error(base::Code::kNotFound, "chmod %s: no such file or directory", path.c_str());
}

void SimFs::power_off() {
  powered_ = false;
  ++power_cycles_;
}

void SimFs::apply(const Op& op, std::string& content, uint64_t bytes_max) {
  if (op.truncate) {
    content.resize(static_cast<size_t>(op.offset), '\0');
    return;
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(op.bytes.size(), bytes_max));
  if (n == 0) return;
  const size_t at = static_cast<size_t>(op.offset);
  if (content.size() < at + n) content.resize(at + n, '\0');
  content.replace(at, n, op.bytes, 0, n);
}

// The bytes of `op` that a cut at a sector boundary keeps: 0 up to (not including) the whole
// write, counted in sectors of the disk (the first "sector" of an unaligned write is the part up
// to the next boundary).
static uint64_t torn_bytes(const std::string& bytes, uint64_t offset, uint32_t sector, base::Prng& prng) {
  const uint64_t end = offset + bytes.size();
  std::vector<uint64_t> cuts{0};  // bytes kept for each possible cut
  for (uint64_t b = (offset / sector + 1) * sector; b < end; b += sector) cuts.push_back(b - offset);
  return cuts[prng.uniform(cuts.size())];
}

bool SimFs::tear(File& f) {
  if (!f.ops_exact || f.ops.empty()) return false;
  std::string content = f.durable.value_or(std::string());
  bool kept = false;
  auto keep_part = [&](const Op& op) {
    if (op.truncate) return;  // whole or nothing: here, nothing
    const uint64_t n = torn_bytes(op.bytes, op.offset, sector_bytes_, prng_);
    if (n == 0) return;
    apply(op, content, n);
    kept = true;
  };
  if (prng_.chance(0.5)) {
    // In order: the first k operations whole, then part of the next one.
    const size_t k = static_cast<size_t>(prng_.uniform(f.ops.size()));
    for (size_t i = 0; i < k; ++i) apply(f.ops[i], content);
    kept = k > 0;
    keep_part(f.ops[k]);
  } else {
    // Newest first: only part of the last write.
    keep_part(f.ops.back());
  }
  if (!kept) return false;
  f.data = std::move(content);
  return true;
}

size_t SimFs::crash() {
  powered_ = true;
  appends_.clear();  // the process that held them is gone
  const bool torn = tear_probability_ > 0 && prng_.chance(tear_probability_);
  if (torn) ++torn_crashes_;
  size_t changed = 0;
  for (auto it = files_.begin(); it != files_.end();) {
    File& f = it->second;
    if (f.durable && *f.durable == f.data) {
      f.ops.clear();
      f.ops_exact = true;
      ++it;
      continue;
    }
    ++changed;
    bytes_used_ -= f.data.size();
    if (torn && tear(f)) {
      // Part of the unsynced writes reached the disk; that is now simply what it holds.
      ++torn_files_;
      f.durable = f.data;
      f.ops.clear();
      f.ops_exact = true;
      bytes_used_ += f.data.size();
      ++it;
      continue;
    }
    f.ops.clear();
    f.ops_exact = true;
    if (!f.durable) {
      it = files_.erase(it);
      continue;
    }
    f.data = *f.durable;
    bytes_used_ += f.data.size();
    ++it;
  }
  return changed;
}

void SimFs::sync_all() {
  for (auto& [path, f] : files_) {
    f.durable = f.data;
    f.ops.clear();
    f.ops_exact = true;
  }
}

// --- random-access files ------------------------------------------------------------------------

base::Status SimFs::create_file(std::string_view path_in, uint32_t mode) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("create", path));
  if (files_.count(path)) return base::Status::ok();
  if (path == "/" || dirs_.count(path)) return base::error(base::Code::kIo, "create %s: is a directory", path.c_str());
  if (!dirs_.count(parent_of(path))) {
    return base::error(base::Code::kNotFound, "create %s: parent directory does not exist", path.c_str());
  }
  File f;
  f.mode = mode;
  f.modified = clock_.wall_now();
  files_.emplace(path, std::move(f));
  return base::Status::ok();
}

bool SimFs::file_exists(std::string_view path) const { return files_.count(normalize(path)) != 0; }

base::Result<size_t> SimFs::read_at(std::string_view path_in, uint64_t offset, std::span<uint8_t> out) const {
  const std::string path = normalize(path_in);
  auto it = files_.find(path);
  if (it == files_.end()) return base::error(base::Code::kNotFound, "read %s: no such file", path.c_str());
  const std::string& d = it->second.data;
  if (offset >= d.size()) return size_t{0};
  const size_t n = std::min<size_t>(out.size(), d.size() - static_cast<size_t>(offset));
  std::memcpy(out.data(), d.data() + offset, n);
  return n;
}

base::Status SimFs::write_at(std::string_view path_in, uint64_t offset, base::ByteSpan data) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("write", path));
  auto it = files_.find(path);
  if (it == files_.end()) return base::error(base::Code::kNotFound, "write %s: no such file", path.c_str());
  File& f = it->second;
  const uint64_t new_size = std::max<uint64_t>(f.data.size(), offset + data.size());
  if (bytes_used_ - f.data.size() + new_size > bytes_max_) {
    return base::error(base::Code::kResourceExhausted, "write %s: no space left on the simulated disk", path.c_str());
  }
  Op op;
  op.offset = offset;
  op.bytes.assign(reinterpret_cast<const char*>(data.data()), data.size());
  bytes_used_ -= f.data.size();
  apply(op, f.data);
  bytes_used_ += f.data.size();
  if (f.ops_exact) f.ops.push_back(std::move(op));
  f.modified = clock_.wall_now();
  return base::Status::ok();
}

base::Status SimFs::truncate(std::string_view path_in, uint64_t size) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("truncate", path));
  auto it = files_.find(path);
  if (it == files_.end()) return base::error(base::Code::kNotFound, "truncate %s: no such file", path.c_str());
  File& f = it->second;
  if (size > f.data.size() && bytes_used_ - f.data.size() + size > bytes_max_) {
    return base::error(base::Code::kResourceExhausted, "truncate %s: no space left on the simulated disk", path.c_str());
  }
  Op op;
  op.truncate = true;
  op.offset = size;
  bytes_used_ -= f.data.size();
  apply(op, f.data);
  bytes_used_ += f.data.size();
  if (f.ops_exact) f.ops.push_back(std::move(op));
  f.modified = clock_.wall_now();
  return base::Status::ok();
}

base::Status SimFs::sync_file(std::string_view path_in) {
  const std::string path = normalize(path_in);
  AGENT_TRY(check_power("fsync", path));
  auto it = files_.find(path);
  if (it == files_.end()) return base::error(base::Code::kNotFound, "fsync %s: no such file", path.c_str());
  if (durable_failures_ > 0) {
    --durable_failures_;
    return base::error(base::Code::kIo, "fsync %s: failed (injected)", path.c_str());
  }
  if (crash_in_sync_probability_ > 0 && prng_.chance(crash_in_sync_probability_)) {
    ++power_cuts_in_sync_;
    power_off();
    if (on_power_lost) on_power_lost();  // may crash() the disk: touch no file after this
    return base::error(base::Code::kIo, "fsync %s: the node lost power", path.c_str());
  }
  if (lie_about_syncs_) return base::Status::ok();
  File& f = it->second;
  if (f.ops_exact && f.durable) {
    // Replay the operations on the durable copy: O(bytes written), not O(file size).
    for (const Op& op : f.ops) apply(op, *f.durable);
    AGENT_ASSERT(f.durable->size() == f.data.size());
  } else {
    f.durable = f.data;
  }
  f.ops.clear();
  f.ops_exact = true;
  return base::Status::ok();
}

base::Result<uint64_t> SimFs::file_size(std::string_view path_in) const {
  const std::string path = normalize(path_in);
  auto it = files_.find(path);
  if (it == files_.end()) return base::error(base::Code::kNotFound, "size %s: no such file", path.c_str());
  return static_cast<uint64_t>(it->second.data.size());
}

size_t SimFs::unsynced_files() const {
  size_t n = 0;
  for (const auto& [path, f] : files_) n += !(f.durable && *f.durable == f.data);
  return n;
}

// --- appendable files ----------------------------------------------------------------------------

void SimFs::orphan_appends(const std::string& path, bool tree) {
  const std::string prefix = path == "/" ? "/" : path + "/";
  for (auto& [handle, target] : appends_) {
    if (target == path || (tree && target.compare(0, prefix.size(), prefix) == 0)) target.clear();
  }
}

base::Result<int64_t> SimFs::open_append(std::string_view path_in, uint32_t mode) {
  const std::string path = normalize(path_in);
  AGENT_TRY(create_file(path, mode));  // an existing file is kept as it is
  const int64_t handle = next_append_++;
  appends_.emplace(handle, path);
  return handle;
}

base::Status SimFs::append(int64_t file, base::ByteSpan data) {
  auto it = appends_.find(file);
  if (it == appends_.end()) {
    return base::error(base::Code::kInvalidArgument, "append: no open file %lld",
                       static_cast<long long>(file));
  }
  AGENT_TRY(check_power("append", it->second));
  if (it->second.empty() || data.empty()) return base::Status::ok();
  const std::string path = it->second;
  AGENT_ASSIGN_OR_RETURN(uint64_t size, file_size(path));
  return write_at(path, size, data);
}

void SimFs::close_file(int64_t file) { appends_.erase(file); }

base::Status SimFs::rename(std::string_view from_in, std::string_view to_in) {
  const std::string from = normalize(from_in);
  const std::string to = normalize(to_in);
  AGENT_TRY(check_power("rename", from));
  auto src = files_.find(from);
  if (src == files_.end()) {
    if (dirs_.count(from)) {
      return base::error(base::Code::kInvalidArgument,
                         "rename %s: directories are not renamed here", from.c_str());
    }
    return base::error(base::Code::kNotFound, "rename %s: no such file", from.c_str());
  }
  if (from == to) return base::Status::ok();
  if (to == "/" || dirs_.count(to)) {
    return base::error(base::Code::kIo, "rename to %s: is a directory", to.c_str());
  }
  if (!dirs_.count(parent_of(to))) {
    return base::error(base::Code::kNotFound, "rename to %s: parent directory does not exist",
                       to.c_str());
  }
  if (auto old = files_.find(to); old != files_.end()) {
    bytes_used_ -= old->second.data.size();
    files_.erase(old);
    orphan_appends(to, false);
  }
  File moved = std::move(src->second);
  files_.erase(src);
  files_.emplace(to, std::move(moved));
  for (auto& [handle, target] : appends_) {
    if (target == from) target = to;
  }
  return base::Status::ok();
}

base::Result<std::string> SimFs::read_range(std::string_view path_in, uint64_t offset,
                                            size_t bytes_max) {
  const std::string path = normalize(path_in);
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (dirs_.count(path)) {
      return base::error(base::Code::kIo, "read %s: is a directory", path.c_str());
    }
    return base::error(base::Code::kNotFound, "read %s: no such file", path.c_str());
  }
  const std::string& d = it->second.data;
  if (offset >= d.size()) return std::string();
  return d.substr(static_cast<size_t>(offset), bytes_max);
}

}  // namespace sim
