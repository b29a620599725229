// agentctl catalog: see catalog_cmd.h.
#include "agent/ctl/catalog_cmd.h"

#include <utility>

#include "agent/ctl/ctl.h"
#include "agent/http/json.h"

namespace ctl {

namespace {

constexpr const char* kUsage = "usage: agentctl catalog services | nodes | service NAME [-passing]\n";

int fetch(const CmdEnv& env, const std::string& target, http::Json* doc) {
  return fetch_json(env, target, "catalog", env.json, doc);
}

std::string joined(const cJSON* arr) {
  std::string out;
  const cJSON* t;
  cJSON_ArrayForEach(t, arr) {
    if (cJSON_IsString(t)) out += (out.empty() ? "" : ",") + std::string(t->valuestring);
  }
  return out;
}

}  // namespace

int cmd_catalog(const CmdEnv& env, const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(kUsage, env.err);
    return kExitUsage;
  }
  const std::string& what = args[0];
  http::Json doc;
  if (what == "services" && args.size() == 1) {
    if (int rc = fetch(env, "/v1/catalog/services", &doc); rc >= 0) return rc;
    std::vector<std::vector<std::string>> rows = {{"Service", "Tags"}};
    const cJSON* s;
    cJSON_ArrayForEach(s, doc.get()) rows.push_back({s->string != nullptr ? s->string : "", joined(s)});
    print_table(rows, env.out);
    return kExitOk;
  }
  if (what == "nodes" && args.size() == 1) {
    if (int rc = fetch(env, "/v1/catalog/nodes", &doc); rc >= 0) return rc;
    std::vector<std::vector<std::string>> rows = {{"Node", "ID", "Address", "DC"}};
    const cJSON* n;
    cJSON_ArrayForEach(n, doc.get()) {
      rows.push_back({json_text(n, "Node"), json_text(n, "ID").substr(0, 8), json_text(n, "Address"), json_text(n, "Datacenter")});
    }
    print_table(rows, env.out);
    return kExitOk;
  }
  if (what == "service" && (args.size() == 2 || (args.size() == 3 && (args[2] == "-passing" || args[2] == "--passing")))) {
    const bool passing = args.size() == 3;
    if (int rc = fetch(env, "/v1/health/service/" + escape_key(args[1]) + (passing ? "?passing" : ""), &doc); rc >= 0) {
      return rc;
    }
    std::vector<std::vector<std::string>> rows = {{"Node", "ServiceID", "Address", "Health", "Tags"}};
    const cJSON* e;
    cJSON_ArrayForEach(e, doc.get()) {
      const cJSON* node = cJSON_GetObjectItemCaseSensitive(e, "Node");
      const cJSON* svc = cJSON_GetObjectItemCaseSensitive(e, "Service");
      std::string addr = json_text(svc, "Address");
      if (addr.empty()) addr = json_text(node, "Address");
      if (addr.find(':') != std::string::npos) addr = "[" + addr + "]";
      // The instance's health: the worst of its checks (its node's included), as DNS sees it.
      std::string health = "passing";
      const cJSON* c;
      cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(e, "Checks")) {
        std::string st = json_text(c, "Status");
        if (st == "critical" || (st == "warning" && health == "passing")) health = st;
      }
      rows.push_back({json_text(node, "Node"), json_text(svc, "ID"), addr + ":" + json_text(svc, "Port"), health,
                      joined(cJSON_GetObjectItemCaseSensitive(svc, "Tags"))});
    }
    print_table(rows, env.out);
    return kExitOk;
  }
  std::fputs(kUsage, env.err);
  return kExitUsage;
}

}  // namespace ctl
