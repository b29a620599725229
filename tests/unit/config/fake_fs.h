// An in-memory hal::Fs for config tests: files and directories in a map, no OS. Only what
// config loading uses is real (read_file, stat, list_dir, make_temp_dir); writes go to the map.
// Threading: none; one test at a time.
#pragma once

#include <map>
#include <set>
#include <string>

#include "hal/fs.h"

namespace config_test {

class FakeFs : public hal::Fs {
 public:
  // Adds a file (and its parent directories).
  void add_file(const std::string& path, std::string content);
  void add_dir(const std::string& path);
  // make_temp_dir fails with kIo when set.
  bool temp_dir_fails = false;
  int temp_dirs_made = 0;

  base::Result<std::string> read_file(std::string_view path, size_t bytes_max) override;
  base::Status write_file(std::string_view path, base::ByteSpan data, uint32_t mode,
                          bool durable) override;
  base::Status make_dirs(std::string_view path, uint32_t mode) override;
  base::Result<std::vector<std::string>> list_dir(std::string_view path) override;
  base::Result<hal::FileInfo> stat(std::string_view path) override;
  base::Status remove(std::string_view path) override;
  base::Status remove_tree(std::string_view path) override;
  base::Result<std::string> make_temp_dir(std::string_view prefix) override;
  base::Status chmod(std::string_view path, uint32_t mode) override;

 private:
  std::map<std::string, std::string, std::less<>> files_;
  std::set<std::string, std::less<>> dirs_;
};

}  // namespace config_test
