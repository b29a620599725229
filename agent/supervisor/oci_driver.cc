// The oci driver (part of Supervisor; see supervisor.h): a container from the node's image store
// run by an OCI runtime.
//
// Starting a task: on the worker pool, the image is resolved (loaded first when Config.image is
// a path) and the task's root filesystem prepared (image/store.h: an overlay of the image's
// layers with the task's own writable upper layer at <task dir>/oci/rootfs); back on the loop,
// the bundle's config.json is written (oci_spec.h) and `<runtime> run --detach --pid-file ...
// --bundle <task dir>/oci <container id>` started with the task's FIFOs as its stdout and stderr
// (a detached runtime passes them on to the container). When the runtime exits 0 its pid file
// names the container's init; the agent, a child subreaper, has become that process's parent
// (hal::Processes::become_subreaper), adopts it and watches it like an exec task's process: its
// exit code is known. A runtime that exits non-zero is a start failure (its message is in the
// task's stderr log). After each exit `<runtime> delete --force` removes the container's state
// and cgroup; the root filesystem stays mounted (a restarted task keeps its writable layer) until
// the task is done for good.
//
// The runtime: runc, else crun, from PATH (the first found when the supervisor starts). Limits
// go in config.json (memory, CPU shares) under the cgroup /weft/<alloc>.<task>, the same group
// hal::Cgroups reads usage from. Networking: "host" shares the node's network; "none" gives the
// container a network namespace with loopback only; "bridge" (the default in a group whose
// network Mode is "bridge") joins the allocation's namespace, its ports mapped from the node's.
#include <cstring>

#include "agent/config/parse.h"
#include "agent/supervisor/oci_spec.h"
#include "agent/supervisor/supervisor.h"

namespace supervisor {

namespace {

constexpr const char* kModule = "supervisor";
constexpr size_t kPasswdBytesMax = 1 << 20;

}  // namespace

struct Supervisor::OciPrepared {
  base::Status status;
  image::Image image;
  std::string how;  // "overlay" or "copy"
  std::string passwd, group;
};

void Supervisor::start_oci(Alloc& a, TaskRun& t, base::MonoTime decided) {
  if (options_.images == nullptr || options_.executor == nullptr) return fail_start(a, t, "this node has no image store");
  if (oci_runtime_.empty()) return fail_start(a, t, "no OCI runtime (runc or crun) on this node's PATH");
  const std::string bundle = alloc_dir(a) + "/" + t.name + "/oci";
  auto prepared = std::make_shared<OciPrepared>();
  image::ImageStore* images = options_.images;
  // After the first start, the image by its digest: a path is not loaded again on each restart.
  const std::string ref = t.image_digest.empty() ? t.spec->config.image : t.image_digest;
  const int64_t now = wall_ns();
  const bool mount = !t.rootfs_ready;
  const std::string id = a.rec.id, name = t.name;
  t.preparing = true;
  event(a, t, "Driver", "Preparing the image " + ref);
  base::Status submitted = options_.executor->submit(
      [prepared, images, ref, now, bundle, mount, fs = env_.fs] {
        auto img = images->resolve(ref, now);
        if (!img.is_ok()) {
          prepared->status = img.status();
          return;
        }
        prepared->image = std::move(img).value();
        if (mount) {
          prepared->status = images->prepare_rootfs(prepared->image, bundle, &prepared->how);
          if (!prepared->status.is_ok()) return;
        }
        auto passwd = fs->read_file(bundle + "/rootfs/etc/passwd", kPasswdBytesMax);
        if (passwd.is_ok()) prepared->passwd = std::move(passwd).value();
        auto group = fs->read_file(bundle + "/rootfs/etc/group", kPasswdBytesMax);
        if (group.is_ok()) prepared->group = std::move(group).value();
      },
      [this, prepared, id, name, decided, bundle] {
        auto it = allocs_.find(id);
        if (it == allocs_.end() || shutting_down_) return;
        Alloc& alloc = *it->second;
        TaskRun* task = find_task(alloc, name);
        if (task == nullptr) return;
        task->preparing = false;
        if (!prepared->status.is_ok()) {
          fail_start(alloc, *task, "image " + task->spec->config.image + ": " + prepared->status.message());
        } else {
          task->image_digest = prepared->image.manifest_digest;
          if (!prepared->how.empty()) {
            task->rootfs_ready = true;
            event(alloc, *task, "Driver", "Root filesystem ready (" + prepared->how + ") from " + prepared->image.manifest_digest.substr(0, 19));
          }
          run_container(alloc, *task, *prepared, decided, bundle);
        }
        // Stopped (or failed by a sibling) while it was being prepared: it never runs.
        if (task->runtime_pid == 0 && task->state != TaskStateName::kRunning && !task->done &&
            (alloc.rec.desired != "run" || alloc.failing) && task->restart_timer == runtime::kNoTimer) {
          task->done = true;
          set_state(alloc, *task, TaskStateName::kDead);
          persist(alloc);
        }
        advance(alloc);
      });
  if (!submitted.is_ok()) {
    t.preparing = false;
    fail_start(a, t, "the worker pool is full: " + submitted.message());
  }
}

void Supervisor::run_container(Alloc& a, TaskRun& t, const OciPrepared& p, base::MonoTime decided, const std::string& bundle) {
  if (a.rec.desired != "run" || t.done) return;
  const sched::Task& spec = *t.spec;
  const image::ImageConfig& ic = p.image.config;
  // The environment: the image's, then the task's (NOMAD_* with the container's paths), the
  // task's Env last.
  std::map<std::string, std::string> vars;
  for (const std::string& e : ic.env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) vars[e.substr(0, eq)] = e.substr(eq + 1);
  }
  std::vector<std::string> own = task_env(a, t);
  for (const std::string& e : own) {
    size_t eq = e.find('=');
    std::string k = e.substr(0, eq);
    if (k == "PATH" && vars.count("PATH") != 0 && spec.env.count("PATH") == 0) continue;  // the image's PATH
    vars[k] = e.substr(eq + 1);
  }
  vars["NOMAD_ALLOC_DIR"] = "/alloc";
  vars["NOMAD_TASK_DIR"] = "/local";
  vars["NOMAD_SECRETS_DIR"] = "/secrets";
  for (const auto& [k, v] : spec.env) vars[k] = interpolate(v, vars);

  OciSpecInput in;
  if (!spec.config.command.empty()) {
    in.args.push_back(interpolate(spec.config.command, vars));
  } else {
    in.args = ic.entrypoint;
  }
  if (!spec.config.args.empty()) {
    for (const std::string& arg : spec.config.args) in.args.push_back(interpolate(arg, vars));
  } else if (spec.config.command.empty()) {
    in.args.insert(in.args.end(), ic.cmd.begin(), ic.cmd.end());
  }
  if (in.args.empty()) return fail_start(a, t, "the image has no entrypoint or cmd and the task gives no command");
  for (const auto& [k, v] : vars) in.env.push_back(k + "=" + v);
  in.cwd = !spec.config.work_dir.empty() ? spec.config.work_dir : !ic.working_dir.empty() ? ic.working_dir : "/";
  const std::string user = !spec.user.empty() ? spec.user : ic.user;
  if (!resolve_oci_user(user, p.passwd, p.group, &in.uid, &in.gid)) {
    return fail_start(a, t, "user \"" + user + "\" is not in the image's /etc/passwd");
  }
  in.hostname = a.rec.id.substr(0, 12);
  const bool bridge = spec.config.network_mode == "bridge" && a.net.mode == "bridge";
  if (spec.config.network_mode == "bridge" && !bridge) return fail_start(a, t, "network_mode \"bridge\" without the group's bridge network");
  in.host_network = spec.config.network_mode.empty() || spec.config.network_mode == "host";
  if (bridge) in.netns_path = env_.netns->path(a.rec.id);
  const int64_t mb = spec.resources.memory_max_mb > 0 ? spec.resources.memory_max_mb : spec.resources.memory_mb;
  in.memory_bytes_max = static_cast<uint64_t>(mb) << 20;
  in.cpu_shares = static_cast<uint64_t>(std::clamp<int32_t>(spec.resources.cpu_mhz, 2, 262144));
  in.cgroups_path = "/weft/" + a.rec.id + "." + t.name;
  const std::string dir = alloc_dir(a);
  // In the allocation's namespace the node is the bridge's gateway.
  const std::string resolv = "nameserver " + (bridge && options_.dns_on_all_addresses ? ipv4_text(options_.bridge.gateway) : options_.dns_address) + "\n";
  if (base::Status s = env_.fs->write_file(bundle + "/resolv.conf", base::as_bytes(resolv), 0644, false); !s.is_ok()) {
    return fail_start(a, t, "resolv.conf: " + s.message());
  }
  in.binds = {{bundle + "/resolv.conf", "/etc/resolv.conf"},
              {dir + "/alloc", "/alloc"},
              {dir + "/" + t.name + "/local", "/local"},
              {dir + "/" + t.name + "/secrets", "/secrets"}};
  const std::string config = oci_runtime_spec(in);
  if (base::Status s = env_.fs->write_file(bundle + "/config.json", base::as_bytes(config), 0600, false); !s.is_ok()) {
    return fail_start(a, t, "config.json: " + s.message());
  }
  (void)env_.fs->remove(bundle + "/pid");
  ++t.oci_runs;
  t.container_id = "weft-" + a.rec.id.substr(0, 8) + "-" + t.name + "-" + std::to_string(t.oci_runs);
  hal::TaskSpawn spawn;
  spawn.argv = {oci_runtime_, "run", "--detach", "--pid-file", bundle + "/pid", "--bundle", bundle, t.container_id};
  spawn.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  spawn.stdout_fifo = dir + "/alloc/logs/." + t.name + ".stdout.fifo";
  spawn.stderr_fifo = dir + "/alloc/logs/." + t.name + ".stderr.fifo";
  event(a, t, "Task Setup", "Building Task Directory; " + oci_runtime_ + " bundle " + bundle + "; cgroup " + in.cgroups_path +
                                ": memory " + std::to_string(in.memory_bytes_max) + " bytes, cpu.shares " + std::to_string(in.cpu_shares) +
                                "; network " + (in.host_network ? "host" : bridge ? "bridge " + ipv4_text(a.net.address) : "none"));
  auto runtime = env_.processes->start_task(spawn);
  if (!runtime.is_ok()) return fail_start(a, t, oci_runtime_ + ": " + runtime.status().message());
  t.runtime_pid = runtime->pid;
  t.runtime_exit = runtime->exit;
  t.start_decided = decided;
  const std::string id = a.rec.id, name = t.name;
  base::Status s = loop_.watch(t.runtime_exit, hal::kReadable, [this, id, name](uint8_t) {
    auto it = allocs_.find(id);
    if (it == allocs_.end()) return;
    TaskRun* task = find_task(*it->second, name);
    if (task != nullptr) on_runtime_exit(*it->second, *task);
  });
  AGENT_ASSERT(s.is_ok() && "the loop refused a process handle");
  persist(a);
}

void Supervisor::on_runtime_exit(Alloc& a, TaskRun& t) {
  auto code = env_.processes->try_wait(t.runtime_pid);
  if (!code.is_ok() && code.status().code() == base::Code::kUnavailable) return;  // spurious
  loop_.unwatch(t.runtime_exit);
  env_.processes->close_exit(t.runtime_exit);
  t.runtime_exit = hal::kInvalidHandle;
  t.runtime_pid = 0;
  const std::string bundle = alloc_dir(a) + "/" + t.name + "/oci";
  if (!code.is_ok() || *code != 0) {
    fail_start(a, t, oci_runtime_ + " run exited " + (code.is_ok() ? std::to_string(*code) : code.status().message()) +
                         " (its message is in the task's stderr log)");
    delete_container(t.container_id);
    advance(a);
    return;
  }
  auto pid_text = env_.fs->read_file(bundle + "/pid", 32);
  int64_t pid = 0;
  if (!pid_text.is_ok() || !config::parse_int(std::string(pid_text->c_str()), &pid) || pid <= 1) {
    fail_start(a, t, oci_runtime_ + " left no pid file");
    delete_container(t.container_id);
    advance(a);
    return;
  }
  env_.processes->adopt(pid);
  auto p = env_.processes->attach(pid, env_.processes->start_time(pid));
  if (!p.is_ok()) {
    // Ended already: its exit code is waiting (the agent is its parent now).
    auto w = env_.processes->try_wait(pid);
    event(a, t, "Started", "Task started by client");
    t.started_once = true;
    t.pid = 0;
    event(a, t, "Terminated", w.is_ok() ? "Exit Code: " + std::to_string(*w) : "Exit code unknown", w.is_ok() ? *w : -1);
    delete_container(t.container_id);
    RestartDecision d = t.restart->on_exit(w.is_ok() ? *w : 1, loop_.now().ns(), jitter());
    finish_exit(a, t, d);
    return;
  }
  mark_running(a, t, *p, /*own_child=*/subreaper_, t.start_decided,
               "Task started by client (container " + t.container_id + ", pid " + std::to_string(p->pid) + ")");
  // Stopped (or failed by a sibling) while the runtime was starting it.
  if (a.rec.desired != "run" || a.failing) kill_task(a, t, "Killing", "the allocation was stopped while the container started");
  advance(a);
}

// `<runtime> delete --force ID`, its exit reaped when it comes; its output discarded.
void Supervisor::delete_container(const std::string& container_id) {
  if (container_id.empty() || oci_runtime_.empty()) return;
  hal::TaskSpawn spawn;
  spawn.argv = {oci_runtime_, "delete", "--force", container_id};
  spawn.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  auto p = env_.processes->start_task(spawn);
  if (!p.is_ok()) {
    AGENT_LOG_WARN(log_, kModule, "%s delete %s: %s", oci_runtime_.c_str(), container_id.c_str(), p.status().message().c_str());
    return;
  }
  const int64_t pid = p->pid;
  const hal::Handle h = p->exit;
  base::Status s = loop_.watch(h, hal::kReadable, [this, pid, h](uint8_t) {
    if (!env_.processes->try_wait(pid).is_ok()) return;
    loop_.unwatch(h);
    env_.processes->close_exit(h);
  });
  if (!s.is_ok()) env_.processes->close_exit(h);
}

}  // namespace supervisor
