#include "agent/ctl/operator_cmd.h"

#include <algorithm>
#include <utility>

#include "agent/ctl/ctl.h"
#include "agent/http/json.h"

namespace ctl {

namespace {

int list_peers(const CmdEnv& env, const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(env.err, "usage: agentctl operator raft list-peers\n");
    return kExitUsage;
  }
  http::ClientResponse r;
  if (int rc = call_ok(env, "GET", "/v1/operator/raft/configuration", &r); rc != kExitOk) return rc;
  if (env.json) {
    std::fprintf(env.out, "%s\n", r.body.c_str());
    return kExitOk;
  }
  auto doc = http::Json::parse(r.body, 16 << 20);
  const cJSON* servers = doc.is_ok() ? cJSON_GetObjectItemCaseSensitive(doc->get(), "Servers") : nullptr;
  if (!cJSON_IsArray(servers)) {
    std::fprintf(env.err, "agentctl operator raft list-peers: the agent's answer has no Servers list\n");
    return kExitFailed;
  }
  std::vector<std::vector<std::string>> rows = {{"Node", "ID", "Address", "State", "Voter", "RaftProtocol"}};
  const cJSON* s;
  cJSON_ArrayForEach(s, servers) {
    const bool leader = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "Leader"));
    const bool voter = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "Voter"));
    std::string protocol = json_text(s, "RaftProtocol");
    rows.push_back({json_text(s, "Node"), json_text(s, "ID"), json_text(s, "Address"), leader ? "leader" : "follower",
                    voter ? "true" : "false", protocol.empty() ? "<unknown>" : protocol});
  }
  print_table(rows, env.out);
  return kExitOk;
}

// Reads "-id ID" / "-id=ID" (the only flag these take). False with a usage line otherwise.
bool parse_id(const std::vector<std::string>& args, std::string* id, const char* usage, FILE* err) {
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name, value;
    bool has_value = false;
    if (!split_cmd_flag(args[i], &name, &value, &has_value) || name != "id") {
      std::fprintf(err, "%s", usage);
      return false;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        std::fprintf(err, "%s", usage);
        return false;
      }
      value = args[++i];
    }
    if (value.empty()) {
      std::fprintf(err, "%s", usage);
      return false;
    }
    *id = value;
  }
  return true;
}

int transfer_leader(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage = "usage: agentctl operator raft transfer-leader [-id ID]\n";
  std::string id;
  if (!parse_id(args, &id, usage, env.err)) return kExitUsage;
  std::string target = "/v1/operator/raft/transfer-leader";
  if (!id.empty()) target += "?id=" + escape_query(id);
  http::ClientResponse r;
  if (int rc = call_ok(env, "POST", target, &r); rc != kExitOk) return rc;
  if (env.json) {
    std::fprintf(env.out, "%s\n", r.body.c_str());
    return kExitOk;
  }
  // Consul answers {"Success": bool}; an empty body counts as done.
  auto doc = http::Json::parse(r.body, 1 << 20);
  bool success = true;
  if (doc.is_ok()) http::json_get_bool(doc->get(), "Success", &success);
  if (!success) {
    std::fprintf(env.err, "Error! Leadership transfer failed\n");
    return kExitFailed;
  }
  if (id.empty()) std::fprintf(env.out, "Success! Leadership transferred.\n");
  else std::fprintf(env.out, "Success! Leadership transferred to %s.\n", id.c_str());
  return kExitOk;
}

int remove_peer(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage = "usage: agentctl operator raft remove-peer -id ID\n";
  std::string id;
  if (!parse_id(args, &id, usage, env.err)) return kExitUsage;
  if (id.empty()) {
    std::fprintf(env.err, "%s", usage);
    return kExitUsage;
  }
  http::ClientResponse r;
  if (int rc = call_ok(env, "DELETE", "/v1/operator/raft/peer?id=" + escape_query(id), &r); rc != kExitOk) return rc;
  if (env.json) std::fprintf(env.out, "%s\n", r.body.empty() ? "true" : r.body.c_str());
  else std::fprintf(env.out, "Removed peer with id \"%s\"\n", id.c_str());
  return kExitOk;
}

}  // namespace

int cmd_operator(const CmdEnv& env, const std::vector<std::string>& args) {
  const char* usage = "usage: agentctl operator raft list-peers | transfer-leader [-id ID] | remove-peer -id ID\n";
  if (args.size() < 2 || args[0] != "raft") {
    std::fputs(usage, env.err);
    return kExitUsage;
  }
  const std::vector<std::string> rest(args.begin() + 2, args.end());
  if (args[1] == "list-peers") return list_peers(env, rest);
  if (args[1] == "transfer-leader") return transfer_leader(env, rest);
  if (args[1] == "remove-peer") return remove_peer(env, rest);
  std::fprintf(env.err, "agentctl operator raft: unknown subcommand \"%s\"\n%s", args[1].c_str(), usage);
  return kExitUsage;
}

void print_raft_status(const cJSON* doc, FILE* out) {
  std::string leader = json_text(doc, "Leader");
  const std::string leader_addr = json_text(doc, "LeaderAddr");
  if (leader.empty()) leader = "(none known)";
  if (!leader_addr.empty()) leader += " (" + leader_addr + ")";
  std::string voters;
  const cJSON* v;
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "Voters")) {
    std::string name;
    if (cJSON_IsString(v)) name = v->valuestring;
    else if (cJSON_IsObject(v)) name = !json_text(v, "Node").empty() ? json_text(v, "Node") : json_text(v, "ID");
    if (!name.empty()) voters += (voters.empty() ? "" : ", ") + name;
  }
  std::fprintf(out, "raft:       %s, term %s\n", json_text(doc, "Role").c_str(), json_text(doc, "Term").c_str());
  std::fprintf(out, "leader:     %s\n", leader.c_str());
  std::fprintf(out, "log:        commit %s, applied %s, last %s\n", json_text(doc, "CommitIndex").c_str(),
               json_text(doc, "AppliedIndex").c_str(), json_text(doc, "LastIndex").c_str());
  std::fprintf(out, "voters:     %s\n", voters.empty() ? "(none)" : voters.c_str());
}

}  // namespace ctl
