// See kmod.h.
#include "boot/kmod.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "boot/glob.h"

namespace boot {

namespace {

constexpr size_t kModaliasBytesMax = 1024;

base::Result<std::string> read_file(const std::string& path, size_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::error(errno == ENOENT ? base::Code::kNotFound : base::Code::kIo, "open %s: %s", path.c_str(), strerror(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() + static_cast<size_t>(n) > max) {
      ::close(fd);
      return base::error(base::Code::kResourceExhausted, "%s: larger than %zu bytes", path.c_str(), max);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Every modalias under `dir` (directories only: sysfs's links are not followed).
void walk(const std::string& dir, int depth, std::set<std::string>* out, size_t* files) {
  if (depth > kSysDepthMax || *files >= kModaliasFilesMax) return;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = dir + "/" + e->d_name;
    if (e->d_type == DT_DIR) {
      walk(path, depth + 1, out, files);
    } else if (e->d_type == DT_REG && std::strcmp(e->d_name, "modalias") == 0 && *files < kModaliasFilesMax) {
      ++*files;
      auto text = read_file(path, kModaliasBytesMax);
      if (!text.is_ok()) continue;
      std::string alias = *text;
      while (!alias.empty() && (alias.back() == '\n' || alias.back() == ' ')) alias.pop_back();
      if (!alias.empty()) out->insert(alias);
    }
  }
  ::closedir(d);
}

}  // namespace

base::Result<std::unique_ptr<Kmod>> Kmod::open(const std::string& root) {
  utsname u{};
  if (::uname(&u) != 0) return base::error(base::Code::kIo, "uname: %s", strerror(errno));
  const std::string dir = root + "/lib/modules/" + u.release;
  const ModuleLimits limits;
  AGENT_ASSIGN_OR_RETURN(std::string alias, read_file(dir + "/modules.alias", limits.alias_file_bytes_max));
  AGENT_ASSIGN_OR_RETURN(std::string dep, read_file(dir + "/modules.dep", limits.dep_file_bytes_max));
  AGENT_ASSIGN_OR_RETURN(ModuleIndex index, ModuleIndex::load(alias, dep, limits));
  return std::unique_ptr<Kmod>(new Kmod(dir, std::move(index)));
}

base::Status Kmod::load_module(const std::string& module, KmodReport* report) {
  AGENT_ASSIGN_OR_RETURN(std::vector<std::string> files, index_.load_order(module));
  for (const std::string& file : files) {
    if (done_.count(file) != 0) continue;
    done_.insert(file);
    const std::string name = module_name_from_path(file);
    int fd = ::open((dir_ + "/" + file).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      report->failed.push_back(name + ": " + strerror(errno));
      return base::error(base::Code::kNotFound, "%s: %s", file.c_str(), strerror(errno));
    }
    const long rc = ::syscall(SYS_finit_module, fd, "", 0);
    const int err = errno;
    ::close(fd);
    if (rc != 0 && err != EEXIST) {
      report->failed.push_back(name + ": " + strerror(err));
      return base::error(base::Code::kIo, "load %s: %s", name.c_str(), strerror(err));
    }
    if (rc == 0) report->loaded.push_back(name);
  }
  return base::Status::ok();
}

base::Status Kmod::load(const std::string& name, KmodReport* report) {
  if (index_.load_order(name).is_ok()) return load_module(name, report);
  std::vector<std::string> modules = index_.match(name);
  if (modules.empty()) return base::error(base::Code::kNotFound, "no module or alias %s", name.c_str());
  base::Status first;
  for (const std::string& m : modules) {
    base::Status s = load_module(m, report);
    if (!s.is_ok() && first.is_ok()) first = s;
  }
  return first;
}

KmodReport Kmod::load_hardware() {
  KmodReport report;
  std::set<std::string> seen;
  for (int round = 0; round < kRoundsMax; ++round) {
    std::set<std::string> aliases;
    size_t files = 0;
    walk("/sys/devices", 0, &aliases, &files);
    report.devices = files;
    const size_t before = report.loaded.size();
    for (const std::string& alias : aliases) {
      if (!seen.insert(alias).second) continue;
      for (const std::string& m : index_.match(alias)) (void)load_module(m, &report);
    }
    if (report.loaded.size() == before) break;
  }
  return report;
}

int run_modprobe(const std::vector<std::string>& args) {
  bool quiet = false;
  std::vector<std::string> names;
  bool flags = true;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags && a == "--") {
      flags = false;
    } else if (flags && (a == "-q" || a == "--quiet")) {
      quiet = true;
    } else if (flags && (a == "-b" || a == "--use-blacklist")) {
      // No blacklist on a Weft node.
    } else if (flags && !a.empty() && a[0] == '-') {
      if (!quiet) std::fprintf(stderr, "modprobe: option %s is not supported here\n", a.c_str());
      return 1;
    } else {
      names.push_back(a);
    }
  }
  if (names.empty()) {
    std::fprintf(stderr, "usage: modprobe [-q] [--] NAME...\n");
    return 1;
  }
  auto kmod = Kmod::open();
  if (!kmod.is_ok()) {
    if (!quiet) std::fprintf(stderr, "modprobe: %s\n", kmod.status().message().c_str());
    return 1;
  }
  int rc = 0;
  for (const std::string& name : names) {
    KmodReport report;
    base::Status s = (*kmod)->load(name, &report);
    if (!s.is_ok()) {
      rc = 1;
      if (!quiet) std::fprintf(stderr, "modprobe: %s\n", s.message().c_str());
    }
  }
  return rc;
}

}  // namespace boot
