// agentctl image: see image_cmd.h.
#include "agent/ctl/image_cmd.h"

#include <utility>

#include "agent/base/time.h"
#include "agent/config/parse.h"
#include "agent/ctl/ctl.h"
#include "agent/http/json.h"

namespace ctl {

namespace {

constexpr const char* kUsage =
    "usage: agentctl image load FILE [-name NAME:TAG]\n"
    "       agentctl image list\n"
    "       agentctl image rm REF\n";
// An unpack of a large image takes minutes on a small node's disk.
constexpr int64_t kLoadTimeoutSecondsMin = 600;

int usage(const CmdEnv& env) {
  std::fputs(kUsage, env.err);
  return kExitUsage;
}

std::string human_bytes(const std::string& decimal) {
  int64_t n = 0;
  if (!config::parse_int(decimal, &n) || n < 0) return decimal;
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string names_of(const cJSON* image) {
  std::string out;
  const cJSON* n;
  cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(image, "Names")) {
    if (cJSON_IsString(n)) out += std::string(out.empty() ? "" : ",") + n->valuestring;
  }
  return out.empty() ? "<none>" : out;
}

void print_images(const CmdEnv& env, const cJSON* list) {
  std::vector<std::vector<std::string>> rows = {{"Name", "Digest", "Layers", "Size", "Loaded"}};
  const cJSON* image;
  cJSON_ArrayForEach(image, list) {
    std::string loaded;
    int64_t ns = 0;
    if (config::parse_int(json_text(image, "LoadedUnixNs"), &ns) && ns > 0) {
      char buf[40];
      base::format_rfc3339(base::WallTime::from_unix_ns(ns), buf, sizeof buf);
      loaded = buf;
    }
    rows.push_back({names_of(image), json_text(image, "ManifestDigest").substr(0, 19),
                    std::to_string(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(image, "DiffIDs"))),
                    human_bytes(json_text(image, "SizeBytes")), loaded});
  }
  print_table(rows, env.out);
}

int load(const CmdEnv& env, const std::vector<std::string>& args, const std::string& cwd) {
  std::string file, name;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag, value;
    bool has_value = false;
    if (!split_cmd_flag(args[i], &flag, &value, &has_value)) {
      if (!file.empty()) return usage(env);
      file = args[i];
      continue;
    }
    if (flag != "name") {
      std::fprintf(env.err, "agentctl image load: unknown flag -%s\n%s", flag.c_str(), kUsage);
      return kExitUsage;
    }
    if (!has_value && i + 1 < args.size()) value = args[++i], has_value = true;
    if (!has_value || value.empty()) {
      std::fprintf(env.err, "agentctl image load: -name wants NAME[:TAG]\n");
      return kExitUsage;
    }
    name = value;
  }
  if (file.empty()) return usage(env);
  if (file[0] != '/') {
    if (cwd.empty()) {
      std::fprintf(env.err, "agentctl image load: cannot tell the working directory; give FILE as an absolute path\n");
      return kExitUsage;
    }
    file = cwd + "/" + file;
  }
  http::Json body = http::Json::object();
  body.add_string("Path", file);
  if (!name.empty()) body.add_string("Name", name);
  auto text = body.dump();
  if (!text.is_ok()) return kExitFailed;
  base::Duration timeout = env.timeout;
  if (timeout < base::Duration::seconds(kLoadTimeoutSecondsMin)) timeout = base::Duration::seconds(kLoadTimeoutSecondsMin);
  auto got = env.call("PUT", "/v1/images/load", *text, timeout);
  if (!got.is_ok()) return kExitUnreachable;
  if (got->status != 200) {
    std::fprintf(env.err, "agentctl image load: %s\n", answer_error(*got).c_str());
    return kExitFailed;
  }
  if (env.json) {
    std::fwrite(got->body.data(), 1, got->body.size(), env.out);
    std::fputc('\n', env.out);
    return kExitOk;
  }
  auto doc = http::Json::parse(got->body, 1 << 24);
  if (!doc.is_ok()) {
    std::fprintf(env.err, "agentctl image load: the agent's answer is not JSON: %s\n", doc.status().message().c_str());
    return kExitFailed;
  }
  const cJSON* image;
  cJSON_ArrayForEach(image, cJSON_GetObjectItemCaseSensitive(doc->get(), "Images")) {
    std::fprintf(env.out, "Loaded image %s (%s)\n", names_of(image).c_str(), json_text(image, "ManifestDigest").c_str());
  }
  return kExitOk;
}

}  // namespace

int cmd_image(const CmdEnv& env, const std::vector<std::string>& args, const std::string& cwd) {
  if (args.empty()) return usage(env);
  const std::string& what = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (what == "load") return load(env, rest, cwd);
  if ((what == "list" || what == "ls") && rest.empty()) {
    http::Json doc;
    if (int rc = fetch_json(env, "/v1/images", "image", env.json, &doc); rc >= 0) return rc;
    print_images(env, doc.get());
    return kExitOk;
  }
  if ((what == "rm" || what == "remove") && rest.size() == 1) {
    auto got = env.call("DELETE", "/v1/images/" + escape_key(rest[0]), "", env.timeout);
    if (!got.is_ok()) return kExitUnreachable;
    if (got->status != 200) {
      std::fprintf(env.err, "agentctl image rm: %s\n", answer_error(*got).c_str());
      return kExitFailed;
    }
    std::fprintf(env.out, "Removed %s\n", rest[0].c_str());
    return kExitOk;
  }
  return usage(env);
}

}  // namespace ctl
