// See supervisor.h.
#include "agent/supervisor/supervisor.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "agent/base/assert.h"
#include "agent/base/bytes.h"
#include "agent/http/json.h"

namespace supervisor {

namespace {

constexpr const char* kModule = "supervisor";
constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kTaskStateBytesMax = 256 << 10;
// A drain after a task's exit reads at most this many chunks per pipe (the pipe holds at most
// hal::kOutputPipeBytes; a grandchild still writing cannot keep the loop here).
constexpr int kDrainChunksMax = 32;

bool is_sidecar_or_main(const sched::Task& t) {
  return t.lifecycle.hook == sched::LifecycleHook::kMain || t.lifecycle.sidecar;
}

std::string uuid(hal::Entropy& entropy) {
  uint8_t b[16];
  if (!entropy.fill(std::span<uint8_t>(b, sizeof b)).is_ok()) AGENT_ASSERT(false && "entropy failed");
  return base::uuid_v4(b);
}

}  // namespace

// "${NAME}" replaced by vars' NAME; unknown names are left as written (Nomad leaves them too).
std::string interpolate(const std::string& in, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    size_t open = in.find("${", i);
    if (open == std::string::npos) break;
    size_t close = in.find('}', open + 2);
    if (close == std::string::npos) break;
    out.append(in, i, open - i);
    auto it = vars.find(in.substr(open + 2, close - open - 2));
    if (it != vars.end()) {
      out += it->second;
    } else {
      out.append(in, open, close - open + 1);
    }
    i = close + 1;
  }
  out.append(in, i, std::string::npos);
  return out;
}

namespace {

// Nanoseconds since the epoch are past 2^53, which a JSON number read as a double does not hold
// exactly (json_get_i64 refuses them): the store keeps them as decimal text.
bool get_unix_ns(const cJSON* obj, const char* key, int64_t* out) {
  std::string text;
  if (!http::json_get_string(obj, key, &text)) return http::json_get_i64(obj, key, out);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *out = v;
  return true;
}

}  // namespace

std::string_view task_state_name(TaskStateName s) {
  switch (s) {
    case TaskStateName::kPending: return "pending";
    case TaskStateName::kRunning: return "running";
    case TaskStateName::kDead: return "dead";
  }
  return "pending";
}

Supervisor::Supervisor(hal::Env& env, runtime::Loop& loop, base::Logger& log, SupervisorOptions options)
    : env_(env), loop_(loop), log_(log), options_(std::move(options)), prng_(0), read_buf_(kReadChunkBytes) {
  uint8_t b[8];
  uint64_t seed = 1;
  if (env_.entropy->fill(std::span<uint8_t>(b, sizeof b)).is_ok()) {
    for (uint8_t x : b) seed = (seed << 8) | x;
  }
  prng_.reseed(seed);
}

Supervisor::~Supervisor() { shutdown(); }

int64_t Supervisor::wall_ns() { return env_.clock->wall_now().unix_ns(); }

std::string Supervisor::alloc_dir(const Alloc& a) const { return options_.data_dir + "/allocs/" + a.rec.id; }

base::Status Supervisor::start(const std::vector<sched::Job>& static_jobs) {
  AGENT_TRY(env_.fs->make_dirs(options_.data_dir + "/allocs", 0711));
  AGENT_ASSIGN_OR_RETURN(store_, AllocStore::open(options_.data_dir + "/allocs.db", env_.sqlite_vfs));
  AGENT_ASSIGN_OR_RETURN(std::vector<AllocRecord> stored, store_->load());
  if (env_.cgroups != nullptr) AGENT_LOG_INFO(log_, kModule, "%s", env_.cgroups->describe().c_str());
  find_oci_runtime();
  for (AllocRecord& rec : stored) {
    std::string id = rec.id;
    base::Status s = restore(std::move(rec));
    if (!s.is_ok()) AGENT_LOG_ERROR(log_, kModule, "allocation %s not restored: %s", id.c_str(), s.message().c_str());
  }
  // Re-attached tasks of bridge allocations: their namespace is still pinned; their mappings
  // are made again (a crashed agent may have left them stale).
  for (auto& [id, a] : allocs_) {
    bool running = false;
    for (auto& t : a->tasks) running = running || t->state == TaskStateName::kRunning;
    if (!running || a->rec.desired != "run" || a->net.mode != "bridge") continue;
    base::Status s = ensure_network(*a);
    if (!s.is_ok()) AGENT_LOG_WARN(log_, kModule, "allocation %s: network: %s", id.c_str(), s.message().c_str());
  }
  // Static jobs: what the config asks for now, against what the store had.
  std::map<std::string, std::pair<const sched::Job*, std::pair<const sched::TaskGroup*, int32_t>>> wanted;
  for (const sched::Job& job : static_jobs) {
    for (const sched::TaskGroup& g : job.groups) {
      for (int32_t i = 0; i < g.count; ++i) {
        wanted[job.id + "." + g.name + "[" + std::to_string(i) + "]"] = {&job, {&g, i}};
      }
    }
  }
  // An allocation an operator stopped stays stopped while its job is unchanged (the config
  // asked for it, the operator overruled it); a changed job gets a fresh one.
  std::map<std::string, Alloc*> have;
  for (auto& [id, a] : allocs_) {
    if (a->rec.source != "static" || a->rec.desired == "remove") continue;
    Alloc*& slot = have[a->rec.name];
    if (slot == nullptr || slot->rec.create_unix_ns < a->rec.create_unix_ns) {
      if (slot != nullptr) {
        slot->rec.desired = "remove";
        persist(*slot);
      }
      slot = a.get();
    } else {
      a->rec.desired = "remove";
      persist(*a);
    }
  }
  for (auto& [name, a] : have) {
    auto it = wanted.find(name);
    if (it != wanted.end() && sched::encode_job(*it->second.first) == a->rec.job_json) {
      wanted.erase(it);
      continue;
    }
    AGENT_LOG_INFO(log_, kModule, "allocation %s (%s): %s", a->rec.id.c_str(), name.c_str(),
                   it == wanted.end() ? "no longer in the config: stopping" : "its job changed: replacing");
    a->rec.desired = "remove";
    persist(*a);
  }
  for (auto& [name, w] : wanted) AGENT_TRY(create_static(*w.first, *w.second.first, w.second.second));
  for (auto& [id, a] : allocs_) advance(*a);
  return base::Status::ok();
}

base::Status Supervisor::create_static(const sched::Job& job, const sched::TaskGroup& group, int32_t index) {
  if (allocs_.size() >= kAllocsMax) {
    return base::error(base::Code::kResourceExhausted, "at most %zu allocations on a node", kAllocsMax);
  }
  auto a = std::make_unique<Alloc>();
  a->rec.id = uuid(*env_.entropy);
  a->rec.name = job.id + "." + group.name + "[" + std::to_string(index) + "]";
  a->rec.source = "static";
  a->rec.desired = "run";
  a->rec.client_status = "pending";
  a->rec.job_json = sched::encode_job(job);
  a->rec.group = group.name;
  a->rec.index = index;
  a->rec.create_unix_ns = a->rec.modify_unix_ns = wall_ns();
  a->job = job;
  for (const sched::TaskGroup& g : a->job.groups) {
    if (g.name == group.name) a->group = &g;
  }
  AGENT_ASSERT(a->group != nullptr);
  const bool batch = job.type == sched::JobType::kBatch || job.type == sched::JobType::kSysbatch;
  for (const sched::Task& spec : a->group->tasks) {
    auto t = std::make_unique<TaskRun>();
    t->name = spec.name;
    t->spec = &spec;
    t->restart = std::make_unique<RestartTracker>(spec.restart, batch || !is_sidecar_or_main(spec));
    a->tasks.push_back(std::move(t));
  }
  Alloc& ref = *a;
  allocs_[a->rec.id] = std::move(a);
  for (auto& t : ref.tasks) event(ref, *t, "Received", "Task received by client");
  AGENT_LOG_INFO(log_, kModule, "allocation %s (%s) created from the node's config", ref.rec.id.c_str(), ref.rec.name.c_str());
  persist(ref);
  return base::Status::ok();
}

base::Status Supervisor::restore(AllocRecord rec) {
  sched::JobDecode d = sched::decode_job(rec.job_json);
  if (!d.job) {
    return base::error(base::Code::kInternal, "its stored job does not decode: %s",
                       d.problems.empty() ? "?" : d.problems[0].c_str());
  }
  auto a = std::make_unique<Alloc>();
  a->rec = std::move(rec);
  a->job = std::move(*d.job);
  if (auto net = decode_alloc_network(a->rec.network_json); net.is_ok()) {
    a->net = std::move(net).value();
  } else {
    AGENT_LOG_WARN(log_, kModule, "allocation %s: stored network: %s (assigned again)", a->rec.id.c_str(),
                   net.status().message().c_str());
    a->rec.network_json.clear();
  }
  for (const sched::TaskGroup& g : a->job.groups) {
    if (g.name == a->rec.group) a->group = &g;
  }
  if (a->group == nullptr) return base::error(base::Code::kInternal, "its job has no group %s", a->rec.group.c_str());
  auto states = http::Json::parse(a->rec.tasks_json, kTaskStateBytesMax);
  const bool batch = a->job.type == sched::JobType::kBatch || a->job.type == sched::JobType::kSysbatch;
  for (const sched::Task& spec : a->group->tasks) {
    auto t = std::make_unique<TaskRun>();
    t->name = spec.name;
    t->spec = &spec;
    t->restart = std::make_unique<RestartTracker>(spec.restart, batch || !is_sidecar_or_main(spec));
    const cJSON* s = states.is_ok() ? cJSON_GetObjectItemCaseSensitive(states->get(), spec.name.c_str()) : nullptr;
    if (s != nullptr) {
      std::string state;
      http::json_get_string(s, "State", &state);
      t->state = state == "running" ? TaskStateName::kRunning : state == "dead" ? TaskStateName::kDead : TaskStateName::kPending;
      http::json_get_bool(s, "Failed", &t->failed);
      int64_t v = 0;
      if (http::json_get_i64(s, "Restarts", &v)) t->restarts = static_cast<int32_t>(v);
      get_unix_ns(s, "StartedAt", &t->started_unix_ns);
      get_unix_ns(s, "FinishedAt", &t->finished_unix_ns);
      get_unix_ns(s, "LastRestart", &t->last_restart_unix_ns);
      http::json_get_i64(s, "Pid", &t->pid);
      if (http::json_get_i64(s, "StartTime", &v)) t->start_time = static_cast<uint64_t>(v);
      if (http::json_get_i64(s, "PolicyCount", &v)) t->restart->restore(static_cast<int32_t>(v), loop_.now().ns());
      bool b = false;
      if (http::json_get_bool(s, "StartedOnce", &b)) t->started_once = b;
      if (http::json_get_bool(s, "RootfsReady", &b)) t->rootfs_ready = b;
      if (http::json_get_i64(s, "OciRuns", &v)) t->oci_runs = static_cast<int32_t>(v);
      http::json_get_string(s, "ContainerID", &t->container_id);
      const cJSON* events = cJSON_GetObjectItemCaseSensitive(s, "Events");
      const cJSON* e = nullptr;
      cJSON_ArrayForEach(e, events) {
        if (t->events.size() >= kTaskEventsMax) break;
        TaskEvent ev;
        get_unix_ns(e, "Time", &ev.time_unix_ns);
        http::json_get_string(e, "Type", &ev.type);
        http::json_get_string(e, "DisplayMessage", &ev.message);
        if (http::json_get_i64(e, "ExitCode", &v)) ev.exit_code = static_cast<int32_t>(v);
        t->events.push_back(std::move(ev));
      }
      t->done = t->state == TaskStateName::kDead;
    }
    a->tasks.push_back(std::move(t));
  }
  Alloc& ref = *a;
  allocs_[ref.rec.id] = std::move(a);
  // Lifecycle phases already reached.
  for (auto& t : ref.tasks) {
    if (!t->started_once) continue;
    switch (t->spec->lifecycle.hook) {
      case sched::LifecycleHook::kMain: ref.main_started = true; break;
      case sched::LifecycleHook::kPoststart: ref.poststart_started = true; break;
      case sched::LifecycleHook::kPoststop: ref.poststop_started = true; break;
      case sched::LifecycleHook::kPrestart: break;
    }
  }
  if (ref.rec.desired != "run") {
    // Stopping when the agent went down: finish the stop.
    for (auto& t : ref.tasks) {
      if (t->state == TaskStateName::kRunning && t->pid != 0) {
        auto p = env_.processes->attach(t->pid, t->start_time);
        if (p.is_ok()) {
          t->exit = p->exit;
          watch_process(ref, *t);
          kill_task(ref, *t, "Killing", "the allocation was being stopped");
          continue;
        }
      }
      if (!t->done) {
        set_state(ref, *t, TaskStateName::kDead);
        t->done = true;
      }
    }
    persist(ref);
    return base::Status::ok();
  }
  for (auto& t : ref.tasks) {
    if (t->state != TaskStateName::kRunning) continue;
    auto p = t->pid != 0 ? env_.processes->attach(t->pid, t->start_time)
                         : base::Result<hal::TaskProcess>(base::error(base::Code::kNotFound, "no pid"));
    if (p.is_ok()) {
      t->exit = p->exit;
      t->own_child = false;
      base::Status s = open_pipes(ref, *t);
      if (!s.is_ok()) AGENT_LOG_WARN(log_, kModule, "%s/%s: output: %s", ref.rec.id.c_str(), t->name.c_str(), s.message().c_str());
      watch_process(ref, *t);
      event(ref, *t, "Reattached", "Task re-attached after the agent restarted (pid " + std::to_string(t->pid) + ")");
      sync_services(ref, t.get(), true);
      AGENT_LOG_INFO(log_, kModule, "%s/%s: re-attached to pid %lld", ref.rec.id.c_str(), t->name.c_str(), static_cast<long long>(t->pid));
    } else {
      // Gone while the agent was away (a reboot, or it ended): start it again, outside the
      // restart policy -- the node restarted, the task did not fail.
      t->pid = 0;
      set_state(ref, *t, TaskStateName::kPending);
      event(ref, *t, "Restarting", "Task was not running after the agent restarted");
      start_after(ref, *t, base::Duration::zero());
    }
  }
  if (ref.rec.client_status == "running") sync_services(ref, nullptr, true);
  for (auto& t : ref.tasks) {
    // A task that was waiting out a restart delay when the agent went down.
    if (t->state == TaskStateName::kPending && t->started_once && t->restart_timer == runtime::kNoTimer && !t->done) {
      start_after(ref, *t, base::Duration::zero());
    }
  }
  persist(ref);
  return base::Status::ok();
}

// The OCI runtime for the oci driver: runc, else crun, from PATH. With one, the agent becomes a
// child subreaper (containers' processes become its children once the runtime exits) and reaps
// the orphans that brings each second.
void Supervisor::find_oci_runtime() {
  if (env_.processes == nullptr || options_.images == nullptr) return;
  for (const char* name : {"runc", "crun"}) {
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
      auto st = env_.fs->stat(std::string(dir) + "/" + name);
      if (st.is_ok() && st->type == hal::FileType::kRegular) {
        oci_runtime_ = std::string(dir) + "/" + name;
        break;
      }
    }
    if (!oci_runtime_.empty()) break;
  }
  if (oci_runtime_.empty()) {
    AGENT_LOG_INFO(log_, kModule, "no OCI runtime (runc or crun) found: oci tasks will fail to start");
    return;
  }
  base::Status s = env_.processes->become_subreaper();
  subreaper_ = s.is_ok();
  if (!subreaper_) AGENT_LOG_WARN(log_, kModule, "not a subreaper (%s): oci tasks' exit codes will be unknown", s.message().c_str());
  AGENT_LOG_INFO(log_, kModule, "oci driver: %s", oci_runtime_.c_str());
  if (subreaper_) arm_reaper();
}

void Supervisor::arm_reaper() {
  auto timer = loop_.arm_after(base::Duration::seconds(1), [this] {
    reaper_timer_ = runtime::kNoTimer;
    if (shutting_down_) return;
    env_.processes->reap_orphans();
    arm_reaper();
  });
  reaper_timer_ = timer.is_ok() ? *timer : runtime::kNoTimer;
}

void Supervisor::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (reaper_timer_ != runtime::kNoTimer) loop_.cancel(reaper_timer_);
  reaper_timer_ = runtime::kNoTimer;
  for (auto& w : log_waiters_) {
    if (w->timer != runtime::kNoTimer) loop_.cancel(w->timer);
    if (!w->answered && w->responder.pending()) w->responder.send(http::Response::error(503, "the agent is stopping"));
  }
  log_waiters_.clear();
  for (auto& [id, a] : allocs_) {
    for (auto& t : a->tasks) {
      if (t->restart_timer != runtime::kNoTimer) loop_.cancel(t->restart_timer);
      if (t->kill_timer != runtime::kNoTimer) loop_.cancel(t->kill_timer);
      t->restart_timer = t->kill_timer = runtime::kNoTimer;
      if (options_.stop_tasks_on_shutdown && t->pid != 0 && t->state == TaskStateName::kRunning) {
        (void)env_.processes->signal(t->pid, "SIGKILL");
        if (t->own_child) {
          // Reaped below through the exit handle's owner; a killed child exits at once.
          for (int i = 0; i < 100; ++i) {
            if (env_.processes->try_wait(t->pid).is_ok()) break;
          }
        }
      }
      // A container: its runtime state deleted, its root filesystem unmounted (lazily) -- here,
      // blocking: the agent is stopping and will not run the loop again.
      if (options_.stop_tasks_on_shutdown && t->spec->driver == "oci") {
        if (!t->container_id.empty() && !oci_runtime_.empty()) {
          hal::TaskSpawn del;
          del.argv = {oci_runtime_, "delete", "--force", t->container_id};
          del.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
          // Not waited for: it finishes after the agent has gone (init reaps it).
          auto p = env_.processes->start_task(del);
          if (p.is_ok()) env_.processes->close_exit(p->exit);
        }
        if (t->rootfs_ready && options_.images != nullptr) {
          base::Status s = options_.images->release_rootfs(alloc_dir(*a) + "/" + t->name + "/oci");
          if (s.is_ok()) t->rootfs_ready = false;
        }
      }
      // Every task's group, not only the running ones': a lifecycle task that has ended keeps
      // its group until the whole allocation ends (collect()).
      if (options_.stop_tasks_on_shutdown && env_.cgroups != nullptr) (void)env_.cgroups->remove(a->rec.id + "." + t->name);
      if (t->runtime_exit != hal::kInvalidHandle) {
        loop_.unwatch(t->runtime_exit);
        env_.processes->close_exit(t->runtime_exit);
        t->runtime_exit = hal::kInvalidHandle;
      }
      if (t->exit != hal::kInvalidHandle) {
        loop_.unwatch(t->exit);
        env_.processes->close_exit(t->exit);
        t->exit = hal::kInvalidHandle;
      }
      if (t->out_log) (void)t->out_log->flush(env_.clock->wall_now());
      if (t->err_log) (void)t->err_log->flush(env_.clock->wall_now());
      close_pipes(*t);
    }
    if (options_.stop_tasks_on_shutdown && a->net.mode == "bridge" && env_.netns != nullptr) {
      (void)env_.netns->destroy(a->rec.id, netns_link(*a));
      a->netns_ready = false;
    }
  }
  if (options_.stop_tasks_on_shutdown && bridge_ready_) (void)sync_port_mappings();
}

// ---- lifecycle -------------------------------------------------------------------------------

void Supervisor::advance(Alloc& a) {
  if (shutting_down_) return;
  auto each = [&](auto pred, auto fn) {
    for (auto& t : a.tasks) {
      if (pred(*t->spec)) fn(*t);
    }
  };
  auto is_hook = [](sched::LifecycleHook h) { return [h](const sched::Task& s) { return s.lifecycle.hook == h; }; };
  auto not_started = [&](TaskRun& t) {
    if (!t.started_once && !t.done && t.restart_timer == runtime::kNoTimer && t.state != TaskStateName::kRunning && !t.preparing &&
        t.runtime_pid == 0) {
      start_task(a, t);
    }
  };
  if (a.rec.desired != "run") {  // "stop" or "remove"
    for (auto& t : a.tasks) {
      if (t->restart_timer != runtime::kNoTimer) {
        loop_.cancel(t->restart_timer);
        t->restart_timer = runtime::kNoTimer;
      }
      if (t->state == TaskStateName::kRunning) {
        if (!t->killing) kill_task(a, *t, "Killing", "the allocation is being stopped");
      } else if (!t->done && !t->preparing && t->runtime_pid == 0) {  // (a container starting is killed once it runs)
        t->done = true;
        set_state(a, *t, TaskStateName::kDead);
      }
    }
  } else if (!a.failing) {
    // Prestart first.
    each(is_hook(sched::LifecycleHook::kPrestart), not_started);
    bool prestart_ok = true, prestart_failed = false;
    each(is_hook(sched::LifecycleHook::kPrestart), [&](TaskRun& t) {
      if (t.spec->lifecycle.sidecar) return;
      if (!t.done) prestart_ok = false;
      if (t.done && t.failed) prestart_failed = true;
    });
    if (prestart_failed) {
      a.failing = true;
    } else if (prestart_ok) {
      a.main_started = true;
      each(is_hook(sched::LifecycleHook::kMain), not_started);
    }
    // Poststart once every main task runs.
    if (a.main_started && !a.failing) {
      bool all_running = true;
      each(is_hook(sched::LifecycleHook::kMain), [&](TaskRun& t) {
        if (t.state != TaskStateName::kRunning && !t.done) all_running = false;
      });
      if (all_running || a.poststart_started) {
        a.poststart_started = true;
        each(is_hook(sched::LifecycleHook::kPoststart), not_started);
      }
    }
    // A failed main task fails the allocation.
    each(is_hook(sched::LifecycleHook::kMain), [&](TaskRun& t) {
      if (t.done && t.failed) a.failing = true;
    });
    if (a.failing) {
      for (auto& t : a.tasks) {
        if (t->state == TaskStateName::kRunning && !t->killing) {
          kill_task(a, *t, "Sibling Task Failed", "a task of the allocation failed");
        } else if (!t->done && t->state != TaskStateName::kRunning && !t->preparing && t->runtime_pid == 0) {
          if (t->restart_timer != runtime::kNoTimer) loop_.cancel(t->restart_timer);
          t->restart_timer = runtime::kNoTimer;
          t->done = true;
          set_state(a, *t, TaskStateName::kDead);
        }
      }
    }
  }
  // Main tasks all ended: sidecars and poststart go, then poststop runs.
  if (a.main_started && !a.failing && a.rec.desired == "run") {
    bool main_done = true;
    each(is_hook(sched::LifecycleHook::kMain), [&](TaskRun& t) {
      if (!t.done) main_done = false;
    });
    if (main_done) {
      bool others_running = false;
      for (auto& t : a.tasks) {
        if (t->spec->lifecycle.hook == sched::LifecycleHook::kMain || t->spec->lifecycle.hook == sched::LifecycleHook::kPoststop) continue;
        if (t->state == TaskStateName::kRunning) {
          others_running = true;
          if (!t->killing) kill_task(a, *t, "Killing", "the main tasks have ended");
        } else if (!t->done) {
          if (t->restart_timer != runtime::kNoTimer) loop_.cancel(t->restart_timer);
          t->restart_timer = runtime::kNoTimer;
          t->done = true;
          set_state(a, *t, TaskStateName::kDead);
        }
      }
      if (!others_running) {
        a.poststop_started = true;
        each(is_hook(sched::LifecycleHook::kPoststop), not_started);
      }
    }
  }
  // The allocation's client status.
  bool any_running = false, all_done = true, any_failed = false;
  for (auto& t : a.tasks) {
    if (t->state == TaskStateName::kRunning) any_running = true;
    if (!t->done) all_done = false;
    if (t->failed) any_failed = true;
  }
  std::string status = a.rec.client_status;
  if (all_done) {
    status = any_failed || a.failing ? "failed" : "complete";
  } else if (any_running && !a.failing) {
    status = "running";
  }
  if (status != a.rec.client_status) {
    AGENT_LOG_INFO(log_, kModule, "allocation %s (%s): %s -> %s", a.rec.id.c_str(), a.rec.name.c_str(), a.rec.client_status.c_str(), status.c_str());
    const bool was_running = a.rec.client_status == "running";
    a.rec.client_status = status;
    if (was_running != (status == "running")) sync_services(a, nullptr, status == "running");
    persist(a);
  }
  if (all_done) collect(a);
}

// Every task has ended: limits and pipes go. An allocation the config no longer names (desired
// "remove") goes entirely: its row and its directory.
void Supervisor::collect(Alloc& a) {
  std::vector<std::string> rootfs;
  for (auto& t : a.tasks) {
    if (env_.cgroups != nullptr) (void)env_.cgroups->remove(a.rec.id + "." + t->name);
    close_pipes(*t);
    if (t->rootfs_ready) {
      rootfs.push_back(alloc_dir(a) + "/" + t->name + "/oci");
      t->rootfs_ready = false;
    }
  }
  if (!rootfs.empty()) persist(a);
  if (a.net.mode == "bridge" && env_.netns != nullptr && !a.net_released) {
    a.net_released = true;
    base::Status s = env_.netns->destroy(a.rec.id, netns_link(a));
    if (!s.is_ok()) AGENT_LOG_WARN(log_, kModule, "allocation %s: network namespace: %s", a.rec.id.c_str(), s.message().c_str());
    if (a.netns_ready || bridge_ready_) {
      a.netns_ready = false;
      s = sync_port_mappings();
      if (!s.is_ok()) AGENT_LOG_WARN(log_, kModule, "port mappings: %s", s.message().c_str());
    }
  }
  const bool remove = a.rec.desired == "remove";
  if (rootfs.empty() && !remove) return;
  const std::string id = a.rec.id;
  // Root filesystems are unmounted on the worker pool; the allocation's directory goes after
  // (never while a rootfs is mounted in it). Not now in any case: advance() runs inside loops
  // over allocs_.
  auto removal = [this, id, remove] {
    auto it = allocs_.find(id);
    if (it == allocs_.end() || !remove) return;
    answer_log_waiters(id, "", true);
    base::Status s = store_ ? store_->remove(id) : base::Status::ok();
    if (s.is_ok()) s = env_.fs->remove_tree(alloc_dir(*it->second));
    if (!s.is_ok()) AGENT_LOG_WARN(log_, kModule, "allocation %s: cleanup: %s", id.c_str(), s.message().c_str());
    AGENT_LOG_INFO(log_, kModule, "allocation %s (%s) removed", id.c_str(), it->second->rec.name.c_str());
    allocs_.erase(it);
  };
  if (rootfs.empty() || options_.images == nullptr || options_.executor == nullptr) {
    (void)loop_.arm_after(base::Duration::zero(), removal);
    return;
  }
  auto failed = std::make_shared<std::string>();
  base::Status s = options_.executor->submit(
      [images = options_.images, rootfs, failed] {
        for (const std::string& dir : rootfs) {
          base::Status st = images->release_rootfs(dir);
          if (!st.is_ok()) *failed += dir + ": " + st.message() + "; ";
        }
      },
      [this, id, failed, removal] {
        if (!failed->empty()) {
          AGENT_LOG_WARN(log_, kModule, "allocation %s: unmounting: %s (its directory is kept)", id.c_str(), failed->c_str());
          return;
        }
        removal();
      });
  if (!s.is_ok()) AGENT_LOG_WARN(log_, kModule, "allocation %s: unmount not queued: %s", id.c_str(), s.message().c_str());
}

std::vector<std::string> Supervisor::task_env(const Alloc& a, const TaskRun& t) const {
  std::map<std::string, std::string> vars;
  const std::string dir = alloc_dir(a);
  vars["NOMAD_ALLOC_DIR"] = dir + "/alloc";
  vars["NOMAD_TASK_DIR"] = dir + "/" + t.name + "/local";
  vars["NOMAD_SECRETS_DIR"] = dir + "/" + t.name + "/secrets";
  vars["NOMAD_ALLOC_ID"] = a.rec.id;
  vars["NOMAD_ALLOC_NAME"] = a.rec.name;
  vars["NOMAD_ALLOC_INDEX"] = std::to_string(a.rec.index);
  vars["NOMAD_JOB_ID"] = a.job.id;
  vars["NOMAD_JOB_NAME"] = a.job.name;
  vars["NOMAD_GROUP_NAME"] = a.group->name;
  vars["NOMAD_TASK_NAME"] = t.name;
  vars["NOMAD_DC"] = options_.datacenter;
  vars["NOMAD_REGION"] = a.job.region;
  vars["NOMAD_NAMESPACE"] = a.job.namespace_;
  vars["NOMAD_CPU_LIMIT"] = std::to_string(t.spec->resources.cpu_mhz);
  vars["NOMAD_MEMORY_LIMIT"] = std::to_string(t.spec->resources.memory_mb);
  if (t.spec->resources.memory_max_mb > 0) vars["NOMAD_MEMORY_MAX_LIMIT"] = std::to_string(t.spec->resources.memory_max_mb);
  // Ports as Nomad names them: NOMAD_PORT_<label> is where the task listens, NOMAD_HOST_* the
  // node's side; in bridge mode NOMAD_ALLOC_* the namespace's.
  for (const PortAssignment& p : a.net.ports) {
    const std::string port = std::to_string(p.value);
    vars["NOMAD_PORT_" + p.label] = std::to_string(a.net.mode == "bridge" ? p.inside() : p.value);
    vars["NOMAD_HOST_PORT_" + p.label] = port;
    vars["NOMAD_IP_" + p.label] = vars["NOMAD_HOST_IP_" + p.label] = options_.check_address;
    vars["NOMAD_ADDR_" + p.label] = vars["NOMAD_HOST_ADDR_" + p.label] = options_.check_address + ":" + port;
    if (a.net.mode == "bridge") {
      vars["NOMAD_ALLOC_IP_" + p.label] = ipv4_text(a.net.address);
      vars["NOMAD_ALLOC_PORT_" + p.label] = std::to_string(p.inside());
      vars["NOMAD_ALLOC_ADDR_" + p.label] = ipv4_text(a.net.address) + ":" + std::to_string(p.inside());
    }
  }
  std::vector<std::string> env;
  env.emplace_back(kDefaultPath);
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  for (const auto& [k, v] : t.spec->env) {
    std::string value = interpolate(v, vars);
    const std::string prefix = k + "=";
    auto same = std::find_if(env.begin(), env.end(), [&](const std::string& e) { return e.compare(0, prefix.size(), prefix) == 0; });
    if (same != env.end()) {
      *same = prefix + value;
    } else {
      env.push_back(prefix + value);
    }
  }
  return env;
}

base::Status Supervisor::open_pipes(Alloc& a, TaskRun& t) {
  const std::string logs = alloc_dir(a) + "/alloc/logs";
  if (t.out == hal::kInvalidHandle) {
    AGENT_ASSIGN_OR_RETURN(t.out, env_.processes->open_output(logs + "/." + t.name + ".stdout.fifo"));
  }
  if (t.err == hal::kInvalidHandle) {
    AGENT_ASSIGN_OR_RETURN(t.err, env_.processes->open_output(logs + "/." + t.name + ".stderr.fifo"));
  }
  const uint64_t file_bytes = static_cast<uint64_t>(t.spec->logs.max_file_size_mb) << 20;
  if (!t.out_log) {
    t.out_log = std::make_unique<TaskLog>(*env_.fs, logs, t.name, "stdout", t.spec->logs.max_files, file_bytes);
    AGENT_TRY(t.out_log->open());
  }
  if (!t.err_log) {
    t.err_log = std::make_unique<TaskLog>(*env_.fs, logs, t.name, "stderr", t.spec->logs.max_files, file_bytes);
    AGENT_TRY(t.err_log->open());
  }
  const std::string id = a.rec.id, name = t.name;
  auto watch = [&](hal::Handle h, bool is_stderr) -> base::Status {
    if (loop_.watching(h)) return base::Status::ok();
    return loop_.watch(h, hal::kReadable, [this, id, name, is_stderr](uint8_t) {
      auto it = allocs_.find(id);
      if (it == allocs_.end()) return;
      TaskRun* task = find_task(*it->second, name);
      if (task != nullptr) on_output(*it->second, *task, is_stderr);
    });
  };
  AGENT_TRY(watch(t.out, false));
  AGENT_TRY(watch(t.err, true));
  return base::Status::ok();
}

void Supervisor::close_pipes(TaskRun& t) {
  for (hal::Handle* h : {&t.out, &t.err}) {
    if (*h == hal::kInvalidHandle) continue;
    loop_.unwatch(*h);
    env_.processes->close(*h);
    *h = hal::kInvalidHandle;
  }
}

void Supervisor::on_output(Alloc& a, TaskRun& t, bool is_stderr) {
  hal::Handle h = is_stderr ? t.err : t.out;
  TaskLog* log = is_stderr ? t.err_log.get() : t.out_log.get();
  if (h == hal::kInvalidHandle) return;
  auto n = env_.processes->read(h, std::span<uint8_t>(read_buf_.data(), read_buf_.size()));
  if (!n.is_ok() || *n == 0) return;
  std::string_view bytes(reinterpret_cast<const char*>(read_buf_.data()), *n);
  if (log == nullptr || !log->write(bytes, env_.clock->wall_now()).is_ok()) {
    log_bytes_dropped_ += *n;
    return;
  }
  answer_log_waiters(a.rec.id, t.name, false);
}

void Supervisor::watch_process(Alloc& a, TaskRun& t) {
  const std::string id = a.rec.id, name = t.name;
  base::Status s = loop_.watch(t.exit, hal::kReadable, [this, id, name](uint8_t) {
    auto it = allocs_.find(id);
    if (it == allocs_.end()) return;
    TaskRun* task = find_task(*it->second, name);
    if (task != nullptr) on_exit(*it->second, *task);
  });
  AGENT_ASSERT(s.is_ok() && "the loop refused a process handle");
}

void Supervisor::start_after(Alloc& a, TaskRun& t, base::Duration delay) {
  const std::string id = a.rec.id, name = t.name;
  auto timer = loop_.arm_after(delay, [this, id, name] {
    auto it = allocs_.find(id);
    if (it == allocs_.end()) return;
    TaskRun* task = find_task(*it->second, name);
    if (task == nullptr) return;
    task->restart_timer = runtime::kNoTimer;
    if (it->second->rec.desired != "run" || task->done) return;
    if (task->started_once) {
      ++task->restarts;
      task->last_restart_unix_ns = wall_ns();
    }
    start_task(*it->second, *task);
    advance(*it->second);
  });
  t.restart_timer = timer.is_ok() ? *timer : runtime::kNoTimer;
}

void Supervisor::start_task(Alloc& a, TaskRun& t) {
  const base::MonoTime decided = env_.clock->mono_now();
  const sched::Task& spec = *t.spec;
  const std::string dir = alloc_dir(a);
  const std::string task_dir = dir + "/" + t.name;
  if (spec.driver != "exec" && spec.driver != "oci") {
    fail_start(a, t, "driver \"" + spec.driver + "\" is not available on this node");
    return;
  }
  if (env_.processes == nullptr) {
    fail_start(a, t, "this platform runs no processes");
    return;
  }
  for (const char* sub : {"/alloc/logs", "/alloc/data", "/alloc/tmp"}) {
    base::Status s = env_.fs->make_dirs(dir + sub, 0755);
    if (!s.is_ok()) return fail_start(a, t, "task directory: " + s.message());
  }
  for (const char* sub : {"/local", "/tmp", "/secrets"}) {
    base::Status s = env_.fs->make_dirs(task_dir + sub, 0755);
    if (!s.is_ok()) return fail_start(a, t, "task directory: " + s.message());
  }
  if (base::Status s = open_pipes(a, t); !s.is_ok()) return fail_start(a, t, "output pipes: " + s.message());
  if (base::Status s = ensure_network(a); !s.is_ok()) return fail_start(a, t, "network: " + s.message());
  if (spec.driver == "oci") return start_oci(a, t, decided);

  hal::TaskSpawn spawn;
  spawn.env = task_env(a, t);
  std::map<std::string, std::string> vars;
  for (const std::string& e : spawn.env) {
    size_t eq = e.find('=');
    vars[e.substr(0, eq)] = e.substr(eq + 1);
  }
  spawn.argv.push_back(interpolate(spec.config.command, vars));
  for (const std::string& arg : spec.config.args) spawn.argv.push_back(interpolate(arg, vars));
  spawn.dir = task_dir;
  spawn.user = spec.user;
  spawn.stdout_fifo = dir + "/alloc/logs/." + t.name + ".stdout.fifo";
  spawn.stderr_fifo = dir + "/alloc/logs/." + t.name + ".stderr.fifo";
  if (a.net.mode == "bridge") spawn.netns = env_.netns->path(a.rec.id);
  std::string applied = "no cgroups on this platform: limits not applied";
  if (env_.cgroups != nullptr) {
    hal::CgroupLimits limits;
    const int64_t mb = spec.resources.memory_max_mb > 0 ? spec.resources.memory_max_mb : spec.resources.memory_mb;
    limits.memory_bytes_max = static_cast<uint64_t>(mb) << 20;
    limits.cpu_shares = static_cast<uint32_t>(std::clamp<int32_t>(spec.resources.cpu_mhz, 2, 262144));
    auto placed = env_.cgroups->create(a.rec.id + "." + t.name, limits);
    if (!placed.is_ok()) return fail_start(a, t, "cgroup: " + placed.status().message());
    spawn.cgroup_procs = placed->procs_files;
    applied = placed->applied;
  }
  event(a, t, "Task Setup", "Building Task Directory; " + applied +
                                (a.net.mode == "bridge" ? "; network bridge " + ipv4_text(a.net.address) : ""));
  auto p = env_.processes->start_task(spawn);
  if (!p.is_ok()) return fail_start(a, t, p.status().message());
  mark_running(a, t, *p, /*own_child=*/true, decided, "Task started by client");
}

void Supervisor::mark_running(Alloc& a, TaskRun& t, const hal::TaskProcess& p, bool own_child, base::MonoTime decided,
                              const std::string& message) {
  t.start_latency_ns = (env_.clock->mono_now() - decided).ns();
  t.pid = p.pid;
  t.start_time = p.start_time;
  t.exit = p.exit;
  t.own_child = own_child;
  t.killing = false;
  t.started_once = true;
  t.started_unix_ns = wall_ns();
  t.finished_unix_ns = 0;
  watch_process(a, t);
  set_state(a, t, TaskStateName::kRunning);
  event(a, t, "Started", message);
  AGENT_LOG_INFO(log_, kModule, "%s/%s: started pid %lld (%s)", a.rec.id.c_str(), t.name.c_str(), static_cast<long long>(t.pid), message.c_str());
  persist(a);
}

void Supervisor::fail_start(Alloc& a, TaskRun& t, const std::string& why) {
  event(a, t, "Driver Failure", why);
  AGENT_LOG_WARN(log_, kModule, "%s/%s: %s", a.rec.id.c_str(), t.name.c_str(), why.c_str());
  t.started_once = true;
  RestartDecision d = t.restart->on_start_failure(loop_.now().ns(), jitter());
  if (d.kind == RestartDecision::Kind::kRestart) {
    set_state(a, t, TaskStateName::kPending);
    event(a, t, "Restarting", d.reason);
    start_after(a, t, base::Duration::nanos(d.delay_ns));
  } else {
    t.failed = true;
    t.done = true;
    set_state(a, t, TaskStateName::kDead);
    event(a, t, "Not Restarting", d.reason);
  }
  persist(a);
}

void Supervisor::kill_task(Alloc& a, TaskRun& t, const char* event_type, const std::string& why) {
  if (t.state != TaskStateName::kRunning || t.pid == 0) return;
  t.killing = true;
  base::Status s = env_.processes->signal(t.pid, t.spec->kill_signal);
  char wait[32];
  base::format_duration(base::Duration::nanos(t.spec->kill_timeout_ns), wait, sizeof wait);
  if (std::strcmp(event_type, "Killing") != 0) event(a, t, event_type, why);
  event(a, t, "Killing",
        s.is_ok() ? "Sent interrupt (" + t.spec->kill_signal + "). Waiting " + wait + " before force killing"
                  : "Signal " + t.spec->kill_signal + " failed (" + s.message() + "): force killing");
  const std::string id = a.rec.id, name = t.name;
  auto timer = loop_.arm_after(s.is_ok() ? base::Duration::nanos(t.spec->kill_timeout_ns) : base::Duration::zero(), [this, id, name] {
    auto it = allocs_.find(id);
    if (it == allocs_.end()) return;
    TaskRun* task = find_task(*it->second, name);
    if (task == nullptr) return;
    task->kill_timer = runtime::kNoTimer;
    if (task->state == TaskStateName::kRunning && task->pid != 0) {
      (void)env_.processes->signal(task->pid, "SIGKILL");
      event(*it->second, *task, "Killing", "Kill timeout reached: sent SIGKILL");
    }
  });
  if (t.kill_timer != runtime::kNoTimer) loop_.cancel(t.kill_timer);
  t.kill_timer = timer.is_ok() ? *timer : runtime::kNoTimer;
  persist(a);
}

void Supervisor::on_exit(Alloc& a, TaskRun& t) {
  loop_.unwatch(t.exit);
  int code = -1;
  if (t.own_child) {
    auto w = env_.processes->try_wait(t.pid);
    if (!w.is_ok() && w.status().code() == base::Code::kUnavailable) {
      loop_.unwatch(t.exit);  // a spurious wake-up: watch again
      watch_process(a, t);
      return;
    }
    if (w.is_ok()) code = *w;
  }
  env_.processes->close_exit(t.exit);
  t.exit = hal::kInvalidHandle;
  // Whatever the task's group left behind goes with it, and so does its output.
  (void)env_.processes->signal(t.pid, "SIGKILL");
  for (bool is_stderr : {false, true}) {
    for (int i = 0; i < kDrainChunksMax; ++i) {
      hal::Handle h = is_stderr ? t.err : t.out;
      if (h == hal::kInvalidHandle) break;
      auto n = env_.processes->read(h, std::span<uint8_t>(read_buf_.data(), read_buf_.size()));
      if (!n.is_ok() || *n == 0) break;
      TaskLog* log = is_stderr ? t.err_log.get() : t.out_log.get();
      std::string_view bytes(reinterpret_cast<const char*>(read_buf_.data()), *n);
      if (log == nullptr || !log->write(bytes, env_.clock->wall_now()).is_ok()) log_bytes_dropped_ += *n;
    }
  }
  if (t.out_log) (void)t.out_log->flush(env_.clock->wall_now());
  if (t.err_log) (void)t.err_log->flush(env_.clock->wall_now());
  answer_log_waiters(a.rec.id, t.name, false);
  if (t.kill_timer != runtime::kNoTimer) {
    loop_.cancel(t.kill_timer);
    t.kill_timer = runtime::kNoTimer;
  }
  t.pid = 0;
  t.finished_unix_ns = wall_ns();
  if (t.spec->driver == "oci") delete_container(t.container_id);
  event(a, t, "Terminated", code >= 0 ? "Exit Code: " + std::to_string(code) : "Exit code unknown (the task was re-attached)", code);
  AGENT_LOG_INFO(log_, kModule, "%s/%s: exited, code %d", a.rec.id.c_str(), t.name.c_str(), code);
  if (t.killing) {
    t.killing = false;
    event(a, t, "Killed", "Task successfully killed");
    if (t.restart_after_kill && a.rec.desired == "run" && !a.failing) {
      t.restart_after_kill = false;
      set_state(a, t, TaskStateName::kPending);
      event(a, t, "Restarting", "Task restarting by an operator's request");
      start_after(a, t, base::Duration::zero());
    } else {
      t.done = true;
      set_state(a, t, TaskStateName::kDead);
    }
    persist(a);
    advance(a);
    return;
  }
  finish_exit(a, t, t.restart->on_exit(code < 0 ? 1 : code, loop_.now().ns(), jitter()));
}

void Supervisor::finish_exit(Alloc& a, TaskRun& t, const RestartDecision& d) {
  switch (d.kind) {
    case RestartDecision::Kind::kRestart:
      set_state(a, t, TaskStateName::kPending);
      event(a, t, "Restarting", d.reason);
      start_after(a, t, base::Duration::nanos(d.delay_ns));
      break;
    case RestartDecision::Kind::kComplete:
      t.done = true;
      set_state(a, t, TaskStateName::kDead);
      event(a, t, "Not Restarting", d.reason);
      break;
    case RestartDecision::Kind::kFail:
      t.done = true;
      t.failed = true;
      set_state(a, t, TaskStateName::kDead);
      event(a, t, "Not Restarting", d.reason);
      break;
  }
  persist(a);
  advance(a);
}

// ---- bookkeeping -----------------------------------------------------------------------------

void Supervisor::event(Alloc& a, TaskRun& t, std::string type, std::string message, int32_t exit_code) {
  (void)a;
  t.events.push_back(TaskEvent{wall_ns(), std::move(type), std::move(message), exit_code});
  while (t.events.size() > kTaskEventsMax) t.events.pop_front();
}

void Supervisor::set_state(Alloc& a, TaskRun& t, TaskStateName s) {
  const bool was_running = t.state == TaskStateName::kRunning;
  t.state = s;
  if (was_running != (s == TaskStateName::kRunning)) sync_services(a, &t, s == TaskStateName::kRunning);
}

std::string Supervisor::service_registration(const Alloc& a, const TaskRun* t, const sched::Service& svc, std::string* id) const {
  std::map<std::string, std::string> vars = {{"NOMAD_JOB_NAME", a.job.name}, {"NOMAD_GROUP_NAME", a.group->name},
                                             {"NOMAD_TASK_NAME", t != nullptr ? t->name : ""}};
  const std::string name = interpolate(svc.name, vars);
  const PortAssignment* assigned = svc.port_label.empty() ? nullptr : a.net.port(svc.port_label);
  const int32_t port = assigned != nullptr ? assigned->value : 0;
  *id = "_nomad-task-" + a.rec.id + "-" + (t != nullptr ? t->name : "group-" + a.group->name) + "-" + name + "-" + svc.port_label;
  http::Json doc = http::Json::object();
  doc.add_string("ID", *id);
  doc.add_string("Name", name);
  cJSON* tags = doc.add_array(doc.get(), "Tags");
  for (const std::string& tag : svc.tags) doc.add_string(tags, "", tag);
  cJSON* meta = doc.add_object(doc.get(), "Meta");
  for (const auto& [k, v] : svc.meta) doc.add_string(meta, k, v);
  doc.add_i64("Port", port);
  cJSON* checks = doc.add_array(doc.get(), "Checks");
  int n = 0;
  for (const sched::ServiceCheck& c : svc.checks) {
    cJSON* o = doc.add_object(checks, "");
    doc.add_string(o, "CheckID", *id + ":" + std::to_string(++n));
    doc.add_string(o, "Name", c.name.empty() ? "service: \"" + name + "\" check" : c.name);
    char interval[32], timeout[32];
    base::format_duration(base::Duration::nanos(c.interval_ns), interval, sizeof interval);
    base::format_duration(base::Duration::nanos(c.timeout_ns), timeout, sizeof timeout);
    // Checks reach the task where it listens: the node's port, or in bridge mode the
    // namespace's address and port directly.
    const PortAssignment* cp = c.port_label.empty() ? assigned : a.net.port(c.port_label);
    int32_t check_port = cp == nullptr ? 0 : a.net.mode == "bridge" ? cp->inside() : cp->value;
    std::string host = options_.check_address.find(':') != std::string::npos ? "[" + options_.check_address + "]" : options_.check_address;
    if (a.net.mode == "bridge") host = ipv4_text(a.net.address);
    if (c.type == "http") {
      doc.add_string(o, "HTTP", "http://" + host + ":" + std::to_string(check_port) + (c.path.empty() ? "/" : c.path));
      if (!c.method.empty()) doc.add_string(o, "Method", c.method);
    } else if (c.type == "tcp") {
      doc.add_string(o, "TCP", host + ":" + std::to_string(check_port));
    } else {
      cJSON* args = doc.add_array(o, "Args");
      doc.add_string(args, "", c.command);
      for (const std::string& arg : c.args) doc.add_string(args, "", arg);
    }
    doc.add_string(o, "Interval", interval);
    doc.add_string(o, "Timeout", timeout);
  }
  auto text = doc.dump();
  return text.is_ok() ? *text : std::string();
}

void Supervisor::sync_services(Alloc& a, TaskRun* t, bool running) {
  if (!options_.register_service) return;
  std::vector<std::string>& ids = t != nullptr ? t->service_ids : a.service_ids;
  if (!running) {
    for (const std::string& id : ids) options_.deregister_service(id);
    ids.clear();
    return;
  }
  const std::vector<sched::Service>& services = t != nullptr ? t->spec->services : a.group->services;
  for (const sched::Service& svc : services) {
    std::string id;
    std::string json = service_registration(a, t, svc, &id);
    base::Status s = options_.register_service(json);
    if (s.is_ok()) {
      ids.push_back(id);
    } else if (t != nullptr) {
      event(a, *t, "Task hook failed", "service " + svc.name + " not registered: " + s.message());
    } else {
      AGENT_LOG_WARN(log_, kModule, "allocation %s: group service %s not registered: %s", a.rec.id.c_str(), svc.name.c_str(), s.message().c_str());
    }
  }
}

std::string Supervisor::netns_link(const Alloc& a) const {
  std::string link = "wv";
  for (char c : a.rec.id) {
    if (c != '-' && link.size() < 15) link += c;
  }
  return link;
}

base::Status Supervisor::ensure_network(Alloc& a) {
  if (!a.group->network) return base::Status::ok();
  if (a.net.mode.empty()) {
    NetworkUse used;
    for (const auto& [id, other] : allocs_) {
      if (other.get() == &a || other->rec.desired != "run") continue;
      for (const PortAssignment& p : other->net.ports) used.ports.insert(p.value);
      if (other->net.address != 0) used.addresses.insert(other->net.address);
    }
    AGENT_ASSIGN_OR_RETURN(a.net, assign_network(*a.group->network, used, options_.bridge, prng_));
    a.rec.network_json = encode_alloc_network(a.net);
    persist(a);
  }
  if (a.net.mode != "bridge" || a.netns_ready) return base::Status::ok();
  if (env_.netns == nullptr) return base::error(base::Code::kUnimplemented, "this node has no network namespaces");
  if (!bridge_ready_) {
    AGENT_TRY(env_.netns->setup_bridge(options_.bridge));
    bridge_ready_ = true;
  }
  AGENT_TRY(env_.netns->create(a.rec.id, options_.bridge, netns_link(a), a.net.address));
  a.netns_ready = true;
  a.net_released = false;
  base::Status s = sync_port_mappings();
  if (!s.is_ok()) a.netns_ready = false;
  return s;
}

base::Status Supervisor::sync_port_mappings() {
  if (env_.netns == nullptr) return base::Status::ok();
  std::vector<hal::PortMapping> mappings;
  for (const auto& [id, a] : allocs_) {
    if (!a->netns_ready || a->rec.desired != "run") continue;
    std::vector<hal::PortMapping> more = port_mappings(a->net);
    mappings.insert(mappings.end(), more.begin(), more.end());
  }
  return env_.netns->map_ports(options_.bridge, mappings);
}

std::string Supervisor::tasks_json(const Alloc& a) const {
  http::Json doc = http::Json::object();
  for (const auto& t : a.tasks) {
    cJSON* o = doc.add_object(doc.get(), t->name);
    doc.add_string(o, "State", task_state_name(t->state));
    doc.add_bool(o, "Failed", t->failed);
    doc.add_i64(o, "Restarts", t->restarts);
    doc.add_string(o, "StartedAt", std::to_string(t->started_unix_ns));
    doc.add_string(o, "FinishedAt", std::to_string(t->finished_unix_ns));
    doc.add_string(o, "LastRestart", std::to_string(t->last_restart_unix_ns));
    doc.add_i64(o, "Pid", t->pid);
    doc.add_u64(o, "StartTime", t->start_time);
    doc.add_i64(o, "PolicyCount", t->restart->count());
    doc.add_bool(o, "StartedOnce", t->started_once);
    doc.add_bool(o, "RootfsReady", t->rootfs_ready);
    doc.add_i64(o, "OciRuns", t->oci_runs);
    doc.add_string(o, "ContainerID", t->container_id);
    fill_events(doc, o, *t, /*time_as_text=*/true);
  }
  auto text = doc.dump();
  return text.is_ok() ? *text : std::string("{}");
}

void Supervisor::persist(Alloc& a) {
  if (store_ == nullptr || shutting_down_) return;
  a.rec.tasks_json = tasks_json(a);
  a.rec.modify_unix_ns = wall_ns();
  base::Status s = store_->put(a.rec);
  if (!s.is_ok() && !store_failed_) {
    store_failed_ = true;
    AGENT_LOG_ERROR(log_, kModule, "the allocation store cannot be written (%s): state after a restart may be stale", s.message().c_str());
  }
}

Supervisor::Alloc* Supervisor::find(const std::string& id_or_prefix, base::Status* why) {
  auto exact = allocs_.find(id_or_prefix);
  if (exact != allocs_.end()) return exact->second.get();
  Alloc* found = nullptr;
  size_t matches = 0;
  if (!id_or_prefix.empty()) {
    for (auto it = allocs_.lower_bound(id_or_prefix); it != allocs_.end() && it->first.compare(0, id_or_prefix.size(), id_or_prefix) == 0; ++it) {
      found = it->second.get();
      ++matches;
    }
  }
  if (matches == 1) return found;
  *why = matches == 0 ? base::error(base::Code::kNotFound, "no allocation %s", id_or_prefix.c_str())
                      : base::error(base::Code::kInvalidArgument, "%zu allocations start with %s: give more of the ID", matches, id_or_prefix.c_str());
  return nullptr;
}

Supervisor::TaskRun* Supervisor::find_task(Alloc& a, const std::string& task) {
  for (auto& t : a.tasks) {
    if (t->name == task) return t.get();
  }
  return nullptr;
}

size_t Supervisor::allocs_running() const {
  size_t n = 0;
  for (const auto& [id, a] : allocs_) n += a->rec.client_status == "running";
  return n;
}

base::Status Supervisor::stop_alloc(const std::string& id) {
  base::Status why;
  Alloc* a = find(id, &why);
  if (a == nullptr) return why;
  a->rec.desired = "stop";
  persist(*a);
  advance(*a);
  return base::Status::ok();
}

base::Status Supervisor::restart_task(const std::string& id, const std::string& task) {
  base::Status why;
  Alloc* a = find(id, &why);
  if (a == nullptr) return why;
  if (a->rec.desired != "run") return base::error(base::Code::kFailedPrecondition, "allocation %s is stopped", a->rec.id.c_str());
  bool any = false;
  for (auto& t : a->tasks) {
    if (!task.empty() && t->name != task) continue;
    if (t->state != TaskStateName::kRunning) {
      if (!task.empty()) return base::error(base::Code::kFailedPrecondition, "task %s is not running", task.c_str());
      continue;
    }
    any = true;
    t->restart->reset();
    t->restart_after_kill = true;
    kill_task(*a, *t, "Restart Signaled", "User requested task to restart");
  }
  if (!any) return base::error(task.empty() ? base::Code::kFailedPrecondition : base::Code::kNotFound, "no running task %s in allocation %s", task.c_str(), a->rec.id.c_str());
  return base::Status::ok();
}

base::Status Supervisor::signal_task(const std::string& id, const std::string& task, const std::string& signal) {
  base::Status why;
  Alloc* a = find(id, &why);
  if (a == nullptr) return why;
  bool any = false;
  for (auto& t : a->tasks) {
    if (!task.empty() && t->name != task) continue;
    if (t->state != TaskStateName::kRunning || t->pid == 0) continue;
    AGENT_TRY(env_.processes->signal(t->pid, signal));
    event(*a, *t, "Signaling", "Task being sent signal " + signal);
    any = true;
  }
  if (!any) return base::error(base::Code::kNotFound, "no running task %s in allocation %s", task.c_str(), a->rec.id.c_str());
  persist(*a);
  return base::Status::ok();
}

}  // namespace supervisor
