// The agent binary's entry point: picks the platform's HAL and hands over to the command line.
// Everything else lives in agent/main/*.cc (the weft_agent library) so tests can link it.
#include <cstdio>
#include <string>
#include <vector>

#include "agent/main/cli.h"

#if defined(WEFT_PLATFORM_posix)
#include "hal/posix/posix_env.h"
#endif

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
#if defined(WEFT_PLATFORM_posix)
  hal::posix::PosixEnv platform;
  return agent::run_command_line(platform.env(), args, stdout, stderr);
#else
  std::fprintf(stderr, "agent: this build has no runnable platform\n");
  return 1;
#endif
}
