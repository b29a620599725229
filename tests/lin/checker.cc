// check_registers: P-compositionality over keys, one shared deadline, results summed.
#include "tests/lin/checker.h"

namespace lin {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not linearizable";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

CheckResult check_registers(const History& h, const CheckOptions& options) {
  const auto start = detail::Clock::now();
  const auto deadline = start + std::chrono::milliseconds(options.time_budget_ms);
  std::vector<std::vector<uint32_t>> by_key(h.keys.size());
  for (uint32_t i = 0; i < h.ops.size(); ++i) by_key[h.ops[i].key].push_back(i);

  CheckResult result;
  result.verdict = Verdict::kLinearizable;
  RegisterModel model;
  for (uint32_t key = 0; key < by_key.size(); ++key) {
    if (by_key[key].empty()) continue;
    detail::PartitionOutcome p =
        detail::check_partition(model, h, by_key[key], deadline, options.memo_bytes_max);
    ++result.keys;
    result.operations += p.operations;
    result.operations_dropped += p.dropped;
    result.steps += p.steps;
    result.memo_entries += p.memo_entries;
    const std::string where = h.keys[key].empty() ? "the register" : "key " + h.keys[key];
    if (p.verdict == Verdict::kNotLinearizable) {
      result.verdict = Verdict::kNotLinearizable;
      result.explanation = where + ": " + p.explanation;
      break;
    }
    if (p.verdict == Verdict::kUnknown && result.verdict == Verdict::kLinearizable) {
      result.verdict = Verdict::kUnknown;
      result.explanation = where + ": " + p.explanation;
    }
  }
  result.elapsed_us =
      std::chrono::duration_cast<std::chrono::microseconds>(detail::Clock::now() - start).count();
  return result;
}

}  // namespace lin
