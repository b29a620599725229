// lincheck: checks a history file for linearizability. See cli.h and README.md.
#include <cstdio>

#include "tests/lin/cli.h"

int main(int argc, char** argv) { return lin::lincheck_main(argc, argv, stdout, stderr); }
