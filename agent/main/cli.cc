#include "agent/main/cli.h"

#include <string_view>
#include <utility>

#include "agent/config/config.h"
#include "agent/config/parse.h"
#include "agent/ctl/ctl.h"
#include "agent/base/version.h"
#include "agent/main/agent.h"
#include "agent/runtime/loop.h"
#include "agent/runtime/worker_pool.h"

namespace agent {

namespace {

constexpr std::string_view kUsage =
    "usage: agent [flags]           run the agent (config: /etc/agent/*.json, or -config PATH)\n"
    "       agent dev [flags]       every role in one process, data in a temporary directory\n"
    "       agent version           print the version\n"
    "       agent ctl COMMAND ...   operate a running agent (same as agentctl)\n"
    "Flags are configuration keys: -node_name=n1 -ports.http=7700 -log_level=debug ...\n"
    "-cmdline=\"agent.key=value ...\" replaces the kernel command line (default /proc/cmdline).\n";

std::string basename_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string dev_dir(const std::vector<std::string>& environment) {
  std::string tmp = config::env_lookup(environment, "TMPDIR");
  if (tmp.empty() || tmp[0] != '/') tmp = "/tmp";
  return tmp + "/weft-dev";
}

int run_agent(hal::Env& env, std::vector<std::string> flags, bool dev, FILE* out, FILE* err) {
  config::LoadInputs in;
  in.fs = env.fs;
  in.environment = env.sys->environment();
  // -cmdline is not a configuration key: it stands in for the kernel command line.
  bool cmdline_given = false;
  for (size_t i = 0; i < flags.size(); ++i) {
    std::string_view f = flags[i];
    if (f == "--") break;
    if (f.substr(0, 2) == "--") f.remove_prefix(1);
    if (f.substr(0, 9) == "-cmdline=") {
      in.kernel_cmdline = std::string(f.substr(9));
    } else if (f == "-cmdline" && i + 1 < flags.size()) {
      in.kernel_cmdline = flags[i + 1];
      flags.erase(flags.begin() + static_cast<long>(i));
    } else {
      continue;
    }
    cmdline_given = true;
    flags.erase(flags.begin() + static_cast<long>(i));
    --i;
  }
  if (!cmdline_given) {
    auto cmdline = env.fs->read_file("/proc/cmdline", 64 * 1024);
    if (cmdline.is_ok()) in.kernel_cmdline = std::move(cmdline).value();
  }
  if (dev) flags.insert(flags.begin(), "-dev");
  in.flags = std::move(flags);
  if (auto facts = env.sys->read(); facts.is_ok()) in.hostname = facts->hostname;

  auto loaded = config::load(in);
  if (!loaded.is_ok()) {
    std::fprintf(err, "agent: configuration error:\n%s\n", loaded.status().message().c_str());
    return kExitUsage;
  }
  config::Config cfg = std::move(loaded).value();
  bool temp_data_dir = false;
  for (auto& s : cfg.settings) {
    if (!cfg.dev) break;
    // The dev agent's socket sits at a fixed place so agentctl finds it with no flags.
    if (s.key == "socket_path" && s.origin == "default") {
      cfg.socket_path = dev_dir(in.environment) + "/agent.sock";
      s.value = cfg.socket_path;
      s.origin = "dev default";
    }
    if (s.key == "data_dir" && s.origin == "dev default") temp_data_dir = true;
  }

  base::Logger log(cfg.log.ring_bytes_max);
  log.set_clock([&env] { return env.clock->wall_now(); });
  log.set_level(cfg.log_level);
  log.set_console(err, cfg.log_level);

  int status = kExitOk;
  {
    runtime::Loop loop(*env.clock, *env.poller);
    // Two threads: blocking work (SQLite commits, image unpacking) is rare and short on a node.
    runtime::WorkerPool workers(loop, 2, 256);
    Agent agent(env, loop, workers, cfg, log);
    base::Status s = agent.start();
    if (!s.is_ok()) {
      AGENT_LOG_ERROR(log, "agent", "cannot start: %s", s.to_string().c_str());
      status = kExitFailed;
    } else {
      s = agent.run();
      if (!s.is_ok()) {
        AGENT_LOG_ERROR(log, "agent", "stopped on an error: %s", s.to_string().c_str());
        status = kExitFailed;
      } else {
        AGENT_LOG_INFO(log, "agent", "stopped");
      }
    }
  }
  if (temp_data_dir) env.fs->remove_tree(cfg.data_dir).ignore();
  (void)out;
  return status;
}

}  // namespace

int run_command_line(hal::Env& env, const std::vector<std::string>& args, FILE* out, FILE* err) {
  std::string program = args.empty() ? "agent" : basename_of(args[0]);
  std::vector<std::string> rest(args.size() > 1 ? args.begin() + 1 : args.end(), args.end());
  if (program == "agentctl") return ctl::run(env, rest, out, err);
  if (rest.empty()) return run_agent(env, {}, false, out, err);
  const std::string& cmd = rest[0];
  std::vector<std::string> tail(rest.begin() + 1, rest.end());
  if (cmd == "ctl") return ctl::run(env, tail, out, err);
  if (cmd == "version" || cmd == "-version" || cmd == "--version") {
    std::fprintf(out, "weft %s\n", std::string(base::version()).c_str());
    return kExitOk;
  }
  if (cmd == "help" || cmd == "-h" || cmd == "-help" || cmd == "--help") {
    std::fputs(kUsage.data(), out);
    return kExitOk;
  }
  if (cmd == "dev") return run_agent(env, tail, true, out, err);
  if (cmd == "run" || cmd == "agent") return run_agent(env, tail, false, out, err);
  if (!cmd.empty() && cmd[0] == '-') return run_agent(env, rest, false, out, err);
  std::fprintf(err, "agent: unknown command \"%s\"; see \"agent help\"\n", cmd.c_str());
  return kExitUsage;
}

}  // namespace agent
