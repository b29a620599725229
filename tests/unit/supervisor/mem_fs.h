// An in-memory hal::Fs for the task log tests: one flat directory of files in a map, appendable
// handles, and injected append failures. Only what TaskLog and LogReader use is real (list_dir,
// stat, remove, read_file, read_range, open_append, append, close_file).
// Threading: none; one test at a time.
#pragma once

#include <map>
#include <string>

#include "hal/fs.h"

namespace supervisor_test {

class MemFs : public hal::Fs {
 public:
  std::map<std::string, std::string, std::less<>> files;
  std::string dir = "/logs";  // the one directory list_dir knows
  // append() fails with kIo while > 0 (counting down); `torn_bytes` of the data land first.
  int appends_failing = 0;
  size_t torn_bytes = 0;
  int appends = 0;
  int open_handles() const { return static_cast<int>(handles_.size()); }

  base::Result<std::string> read_file(std::string_view path, size_t bytes_max) override {
    auto it = files.find(path);
    if (it == files.end()) return base::error(base::Code::kNotFound, "no such file");
    if (it->second.size() > bytes_max) return base::error(base::Code::kResourceExhausted, "big");
    return it->second;
  }
  base::Status write_file(std::string_view, base::ByteSpan, uint32_t, bool) override {
    return base::error(base::Code::kUnimplemented, "not in the fake");
  }
  base::Status make_dirs(std::string_view, uint32_t) override { return base::Status::ok(); }
  base::Result<std::vector<std::string>> list_dir(std::string_view path) override {
    if (path != dir) return base::error(base::Code::kNotFound, "no such directory");
    std::vector<std::string> names;
    for (const auto& [p, content] : files) names.push_back(p.substr(dir.size() + 1));
    return names;  // sorted: the map is
  }
  base::Result<hal::FileInfo> stat(std::string_view path) override {
    auto it = files.find(path);
    if (it == files.end()) return base::error(base::Code::kNotFound, "no such file");
    hal::FileInfo info;
    info.type = hal::FileType::kRegular;
    info.size_bytes = it->second.size();
    return info;
  }
  base::Status remove(std::string_view path) override {
    auto it = files.find(path);
    if (it == files.end()) return base::error(base::Code::kNotFound, "no such file");
    files.erase(it);
    return base::Status::ok();
  }
  base::Status remove_tree(std::string_view) override { return base::Status::ok(); }
  base::Result<std::string> make_temp_dir(std::string_view) override {
    return base::error(base::Code::kUnimplemented, "not in the fake");
  }
  base::Status chmod(std::string_view, uint32_t) override { return base::Status::ok(); }

  base::Result<int64_t> open_append(std::string_view path, uint32_t) override {
    files.try_emplace(std::string(path));
    handles_[next_handle_] = std::string(path);
    return next_handle_++;
  }
  base::Status append(int64_t file, base::ByteSpan data) override {
    auto h = handles_.find(file);
    if (h == handles_.end()) return base::error(base::Code::kInternal, "bad handle");
    appends++;
    std::string_view text = base::as_chars(data);
    if (appends_failing > 0) {
      appends_failing--;
      auto f = files.find(h->second);
      if (f != files.end()) f->second.append(text.substr(0, torn_bytes));
      return base::error(base::Code::kIo, "no space left on device");
    }
    auto f = files.find(h->second);
    if (f == files.end()) return base::Status::ok();  // removed while open: the bytes go nowhere
    f->second.append(text);
    return base::Status::ok();
  }
  void close_file(int64_t file) override { handles_.erase(file); }
  base::Result<std::string> read_range(std::string_view path, uint64_t offset,
                                       size_t bytes_max) override {
    auto it = files.find(path);
    if (it == files.end()) return base::error(base::Code::kNotFound, "no such file");
    if (offset >= it->second.size()) return std::string();
    return it->second.substr(offset, bytes_max);
  }

 private:
  std::map<int64_t, std::string> handles_;
  int64_t next_handle_ = 3;
};

}  // namespace supervisor_test
