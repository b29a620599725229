// agentctl alloc: see alloc_cmd.h.
#include "agent/ctl/alloc_cmd.h"

#include <utility>

#include "agent/base/time.h"
#include "agent/config/parse.h"
#include "agent/ctl/ctl.h"
#include "agent/http/json.h"

namespace ctl {

namespace {

constexpr const char* kUsage =
    "usage: agentctl alloc status [ID]\n"
    "       agentctl alloc logs [-f] [-stderr] [-timestamps] [-tail] [-n BYTES] ID [TASK]\n"
    "       agentctl alloc restart ID [TASK]\n"
    "       agentctl alloc stop ID\n"
    "       agentctl alloc signal [-s SIGNAL] ID [TASK]\n";
// Most rounds of `logs -f` (each waits up to a minute for output): a follow ends by itself
// after about a week at the latest.
constexpr int kFollowRoundsMax = 10080;

int usage(const CmdEnv& env) {
  std::fputs(kUsage, env.err);
  return kExitUsage;
}

int get_json(const CmdEnv& env, const std::string& target, http::Json* doc, bool print_json) {
  return fetch_json(env, target, "alloc", print_json, doc);
}

std::string event_time(const cJSON* e) {
  const cJSON* t = cJSON_GetObjectItemCaseSensitive(e, "Time");
  if (!cJSON_IsNumber(t) && !cJSON_IsRaw(t)) return "";
  int64_t ns = 0;
  if (cJSON_IsRaw(t)) {
    config::parse_int(t->valuestring, &ns);
  } else {
    ns = static_cast<int64_t>(t->valuedouble);
  }
  char buf[40];
  base::format_rfc3339(base::WallTime::from_unix_ns(ns), buf, sizeof buf);
  return buf;
}

// The one task of an allocation when `task` is empty; "" (and a message) when there are several.
std::string only_task(const CmdEnv& env, const std::string& id, std::string task) {
  if (!task.empty()) return task;
  http::Json doc;
  if (get_json(env, "/v1/allocation/" + escape_key(id), &doc, false) >= 0) return "";
  const cJSON* states = cJSON_GetObjectItemCaseSensitive(doc.get(), "TaskStates");
  if (cJSON_GetArraySize(states) == 1) return states->child->string;
  std::string names;
  const cJSON* s;
  cJSON_ArrayForEach(s, states) names += std::string(names.empty() ? "" : ", ") + s->string;
  std::fprintf(env.err, "agentctl alloc: allocation %s has several tasks; name one: %s\n", id.c_str(), names.c_str());
  return "";
}

int status(const CmdEnv& env, const std::vector<std::string>& args) {
  http::Json doc;
  if (args.empty()) {
    if (int rc = get_json(env, "/v1/allocations", &doc, env.json); rc >= 0) return rc;
    std::vector<std::vector<std::string>> rows = {{"ID", "Name", "Job", "Group", "Desired", "Status", "Tasks"}};
    const cJSON* a;
    cJSON_ArrayForEach(a, doc.get()) {
      std::string tasks;
      const cJSON* s;
      cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(a, "TaskStates")) {
        tasks += std::string(tasks.empty() ? "" : " ") + s->string + ":" + json_text(s, "State");
      }
      rows.push_back({json_text(a, "ID").substr(0, 8), json_text(a, "Name"), json_text(a, "JobID"), json_text(a, "TaskGroup"),
                      json_text(a, "DesiredStatus"), json_text(a, "ClientStatus"), tasks});
    }
    print_table(rows, env.out);
    return kExitOk;
  }
  if (args.size() != 1) return usage(env);
  if (int rc = get_json(env, "/v1/allocation/" + escape_key(args[0]), &doc, env.json); rc >= 0) return rc;
  const cJSON* a = doc.get();
  std::fprintf(env.out, "ID            = %s\nName          = %s\nJob ID        = %s\nTask Group    = %s\n"
               "Source        = %s\nDesired       = %s\nClient Status = %s\n",
               json_text(a, "ID").c_str(), json_text(a, "Name").c_str(), json_text(a, "JobID").c_str(), json_text(a, "TaskGroup").c_str(),
               json_text(a, "Source").c_str(), json_text(a, "DesiredStatus").c_str(), json_text(a, "ClientStatus").c_str());
  const cJSON* s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(a, "TaskStates")) {
    std::fprintf(env.out, "\nTask \"%s\" is \"%s\"%s (restarts %s, started %s, finished %s)\n", s->string, json_text(s, "State").c_str(),
                 json_text(s, "Failed") == "true" ? ", failed" : "", json_text(s, "Restarts").c_str(), json_text(s, "StartedAt").c_str(),
                 json_text(s, "FinishedAt").c_str());
    std::vector<std::vector<std::string>> rows = {{"Time", "Type", "Description"}};
    const cJSON* e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(s, "Events")) {
      rows.push_back({event_time(e), json_text(e, "Type"), json_text(e, "DisplayMessage")});
    }
    print_table(rows, env.out);
  }
  return kExitOk;
}

int logs(const CmdEnv& env, const std::vector<std::string>& args) {
  bool follow = false, stderr_stream = false, timestamps = false, tail = false;
  int64_t n = -1;
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name, value;
    bool has_value = false;
    if (!split_cmd_flag(args[i], &name, &value, &has_value)) {
      words.push_back(args[i]);
      continue;
    }
    if (name == "f") {
      follow = true;
    } else if (name == "stderr") {
      stderr_stream = true;
    } else if (name == "timestamps") {
      timestamps = true;
    } else if (name == "tail") {
      tail = true;
    } else if (name == "n") {
      if (!has_value && i + 1 < args.size()) value = args[++i], has_value = true;
      if (!has_value || !config::parse_int(value, &n) || n < 0) {
        std::fprintf(env.err, "agentctl alloc logs: -n wants a byte count\n");
        return kExitUsage;
      }
      tail = true;
    } else {
      std::fprintf(env.err, "agentctl alloc logs: unknown flag -%s\n%s", name.c_str(), kUsage);
      return kExitUsage;
    }
  }
  if (words.empty() || words.size() > 2) return usage(env);
  const std::string id = words[0];
  const std::string task = only_task(env, id, words.size() == 2 ? words[1] : "");
  if (task.empty()) return kExitFailed;
  std::string target = "/v1/client/fs/logs/" + escape_key(id) + "?plain=true&task=" + escape_query(task) +
                       "&type=" + (stderr_stream ? "stderr" : "stdout") + (timestamps ? "&timestamps=true" : "");
  std::string first = target + (tail ? "&origin=end&offset=" + std::to_string(n < 0 ? 10240 : n) : "&origin=start");
  http::ClientResponse r;
  if (int rc = call_ok(env, "GET", first, &r); rc != kExitOk) return rc;
  std::fwrite(r.body.data(), 1, r.body.size(), env.out);
  std::fflush(env.out);
  for (int round = 0; follow && round < kFollowRoundsMax; ++round) {
    const std::string* dead = r.header("x-weft-task-dead");
    const std::string* pos = r.header("x-weft-log-position");
    if (pos == nullptr) break;
    if (dead != nullptr && *dead == "true" && r.body.empty()) break;
    auto got = env.call("GET", target + "&follow=true&wait=60s&position=" + escape_query(*pos), "", base::Duration::seconds(75));
    if (!got.is_ok()) return kExitUnreachable;
    r = std::move(got).value();
    if (r.status != 200) {
      std::fprintf(env.err, "agentctl alloc logs: %s\n", answer_error(r).c_str());
      return kExitFailed;
    }
    std::fwrite(r.body.data(), 1, r.body.size(), env.out);
    std::fflush(env.out);
  }
  return kExitOk;
}

int post(const CmdEnv& env, const std::string& target, const std::string& body, const char* done) {
  auto got = env.call("PUT", target, body, env.timeout);
  if (!got.is_ok()) return kExitUnreachable;
  if (got->status != 200) {
    std::fprintf(env.err, "agentctl alloc: %s\n", answer_error(*got).c_str());
    return kExitFailed;
  }
  std::fprintf(env.out, "%s\n", done);
  return kExitOk;
}

std::string json_body(const char* key, const std::string& value, const char* key2 = nullptr, const std::string& value2 = "") {
  http::Json doc = http::Json::object();
  if (!value.empty()) doc.add_string(key, value);
  if (key2 != nullptr && !value2.empty()) doc.add_string(key2, value2);
  auto text = doc.dump();
  return text.is_ok() ? *text : "{}";
}

}  // namespace

int cmd_alloc(const CmdEnv& env, const std::vector<std::string>& args) {
  if (args.empty()) return usage(env);
  const std::string& what = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (what == "status") return status(env, rest);
  if (what == "logs") return logs(env, rest);
  if (what == "stop" && rest.size() == 1) {
    return post(env, "/v1/allocation/" + escape_key(rest[0]) + "/stop", "", "Allocation stopping");
  }
  if (what == "restart" && (rest.size() == 1 || rest.size() == 2)) {
    return post(env, "/v1/client/allocation/" + escape_key(rest[0]) + "/restart", json_body("TaskName", rest.size() == 2 ? rest[1] : ""),
                "Task restarting");
  }
  if (what == "signal") {
    std::string signal = "SIGKILL";
    if (!rest.empty() && (rest[0] == "-s" || rest[0] == "--s")) {
      if (rest.size() < 2) return usage(env);
      signal = rest[1];
      rest.erase(rest.begin(), rest.begin() + 2);
    } else if (!rest.empty() && rest[0].rfind("-s=", 0) == 0) {
      signal = rest[0].substr(3);
      rest.erase(rest.begin());
    }
    if (rest.size() != 1 && rest.size() != 2) return usage(env);
    return post(env, "/v1/client/allocation/" + escape_key(rest[0]) + "/signal",
                json_body("Signal", signal, "Task", rest.size() == 2 ? rest[1] : ""), "Signal sent");
  }
  return usage(env);
}

}  // namespace ctl
