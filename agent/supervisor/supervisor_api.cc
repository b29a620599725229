// The node's allocation API (part of Supervisor; see supervisor.h), in Nomad's paths and shapes:
//   GET  /v1/allocations[?prefix=ID]            Nomad's AllocationListStub list
//   GET  /v1/allocation/<id>                    one allocation, with its Job
//   PUT  /v1/allocation/<id>/stop               stop it (POST too)
//   PUT  /v1/client/allocation/<id>/restart     {"TaskName": "web"} or all running tasks
//   PUT  /v1/client/allocation/<id>/signal      {"Task": "web", "Signal": "SIGHUP"}
//   GET  /v1/client/allocation/<id>/stats       resource usage per task (cgroup accounting)
//   GET  /v1/client/fs/logs/<id>?task=T&type=stdout|stderr&origin=start|end&offset=N
//        [&timestamps=true][&follow=true&wait=30s][&position=I:O:S]
// An <id> may be a unique prefix of one. Logs are answered as plain text (Nomad's plain=true;
// the framed JSON stream is not offered), at most kLogChunkBytes per response, with the header
// X-Weft-Log-Position naming where the next read continues (pass it back as `position`). With
// follow, a read that finds nothing new waits for output up to `wait` (kLogWaitMax at most) and
// then answers empty; X-Weft-Task-Dead: true says the task has ended and no more will come.
#include <cstring>

#include "agent/config/parse.h"
#include "agent/http/json.h"
#include "agent/supervisor/supervisor.h"

namespace supervisor {

namespace {

constexpr size_t kLogChunkBytes = 256 << 10;
constexpr size_t kRequestBytesMax = 4096;

int http_status(const base::Status& s) {
  switch (s.code()) {
    case base::Code::kNotFound: return 404;
    case base::Code::kInvalidArgument: return 400;
    case base::Code::kFailedPrecondition: return 409;
    default: return 500;
  }
}

std::string rfc3339_or_zero(int64_t unix_ns) {
  if (unix_ns == 0) return "0001-01-01T00:00:00Z";
  char buf[40];
  base::format_rfc3339(base::WallTime::from_unix_ns(unix_ns), buf, sizeof buf);
  return buf;
}

// "<file>:<offset>:<skip>" as X-Weft-Log-Position writes it (a LogPosition whole: without the
// skip, a read from it would return the record under it again). "<file>:<offset>" is skip 0.
bool parse_position(const std::string& text, LogPosition* out) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  size_t colon2 = text.find(':', colon + 1);
  int64_t i = 0, o = 0, k = 0;
  if (!config::parse_int(text.substr(0, colon), &i) || !config::parse_int(text.substr(colon + 1, colon2 - colon - 1), &o)) return false;
  if (colon2 != std::string::npos && !config::parse_int(text.substr(colon2 + 1), &k)) return false;
  if (i < 0 || o < 0 || k < 0 || i > UINT32_MAX) return false;
  out->index = static_cast<uint32_t>(i);
  out->offset = static_cast<uint64_t>(o);
  out->skip = static_cast<uint64_t>(k);
  return true;
}

}  // namespace

void Supervisor::add_routes(http::Router& router) {
  router.add("GET", "/v1/allocations", [this](http::Request& q, http::Responder r) { handle_list(q, std::move(r)); });
  for (const char* m : {"GET", "PUT", "POST"}) {
    router.add_prefix(m, "/v1/allocation/", [this](http::Request& q, http::Responder r) { handle_alloc(q, std::move(r)); });
    router.add_prefix(m, "/v1/client/allocation/", [this](http::Request& q, http::Responder r) { handle_client_alloc(q, std::move(r)); });
  }
  router.add_prefix("GET", "/v1/client/fs/logs/", [this](http::Request& q, http::Responder r) { handle_logs(q, std::move(r)); });
}

void Supervisor::handle_list(http::Request& q, http::Responder r) {
  const std::string* prefix = q.query_value("prefix");
  http::Json doc = http::Json::array();
  for (const auto& [id, a] : allocs_) {
    if (prefix != nullptr && id.compare(0, prefix->size(), *prefix) != 0) continue;
    cJSON* o = doc.add_object(doc.get(), "");
    fill_alloc(doc, o, *a, false);
  }
  r.send(http::json_response(200, doc));
}

void Supervisor::fill_alloc(http::Json& doc, cJSON* o, const Alloc& a, bool with_job) const {
  doc.add_string(o, "ID", a.rec.id);
  doc.add_string(o, "Name", a.rec.name);
  doc.add_string(o, "Namespace", a.job.namespace_);
  doc.add_string(o, "NodeName", options_.node_name);
  doc.add_string(o, "JobID", a.job.id);
  doc.add_string(o, "JobType", sched::job_type_name(a.job.type));
  doc.add_string(o, "TaskGroup", a.rec.group);
  doc.add_string(o, "DesiredStatus", a.rec.desired == "run" ? "run" : "stop");
  doc.add_string(o, "ClientStatus", a.rec.client_status);
  doc.add_string(o, "Source", a.rec.source);
  doc.add_i64(o, "CreateTime", a.rec.create_unix_ns);
  doc.add_i64(o, "ModifyTime", a.rec.modify_unix_ns);
  // The network as assigned (Nomad's AllocatedResources.Shared: Ports, and Networks with the
  // bridge address).
  if (!a.net.mode.empty()) {
    cJSON* shared = doc.add_object(doc.add_object(o, "AllocatedResources"), "Shared");
    cJSON* ports = doc.add_array(shared, "Ports");
    cJSON* net = doc.add_object(doc.add_array(shared, "Networks"), "");
    doc.add_string(net, "Mode", a.net.mode);
    doc.add_string(net, "IP", a.net.mode == "bridge" ? ipv4_text(a.net.address) : options_.check_address);
    cJSON* dynamic = doc.add_array(net, "DynamicPorts");
    cJSON* reserved = doc.add_array(net, "ReservedPorts");
    for (const PortAssignment& p : a.net.ports) {
      cJSON* po = doc.add_object(ports, "");
      doc.add_string(po, "Label", p.label);
      doc.add_i64(po, "Value", p.value);
      doc.add_i64(po, "To", p.to);
      doc.add_string(po, "HostIP", options_.check_address);
      bool is_reserved = false;
      for (const sched::Port& r : a.group->network->reserved_ports) is_reserved = is_reserved || r.label == p.label;
      cJSON* np = doc.add_object(is_reserved ? reserved : dynamic, "");
      doc.add_string(np, "Label", p.label);
      doc.add_i64(np, "Value", p.value);
      doc.add_i64(np, "To", p.to);
    }
  }
  cJSON* states = doc.add_object(o, "TaskStates");
  for (const auto& t : a.tasks) {
    cJSON* s = doc.add_object(states, t->name);
    doc.add_string(s, "State", task_state_name(t->state));
    doc.add_bool(s, "Failed", t->failed);
    doc.add_i64(s, "Restarts", t->restarts);
    doc.add_string(s, "LastRestart", rfc3339_or_zero(t->last_restart_unix_ns));
    doc.add_string(s, "StartedAt", rfc3339_or_zero(t->started_unix_ns));
    doc.add_string(s, "FinishedAt", rfc3339_or_zero(t->finished_unix_ns));
    if (t->pid != 0) doc.add_i64(s, "Pid", t->pid);
    // Weft's: the last start's latency, from the supervisor's decision to the program running.
    if (t->start_latency_ns != 0) doc.add_i64(s, "StartLatencyNs", t->start_latency_ns);
    fill_events(doc, s, *t);
  }
  if (with_job) {
    auto job = http::Json::parse(a.rec.job_json, sched::kJobBytesMax);
    if (job.is_ok()) {
      cJSON* inner = cJSON_DetachItemFromObjectCaseSensitive(job->get(), "Job");
      if (inner != nullptr) doc.add_tree(o, "Job", http::Json(inner));
    }
  }
}

void Supervisor::fill_events(http::Json& doc, cJSON* o, const TaskRun& t, bool time_as_text) {
  cJSON* events = doc.add_array(o, "Events");
  for (const TaskEvent& e : t.events) {
    cJSON* eo = doc.add_object(events, "");
    doc.add_string(eo, "Type", e.type);
    if (time_as_text) {
      doc.add_string(eo, "Time", std::to_string(e.time_unix_ns));
    } else {
      doc.add_i64(eo, "Time", e.time_unix_ns);
    }
    doc.add_string(eo, "DisplayMessage", e.message);
    doc.add_i64(eo, "ExitCode", e.exit_code);
  }
}

void Supervisor::handle_alloc(http::Request& q, http::Responder r) {
  std::string rest(q.path_rest());
  std::string action;
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    action = rest.substr(slash + 1);
    rest.resize(slash);
  }
  base::Status why;
  Alloc* a = find(rest, &why);
  if (a == nullptr) return r.send(http::Response::error(http_status(why), why.message()));
  if (action.empty()) {
    if (q.method != "GET") return r.send(http::Response::error(405, "GET an allocation; PUT its /stop"));
    http::Json doc = http::Json::object();
    fill_alloc(doc, doc.get(), *a, true);
    return r.send(http::json_response(200, doc));
  }
  if (action != "stop" || q.method == "GET") return r.send(http::Response::error(404, "no such allocation action: " + action));
  base::Status s = stop_alloc(a->rec.id);
  if (!s.is_ok()) return r.send(http::Response::error(http_status(s), s.message()));
  http::Json doc = http::Json::object();
  doc.add_string("EvalID", "");
  doc.add_u64("Index", 0);
  r.send(http::json_response(200, doc));
}

void Supervisor::handle_client_alloc(http::Request& q, http::Responder r) {
  std::string rest(q.path_rest());
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return r.send(http::Response::error(404, "want /v1/client/allocation/<id>/<restart|signal|stats>"));
  std::string action = rest.substr(slash + 1);
  rest.resize(slash);
  base::Status why;
  Alloc* a = find(rest, &why);
  if (a == nullptr) return r.send(http::Response::error(http_status(why), why.message()));
  if (action == "stats") {
    http::Json doc = http::Json::object();
    cJSON* tasks = doc.add_object(doc.get(), "Tasks");
    uint64_t mem_total = 0, cpu_total = 0;
    for (const auto& t : a->tasks) {
      cJSON* o = doc.add_object(tasks, t->name);
      hal::CgroupUsage u;
      if (env_.cgroups != nullptr && t->state == TaskStateName::kRunning) {
        auto got = env_.cgroups->usage(a->rec.id + "." + t->name);
        if (got.is_ok()) u = *got;
      }
      cJSON* ru = doc.add_object(o, "ResourceUsage");
      cJSON* mem = doc.add_object(ru, "MemoryStats");
      doc.add_u64(mem, "Usage", u.memory_bytes);
      doc.add_u64(mem, "MaxUsage", u.memory_peak_bytes);
      doc.add_u64(mem, "OOMKills", u.oom_kills);
      cJSON* cpu = doc.add_object(ru, "CpuStats");
      doc.add_u64(cpu, "TotalNanos", u.cpu_ns);
      mem_total += u.memory_bytes;
      cpu_total += u.cpu_ns;
    }
    cJSON* ru = doc.add_object(doc.get(), "ResourceUsage");
    doc.add_u64(doc.add_object(ru, "MemoryStats"), "Usage", mem_total);
    doc.add_u64(doc.add_object(ru, "CpuStats"), "TotalNanos", cpu_total);
    return r.send(http::json_response(200, doc));
  }
  if (q.method == "GET") return r.send(http::Response::error(405, "PUT or POST an allocation's restart or signal"));
  std::string task, signal;
  if (!q.body.empty()) {
    auto body = http::Json::parse(q.body, kRequestBytesMax);
    if (!body.is_ok()) return r.send(http::Response::error(400, "body: " + body.status().message()));
    http::json_get_string(body->get(), action == "restart" ? "TaskName" : "Task", &task);
    http::json_get_string(body->get(), "Signal", &signal);
  }
  base::Status s;
  if (action == "restart") {
    s = restart_task(a->rec.id, task);
  } else if (action == "signal") {
    if (signal.empty()) return r.send(http::Response::error(400, "Signal is required"));
    s = signal_task(a->rec.id, task, signal);
  } else {
    return r.send(http::Response::error(404, "no such allocation action: " + action));
  }
  if (!s.is_ok()) return r.send(http::Response::error(http_status(s), s.message()));
  r.send(http::json_response(200, http::Json::object()));
}

void Supervisor::handle_logs(http::Request& q, http::Responder r) {
  base::Status why;
  Alloc* a = find(std::string(q.path_rest()), &why);
  if (a == nullptr) return r.send(http::Response::error(http_status(why), why.message()));
  const std::string* task = q.query_value("task");
  if (task == nullptr || find_task(*a, *task) == nullptr) {
    return r.send(http::Response::error(400, "task: name one of the allocation's tasks"));
  }
  const std::string* type = q.query_value("type");
  std::string stream = type == nullptr ? "stdout" : *type;
  if (stream != "stdout" && stream != "stderr") return r.send(http::Response::error(400, "type: stdout or stderr"));
  const std::string* plain = q.query_value("plain");
  if (plain != nullptr && *plain != "true" && !plain->empty()) {
    return r.send(http::Response::error(400, "plain: only plain text logs are served (plain=true)"));
  }
  auto flag = [&](const char* name) {
    const std::string* v = q.query_value(name);
    return v != nullptr && (v->empty() || *v == "true");
  };
  auto w = std::make_unique<LogWaiter>();
  w->alloc_id = a->rec.id;
  w->task = *task;
  w->stream = stream;
  w->with_time = flag("timestamps");
  LogReader reader(*env_.fs, alloc_dir(*a) + "/alloc/logs", *task, stream);
  if (const std::string* pos = q.query_value("position"); pos != nullptr) {
    if (!parse_position(*pos, &w->at)) return r.send(http::Response::error(400, "position: want <file>:<offset>:<skip> as X-Weft-Log-Position gave it"));
  } else {
    const std::string* origin = q.query_value("origin");
    const std::string* offset = q.query_value("offset");
    int64_t off = 0;
    if (offset != nullptr && (!config::parse_int(*offset, &off) || off < 0)) return r.send(http::Response::error(400, "offset: a byte count"));
    if (origin != nullptr && *origin != "start" && *origin != "end") return r.send(http::Response::error(400, "origin: start or end"));
    auto at = reader.seek(origin != nullptr && *origin == "end", static_cast<uint64_t>(off));
    if (!at.is_ok()) return r.send(http::Response::error(http_status(at.status()), at.status().message()));
    w->at = *at;
  }
  base::Duration wait = base::Duration::seconds(30);
  if (const std::string* wt = q.query_value("wait"); wt != nullptr) {
    int64_t ns = 0;
    if (!config::parse_duration(*wt, &ns)) return r.send(http::Response::error(400, "wait: a duration such as 30s"));
    wait = std::min(base::Duration::nanos(ns), kLogWaitMax);
  }
  w->responder = std::move(r);
  LogWaiter* raw = w.get();
  log_waiters_.push_back(std::move(w));
  const bool follow = flag("follow");
  if (!follow) {
    answer_log_waiters(raw->alloc_id, raw->task, true);
    return;
  }
  answer_log_waiters(raw->alloc_id, raw->task, false);
  if (raw->answered) return;
  const std::string id = raw->alloc_id;
  auto timer = loop_.arm_after(wait, [this, raw, id] {
    raw->timer = runtime::kNoTimer;
    for (auto& x : log_waiters_) {
      if (x.get() == raw) {
        answer_one(*raw, true);
        break;
      }
    }
    sweep_log_waiters();
  });
  raw->timer = timer.is_ok() ? *timer : runtime::kNoTimer;
  raw->responder.on_cancel([this, raw] {
    raw->answered = true;
    if (raw->timer != runtime::kNoTimer) loop_.cancel(raw->timer);
    raw->timer = runtime::kNoTimer;
    (void)loop_.arm_after(base::Duration::zero(), [this] { sweep_log_waiters(); });
  });
}

// Reads what the waiter's position has; answers when there is something, or when `force`.
void Supervisor::answer_one(LogWaiter& w, bool force) {
  if (w.answered) return;
  auto it = allocs_.find(w.alloc_id);
  bool dead = true;
  std::string dir;
  if (it != allocs_.end()) {
    TaskRun* t = find_task(*it->second, w.task);
    dead = t == nullptr || t->done;
    dir = alloc_dir(*it->second) + "/alloc/logs";
  }
  LogChunk chunk;
  if (!dir.empty()) {
    LogReader reader(*env_.fs, dir, w.task, w.stream);
    auto got = reader.read(w.at, kLogChunkBytes, w.with_time);
    if (got.is_ok()) chunk = std::move(*got);
  }
  if (chunk.data.empty() && !force && !dead) {
    chunk.next = w.at;
    return;
  }
  if (chunk.data.empty() && dead) chunk.next = w.at;
  http::Response resp = http::Response::text(200, std::move(chunk.data));
  resp.set_header("X-Weft-Log-Position", std::to_string(chunk.next.index) + ":" + std::to_string(chunk.next.offset) + ":" +
                                             std::to_string(chunk.next.skip));
  if (dead) resp.set_header("X-Weft-Task-Dead", "true");
  if (chunk.truncated) resp.set_header("X-Weft-Log-Truncated", "true");
  w.answered = true;
  if (w.timer != runtime::kNoTimer) loop_.cancel(w.timer);
  w.timer = runtime::kNoTimer;
  if (w.responder.pending()) w.responder.send(std::move(resp));
}

void Supervisor::answer_log_waiters(const std::string& alloc_id, const std::string& task, bool force) {
  for (auto& w : log_waiters_) {
    if (w->alloc_id != alloc_id || (!task.empty() && w->task != task)) continue;
    answer_one(*w, force);
  }
  sweep_log_waiters();
}

void Supervisor::sweep_log_waiters() {
  std::erase_if(log_waiters_, [](const std::unique_ptr<LogWaiter>& w) { return w->answered && w->timer == runtime::kNoTimer; });
}

}  // namespace supervisor
