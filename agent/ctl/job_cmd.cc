// agentctl job: see job_cmd.h.
#include "agent/ctl/job_cmd.h"

#include <utility>

#include "agent/ctl/ctl.h"
#include "agent/http/json.h"
#include "agent/sched/job.h"

namespace ctl {
namespace {

constexpr const char* kUsage = "usage: agentctl job validate FILE\n";

// "web" (service): 2 groups, 3 tasks
std::string summary(const sched::Job& job) {
  size_t tasks = 0;
  for (const sched::TaskGroup& g : job.groups) tasks += g.tasks.size();
  return "\"" + job.id + "\" (" + std::string(sched::job_type_name(job.type)) +
         "): " + std::to_string(job.groups.size()) +
         (job.groups.size() == 1 ? " group, " : " groups, ") + std::to_string(tasks) +
         (tasks == 1 ? " task" : " tasks");
}

int print_json(const CmdEnv& env, const sched::JobDecode& d) {
  http::Json doc = http::Json::object();
  doc.add_bool("Valid", d.job.has_value());
  if (d.job) {
    auto encoded = http::Json::parse(sched::encode_job(*d.job), sched::kJobBytesMax * 4);
    if (encoded.is_ok()) {
      doc.add_tree(doc.get(), "Job", http::Json(cJSON_DetachItemFromObject(encoded->get(), "Job")));
    }
  } else {
    cJSON* problems = doc.add_array(doc.get(), "Problems");
    for (const std::string& p : d.problems) doc.add_string(problems, "", p);
    doc.add_u64("ProblemsDropped", d.problems_dropped);
  }
  auto text = doc.dump();
  if (!text.is_ok()) {
    std::fprintf(env.err, "agentctl job validate: %s\n", text.status().to_string().c_str());
    return kExitFailed;
  }
  std::fprintf(env.out, "%s\n", text->c_str());
  return d.job ? kExitOk : kExitFailed;
}

int validate(hal::Fs& fs, const CmdEnv& env, const std::string& path) {
  base::Result<std::string> text = fs.read_file(path, sched::kJobBytesMax);
  if (!text.is_ok()) {
    const base::Status& s = text.status();
    const std::string why = s.code() == base::Code::kNotFound ? "no such file"
                            : s.code() == base::Code::kResourceExhausted
                                ? "larger than " + std::to_string(sched::kJobBytesMax) + " bytes"
                                : s.to_string();
    std::fprintf(env.err, "agentctl job validate: cannot read %s: %s\n", path.c_str(), why.c_str());
    return kExitFailed;
  }
  const sched::JobDecode d = sched::decode_job(*text);
  if (env.json) return print_json(env, d);
  if (d.job) {
    std::fprintf(env.out, "Job validation successful\n%s\n", summary(*d.job).c_str());
    return kExitOk;
  }
  const size_t count = d.problems.size() + d.problems_dropped;
  std::fprintf(env.err, "Job validation failed: %zu %s in %s\n", count,
               count == 1 ? "problem" : "problems", path.c_str());
  for (const std::string& p : d.problems) std::fprintf(env.err, "%s\n", p.c_str());
  if (d.problems_dropped != 0) std::fprintf(env.err, "... and %zu more\n", d.problems_dropped);
  return kExitFailed;
}

}  // namespace

int cmd_job(hal::Fs& fs, const CmdEnv& env, const std::vector<std::string>& args) {
  if (args.size() == 2 && args[0] == "validate" && !args[1].empty())
    return validate(fs, env, args[1]);
  std::fputs(kUsage, env.err);
  return kExitUsage;
}

}  // namespace ctl
