// See ctl_helpers.h.
#include "tests/unit/ctl/ctl_helpers.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>

#include "agent/ctl/ctl.h"

namespace ctltest {
namespace {

std::string read_all(FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

}  // namespace

RunResult run_ctl(hal::Env& env, const std::vector<std::string>& args, const std::string& input) {
  FILE* in = std::tmpfile();
  FILE* out = std::tmpfile();
  FILE* err = std::tmpfile();
  std::fwrite(input.data(), 1, input.size(), in);
  std::rewind(in);
  RunResult r;
  r.rc = ctl::run(env, args, in, out, err);
  std::fclose(in);
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  return mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

}  // namespace ctltest
