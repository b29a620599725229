// boot::run_init -- the binary as the node's first process (issue 7 item 1), entered when it
// runs as PID 1 or is invoked as "init".
//
// What it does, in order: mounts /proc, /sys, /dev (devtmpfs, with /dev/pts), /run and /tmp
// (tmpfs) and cgroup2 at /sys/fs/cgroup (each one already mounted is kept); brings loopback up;
// loads the kernel modules the hardware asks for and brings every link up (kmod.h); starts the
// DHCP client on every link (dhcp_run.h, a child of its own, restarted if it ends) and waits up
// to 30 s for a first lease; takes node
// config from a CIDATA volume (config_volume.h); sets the hostname from `agent.node_name=` on
// the kernel command line, else the volume's meta-data local-hostname, else "weft-" and the
// first NIC's MAC address's last six hex digits (so a node booted from a bare image still has
// a name: the agent's default node name is the hostname); says on the
// console that state is kept in memory (no data disk yet); waits for the kernel's random pool
// (the agent's keys and ids need it); starts the agent (this binary, as
// "agent", its output in /run/weft/agent.log; its configuration is the image's /etc/agent/*.json
// and the kernel command line's agent.* keys, which config::load reads itself); starts a
// console (console.cc) on every terminal the kernel's console is on (/sys/class/tty/console/
// active: with console=tty0 console=ttyS0, the screen and the serial port); then reaps every
// orphan and watches its children.
//
// The agent is restarted when it dies (after 1 s, doubling to 30 s while it keeps dying within
// a minute of its start), except when it exits 2 (its configuration is wrong): then the node is
// in maintenance mode -- the reason is in /run/weft/maintenance, the console says so and stays
// up, and SIGHUP (the console's `continue`) starts the agent again. The console is restarted
// whenever it ends.
//
// Signals, as busybox's init takes them: SIGTERM or SIGINT (ctrl-alt-del) reboot, SIGUSR2 (or
// SIGPWR) powers off, SIGUSR1 halts. Going down: SIGTERM to the agent, up to 10 s for it to end,
// SIGTERM then SIGKILL to every other process, sync, then reboot(2). A failure to mount or to
// start a child is reported on the console and never panics the kernel (PID 1 must not exit).
// A static address from the kernel's ip= (static_ip.h) takes its link out of DHCP.
// agent.config=http://... on the kernel command line is fetched (config_url.h) once the network
// is up, into /etc/agent/70-url.json; a fetch that fails is maintenance mode (`continue` retries).
// Threading: the process's only thread. Not here: the data disk (a later step of issue 7).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace boot {

struct InitOptions {
  // Runs an agentctl command line in-process (args[0] is "agentctl"); the console's commands.
  std::function<int(const std::vector<std::string>& args, FILE* out, FILE* err)> ctl;
  std::string version;
};

// True when this process is the node's first process: pid 1, or invoked as "init".
bool is_init(const std::vector<std::string>& args);

// Never returns while it is PID 1 (the machine reboots or powers off); returns 1 on a failure
// before any child started when it is not PID 1 (a test running it by another name).
int run_init(const std::vector<std::string>& args, const InitOptions& options);

// The console: a read-eval loop on the process's stdin/stdout (console.cc). Returns when input
// ends.
int run_console(const InitOptions& options);

}  // namespace boot
