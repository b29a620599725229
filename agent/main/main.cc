// The agent binary's entry point: picks the platform's HAL and hands over to the command line.
// Everything else lives in agent/main/*.cc (the weft_agent library) so tests can link it.
#include <cstdio>
#include <string>
#include <vector>

#include "agent/main/cli.h"

#if defined(WEFT_PLATFORM_posix)
#include "agent/base/version.h"
#include "boot/init.h"
#include "boot/kmod.h"
#include "hal/posix/posix_env.h"
#endif

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
#if defined(WEFT_PLATFORM_posix)
  hal::posix::PosixEnv platform;
  // The kernel's usermode helper asking for a module (the image links /sbin/modprobe here).
  if (!args.empty() && (args[0] == "modprobe" || args[0].ends_with("/modprobe"))) return boot::run_modprobe(args);
  // The node's first process (boot/): init duties, the agent and the console as its children.
  if (boot::is_init(args)) {
    boot::InitOptions init;
    init.version = std::string(base::version());
    init.ctl = [&platform](const std::vector<std::string>& ctl_args, FILE* out, FILE* err) {
      return agent::run_command_line(platform.env(), ctl_args, out, err);
    };
    return boot::run_init(args, init);
  }
  return agent::run_command_line(platform.env(), args, stdout, stderr);
#else
  std::fprintf(stderr, "agent: this build has no runnable platform\n");
  return 1;
#endif
}
