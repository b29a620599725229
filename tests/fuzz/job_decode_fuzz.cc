// Fuzzes the job decoder (agent/sched/job.h): nothing may crash; a document with problems has no
// job and at most kProblemsMax lines; a job that decodes encodes to JSON that decodes back to
// the same job, with no problems.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/sched/job.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sched::JobDecode d = sched::decode_job(text);
  if (d.problems.size() > sched::kProblemsMax) abort();
  if (!d.job) {
    if (d.problems.empty()) abort();
    return 0;
  }
  if (!d.problems.empty()) abort();
  sched::JobDecode again = sched::decode_job(sched::encode_job(*d.job));
  if (!again.job || !(*again.job == *d.job)) abort();
  return 0;
}
