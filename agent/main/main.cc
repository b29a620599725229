// The agent binary's entry point. Everything else lives in agent/main/*.cc (the weft_agent
// library) so tests can link it; this file only picks the platform.
#include <cstdio>

int main(int argc, char** argv) {
  std::printf("weft agent %s\n", WEFT_VERSION);
  return 0;
}
