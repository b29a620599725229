// agentctl dns: see dns_cmd.h.
#include "agent/ctl/dns_cmd.h"

#include <utility>

#include "agent/ctl/ctl.h"
#include "agent/http/json.h"

namespace ctl {

int cmd_dns(const CmdEnv& env, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) {
    std::fputs("usage: agentctl dns NAME [TYPE]   (TYPE: A, AAAA, SRV, PTR, SOA, NS, TXT, ANY; default A)\n", env.err);
    return kExitUsage;
  }
  std::string target = "/v1/agent/dns?name=" + escape_query(args[0]);
  if (args.size() == 2) target += "&type=" + escape_query(args[1]);
  http::ClientResponse r;
  if (int rc = call_ok(env, "GET", target, &r); rc != kExitOk) return rc;
  auto doc = http::Json::parse(r.body, 1 << 20);
  if (!doc.is_ok()) {
    std::fprintf(env.err, "agentctl dns: the agent's answer is not JSON\n");
    return kExitFailed;
  }
  const std::string rcode = json_text(doc->get(), "Rcode");
  if (env.json) {
    std::fprintf(env.out, "%s\n", r.body.c_str());
  } else {
    const cJSON* tc = cJSON_GetObjectItemCaseSensitive(doc->get(), "Truncated");
    std::fprintf(env.out, ";; %s%s\n", rcode.c_str(), cJSON_IsTrue(tc) ? ", truncated" : "");
    for (const char* section : {"Answer", "Authority", "Additional"}) {
      const cJSON* records = cJSON_GetObjectItemCaseSensitive(doc->get(), section);
      if (cJSON_GetArraySize(records) == 0) continue;
      std::vector<std::vector<std::string>> rows;
      const cJSON* rec;
      cJSON_ArrayForEach(rec, records) {
        rows.push_back({json_text(rec, "Name"), json_text(rec, "TTL"), "IN", json_text(rec, "Type"), json_text(rec, "Data")});
      }
      std::fprintf(env.out, "\n;; %s\n", section);
      print_table(rows, env.out);
    }
  }
  return rcode == "NOERROR" ? kExitOk : kExitFailed;
}

}  // namespace ctl
