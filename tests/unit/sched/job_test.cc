// Proves the job decoder and encoder (agent/sched/job.h): each supported member decoded, Nomad's
// defaults, both envelope shapes, snake_case and both duration forms; each kind of problem with
// its path, several listed at once; a `nomad job run -output` style document; the restart
// policy merge; and encode_job's round trip.
#include "agent/sched/job.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using sched::decode_job;
using sched::encode_job;
using sched::Job;
using sched::JobDecode;

// A job with one group "g" and one task "t"; the fragments are spliced into each object.
std::string doc(const std::string& job_extra = "", const std::string& group_extra = "",
                const std::string& task_extra = "",
                const std::string& config = R"("Config":{"command":"/bin/sleep","args":["60"]})",
                const std::string& driver = "exec") {
  return R"({"Job":{"ID":"web")" + job_extra + R"(,"TaskGroups":[{"Name":"g")" + group_extra +
         R"(,"Tasks":[{"Name":"t","Driver":")" + driver + "\"," + config + task_extra + "}]}]}}";
}

Job ok(const std::string& text) {
  JobDecode d = decode_job(text);
  EXPECT_TRUE(d.job.has_value()) << text;
  for (const std::string& p : d.problems) ADD_FAILURE() << p;
  return d.job.value_or(Job{});
}

std::vector<std::string> problems(const std::string& text) {
  JobDecode d = decode_job(text);
  EXPECT_FALSE(d.job.has_value()) << text;
  EXPECT_FALSE(d.problems.empty()) << text;
  return d.problems;
}

// The single problem `text` has.
std::string problem(const std::string& text) {
  std::vector<std::string> p = problems(text);
  EXPECT_EQ(p.size(), 1u) << ::testing::PrintToString(p);
  return p.empty() ? "" : p[0];
}

const std::string kGroup = "Job.TaskGroups[0]";
const std::string kTask = "Job.TaskGroups[0].Tasks[0]";

// A minimal job gets Nomad's defaults everywhere.
TEST(JobDecode, MinimalGetsDefaults) {
  Job j = ok(doc());
  EXPECT_EQ(j.id, "web");
  EXPECT_EQ(j.name, "web");
  EXPECT_EQ(j.type, sched::JobType::kService);
  EXPECT_EQ(j.priority, 50);
  EXPECT_EQ(j.datacenters, std::vector<std::string>{"*"});
  EXPECT_EQ(j.region, "global");
  EXPECT_EQ(j.namespace_, "default");
  ASSERT_EQ(j.groups.size(), 1u);
  const sched::TaskGroup& g = j.groups[0];
  EXPECT_EQ(g.count, 1);
  EXPECT_EQ(g.restart, sched::default_restart_policy(sched::JobType::kService));
  EXPECT_FALSE(g.network.has_value());
  ASSERT_EQ(g.tasks.size(), 1u);
  const sched::Task& t = g.tasks[0];
  EXPECT_EQ(t.driver, "exec");
  EXPECT_EQ(t.config.command, "/bin/sleep");
  EXPECT_EQ(t.config.args, std::vector<std::string>{"60"});
  EXPECT_EQ(t.resources, sched::Resources{});
  EXPECT_EQ(t.kill_timeout_ns, 5'000'000'000);
  EXPECT_EQ(t.kill_signal, "SIGINT");
  EXPECT_EQ(t.lifecycle.hook, sched::LifecycleHook::kMain);
  EXPECT_EQ(t.logs, sched::LogConfig{});
  EXPECT_FALSE(t.leader);
}

// Every supported member of the job, group and task is decoded.
TEST(JobDecode, EveryJobAndGroupMember) {
  Job j = ok(doc(
      R"(,"Name":"webapp","Type":"system","Priority":80,"Datacenters":["dc1","eu-*"],"Region":"eu",)"
      R"("Namespace":"prod","Meta":{"owner":"ops"})",
      R"(,"Count":4,"Meta":{"tier":"front"},"Networks":[{"Mode":"bridge",)"
      R"("ReservedPorts":[{"Label":"admin","Value":9000}],"DynamicPorts":[{"Label":"http","To":8080}]}],)"
      R"("Services":[{"Name":"web","PortLabel":"http"}])"));
  EXPECT_EQ(j.name, "webapp");
  EXPECT_EQ(j.type, sched::JobType::kSystem);
  EXPECT_EQ(j.priority, 80);
  EXPECT_EQ(j.datacenters, (std::vector<std::string>{"dc1", "eu-*"}));
  EXPECT_EQ(j.region, "eu");
  EXPECT_EQ(j.namespace_, "prod");
  EXPECT_EQ(j.meta.at("owner"), "ops");
  const sched::TaskGroup& g = j.groups[0];
  EXPECT_EQ(g.count, 4);
  EXPECT_EQ(g.meta.at("tier"), "front");
  ASSERT_TRUE(g.network.has_value());
  EXPECT_EQ(g.network->mode, "bridge");
  EXPECT_EQ(g.network->reserved_ports, (std::vector<sched::Port>{{"admin", 9000, 0}}));
  EXPECT_EQ(g.network->dynamic_ports, (std::vector<sched::Port>{{"http", 0, 8080}}));
  ASSERT_EQ(g.services.size(), 1u);
  EXPECT_EQ(g.services[0].port_label, "http");
}

TEST(JobDecode, EveryTaskMember) {
  Job j = ok(doc(
      "", "",
      R"(,"Env":{"A":"1","B":""},"User":"nobody","Resources":{"CPU":250,"MemoryMB":128,"MemoryMaxMB":256},)"
      R"("KillTimeout":"30s","KillSignal":"SIGTERM","Lifecycle":{"Hook":"poststart","Sidecar":true},)"
      R"("LogConfig":{"MaxFiles":3,"MaxFileSizeMB":20},"Meta":{"m":"v"},"Leader":true,)"
      R"("Services":[{"Name":"${NOMAD_TASK_NAME}-svc","Tags":["a","b"],"Meta":{"k":"v"},)"
      R"("Checks":[{"Name":"alive","Type":"script","Command":"/bin/check","Args":["-q"],"Interval":"15s","Timeout":"3s"}]}])"));
  const sched::Task& t = j.groups[0].tasks[0];
  EXPECT_EQ(t.env, (std::map<std::string, std::string>{{"A", "1"}, {"B", ""}}));
  EXPECT_EQ(t.user, "nobody");
  EXPECT_EQ(t.resources, (sched::Resources{250, 128, 256}));
  EXPECT_EQ(t.kill_timeout_ns, 30'000'000'000);
  EXPECT_EQ(t.kill_signal, "SIGTERM");
  EXPECT_EQ(t.lifecycle, (sched::Lifecycle{sched::LifecycleHook::kPoststart, true}));
  EXPECT_EQ(t.logs, (sched::LogConfig{3, 20}));
  EXPECT_EQ(t.meta.at("m"), "v");
  EXPECT_TRUE(t.leader);
  ASSERT_EQ(t.services.size(), 1u);
  const sched::Service& s = t.services[0];
  EXPECT_EQ(s.name, "${NOMAD_TASK_NAME}-svc");
  EXPECT_EQ(s.tags, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(s.checks.size(), 1u);
  EXPECT_EQ(s.checks[0].type, "script");
  EXPECT_EQ(s.checks[0].command, "/bin/check");
  EXPECT_EQ(s.checks[0].args, std::vector<std::string>{"-q"});
  EXPECT_EQ(s.checks[0].interval_ns, 15'000'000'000);
  EXPECT_EQ(s.checks[0].timeout_ns, 3'000'000'000);
}

// An http check gets the 10s/2s defaults; "Logs" is LogConfig.
TEST(JobDecode, HttpCheckDefaultsAndLogsAlias) {
  Job j = ok(doc(
      "", R"(,"Networks":[{"DynamicPorts":[{"Label":"http"}]}])",
      R"(,"Logs":{"MaxFiles":2},"Services":[{"Name":"web","PortLabel":"http","Checks":[{"Type":"http","Path":"/h","Method":"HEAD"}]}])"));
  const sched::Task& t = j.groups[0].tasks[0];
  EXPECT_EQ(t.logs.max_files, 2);
  const sched::ServiceCheck& c = t.services[0].checks[0];
  EXPECT_EQ(c.path, "/h");
  EXPECT_EQ(c.method, "HEAD");
  EXPECT_EQ(c.interval_ns, 10'000'000'000);
  EXPECT_EQ(c.timeout_ns, 2'000'000'000);
  EXPECT_EQ(j.groups[0].network->mode, "host");
}

TEST(JobDecode, OciConfig) {
  Job j = ok(doc(
      "", R"(,"Networks":[{"Mode":"bridge","DynamicPorts":[{"Label":"http"}]}])", "",
      R"("Config":{"image":"nginx:1.25","command":"/docker-entrypoint.sh","args":["nginx"],"work_dir":"/srv","network_mode":"bridge","ports":["http"]})",
      "oci"));
  const sched::TaskConfig& c = j.groups[0].tasks[0].config;
  EXPECT_EQ(j.groups[0].tasks[0].driver, "oci");
  EXPECT_EQ(c.image, "nginx:1.25");
  EXPECT_EQ(c.command, "/docker-entrypoint.sh");
  EXPECT_EQ(c.args, std::vector<std::string>{"nginx"});
  EXPECT_EQ(c.work_dir, "/srv");
  EXPECT_EQ(c.network_mode, "bridge");
  EXPECT_EQ(c.ports, std::vector<std::string>{"http"});
}

TEST(JobDecode, OciNetworkModeDefaultsToHost) {
  std::string text = doc("", "", "", R"("Config":{"image":"/images/app.tar"})");
  text.replace(text.find("\"exec\""), 6, "\"oci\"");
  EXPECT_EQ(ok(text).groups[0].tasks[0].config.network_mode, "host");
}

// An oci task's network follows its group's: the allocation's namespace in a bridge group.
TEST(JobDecode, OciNetworkModeFollowsABridgeGroup) {
  auto job = [](const std::string& mode) {
    std::string text = doc("", R"(,"Networks":[{"Mode":"bridge"}])", "",
                           R"("Config":{"image":"img:1")" + mode + "}");
    text.replace(text.find("\"exec\""), 6, "\"oci\"");
    return text;
  };
  EXPECT_EQ(ok(job("")).groups[0].tasks[0].config.network_mode, "bridge");
  EXPECT_EQ(ok(job(R"(,"network_mode":"")")).groups[0].tasks[0].config.network_mode, "bridge");
  EXPECT_EQ(ok(job(R"(,"network_mode":"none")")).groups[0].tasks[0].config.network_mode, "none");
  EXPECT_NE(problem(job(R"(,"network_mode":"host")")).find("Config.network_mode: \"host\" conflicts with the group's network Mode"),
            std::string::npos);
  std::string lone = doc("", "", "", R"("Config":{"image":"img:1","network_mode":"bridge"})");
  lone.replace(lone.find("\"exec\""), 6, "\"oci\"");
  EXPECT_NE(problem(lone).find("Config.network_mode: \"bridge\" joins the allocation's network namespace"), std::string::npos);
}

// The bare job object is read as {"Job": ...} is.
TEST(JobDecode, BareJobObject) {
  std::string text = doc();
  std::string bare = text.substr(7, text.size() - 8);
  EXPECT_EQ(ok(bare), ok(text));
}

// Member names match case-insensitively with '_' ignored, as Go and snake_case files do.
TEST(JobDecode, SnakeCaseAndAnyCase) {
  Job j = ok(
      R"({"job":{"id":"s","TYPE":"batch","task_groups":[{"name":"g","restart_policy":{"attempts":1},)"
      R"("tasks":[{"name":"t","driver":"exec","config":{"Command":"x"},"kill_timeout":"1m","kill_signal":"SIGKILL",)"
      R"("log_config":{"max_files":2,"max_file_size_mb":3},"resources":{"memory_mb":64,"memory_max_mb":128}}]}]}})");
  EXPECT_EQ(j.type, sched::JobType::kBatch);
  const sched::Task& t = j.groups[0].tasks[0];
  EXPECT_EQ(t.config.command, "x");
  EXPECT_EQ(t.kill_timeout_ns, 60'000'000'000);
  EXPECT_EQ(t.kill_signal, "SIGKILL");
  EXPECT_EQ(t.logs, (sched::LogConfig{2, 3}));
  EXPECT_EQ(t.resources.memory_mb, 64);
  EXPECT_EQ(j.groups[0].restart.attempts, 1);
}

// Durations: Nomad's integer nanoseconds and Go strings give the same value.
TEST(JobDecode, DurationsBothWays) {
  Job a = ok(doc("", "", R"(,"KillTimeout":90000000000)"));
  Job b = ok(doc("", "", R"(,"KillTimeout":"1m30s")"));
  EXPECT_EQ(a.groups[0].tasks[0].kill_timeout_ns, 90'000'000'000);
  EXPECT_EQ(a, b);
  EXPECT_EQ(problem(doc("", "", R"(,"KillTimeout":"soon")"))
                .find(kTask + ".KillTimeout: want a duration"),
            0u);
  EXPECT_EQ(
      problem(doc("", "", R"(,"KillTimeout":-1)")).find(kTask + ".KillTimeout: want a duration"),
      0u);
  EXPECT_EQ(problem(doc("", "", R"(,"KillTimeout":"2h")"))
                .find(kTask + ".KillTimeout: want a duration from 0s to 1h"),
            0u);
  EXPECT_EQ(problem(doc("", "", R"(,"KillTimeout":1.5)")).find(kTask + ".KillTimeout"), 0u);
}

TEST(JobDecode, UnknownFieldNamesItsPath) {
  EXPECT_EQ(problem(doc("", "", R"(,"KilTimeout":"5s")")), kTask + ".KilTimeout: unknown field");
  EXPECT_EQ(problem(doc(R"(,"Colour":"red")")), "Job.Colour: unknown field");
  EXPECT_EQ(problem(doc("", "", "", R"("Config":{"command":"x","comand":"y"})")),
            kTask + ".Config.comand: unknown field");
  EXPECT_EQ(problem(R"({"Job":)" + doc().substr(7, doc().size() - 8) + R"(,"Extra":1})"),
            "Extra: unknown field");
}

TEST(JobDecode, UnsupportedWithValueIsAProblem) {
  EXPECT_EQ(
      problem(doc(
          R"(,"Constraints":[{"LTarget":"${attr.kernel.name}","RTarget":"linux","Operand":"="}])")),
      "Job.Constraints: not supported by Weft");
  EXPECT_EQ(problem(doc("", R"(,"EphemeralDisk":{"SizeMB":300})")),
            kGroup + ".EphemeralDisk: not supported by Weft");
  EXPECT_EQ(problem(doc("", "", R"(,"Artifacts":[{"GetterSource":"http://x"}])")),
            kTask + ".Artifacts: not supported by Weft");
  EXPECT_EQ(problem(doc("", "", R"(,"Resources":{"Cores":2})")),
            kTask + ".Resources.Cores: not supported by Weft");
  EXPECT_EQ(problem(doc("", "", "", R"("Config":{"command":"x","cap_add":["NET_ADMIN"]})")),
            kTask + ".Config.cap_add: not supported by Weft");
  EXPECT_EQ(problem(doc(R"(,"AllAtOnce":true)")), "Job.AllAtOnce: not supported by Weft");
}

TEST(JobDecode, UnsupportedButEmptyIsAccepted) {
  ok(doc(
      R"(,"Constraints":null,"Affinities":[],"AllAtOnce":false,"ParentID":"","Update":{},"Stop":false,"SubmitTime":0)",
      R"(,"EphemeralDisk":null,"Volumes":{},"ShutdownDelay":0)",
      R"(,"Artifacts":null,"Vault":null,"Templates":[],"ShutdownDelay":0,"Kind":"","Resources":{"DiskMB":null,"Networks":[]})"));
}

TEST(JobDecode, WrongTypes) {
  EXPECT_EQ(problem(doc(R"(,"Priority":"high")")),
            "Job.Priority: want a whole number from 1 to 100");
  EXPECT_EQ(problem(doc(R"(,"Datacenters":"dc1")")), "Job.Datacenters: want a list");
  EXPECT_EQ(problem(doc(R"(,"Meta":{"a":1})")), "Job.Meta.a: want a string");
  EXPECT_EQ(problem(doc("", "", R"(,"Leader":"yes")")), kTask + ".Leader: want true or false");
  EXPECT_EQ(problem(doc("", "", R"(,"Resources":[])")), kTask + ".Resources: want an object");
  EXPECT_EQ(problem(doc("", "", R"(,"Env":["A=1"])")), kTask + ".Env: want an object of strings");
  EXPECT_EQ(problem(R"({"Job":{"ID":"x","TaskGroups":{}}})"), "Job.TaskGroups: want a list");
  EXPECT_EQ(problem("[1,2]"), "Job: want a JSON object, {\"Job\": {...}} or the job itself");
  EXPECT_EQ(problem("{\"Job\":").find("Job: not JSON"), 0u);
}

TEST(JobDecode, OutOfRange) {
  EXPECT_EQ(problem(doc(R"(,"Priority":0)")), "Job.Priority: want a whole number from 1 to 100");
  EXPECT_EQ(problem(doc(R"(,"Priority":101)")), "Job.Priority: want a whole number from 1 to 100");
  EXPECT_EQ(problem(doc("", R"(,"Count":1001)")),
            kGroup + ".Count: want a whole number from 0 to 1000");
  EXPECT_EQ(problem(doc("", "", R"(,"LogConfig":{"MaxFiles":0})")),
            kTask + ".LogConfig.MaxFiles: want a whole number from 1 to 100");
  EXPECT_EQ(problem(doc("", "", R"(,"LogConfig":{"MaxFileSizeMB":2048})")),
            kTask + ".LogConfig.MaxFileSizeMB: want a whole number from 1 to 1024");
  EXPECT_EQ(problem(doc("", "", R"(,"Resources":{"MemoryMB":512,"MemoryMaxMB":256})")),
            kTask + ".Resources.MemoryMaxMB: want 0 or at least MemoryMB (512)");
  EXPECT_EQ(problem(doc("", R"(,"Networks":[{"ReservedPorts":[{"Label":"a","Value":70000}]}])")),
            kGroup + ".Networks[0].ReservedPorts[0].Value: want a whole number from 1 to 65535");
  ok(doc("", R"(,"Count":0)"));
}

TEST(JobDecode, MissingRequired) {
  EXPECT_EQ(
      problem(
          R"({"Job":{"TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec","Config":{"command":"x"}}]}]}})"),
      "Job.ID: required");
  EXPECT_EQ(problem(R"({"Job":{"ID":"x"}})"), "Job.TaskGroups: required (at least one group)");
  EXPECT_EQ(problem(R"({"Job":{"ID":"x","TaskGroups":[{"Name":"g","Tasks":[]}]}})"),
            kGroup + ".Tasks: required (at least one task)");
  EXPECT_EQ(
      problem(
          R"({"Job":{"ID":"x","TaskGroups":[{"Tasks":[{"Name":"t","Driver":"exec","Config":{"command":"x"}}]}]}})"),
      kGroup + ".Name: required");
  EXPECT_EQ(problem(doc("", "", "", R"("Config":{"args":["x"]})")),
            kTask + ".Config.command: required");
  EXPECT_EQ(
      problem(
          R"({"Job":{"ID":"x","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Config":{"command":"x"}}]}]}})"),
      kTask + ".Driver: required");
  EXPECT_EQ(problem(doc("", "", R"(,"Lifecycle":{"Sidecar":true})")),
            kTask + ".Lifecycle.Hook: required");
  EXPECT_EQ(problem(doc("", "", R"(,"Services":[{"Tags":["a"]}])")),
            kTask + ".Services[0].Name: required");
  EXPECT_EQ(problem(R"({"Job":null})"), "Job: required");
}

TEST(JobDecode, OciImageRequired) {
  std::string text = doc("", "", "", R"("Config":{"command":"x"})");
  text.replace(text.find("\"exec\""), 6, "\"oci\"");
  EXPECT_EQ(problem(text), kTask + ".Config.image: required");
}

TEST(JobDecode, DuplicateMembers) {
  EXPECT_EQ(problem(doc(R"(,"Priority":10,"priority":20)")), "Job.Priority: given twice");
  EXPECT_EQ(problem(doc("", "", R"(,"LogConfig":{},"Logs":{})")), kTask + ".Logs: given twice");
  EXPECT_EQ(problem(doc(R"(,"Meta":{"a":"1","a":"2"})")), "Job.Meta.a: given twice");
  // Meta keys are exact: "a" and "A" are two keys.
  EXPECT_EQ(ok(doc(R"(,"Meta":{"a":"1","A":"2"})")).meta.size(), 2u);
  EXPECT_EQ(problem(doc(R"(,"Constraints":null,"constraints":null)")),
            "Job.constraints: given twice");
}

TEST(JobDecode, DuplicateNames) {
  std::string two_tasks =
      R"({"ID":"x","TaskGroups":[{"Name":"g","Tasks":[)"
      R"({"Name":"t","Driver":"exec","Config":{"command":"x"}},{"Name":"t","Driver":"exec","Config":{"command":"y"}}]}]})";
  EXPECT_EQ(problem(two_tasks),
            "Job.TaskGroups[0].Tasks[1].Name: \"t\" names another task of the group");
  std::string group =
      R"({"Name":"g","Tasks":[{"Name":"t","Driver":"exec","Config":{"command":"x"}}]})";
  EXPECT_EQ(problem(R"({"ID":"x","TaskGroups":[)" + group + "," + group + "]}"),
            "Job.TaskGroups[1].Name: \"g\" names another group of the job");
}

std::string tasks_json(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += (i ? "," : "") + std::string(R"({"Name":"t)") + std::to_string(i) +
         R"(","Driver":"exec","Config":{"command":"x"}})";
  }
  return s;
}

TEST(JobDecode, TooManyGroupsAndTasks) {
  std::string groups;
  for (size_t i = 0; i <= sched::kGroupsMax; ++i) {
    groups += (i ? "," : "") + std::string(R"({"Name":"g)") + std::to_string(i) + R"(","Tasks":[)" +
              tasks_json(1) + "]}";
  }
  EXPECT_EQ(problem(R"({"ID":"x","TaskGroups":[)" + groups + "]}"),
            "Job.TaskGroups: more than 64 entries");
  EXPECT_EQ(problem(R"({"ID":"x","TaskGroups":[{"Name":"g","Tasks":[)" +
                    tasks_json(sched::kTasksMax + 1) + "]}]}"),
            kGroup + ".Tasks: more than 32 entries");
  ok(R"({"ID":"x","TaskGroups":[{"Name":"g","Tasks":[)" + tasks_json(sched::kTasksMax) + "]}]}");
}

TEST(JobDecode, TooManyEnvArgsAndMeta) {
  std::string env, args;
  for (size_t i = 0; i <= sched::kEnvMax; ++i)
    env += (i ? "," : "") + ("\"K" + std::to_string(i) + "\":\"v\"");
  for (size_t i = 0; i <= sched::kArgsMax; ++i) args += (i ? ",\"a\"" : "\"a\"");
  EXPECT_EQ(problem(doc("", "", ",\"Env\":{" + env + "}")), kTask + ".Env: more than 256 entries");
  EXPECT_EQ(problem(doc("", "", "", R"("Config":{"command":"x","args":[)" + args + "]}")),
            kTask + ".Config.args: more than 256 entries");
  EXPECT_EQ(problem(doc(
                "", "",
                R"(,"Services":[)" + std::string(R"({"Name":"s"},)") +
                    std::string(R"({"Name":"s"},)").substr(0, 0) +
                    [] {
                      std::string s;
                      for (size_t i = 0; i < sched::kServicesMax; ++i)
                        s += (i ? "," : "") + std::string(R"({"Name":"s"})");
                      return s;
                    }() +
                    "]")),
            kTask + ".Services: more than 16 entries");
}

TEST(JobDecode, OversizeText) {
  std::string big(sched::kStringBytesMax + 1, 'a');
  EXPECT_EQ(problem(doc("", "", R"(,"Env":{"A":")" + big + "\"}")),
            kTask + ".Env.A: longer than 16384 bytes");
  std::string huge = doc() + std::string(sched::kJobBytesMax, ' ');
  EXPECT_EQ(problem(huge).find("Job: the document is"), 0u);
}

TEST(JobDecode, BadNames) {
  EXPECT_EQ(
      problem(
          R"({"Job":{"ID":"my job","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec","Config":{"command":"x"}}]}]}})"),
      "Job.ID: \"my job\": want 1 to 128 letters, digits, '.', '_' or '-'");
  std::string long_name(sched::kNameBytesMax + 1, 'n');
  EXPECT_EQ(problem(doc("", "", "").replace(doc().find("\"t\""), 3, "\"" + long_name + "\""))
                .find(kTask + ".Name: "),
            0u);
  EXPECT_EQ(problem(doc("", "", R"(,"Services":[{"Name":"web_api"}])"))
                .find(kTask + ".Services[0].Name: \"web_api\": want one DNS label"),
            0u);
  EXPECT_EQ(problem(doc("", "", R"(,"Env":{"A=B":"1"})")).find(kTask + ".Env.A=B: a key is"), 0u);
  EXPECT_EQ(problem(doc("", "", R"(,"KillSignal":"TERM")")),
            kTask + ".KillSignal: \"TERM\": want a signal name like \"SIGTERM\"");
  // A control character in an echoed member name is escaped, not printed.
  EXPECT_EQ(problem(doc(R"(,"Bad\u0001":1)")), "Job.Bad\\x01: unknown field");
}

TEST(JobDecode, BadChoices) {
  EXPECT_EQ(problem(doc(R"(,"Type":"cron")")),
            "Job.Type: \"cron\": want one of service, batch, system, sysbatch");
  EXPECT_EQ(problem(doc("", "", "").replace(doc().find("exec"), 4, "docker"))
                .find(kTask + ".Driver: \"docker\": want one of exec, oci"),
            0u);
  EXPECT_EQ(
      problem(doc("", R"(,"Networks":[{"Mode":"cni/x"}])")).find(kGroup + ".Networks[0].Mode: "),
      0u);
  EXPECT_EQ(problem(doc("", "", R"(,"Lifecycle":{"Hook":"poststarted"})"))
                .find(kTask + ".Lifecycle.Hook: "),
            0u);
}

TEST(JobDecode, NetworkRules) {
  EXPECT_EQ(problem(doc("", R"(,"Networks":[{},{}])")), kGroup + ".Networks: more than 1 entries");
  EXPECT_EQ(problem(doc("", R"(,"Networks":[{"DynamicPorts":[{"Label":"a","Value":8080}]}])"))
                .find(kGroup + ".Networks[0].DynamicPorts[0].Value: "),
            0u);
  EXPECT_EQ(
      problem(doc(
          "",
          R"(,"Networks":[{"ReservedPorts":[{"Label":"a","Value":1}],"DynamicPorts":[{"Label":"a"}]}])")),
      kGroup + ".Networks[0]: port label \"a\" is given twice");
  EXPECT_EQ(problem(doc("", R"(,"Networks":[{"ReservedPorts":[{"Label":"a"}]}])")),
            kGroup + ".Networks[0].ReservedPorts[0].Value: required");
  EXPECT_EQ(problem(doc("", R"(,"Networks":[{"DynamicPorts":[{"Value":0}]}])")),
            kGroup + ".Networks[0].DynamicPorts[0].Label: required");
}

TEST(JobDecode, PortLabelsMustExist) {
  EXPECT_EQ(problem(doc("", R"(,"Services":[{"Name":"web","PortLabel":"http"}])")),
            kGroup + ".Services[0].PortLabel: \"http\" is not a port label of the group's network");
  EXPECT_EQ(
      problem(doc("", "",
                  R"(,"Services":[{"Name":"web","Checks":[{"Type":"tcp","PortLabel":"db"}]}])")),
      kTask +
          ".Services[0].Checks[0].PortLabel: \"db\" is not a port label of the group's network");
}

TEST(JobDecode, CheckRules) {
  auto check = [](const std::string& c) {
    return doc("", "", R"(,"Services":[{"Name":"web","Checks":[)" + c + "]}]");
  };
  const std::string at = kTask + ".Services[0].Checks[0]";
  EXPECT_EQ(problem(check(R"({"Type":"http"})")), at + ".Path: required for an http check");
  EXPECT_EQ(problem(check(R"({"Type":"script"})")), at + ".Command: required for a script check");
  EXPECT_EQ(problem(check(R"({"Name":"x"})")), at + ".Type: required");
  EXPECT_EQ(problem(check(R"({"Type":"tcp","Path":"/x"})")),
            at + ": Path and Method are for http checks only");
  EXPECT_EQ(problem(check(R"({"Type":"tcp","Interval":"100ms"})"))
                .find(at + ".Interval: want a duration from 1s to 24h"),
            0u);
  EXPECT_EQ(problem(check(R"({"Type":"tcp","Header":{"X":["y"]}})")),
            at + ".Header: not supported by Weft");
  ok(check(R"({"Type":"tcp","Interval":0,"Timeout":0,"Header":null,"Protocol":""})"));
}

// Problems are not stopped at the first: every one is listed, in document order.
TEST(JobDecode, SeveralProblemsAllListed) {
  std::vector<std::string> p = problems(
      R"({"Job":{"ID":"bad id","Priority":0,"Periodic":{"Cron":"* * * * *"},"Colour":"red","TaskGroups":[)"
      R"({"Name":"g","Count":-1,"Tasks":[{"Name":"t","Driver":"exec","Config":{},"KillSignal":"nope"}]}]}})");
  std::vector<std::string> want = {
      "Job.ID: \"bad id\": want 1 to 128 letters, digits, '.', '_' or '-'",
      "Job.Priority: want a whole number from 1 to 100",
      "Job.Periodic: not supported by Weft",
      "Job.Colour: unknown field",
      kGroup + ".Count: want a whole number from 0 to 1000",
      kTask + ".KillSignal: \"nope\": want a signal name like \"SIGTERM\"",
      kTask + ".Config.command: required",
  };
  EXPECT_EQ(p, want);
}

TEST(JobDecode, ProblemsPastTheMaximumAreCounted) {
  std::string members;
  for (int i = 0; i < 150; ++i) members += ",\"X" + std::to_string(i) + "\":1";
  JobDecode d = decode_job(doc(members));
  EXPECT_FALSE(d.job.has_value());
  EXPECT_EQ(d.problems.size(), sched::kProblemsMax);
  EXPECT_EQ(d.problems_dropped, 50u);
}

// What `nomad job run -output` writes: every member of Nomad's api structs, most of them null.
TEST(JobDecode, NomadRunOutputDocument) {
  const char* text = R"({
  "Job": {
    "Region": null, "Namespace": null, "ID": "cache", "Name": "cache", "Type": "service", "Priority": null,
    "AllAtOnce": null, "Datacenters": ["dc1"], "NodePool": null, "Constraints": null, "Affinities": null,
    "TaskGroups": [{
      "Name": "cache", "Count": 2, "Constraints": null, "Affinities": null,
      "Tasks": [{
        "Name": "redis", "Driver": "exec", "User": "", "Lifecycle": null,
        "Config": {"command": "/usr/bin/redis-server", "args": ["--port", "${NOMAD_PORT_db}"]},
        "Constraints": null, "Affinities": null, "Env": {"REDIS_ARGS": "--save ''"},
        "Services": [{"Name": "redis-cache", "Tags": ["global", "cache"], "CanaryTags": null, "EnableTagOverride": false,
          "PortLabel": "db", "AddressMode": "", "Address": "", "Checks": [{"Name": "alive", "Type": "tcp", "Command": "",
          "Args": null, "Path": "", "Protocol": "", "PortLabel": "", "Expose": false, "AddressMode": "", "Advertise": "",
          "Interval": 10000000000, "Timeout": 2000000000, "InitialStatus": "", "Notes": "", "TLSServerName": "",
          "TLSSkipVerify": false, "Header": null, "Method": "", "CheckRestart": null, "GRPCService": "", "GRPCUseTLS": false,
          "TaskName": "", "SuccessBeforePassing": 0, "FailuresBeforeCritical": 0, "FailuresBeforeWarning": 0, "Body": "",
          "OnUpdate": ""}], "CheckRestart": null, "Connect": null, "Meta": null, "CanaryMeta": null, "TaggedAddresses": null,
          "TaskName": "", "OnUpdate": "", "Identity": null, "Weights": null, "Provider": "", "Cluster": "", "Kind": ""}],
        "Resources": {"CPU": 500, "Cores": null, "MemoryMB": 256, "MemoryMaxMB": null, "DiskMB": null, "Networks": null,
          "Devices": null, "NUMA": null, "SecretsMB": null, "IOPS": null},
        "RestartPolicy": null, "Meta": null, "KillTimeout": null, "LogConfig": null, "Artifacts": null, "Vault": null,
        "Consul": null, "Templates": null, "DispatchPayload": null, "VolumeMounts": null, "Leader": false,
        "ShutdownDelay": 0, "KillSignal": "", "Kind": "", "ScalingPolicies": null, "Secrets": null, "Identity": null,
        "Identities": null, "Actions": null, "Schedule": null
      }],
      "Spreads": null, "Volumes": null,
      "RestartPolicy": {"Interval": 300000000000, "Attempts": 10, "Delay": 25000000000, "Mode": "delay", "RenderTemplates": null},
      "Disconnect": null, "ReschedulePolicy": null, "EphemeralDisk": null, "Update": null, "Migrate": null,
      "Networks": [{"Mode": "", "Device": "", "CIDR": "", "IP": "", "DNS": null, "ReservedPorts": null,
        "DynamicPorts": [{"Label": "db", "Value": 0, "To": 6379, "HostNetwork": "", "IgnoreCollision": false}],
        "Hostname": "", "MBits": null, "CNI": null}],
      "Meta": null, "Services": null, "ShutdownDelay": null, "MaxRunDuration": null, "StopAfterClientDisconnect": null,
      "MaxClientDisconnect": null, "Scaling": null, "Consul": null, "PreventRescheduleOnLost": null
    }],
    "Update": null, "Multiregion": null, "Spreads": null, "Periodic": null, "ParameterizedJob": null,
    "Reschedule": null, "Migrate": null, "Meta": null, "UI": null, "Stop": null, "ParentID": null, "Dispatched": false,
    "DispatchIdempotencyToken": null, "Payload": null, "ConsulNamespace": null, "VaultNamespace": null,
    "NomadTokenID": null, "Status": null, "StatusDescription": null, "Stable": null, "Version": null,
    "SubmitTime": null, "CreateIndex": null, "ModifyIndex": null, "JobModifyIndex": null, "VersionTag": null
  }
})";
  Job j = ok(text);
  EXPECT_EQ(j.id, "cache");
  EXPECT_EQ(j.priority, 50);
  EXPECT_EQ(j.region, "global");
  const sched::TaskGroup& g = j.groups[0];
  EXPECT_EQ(g.count, 2);
  EXPECT_EQ(g.network->mode, "host");
  EXPECT_EQ(g.network->dynamic_ports, (std::vector<sched::Port>{{"db", 0, 6379}}));
  EXPECT_EQ(g.restart, (sched::RestartPolicy{10, 300'000'000'000, 25'000'000'000,
                                             sched::RestartMode::kDelay}));
  const sched::Task& t = g.tasks[0];
  EXPECT_EQ(t.restart, g.restart);
  EXPECT_EQ(t.kill_signal, "SIGINT");
  EXPECT_EQ(t.resources, (sched::Resources{500, 256, 0}));
  EXPECT_EQ(t.services[0].port_label, "db");
  EXPECT_EQ(t.services[0].checks[0].interval_ns, 10'000'000'000);
}

TEST(JobDecode, RestartDefaultsByType) {
  EXPECT_EQ(sched::default_restart_policy(sched::JobType::kService),
            (sched::RestartPolicy{2, 30LL * 60 * 1'000'000'000, 15'000'000'000,
                                  sched::RestartMode::kFail}));
  EXPECT_EQ(sched::default_restart_policy(sched::JobType::kSystem),
            sched::default_restart_policy(sched::JobType::kService));
  const sched::RestartPolicy batch{3, 24LL * 3600 * 1'000'000'000, 15'000'000'000,
                                   sched::RestartMode::kFail};
  EXPECT_EQ(sched::default_restart_policy(sched::JobType::kBatch), batch);
  EXPECT_EQ(sched::default_restart_policy(sched::JobType::kSysbatch), batch);
  // The Type after TaskGroups still picks the groups' default (Go writes TaskGroups first).
  std::string text =
      R"({"TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"exec","Config":{"command":"x"}}]}],"ID":"b","Type":"batch"})";
  EXPECT_EQ(ok(text).groups[0].tasks[0].restart, batch);
}

// The type's default, then the group's members, then the task's: each level only what it gives.
TEST(JobDecode, RestartMerge) {
  Job j = ok(doc(R"(,"Type":"batch")", R"(,"RestartPolicy":{"Attempts":5,"Mode":"delay"})",
                 R"(,"RestartPolicy":{"Delay":"1s"})"));
  const sched::TaskGroup& g = j.groups[0];
  EXPECT_EQ(g.restart, (sched::RestartPolicy{5, 24LL * 3600 * 1'000'000'000, 15'000'000'000,
                                             sched::RestartMode::kDelay}));
  EXPECT_EQ(g.tasks[0].restart, (sched::RestartPolicy{5, 24LL * 3600 * 1'000'000'000, 1'000'000'000,
                                                      sched::RestartMode::kDelay}));
}

TEST(JobDecode, RestartChecks) {
  EXPECT_EQ(problem(doc("", R"(,"RestartPolicy":{"Attempts":0,"Mode":"delay"})")),
            kGroup + ".RestartPolicy: Mode \"delay\" with 0 Attempts is ambiguous");
  EXPECT_EQ(
      problem(doc("", "", R"(,"RestartPolicy":{"Attempts":10,"Delay":"1m","Interval":"5m"})")),
      kTask + ".RestartPolicy: 10 Attempts with a Delay of 1m do not fit in an Interval of 5m");
  EXPECT_EQ(problem(doc("", R"(,"RestartPolicy":{"Interval":"1s"})"))
                .find(kGroup + ".RestartPolicy.Interval: want a duration from 5s"),
            0u);
  EXPECT_EQ(problem(doc("", R"(,"RestartPolicy":{"Mode":"retry"})"))
                .find(kGroup + ".RestartPolicy.Mode: "),
            0u);
}

// decode_job(encode_job(j)) == j, for a job with every member set and for a minimal one.
TEST(JobEncode, RoundTrip) {
  std::string full = doc(
      R"(,"Name":"n","Type":"sysbatch","Priority":9,"Datacenters":["a","b"],"Region":"r","Namespace":"ns","Meta":{"k":"v"})",
      R"(,"Count":3,"RestartPolicy":{"Attempts":1,"Interval":"1h","Delay":"10s","Mode":"delay"},"Meta":{"g":"1"},)"
      R"("Networks":[{"Mode":"bridge","ReservedPorts":[{"Label":"r","Value":80,"To":8080}],"DynamicPorts":[{"Label":"d"}]}],)"
      R"("Services":[{"Name":"s","PortLabel":"d","Tags":["t"],"Meta":{"m":"x"},"Checks":[{"Name":"c","Type":"http","Path":"/","Method":"GET","PortLabel":"r"}]}])",
      R"(,"Env":{"E":"\"quoted\"\n"},"User":"u","Resources":{"CPU":1,"MemoryMB":10,"MemoryMaxMB":20},)"
      R"("RestartPolicy":{"Attempts":2},"KillTimeout":0,"KillSignal":"SIGUSR1","Lifecycle":{"Hook":"poststop"},)"
      R"("LogConfig":{"MaxFiles":1,"MaxFileSizeMB":1},"Meta":{"x":"y"},"Leader":true,)"
      R"("Services":[{"Name":"${NOMAD_JOB_NAME}","Checks":[{"Type":"script","Command":"c","Args":["a"]}]}])");
  for (const std::string& text : {doc(), full}) {
    Job j = ok(text);
    std::string encoded = encode_job(j);
    EXPECT_EQ(encoded.rfind("{\"Job\":{", 0), 0u) << encoded;
    EXPECT_EQ(ok(encoded), j) << encoded;
  }
  std::string oci =
      doc("", R"(,"Networks":[{"DynamicPorts":[{"Label":"p"}]}])", "",
          R"("Config":{"image":"img:1","work_dir":"/w","network_mode":"none","ports":["p"]})");
  oci.replace(oci.find("\"exec\""), 6, "\"oci\"");
  Job j = ok(oci);
  EXPECT_EQ(ok(encode_job(j)), j);
}

TEST(JobEncode, DurationsAreNanosecondIntegers) {
  std::string encoded = encode_job(ok(doc("", "", R"(,"KillTimeout":"7s")")));
  EXPECT_NE(encoded.find("\"KillTimeout\":7000000000"), std::string::npos) << encoded;
  EXPECT_NE(encoded.find("\"Lifecycle\":null"), std::string::npos) << encoded;
}

TEST(JobType, Names) {
  EXPECT_EQ(sched::job_type_name(sched::JobType::kService), "service");
  EXPECT_EQ(sched::job_type_name(sched::JobType::kBatch), "batch");
  EXPECT_EQ(sched::job_type_name(sched::JobType::kSystem), "system");
  EXPECT_EQ(sched::job_type_name(sched::JobType::kSysbatch), "sysbatch");
}

TEST(JobDecode, OnlyOneLeader) {
  std::string text =
      R"({"ID":"x","TaskGroups":[{"Name":"g","Tasks":[)"
      R"({"Name":"a","Leader":true,"Driver":"exec","Config":{"command":"x"}},{"Name":"b","Leader":true,"Driver":"exec","Config":{"command":"x"}}]}]})";
  EXPECT_EQ(problem(text),
            "Job.TaskGroups[0].Tasks[1].Leader: only one task of a group may be the leader");
}

TEST(JobDecode, EnvelopeMembers) {
  ok(R"({"Job":)" + doc().substr(7, doc().size() - 8) +
     R"(,"EnforceIndex":false,"PolicyOverride":false})");
  EXPECT_EQ(problem(R"({"Job":)" + doc().substr(7, doc().size() - 8) + R"(,"EnforceIndex":true})"),
            "EnforceIndex: not supported by Weft");
}

TEST(JobDecode, ServiceProviderAndLogsEnabled) {
  ok(doc(
      "", "",
      R"(,"Services":[{"Name":"s","Provider":"nomad"}],"LogConfig":{"Enabled":true,"Disabled":false})"));
  EXPECT_EQ(problem(doc("", "", R"(,"LogConfig":{"Enabled":false})")),
            kTask + ".LogConfig.Enabled: not supported by Weft");
  EXPECT_EQ(problem(doc("", "", R"(,"LogConfig":{"Disabled":true})")),
            kTask + ".LogConfig.Disabled: not supported by Weft");
}

}  // namespace
