// The in-memory Fs behind the config tests (see fake_fs.h).
#include "tests/unit/config/fake_fs.h"

namespace config_test {

void FakeFs::add_file(const std::string& path, std::string content) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) add_dir(path.substr(0, slash));
  files_[path] = std::move(content);
}

void FakeFs::add_dir(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    dirs_.insert(path.substr(0, slash));
  }
  dirs_.insert(path);
}

base::Result<std::string> FakeFs::read_file(std::string_view path, size_t bytes_max) {
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (dirs_.count(path) != 0) return base::error(base::Code::kIo, "is a directory");
    return base::error(base::Code::kNotFound, "no such file");
  }
  if (it->second.size() > bytes_max) return base::error(base::Code::kResourceExhausted, "too big");
  return it->second;
}

base::Status FakeFs::write_file(std::string_view path, base::ByteSpan data, uint32_t, bool) {
  add_file(std::string(path), std::string(base::as_chars(data)));
  return base::Status::ok();
}

base::Status FakeFs::make_dirs(std::string_view path, uint32_t) {
  add_dir(std::string(path));
  return base::Status::ok();
}

base::Result<std::vector<std::string>> FakeFs::list_dir(std::string_view path) {
  if (dirs_.count(path) == 0) return base::error(base::Code::kNotFound, "no such directory");
  std::string prefix = std::string(path) + "/";
  std::set<std::string> names;
  for (const auto& [p, content] : files_) {
    if (p.compare(0, prefix.size(), prefix) == 0 &&
        p.find('/', prefix.size()) == std::string::npos) {
      names.insert(p.substr(prefix.size()));
    }
  }
  for (const std::string& d : dirs_) {
    if (d.compare(0, prefix.size(), prefix) == 0 &&
        d.find('/', prefix.size()) == std::string::npos) {
      names.insert(d.substr(prefix.size()));
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

base::Result<hal::FileInfo> FakeFs::stat(std::string_view path) {
  hal::FileInfo info;
  auto it = files_.find(path);
  if (it != files_.end()) {
    info.type = hal::FileType::kRegular;
    info.size_bytes = it->second.size();
    return info;
  }
  if (dirs_.count(path) != 0) {
    info.type = hal::FileType::kDirectory;
    return info;
  }
  return base::error(base::Code::kNotFound, "no such file or directory");
}

base::Status FakeFs::remove(std::string_view path) {
  auto it = files_.find(path);
  if (it == files_.end()) return base::error(base::Code::kNotFound, "no such file");
  files_.erase(it);
  return base::Status::ok();
}

base::Status FakeFs::remove_tree(std::string_view) {
  return base::error(base::Code::kUnimplemented, "not in the fake");
}

base::Result<std::string> FakeFs::make_temp_dir(std::string_view prefix) {
  if (temp_dir_fails) return base::error(base::Code::kIo, "disk full");
  std::string path = "/tmp/" + std::string(prefix) + "-" + std::to_string(++temp_dirs_made);
  add_dir(path);
  return path;
}

base::Status FakeFs::chmod(std::string_view, uint32_t) { return base::Status::ok(); }

}  // namespace config_test
