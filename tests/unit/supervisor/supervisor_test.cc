// supervisor::Supervisor on one node, end to end: real processes (/bin/sh, sleep, true) through the
// POSIX HAL, a real runtime::Loop and a temporary data dir. State is read only through the
// allocation API: an http::Router with the Supervisor's routes, driven by detached Responders (no
// sockets). Proves Nomad's lifecycle order, the failure and restart rules, kills, operator
// actions, re-attach and replacement across two Supervisors on one data dir, logs (also followed)
// and ID prefixes. Every wait pumps the loop until a condition or a deadline of a few seconds;
// nothing sleeps. Every Supervisor is shut down with stop_tasks_on_shutdown at the end.
#include "agent/supervisor/supervisor.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/log.h"
#include "agent/http/json.h"
#include "agent/http/request_parser.h"
#include "agent/http/router.h"
#include "agent/runtime/loop.h"
#include "agent/sched/job.h"
#include "hal/posix/posix_env.h"
#include "tests/unit/hal/posix/test_util.h"

namespace supervisor {
namespace {

using base::Duration;

// Longest wait for anything a test expects; the slowest (three runs with 200 ms delays, a 600 ms
// kill timeout) take about a second.
constexpr Duration kPatience = Duration::seconds(8);
constexpr int64_t kMs = 1'000'000;

struct Reply {
  bool answered = false;
  int status = 0;
  std::string body;
  http::Headers headers;
  const std::string* header(std::string_view name) const { return http::find_header(headers, name); }
};

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// One exec task running `script` under /bin/sh -c; `extra` adds members (",\"KillTimeout\": ...").
std::string sh_task(const std::string& name, const std::string& script, const std::string& extra = "") {
  return R"({"Name": ")" + name + R"(", "Driver": "exec", "Config": {"command": "/bin/sh", "args": ["-c", ")" +
         json_escape(script) + "\"]}" + extra + "}";
}

// A job `id` of `type` with one group "g" holding `tasks`; `group_extra` adds group members.
std::string job_json(const std::string& id, const std::string& type, const std::vector<std::string>& tasks,
                     const std::string& group_extra = "") {
  std::string t;
  for (const std::string& task : tasks) t += (t.empty() ? "" : ", ") + task;
  return R"({"Job": {"ID": ")" + id + R"(", "Type": ")" + type + R"(", "TaskGroups": [{"Name": "g")" + group_extra +
         R"(, "Tasks": [)" + t + "]}]}}";
}

constexpr const char* kNoRestarts = R"(, "RestartPolicy": {"Attempts": 0, "Mode": "fail"})";
constexpr const char* kPrestart = R"(, "Lifecycle": {"Hook": "prestart"})";

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() : loop_(env_.clock(), env_.poller()) {}
  ~SupervisorTest() override {
    close();
    // Tasks a second Supervisor re-attached to are still this process's children: reap them
    // (waitpid(-1) through the HAL: it answers kUnavailable while any child runs, an error when
    // none is left).
    for (int i = 0; i < 1000 && env_.env().processes->try_wait(-1).is_ok(); ++i) {
    }
  }

  // A Supervisor over the fixture's data dir, started with `jobs`; API calls go to it.
  void open(const std::vector<std::string>& jobs, bool stop_tasks_on_shutdown = true) {
    close();
    SupervisorOptions o;
    o.data_dir = dir_.path();
    o.node_name = "n1";
    o.datacenter = "dc1";
    o.stop_tasks_on_shutdown = stop_tasks_on_shutdown;
    sup_ = std::make_unique<Supervisor>(env_.env(), loop_, log_, o);
    router_ = std::make_unique<http::Router>();
    sup_->add_routes(*router_);
    std::vector<sched::Job> decoded;
    for (const std::string& text : jobs) {
      sched::JobDecode d = sched::decode_job(text);
      ASSERT_TRUE(d.job.has_value()) << (d.problems.empty() ? "?" : d.problems[0]) << "\n" << text;
      decoded.push_back(*d.job);
    }
    base::Status s = sup_->start(decoded);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void close() {
    if (sup_) sup_->shutdown();
    sup_.reset();
    router_.reset();
  }

  bool pump_until(const std::function<bool()>& pred, Duration timeout = kPatience) {
    const base::MonoTime deadline = loop_.refresh_now() + timeout;
    while (!pred()) {
      if (loop_.refresh_now() >= deadline) return pred();
      EXPECT_TRUE(loop_.run_once(Duration::millis(5)).is_ok());
    }
    return true;
  }
  int64_t mono_ms() { return env_.clock().mono_now().ns() / kMs; }

  // Dispatches a request; the reply fills when the handler answers (at once, or later for a
  // follow).
  std::shared_ptr<Reply> send(const std::string& method, const std::string& target, const std::string& body = "") {
    http::RequestParser parser;
    std::string wire = method + " " + target + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body;
    parser.feed(wire);
    auto reply = std::make_shared<Reply>();
    EXPECT_TRUE(parser.complete()) << target;
    if (!parser.complete()) return reply;
    http::Request req = parser.take();
    auto link = std::make_shared<http::DetachedLink>();
    link->done = [reply](http::Response r) {
      reply->answered = true;
      reply->status = r.status;
      reply->body = std::move(r.body);
      reply->headers = std::move(r.headers);
    };
    router_->dispatch(req, http::Responder::detached(link));
    return reply;
  }
  Reply call(const std::string& method, const std::string& target, const std::string& body = "") {
    auto r = send(method, target, body);
    EXPECT_TRUE(pump_until([&] { return r->answered; })) << method << " " << target;
    return *r;
  }
  static http::Json parse(const Reply& r) {
    auto j = http::Json::parse(r.body, 16 << 20);
    EXPECT_TRUE(j.is_ok()) << r.body;
    return j.is_ok() ? std::move(j).value() : http::Json::object();
  }

  std::vector<std::string> alloc_ids() {
    http::Json list = parse(call("GET", "/v1/allocations"));
    std::vector<std::string> ids;
    const cJSON* a = nullptr;
    cJSON_ArrayForEach(a, list.get()) {
      std::string id;
      http::json_get_string(a, "ID", &id);
      ids.push_back(id);
    }
    return ids;
  }
  // The only allocation (asserted by the caller through an empty answer).
  std::string the_alloc() {
    std::vector<std::string> ids = alloc_ids();
    EXPECT_EQ(ids.size(), 1u);
    return ids.size() == 1 ? ids[0] : "";
  }
  http::Json alloc(const std::string& id) {
    Reply r = call("GET", "/v1/allocation/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r);
  }
  std::string field(const std::string& id, const char* name) {
    std::string v;
    http::json_get_string(alloc(id).get(), name, &v);
    return v;
  }
  std::string status(const std::string& id) { return field(id, "ClientStatus"); }
  // A member of task `task`'s state as text ("" when absent).
  std::string task_field(const std::string& id, const std::string& task, const char* name) {
    http::Json a = alloc(id);
    const cJSON* t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a.get(), "TaskStates"), task.c_str());
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(t, name);
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) return std::to_string(static_cast<int64_t>(v->valuedouble));
    return "";
  }
  std::string state(const std::string& id, const std::string& task) { return task_field(id, task, "State"); }
  int64_t pid(const std::string& id, const std::string& task) {
    std::string p = task_field(id, task, "Pid");
    return p.empty() ? 0 : std::stoll(p);
  }
  std::vector<TaskEvent> events(const std::string& id, const std::string& task) {
    http::Json a = alloc(id);
    const cJSON* t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a.get(), "TaskStates"), task.c_str());
    std::vector<TaskEvent> out;
    const cJSON* e = nullptr;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "Events")) {
      TaskEvent ev;
      int64_t code = 0;
      // Past 2^53: json_get_i64 refuses it; the double's rounding keeps the order of times.
      const cJSON* time = cJSON_GetObjectItemCaseSensitive(e, "Time");
      ev.time_unix_ns = cJSON_IsNumber(time) ? static_cast<int64_t>(time->valuedouble) : 0;
      http::json_get_string(e, "Type", &ev.type);
      http::json_get_string(e, "DisplayMessage", &ev.message);
      http::json_get_i64(e, "ExitCode", &code);
      ev.exit_code = static_cast<int32_t>(code);
      out.push_back(ev);
    }
    return out;
  }
  // The first event of `type` (an empty event when there is none).
  static TaskEvent first(const std::vector<TaskEvent>& events, const std::string& type) {
    for (const TaskEvent& e : events) {
      if (e.type == type) return e;
    }
    return TaskEvent{};
  }
  static size_t count(const std::vector<TaskEvent>& events, const std::string& type) {
    size_t n = 0;
    for (const TaskEvent& e : events) n += e.type == type;
    return n;
  }
  static std::string types(const std::vector<TaskEvent>& events) {
    std::string s;
    for (const TaskEvent& e : events) s += e.type + " (" + e.message + "); ";
    return s;
  }
  bool wait_status(const std::string& id, const std::string& want) {
    return pump_until([&] { return status(id) == want; });
  }
  std::string logs(const std::string& id, const std::string& task, const std::string& type = "stdout") {
    Reply r = call("GET", "/v1/client/fs/logs/" + id + "?task=" + task + "&type=" + type);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  bool wait_logs(const std::string& id, const std::string& task, const std::string& want) {
    return pump_until([&] { return logs(id, task).find(want) != std::string::npos; });
  }
  // For a batch allocation whose task `before` must end before `after` starts (each appends its
  // name to alloc/order): the states on the way, the order and the event times.
  void expect_runs_in_order(const std::string& id, const std::string& before, const std::string& after) {
    EXPECT_EQ(state(id, before), "running");
    EXPECT_EQ(state(id, after), "pending");
    ASSERT_TRUE(wait_status(id, "complete")) << status(id);
    EXPECT_EQ(shared_file(id, "order"), before + "\n" + after + "\n");
    EXPECT_LE(first(events(id, before), "Terminated").time_unix_ns, first(events(id, after), "Started").time_unix_ns);
  }
  std::string alloc_dir(const std::string& id) { return dir_.path() + "/allocs/" + id; }
  // A file under the allocation's shared alloc/ directory ("" when absent).
  std::string shared_file(const std::string& id, const std::string& name) {
    auto r = env_.fs().read_file(alloc_dir(id) + "/alloc/" + name, 1 << 20);
    return r.is_ok() ? *r : "";
  }
  void touch_shared(const std::string& id, const std::string& name) {
    ASSERT_TRUE(env_.fs().write_file(alloc_dir(id) + "/alloc/" + name, base::ByteSpan(), 0644, false).is_ok());
  }

  posix_test::TempDir dir_;
  hal::posix::PosixEnv env_;
  runtime::Loop loop_;
  base::Logger log_;
  std::unique_ptr<Supervisor> sup_;
  std::unique_ptr<http::Router> router_;
};

// A non-sidecar prestart task runs to its end before the main task starts (order file and times).
TEST_F(SupervisorTest, PrestartFinishesBeforeMainStarts) {
  open({job_json("order", "batch",
                 {sh_task("init", "sleep 0.3; echo init >> $NOMAD_ALLOC_DIR/order", kPrestart),
                  sh_task("main", "echo main >> $NOMAD_ALLOC_DIR/order")})});
  const std::string id = the_alloc();
  expect_runs_in_order(id, "init", "main");
  EXPECT_EQ(task_field(id, "init", "Failed"), "false");
}

// A prestart task that fails fails the allocation, and the main task is never started.
TEST_F(SupervisorTest, FailingPrestartFailsTheAllocationAndMainNeverStarts) {
  open({job_json("order", "batch",
                 {sh_task("init", "echo init >> $NOMAD_ALLOC_DIR/order; exit 2", kPrestart),
                  sh_task("main", "echo main >> $NOMAD_ALLOC_DIR/order")},
                 kNoRestarts)});
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_status(id, "failed")) << status(id);
  EXPECT_EQ(task_field(id, "init", "Failed"), "true");
  EXPECT_EQ(state(id, "main"), "dead");
  std::vector<TaskEvent> main_events = events(id, "main");
  EXPECT_EQ(count(main_events, "Started"), 0u) << types(main_events);
  EXPECT_EQ(shared_file(id, "order"), "init\n");
}

// A prestart sidecar runs alongside the main task and is killed once a batch main task completes.
TEST_F(SupervisorTest, PrestartSidecarRunsAlongsideMainAndIsKilledWhenMainCompletes) {
  open({job_json("side", "batch",
                 {sh_task("side", "exec sleep 1000", R"(, "KillTimeout": "2s", "Lifecycle": {"Hook": "prestart", "Sidecar": true})"),
                  sh_task("main", "while [ ! -e $NOMAD_ALLOC_DIR/go ]; do sleep 0.05; done")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return state(id, "main") == "running"; }));
  EXPECT_EQ(state(id, "side"), "running");
  EXPECT_EQ(status(id), "running");
  touch_shared(id, "go");
  ASSERT_TRUE(wait_status(id, "complete")) << status(id);
  std::vector<TaskEvent> side = events(id, "side");
  EXPECT_EQ(state(id, "side"), "dead");
  EXPECT_EQ(task_field(id, "side", "Failed"), "false");
  EXPECT_EQ(count(side, "Killed"), 1u) << types(side);
  EXPECT_NE(first(side, "Killing").message.find("Sent interrupt (SIGINT)"), std::string::npos) << types(side);
  std::vector<TaskEvent> main_events = events(id, "main");
  EXPECT_EQ(count(main_events, "Killing"), 0u) << types(main_events);
  EXPECT_LE(first(main_events, "Terminated").time_unix_ns, first(side, "Killing").time_unix_ns);
}

// A poststart task waits for the main task to run (not for prestart), then runs; its exit 0 ends
// it for good even in a service job.
TEST_F(SupervisorTest, PoststartStartsOnceMainRuns) {
  open({job_json("post", "service",
                 {sh_task("init", "sleep 0.3", kPrestart), sh_task("main", "exec sleep 1000"),
                  sh_task("post", "echo post", R"(, "Lifecycle": {"Hook": "poststart"})")})});
  const std::string id = the_alloc();
  EXPECT_EQ(state(id, "post"), "pending");
  EXPECT_EQ(state(id, "main"), "pending");
  ASSERT_TRUE(pump_until([&] { return state(id, "post") == "dead"; }));
  EXPECT_EQ(task_field(id, "post", "Failed"), "false");
  EXPECT_EQ(state(id, "main"), "running");
  EXPECT_EQ(status(id), "running");
  EXPECT_LE(first(events(id, "main"), "Started").time_unix_ns, first(events(id, "post"), "Started").time_unix_ns);
  EXPECT_EQ(first(events(id, "post"), "Not Restarting").message, "Restart unnecessary as task terminated successfully");
}

// Regression: a shutdown with stop_tasks_on_shutdown removed only the running tasks' control
// groups; a prestart task that had ended left its group behind.
TEST_F(SupervisorTest, ShutdownThatStopsTasksRemovesEveryTasksControlGroup) {
  open({job_json("groups", "service", {sh_task("init", "true", kPrestart), sh_task("main", "exec sleep 1000")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return state(id, "main") == "running"; }));
  EXPECT_EQ(state(id, "init"), "dead");
  hal::Cgroups& cgroups = *env_.env().cgroups;
  if (cgroups.usage(id + ".absent").is_ok()) GTEST_SKIP() << "no control groups here: " << cgroups.describe();
  EXPECT_TRUE(cgroups.usage(id + ".init").is_ok()) << "an ended task's group lives while its allocation runs";
  close();
  EXPECT_EQ(cgroups.usage(id + ".init").status().code(), base::Code::kNotFound);
  EXPECT_EQ(cgroups.usage(id + ".main").status().code(), base::Code::kNotFound);
}

// A poststop task starts only after the main task has ended.
TEST_F(SupervisorTest, PoststopRunsAfterMainEnds) {
  open({job_json("stop", "batch",
                 {sh_task("main", "sleep 0.2; echo main >> $NOMAD_ALLOC_DIR/order"),
                  sh_task("cleanup", "echo cleanup >> $NOMAD_ALLOC_DIR/order", R"(, "Lifecycle": {"Hook": "poststop"})")})});
  const std::string id = the_alloc();
  expect_runs_in_order(id, "main", "cleanup");
}

// A main task that fails with no restarts left kills its sibling ("Sibling Task Failed") and
// fails the allocation.
TEST_F(SupervisorTest, FailedMainTaskKillsItsSiblingAndFailsTheAllocation) {
  open({job_json("sib", "service", {sh_task("bad", "sleep 0.3; exit 3"), sh_task("good", "exec sleep 1000", R"(, "KillTimeout": "2s")")},
                 kNoRestarts)});
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_status(id, "failed")) << status(id);
  std::vector<TaskEvent> bad = events(id, "bad");
  EXPECT_EQ(task_field(id, "bad", "Failed"), "true");
  EXPECT_EQ(first(bad, "Terminated").exit_code, 3);
  EXPECT_EQ(first(bad, "Not Restarting").message, "Policy allows no restarts") << types(bad);
  std::vector<TaskEvent> good = events(id, "good");
  EXPECT_EQ(state(id, "good"), "dead");
  EXPECT_EQ(count(good, "Sibling Task Failed"), 1u) << types(good);
  EXPECT_EQ(count(good, "Killed"), 1u) << types(good);
}

// A batch task exiting 0 completes the allocation with "Not Restarting" and no restart.
TEST_F(SupervisorTest, BatchExitZeroCompletes) {
  open({job_json("once", "batch", {R"({"Name": "t", "Driver": "exec", "Config": {"command": "true"}})"})});
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_status(id, "complete")) << status(id);
  std::vector<TaskEvent> ev = events(id, "t");
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[ev.size() - 2].type, "Terminated");
  EXPECT_EQ(ev[ev.size() - 2].exit_code, 0);
  EXPECT_EQ(ev.back().type, "Not Restarting");
  EXPECT_EQ(ev.back().message, "Restart unnecessary as task terminated successfully");
  EXPECT_EQ(task_field(id, "t", "Failed"), "false");
  EXPECT_EQ(task_field(id, "t", "Restarts"), "0");
  EXPECT_EQ(state(id, "t"), "dead");
}

// A service task that exits is restarted after the policy's delay, each restart counted, until
// the attempts are spent; then it fails.
TEST_F(SupervisorTest, ServiceExitIsRestartedPerPolicyAfterItsDelay) {
  open({job_json("crash", "service", {sh_task("t", "echo run >> $NOMAD_ALLOC_DIR/runs; exit 1")},
                 R"(, "RestartPolicy": {"Attempts": 2, "Interval": "1m", "Delay": "200ms", "Mode": "fail"})")});
  const std::string id = the_alloc();
  const int64_t began_ms = mono_ms();
  ASSERT_TRUE(wait_status(id, "failed")) << status(id);
  EXPECT_GE(mono_ms() - began_ms, 400);
  EXPECT_EQ(shared_file(id, "runs"), "run\nrun\nrun\n");
  EXPECT_EQ(task_field(id, "t", "Restarts"), "2");
  EXPECT_EQ(task_field(id, "t", "Failed"), "true");
  std::vector<TaskEvent> ev = events(id, "t");
  EXPECT_EQ(ev.back().type, "Not Restarting");
  EXPECT_EQ(ev.back().message.rfind("Exceeded allowed attempts 2", 0), 0u) << ev.back().message;
  // Each start after a "Restarting" waited out the delay (200 ms plus up to 25% jitter).
  size_t restarts_seen = 0;
  for (size_t i = 0; i < ev.size(); ++i) {
    if (ev[i].type != "Restarting") continue;
    EXPECT_EQ(ev[i].message, "Restart within policy");
    for (size_t j = i + 1; j < ev.size(); ++j) {
      if (ev[j].type != "Started") continue;
      EXPECT_GE(ev[j].time_unix_ns - ev[i].time_unix_ns, 200 * kMs) << types(ev);
      ++restarts_seen;
      break;
    }
  }
  EXPECT_EQ(restarts_seen, 2u) << types(ev);
}

// An operator's restart (restart_task or the API) starts the task again without counting against
// a policy that allows no restarts.
TEST_F(SupervisorTest, OperatorRestartDoesNotCountAgainstThePolicy) {
  open({job_json("svc", "service", {sh_task("t", "exec sleep 1000", R"(, "KillTimeout": "2s")")}, kNoRestarts)});
  const std::string id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return state(id, "t") == "running"; }));
  const int64_t pid1 = pid(id, "t");
  ASSERT_TRUE(sup_->restart_task(id, "t").is_ok());
  ASSERT_TRUE(pump_until([&] { return state(id, "t") == "running" && pid(id, "t") != pid1; }));
  const int64_t pid2 = pid(id, "t");
  std::vector<TaskEvent> ev = events(id, "t");
  EXPECT_EQ(count(ev, "Restart Signaled"), 1u) << types(ev);
  EXPECT_EQ(first(ev, "Restarting").message, "Task restarting by an operator's request");
  EXPECT_EQ(task_field(id, "t", "Restarts"), "1");

  Reply r = call("PUT", "/v1/client/allocation/" + id + "/restart", R"({"TaskName": "t"})");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(pump_until([&] { return state(id, "t") == "running" && pid(id, "t") != pid2; }));
  EXPECT_EQ(task_field(id, "t", "Restarts"), "2");
  EXPECT_EQ(task_field(id, "t", "Failed"), "false");
  EXPECT_EQ(status(id), "running");
  EXPECT_EQ(sup_->restart_task(id, "nope").code(), base::Code::kNotFound);
}

// Stopping sends the KillSignal, then SIGKILL once KillTimeout passes to a task that ignores it;
// a task that obeys it is not force-killed.
TEST_F(SupervisorTest, StopSendsKillSignalThenSigkillAfterKillTimeout) {
  open({job_json("stub", "service",
                 {sh_task("stubborn", "trap '' INT; echo ready; exec sleep 1000", R"(, "KillTimeout": "600ms")"),
                  sh_task("polite", "exec sleep 1000", R"(, "KillTimeout": "600ms")")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_logs(id, "stubborn", "ready\n"));
  ASSERT_TRUE(pump_until([&] { return state(id, "polite") == "running"; }));
  const int64_t stop_ms = mono_ms();
  ASSERT_TRUE(sup_->stop_alloc(id).is_ok());
  ASSERT_TRUE(wait_status(id, "complete")) << status(id);
  EXPECT_GE(mono_ms() - stop_ms, 600);
  EXPECT_EQ(field(id, "DesiredStatus"), "stop");
  std::vector<TaskEvent> stubborn = events(id, "stubborn");
  EXPECT_EQ(first(stubborn, "Killing").message, "Sent interrupt (SIGINT). Waiting 600ms before force killing");
  EXPECT_EQ(count(stubborn, "Killing"), 2u) << types(stubborn);
  EXPECT_EQ(stubborn[stubborn.size() - 3].message, "Kill timeout reached: sent SIGKILL") << types(stubborn);
  EXPECT_EQ(first(stubborn, "Terminated").exit_code, 128 + 9);
  EXPECT_EQ(stubborn.back().type, "Killed");
  std::vector<TaskEvent> polite = events(id, "polite");
  EXPECT_EQ(count(polite, "Killing"), 1u) << types(polite);
  EXPECT_EQ(first(polite, "Terminated").exit_code, 128 + 2);
  EXPECT_EQ(state(id, "polite"), "dead");
}

// signal_task() delivers a known signal; an unknown signal name is an error (400 over the API).
TEST_F(SupervisorTest, SignalTaskDeliversKnownSignalsAndRefusesUnknownNames) {
  open({job_json("sig", "service", {sh_task("t", "trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.05; done")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_logs(id, "t", "ready\n"));
  EXPECT_EQ(sup_->signal_task(id, "t", "SIGBOGUS").code(), base::Code::kInvalidArgument);
  Reply r = call("PUT", "/v1/client/allocation/" + id + "/signal", R"({"Task": "t", "Signal": "SIGBOGUS"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(call("PUT", "/v1/client/allocation/" + id + "/signal", R"({"Task": "t"})").status, 400);
  EXPECT_EQ(sup_->signal_task("no-such-alloc", "t", "SIGHUP").code(), base::Code::kNotFound);
  EXPECT_EQ(count(events(id, "t"), "Signaling"), 0u);

  r = call("PUT", "/v1/client/allocation/" + id + "/signal", R"({"Task": "t", "Signal": "SIGHUP"})");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(wait_logs(id, "t", "got-hup\n"));
  EXPECT_EQ(first(events(id, "t"), "Signaling").message, "Task being sent signal SIGHUP");
  EXPECT_EQ(state(id, "t"), "running");
}

// A program that does not exist is a "Driver Failure" on each start, restarted per policy, then
// the task and the allocation fail.
TEST_F(SupervisorTest, MissingCommandIsDriverFailureThenFailed) {
  open({job_json("missing", "service", {R"({"Name": "t", "Driver": "exec", "Config": {"command": "/nonexistent/weft-no-such-program"}})"},
                 R"(, "RestartPolicy": {"Attempts": 1, "Interval": "1m", "Delay": "200ms", "Mode": "fail"})")});
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_status(id, "failed")) << status(id);
  std::vector<TaskEvent> ev = events(id, "t");
  EXPECT_EQ(count(ev, "Driver Failure"), 2u) << types(ev);
  EXPECT_EQ(count(ev, "Started"), 0u) << types(ev);
  EXPECT_EQ(ev.back().type, "Not Restarting");
  EXPECT_EQ(task_field(id, "t", "Failed"), "true");
  EXPECT_EQ(task_field(id, "t", "Restarts"), "1");
  EXPECT_EQ(state(id, "t"), "dead");
}

// A second Supervisor on the same data dir with the job unchanged keeps the allocation and
// re-attaches to its running task: same pid, a "Reattached" event, output still collected.
TEST_F(SupervisorTest, UnchangedJobIsReattachedByTheNextSupervisor) {
  const std::string job = job_json("web", "service", {sh_task("t", "trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.05; done")});
  open({job}, /*stop_tasks_on_shutdown=*/false);
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_logs(id, "t", "ready\n"));
  const int64_t pid1 = pid(id, "t");
  ASSERT_NE(pid1, 0);
  const std::string started_at = task_field(id, "t", "StartedAt");
  const int64_t started_event_ns = first(events(id, "t"), "Started").time_unix_ns;
  ASSERT_NE(started_event_ns, 0);

  open({job});
  EXPECT_EQ(the_alloc(), id);
  EXPECT_EQ(pid(id, "t"), pid1);
  EXPECT_EQ(state(id, "t"), "running");
  EXPECT_EQ(status(id), "running");
  std::vector<TaskEvent> ev = events(id, "t");
  EXPECT_EQ(first(ev, "Reattached").message, "Task re-attached after the agent restarted (pid " + std::to_string(pid1) + ")");
  EXPECT_EQ(count(ev, "Started"), 1u) << types(ev);
  // Regression: the store wrote nanosecond times as JSON numbers, which read back as 0.
  EXPECT_EQ(task_field(id, "t", "StartedAt"), started_at);
  EXPECT_EQ(first(ev, "Started").time_unix_ns, started_event_ns);
  ASSERT_TRUE(sup_->signal_task(id, "t", "SIGHUP").is_ok());
  ASSERT_TRUE(wait_logs(id, "t", "got-hup\n"));
}

// A second Supervisor on the same data dir with the job changed replaces the allocation: the old
// task is killed and the old allocation collected (row and directory), a new one runs.
TEST_F(SupervisorTest, ChangedJobReplacesTheAllocation) {
  auto job = [](const std::string& v) {
    return job_json("web", "service", {sh_task("t", "exec sleep 1000", R"(, "KillTimeout": "2s", "Env": {"V": ")" + v + "\"}")});
  };
  open({job("1")}, /*stop_tasks_on_shutdown=*/false);
  const std::string old_id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return state(old_id, "t") == "running"; }));
  const int64_t old_pid = pid(old_id, "t");

  open({job("2")});
  ASSERT_TRUE(pump_until([&] {
    std::vector<std::string> ids = alloc_ids();
    return ids.size() == 1 && ids[0] != old_id;
  }));
  const std::string new_id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return state(new_id, "t") == "running"; }));
  EXPECT_NE(pid(new_id, "t"), old_pid);
  EXPECT_EQ(call("GET", "/v1/allocation/" + old_id).status, 404);
  EXPECT_FALSE(env_.fs().stat(alloc_dir(old_id)).is_ok()) << "the old allocation's directory is removed";
  // The old task was killed (it is this process's child: reaping it proves it ended).
  EXPECT_TRUE(pump_until([&] { return env_.env().processes->try_wait(old_pid).is_ok(); }));
}

// An allocation an operator stopped stays stopped when the next Supervisor starts with the job
// unchanged.
TEST_F(SupervisorTest, StoppedAllocationStaysStoppedWhileTheJobIsUnchanged) {
  const std::string job = job_json("web", "service", {sh_task("t", "exec sleep 1000")});
  open({job});
  const std::string id = the_alloc();
  Reply r = call("PUT", "/v1/allocation/" + id + "/stop");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(wait_status(id, "complete")) << status(id);
  EXPECT_EQ(call("PUT", "/v1/client/allocation/" + id + "/restart").status, 409);

  open({job});
  EXPECT_EQ(the_alloc(), id);
  EXPECT_EQ(field(id, "DesiredStatus"), "stop");
  EXPECT_EQ(status(id), "complete");
  EXPECT_EQ(state(id, "t"), "dead");
}

// The task gets NOMAD_* variables, its Env with ${NOMAD_*} interpolated, and its task directory
// as working directory.
TEST_F(SupervisorTest, TaskGetsItsEnvironmentAndDirectory) {
  open({job_json("env", "batch", {sh_task("t", "echo $NOMAD_ALLOC_NAME $NOMAD_TASK_NAME $NOMAD_DC $GREETING; pwd",
                                          R"(, "Env": {"GREETING": "hi-${NOMAD_TASK_NAME}"})")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(wait_status(id, "complete")) << status(id);
  EXPECT_EQ(logs(id, "t"), "env.g[0] t dc1 hi-t\n" + alloc_dir(id) + "/t\n");
}

// The logs API returns each stream's output; bad task and type parameters are 400.
TEST_F(SupervisorTest, LogsReturnEachStream) {
  open({job_json("out", "service", {sh_task("t", "echo hello; echo oops >&2; exec sleep 1000")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return logs(id, "t") == "hello\n"; })) << logs(id, "t");
  ASSERT_TRUE(pump_until([&] { return logs(id, "t", "stderr") == "oops\n"; })) << logs(id, "t", "stderr");
  Reply r = call("GET", "/v1/client/fs/logs/" + id + "?task=t&type=stdout");
  ASSERT_NE(r.header("X-Weft-Log-Position"), nullptr);
  EXPECT_EQ(r.header("X-Weft-Task-Dead"), nullptr);
  EXPECT_EQ(call("GET", "/v1/client/fs/logs/" + id + "?task=nope").status, 400);
  EXPECT_EQ(call("GET", "/v1/client/fs/logs/" + id).status, 400);
  EXPECT_EQ(call("GET", "/v1/client/fs/logs/" + id + "?task=t&type=both").status, 400);
}

// A follow request from a position waits for new output and then answers with it; with nothing
// new it answers empty once its wait ends.
TEST_F(SupervisorTest, LogFollowWaitsForNewOutput) {
  open({job_json("follow", "service",
                 {sh_task("t", "echo one; while [ ! -e $NOMAD_ALLOC_DIR/go ]; do sleep 0.05; done; echo two; exec sleep 1000")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return logs(id, "t") == "one\n"; }));
  Reply now = call("GET", "/v1/client/fs/logs/" + id + "?task=t&type=stdout");
  ASSERT_NE(now.header("X-Weft-Log-Position"), nullptr);
  const std::string at = *now.header("X-Weft-Log-Position");

  auto follow = send("GET", "/v1/client/fs/logs/" + id + "?task=t&type=stdout&follow=true&wait=5s&position=" + at);
  EXPECT_FALSE(pump_until([&] { return follow->answered; }, Duration::millis(300))) << "answered with nothing new: " << follow->body;
  touch_shared(id, "go");
  ASSERT_TRUE(pump_until([&] { return follow->answered; }));
  EXPECT_EQ(follow->status, 200);
  EXPECT_EQ(follow->body, "two\n");
  ASSERT_NE(follow->header("X-Weft-Log-Position"), nullptr);
  const std::string after = *follow->header("X-Weft-Log-Position");
  EXPECT_NE(after, at);

  const int64_t asked_ms = mono_ms();
  auto idle = send("GET", "/v1/client/fs/logs/" + id + "?task=t&type=stdout&follow=true&wait=200ms&position=" + after);
  ASSERT_TRUE(pump_until([&] { return idle->answered; }));
  EXPECT_GE(mono_ms() - asked_ms, 200);
  EXPECT_EQ(idle->status, 200);
  EXPECT_EQ(idle->body, "");
}

// Regression: X-Weft-Log-Position dropped the skip within its record, so a read from it returned
// the last line again; now a read from it returns only what came after.
TEST_F(SupervisorTest, LogPositionDoesNotRepeatTheLastLine) {
  open({job_json("pos", "service", {sh_task("t", "echo one; echo two; exec sleep 1000")})});
  const std::string id = the_alloc();
  ASSERT_TRUE(pump_until([&] { return logs(id, "t") == "one\ntwo\n"; }));
  Reply all = call("GET", "/v1/client/fs/logs/" + id + "?task=t");
  ASSERT_NE(all.header("X-Weft-Log-Position"), nullptr);
  Reply again = call("GET", "/v1/client/fs/logs/" + id + "?task=t&position=" + *all.header("X-Weft-Log-Position"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(call("GET", "/v1/client/fs/logs/" + id + "?task=t&position=0:x").status, 400);
}

// An allocation is found by a unique prefix of its ID; an ambiguous prefix is 400, an unknown
// one 404. Seventeen allocations guarantee two share a first hex digit.
TEST_F(SupervisorTest, IdPrefixesFindOneAllocationOrSayWhy) {
  open({job_json("many", "batch", {R"({"Name": "t", "Driver": "exec", "Config": {"command": "true"}})"}, R"(, "Count": 17)")});
  std::vector<std::string> ids = alloc_ids();
  ASSERT_EQ(ids.size(), 17u);
  ASSERT_TRUE(pump_until([&] {
    for (const std::string& id : ids) {
      if (status(id) != "complete") return false;
    }
    return true;
  }));
  std::string shared;
  size_t sharing = 0;
  for (char c : std::string("0123456789abcdef")) {
    size_t n = 0;
    for (const std::string& id : ids) n += id[0] == c;
    if (n >= 2) {
      shared = std::string(1, c);
      sharing = n;
      break;
    }
  }
  ASSERT_FALSE(shared.empty());
  Reply ambiguous = call("GET", "/v1/allocation/" + shared);
  EXPECT_EQ(ambiguous.status, 400);
  EXPECT_NE(ambiguous.body.find("give more of the ID"), std::string::npos) << ambiguous.body;
  EXPECT_EQ(sup_->stop_alloc(shared).code(), base::Code::kInvalidArgument);
  http::Json listed = parse(call("GET", "/v1/allocations?prefix=" + shared));
  EXPECT_EQ(cJSON_GetArraySize(listed.get()), static_cast<int>(sharing));

  const std::string unique = ids[0].substr(0, 13);
  std::string found;
  http::json_get_string(alloc(unique).get(), "ID", &found);
  EXPECT_EQ(found, ids[0]);
  EXPECT_EQ(call("GET", "/v1/client/fs/logs/" + unique + "?task=t").status, 200);
  EXPECT_EQ(call("GET", "/v1/allocation/zz").status, 404);
  EXPECT_EQ(call("GET", "/v1/client/fs/logs/zz?task=t").status, 404);
  EXPECT_EQ(sup_->restart_task("zz", "t").code(), base::Code::kNotFound);
}

}  // namespace
}  // namespace supervisor
