// Fuzzes config loading: the input is read as a JSON config file, as a kernel command line, and
// line by line as environment variables and flags. Nothing may crash or assert; every error is
// one non-empty line; and a config that loads renders to JSON that loads back to the same values
// (the rendering is a valid config file).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/assert.h"
#include "agent/config/config.h"
#include "agent/config/sources.h"

namespace {

// One file, /etc/agent/fuzz.json, in one directory; nothing else exists.
class OneFileFs : public hal::Fs {
 public:
  explicit OneFileFs(std::string content) : content_(std::move(content)) {}
  base::Result<std::string> read_file(std::string_view path, size_t bytes_max) override {
    if (path != "/etc/agent/fuzz.json") return base::error(base::Code::kNotFound, "absent");
    if (content_.size() > bytes_max) return base::error(base::Code::kResourceExhausted, "big");
    return content_;
  }
  base::Status write_file(std::string_view, base::ByteSpan, uint32_t, bool) override {
    return base::error(base::Code::kUnimplemented, "read-only");
  }
  base::Status make_dirs(std::string_view, uint32_t) override {
    return base::error(base::Code::kUnimplemented, "read-only");
  }
  base::Result<std::vector<std::string>> list_dir(std::string_view path) override {
    if (path != "/etc/agent") return base::error(base::Code::kNotFound, "absent");
    return std::vector<std::string>{"fuzz.json"};
  }
  base::Result<hal::FileInfo> stat(std::string_view path) override {
    hal::FileInfo info;
    if (path == "/etc/agent") {
      info.type = hal::FileType::kDirectory;
      return info;
    }
    if (path == "/etc/agent/fuzz.json") {
      info.type = hal::FileType::kRegular;
      info.size_bytes = content_.size();
      return info;
    }
    return base::error(base::Code::kNotFound, "absent");
  }
  base::Status remove(std::string_view) override {
    return base::error(base::Code::kUnimplemented, "read-only");
  }
  base::Status remove_tree(std::string_view) override {
    return base::error(base::Code::kUnimplemented, "read-only");
  }
  base::Result<std::string> make_temp_dir(std::string_view) override {
    return std::string("/tmp/fuzz-dev");
  }
  base::Status chmod(std::string_view, uint32_t) override {
    return base::error(base::Code::kUnimplemented, "read-only");
  }

 private:
  std::string content_;
};

void check_errors(const config::Collected& c) {
  for (const std::string& e : c.errors) {
    AGENT_ASSERT(!e.empty());
    AGENT_ASSERT(e.find('\n') == std::string::npos);
  }
  for (const config::Entry& e : c.entries) AGENT_ASSERT(e.spec != nullptr);
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size() && out.size() < 64) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out.emplace_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  config::Collected json, cmdline, env, flags;
  config::read_json(text, "fuzz.json", &json);
  config::read_cmdline(text, &cmdline);
  config::read_environment(split_lines(text), &env);
  std::vector<std::string> paths;
  config::read_flags(split_lines(text), &flags, &paths);
  check_errors(json);
  check_errors(cmdline);
  check_errors(env);
  check_errors(flags);

  OneFileFs fs{std::string(text)};
  config::LoadInputs in;
  in.fs = &fs;
  in.kernel_cmdline = std::string(text);
  in.hostname = "fuzz";
  in.dev_data_dir = "/tmp/dev";
  base::Result<config::Config> loaded = config::load(in);
  if (!loaded.is_ok()) {
    AGENT_ASSERT(loaded.status().code() == base::Code::kInvalidArgument);
    AGENT_ASSERT(!loaded.status().message().empty());
    return 0;
  }
  // Round trip: the rendered config is a config file giving the same values. Secrets are
  // rendered hidden, so a config with one cannot come back.
  if (!loaded->encrypt.empty()) return 0;
  OneFileFs again(config::to_json_text(*loaded, false));
  config::LoadInputs in2;
  in2.fs = &again;
  in2.hostname = "other";
  base::Result<config::Config> reloaded = config::load(in2);
  AGENT_ASSERT_MSG(reloaded.is_ok(), reloaded.status().message().c_str());
  AGENT_ASSERT(reloaded->settings.size() == loaded->settings.size());
  for (size_t i = 0; i < loaded->settings.size(); ++i) {
    AGENT_ASSERT_MSG(reloaded->settings[i].value == loaded->settings[i].value,
                     loaded->settings[i].key.c_str());
  }
  return 0;
}
