// Proves the linearizability checker right before any Weft history is trusted to it: it must
// agree with the verdict of each of the 102 Jepsen etcd histories in ../shared/linearizability,
// catch hand-written violations (negative controls), accept hand-written legal concurrency and
// unknown outcomes, agree with a brute-force search on thousands of random small histories,
// stay within its budget, and reject malformed input with a line number instead of crashing.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tests/lin/checker.h"
#include "tests/lin/cli.h"
#include "tests/lin/history.h"

#ifndef WEFT_LIN_DATA_DIR
#error "WEFT_LIN_DATA_DIR must name ../shared/linearizability (tests/CMakeLists.txt sets it)"
#endif

namespace {

using lin::CheckOptions;
using lin::CheckResult;
using lin::History;
using lin::Verdict;

History parse_or_die(const std::string& text, lin::Format format = lin::Format::kAuto) {
  History h;
  std::string error;
  bool ok = lin::parse_history(text, format, &h, &error);
  EXPECT_TRUE(ok) << error;
  return h;
}

CheckResult check_text(const std::string& text, CheckOptions options = {}) {
  History h = parse_or_die(text);
  return lin::check_registers(h, options);
}

std::string parse_error(const std::string& text, lin::Format format) {
  History h;
  std::string error;
  if (lin::parse_history(text, format, &h, &error)) return "(parsed)";
  return error;
}

// ---------------------------------------------------------------------------------------------
// The Jepsen etcd histories. CI runs from a fresh clone with ../shared beside it; data that is
// missing there is a broken CI setup, so the test fails rather than skips.

struct EtcdCase {
  std::string name;
  History history;
  Verdict want;
};

// Loads EXPECTED.txt and every history it names; fails the calling test if any is missing.
void load_etcd(std::vector<EtcdCase>* cases) {
  const std::string dir = std::string(WEFT_LIN_DATA_DIR) + "/etcd";
  std::string expected, error;
  ASSERT_TRUE(lin::read_file(dir + "/EXPECTED.txt", &expected, &error))
      << "the Jepsen histories are missing: " << error
      << "\n  they belong in ../shared/linearizability beside the source tree ("
      << WEFT_LIN_DATA_DIR << "); CI clones the repository next to ../shared";
  size_t pos = 0;
  while (pos < expected.size()) {
    size_t end = expected.find('\n', pos);
    if (end == std::string::npos) end = expected.size();
    std::string line = expected.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << "EXPECTED.txt line: " << line;
    EtcdCase c;
    c.name = line.substr(0, space);
    const std::string want = line.substr(space + 1);
    ASSERT_TRUE(want == "linearizable" || want == "not-linearizable") << line;
    c.want = want == "linearizable" ? Verdict::kLinearizable : Verdict::kNotLinearizable;
    std::string text;
    ASSERT_TRUE(lin::read_file(dir + "/" + c.name, &text, &error)) << error;
    ASSERT_TRUE(lin::parse_jepsen_etcd(text, &c.history, &error)) << c.name << ": " << error;
    cases->push_back(std::move(c));
  }
  ASSERT_EQ(cases->size(), 102u);
}

// All 102 run in every build, the ASan+UBSan one included: 0.3-0.6 s in release and 5-6 s
// under the sanitizers (one core of a loaded 2-core VM), so nothing needs to be left out there.
TEST(EtcdHistories, EveryVerdictMatchesExpected) {
  std::vector<EtcdCase> cases;
  ASSERT_NO_FATAL_FAILURE(load_etcd(&cases));
  size_t linearizable = 0, agreed = 0;
  int64_t total_us = 0, max_us = 0;
  std::string slowest;
  for (const EtcdCase& c : cases) {
    linearizable += c.want == Verdict::kLinearizable;
    CheckOptions options;
    options.time_budget_ms = 20'000;  // generous for sanitizer builds; release needs < 1 s
    CheckResult r = lin::check_registers(c.history, options);
    EXPECT_EQ(r.verdict, c.want) << c.name << ": got " << lin::verdict_name(r.verdict) << ", want "
                                 << lin::verdict_name(c.want) << "\n"
                                 << r.explanation;
    agreed += r.verdict == c.want;
    total_us += r.elapsed_us;
    if (r.elapsed_us >= max_us) {
      max_us = r.elapsed_us;
      slowest = c.name;
    }
    // A violation comes with something a person can act on.
    if (r.verdict == Verdict::kNotLinearizable) {
      EXPECT_NE(r.explanation.find("returned before it could be placed"), std::string::npos)
          << c.name << "\n"
          << r.explanation;
    }
  }
  EXPECT_EQ(linearizable, 23u);
  std::printf(
      "etcd histories: %zu of %zu verdicts agree; check time %.1f ms total, slowest %s "
      "%.1f ms\n",
      agreed, cases.size(), static_cast<double>(total_us) / 1000.0, slowest.c_str(),
      static_cast<double>(max_us) / 1000.0);
}

// Negative controls for the suite itself: a checker broken on purpose must disagree with
// EXPECTED, or agreeing with it would prove little.
struct ReadsAnythingModel : lin::RegisterModel {
  bool step(const State& s, const lin::Operation& op, State* next) const {
    if (op.kind == lin::OpKind::kRead) {
      *next = s;
      return true;
    }
    return RegisterModel::step(s, op, next);
  }
};

TEST(EtcdHistories, BrokenCheckersAreCaught) {
  std::vector<EtcdCase> cases;
  ASSERT_NO_FATAL_FAILURE(load_etcd(&cases));
  size_t wrong_when_reads_unchecked = 0, wrong_when_returns_late = 0;
  for (EtcdCase& c : cases) {
    std::vector<uint32_t> all(c.history.ops.size());
    for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
    // Only definite wrong verdicts count; a broken checker may also be slow (kUnknown).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    auto p = lin::detail::check_partition(ReadsAnythingModel{}, c.history, all, deadline,
                                          size_t{1} << 30);
    wrong_when_reads_unchecked += p.verdict != c.want && p.verdict != Verdict::kUnknown;
    // A sloppy clock: every return taken four lines later than it happened, so operations
    // that were ordered in real time may now be reordered.
    for (lin::Operation& op : c.history.ops) {
      if (op.ret != lin::kNever) op.ret += 4;
    }
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    p = lin::detail::check_partition(lin::RegisterModel{}, c.history, all, deadline,
                                     size_t{1} << 30);
    wrong_when_returns_late += p.verdict != c.want && p.verdict != Verdict::kUnknown;
  }
  std::printf("broken checkers: with reads unchecked %zu verdicts wrong, with returns late %zu\n",
              wrong_when_reads_unchecked, wrong_when_returns_late);
  EXPECT_GE(wrong_when_reads_unchecked, 10u);
  EXPECT_GE(wrong_when_returns_late, 10u);
}

// ---------------------------------------------------------------------------------------------
// Hand-written histories, in Weft's format (time client type f key [values]).

TEST(HandWritten, StaleReadAfterCompletedWriteIsFlagged) {
  CheckResult r = check_text(
      "0 a invoke write x 1\n"
      "1 a ok write x 1\n"
      "2 b invoke read x\n"
      "3 b ok read x nil\n");
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
  EXPECT_NE(r.explanation.find("client b key x read -> nil ok (lines 3-4)"), std::string::npos)
      << r.explanation;
}

TEST(HandWritten, ReadsOverlappingAWriteMaySeeEitherValue) {
  CheckResult r = check_text(
      "0 a invoke write x 1\n"
      "1 b invoke read x\n"
      "2 c invoke read x\n"
      "3 b ok read x 1\n"
      "4 c ok read x nil\n"
      "5 a ok write x 1\n");
  EXPECT_EQ(r.verdict, Verdict::kLinearizable) << r.explanation;
}

TEST(HandWritten, NewThenOldReadInversionIsFlagged) {
  // Both reads overlap the write, but the one that saw 1 finished before the one that saw nil
  // began: no single point for the write explains both.
  CheckResult r = check_text(
      "0 a invoke write x 1\n"
      "1 b invoke read x\n"
      "2 b ok read x 1\n"
      "3 c invoke read x\n"
      "4 c ok read x nil\n"
      "5 a ok write x 1\n");
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
}

TEST(HandWritten, IntervalsThatOnlyTouchAreConcurrent) {
  // Equal timestamps do not order two operations: the read may come first.
  CheckResult r = check_text(
      "0 a invoke write x 1\n"
      "5 a ok write x 1\n"
      "5 b invoke read x\n"
      "6 b ok read x nil\n");
  EXPECT_EQ(r.verdict, Verdict::kLinearizable) << r.explanation;
}

TEST(HandWritten, InfoWriteMayTakeEffectMuchLater) {
  CheckResult r = check_text(
      "0 a invoke write x 1\n"
      "1 a info write x\n"
      "5 b invoke read x\n"
      "6 b ok read x nil\n"
      "7 c invoke read x\n"
      "8 c ok read x 1\n"
      "9 d invoke read x\n"
      "10 d ok read x 1\n");
  EXPECT_EQ(r.verdict, Verdict::kLinearizable) << r.explanation;
}

TEST(HandWritten, InfoWriteMayNeverTakeEffect) {
  CheckResult r = check_text(
      "0 a invoke write x 1\n"
      "1 a info write x 1\n"
      "5 b invoke read x\n"
      "6 b ok read x nil\n");
  EXPECT_EQ(r.verdict, Verdict::kLinearizable) << r.explanation;
}

TEST(HandWritten, InfoWriteCannotTakeEffectBeforeItsCall) {
  CheckResult r = check_text(
      "0 b invoke read x\n"
      "1 b ok read x 1\n"
      "2 a invoke write x 1\n"
      "3 a info write x 1\n");
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
}

TEST(HandWritten, InfoWriteCannotTakeEffectTwice) {
  // 1 is seen, then overwritten by 2, then seen again: one write of 1 cannot explain that.
  CheckResult r = check_text(
      "0 a invoke write x 1\n"
      "1 a info write x 1\n"
      "2 b invoke read x\n"
      "3 b ok read x 1\n"
      "4 b invoke write x 2\n"
      "5 b ok write x 2\n"
      "6 b invoke read x\n"
      "7 b ok read x 1\n");
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
}

TEST(HandWritten, CasOutcomesAreObservations) {
  // A failed cas says the value was not `from` when it ran.
  EXPECT_EQ(check_text("0 a invoke write x 1\n1 a ok write x 1\n"
                       "2 b invoke cas x 1 2\n3 b fail cas x 1 2\n")
                .verdict,
            Verdict::kNotLinearizable);
  // A successful cas says it was.
  EXPECT_EQ(check_text("0 a invoke write x 1\n1 a ok write x 1\n"
                       "2 b invoke cas x 3 2\n3 b ok cas x 3 2\n")
                .verdict,
            Verdict::kNotLinearizable);
  // And a cas that swapped is visible to a later read; an unknown one may or may not have.
  EXPECT_EQ(check_text("0 a invoke write x 1\n1 a ok write x 1\n"
                       "2 b invoke cas x 1 2\n3 b ok cas x 1 2\n"
                       "4 c invoke cas x 2 3\n5 c info cas x\n"
                       "6 a invoke read x\n7 a ok read x 2\n"
                       "8 a invoke read x\n9 a ok read x 3\n")
                .verdict,
            Verdict::kLinearizable);
  // A failed write or read took no effect and constrains nothing.
  EXPECT_EQ(check_text("0 a invoke write x 1\n1 a fail write x\n"
                       "2 b invoke read x\n3 b fail read x\n"
                       "4 b invoke read x\n5 b ok read x nil\n")
                .verdict,
            Verdict::kLinearizable);
}

TEST(HandWritten, KeysAreCheckedIndependently) {
  // Interleaved operations on two keys, each fine on its own.
  CheckResult ok = check_text(
      "0 a invoke write x 1\n"
      "1 b invoke write y 2\n"
      "2 a ok write x 1\n"
      "3 b ok write y 2\n"
      "4 c invoke read x\n"
      "5 c ok read x 1\n"
      "6 c invoke read y\n"
      "7 c ok read y 2\n");
  EXPECT_EQ(ok.verdict, Verdict::kLinearizable) << ok.explanation;
  EXPECT_EQ(ok.keys, 2u);
  // A value written to x must not be readable from y.
  CheckResult bad = check_text(
      "0 a invoke write x 1\n"
      "1 a ok write x 1\n"
      "2 c invoke read y\n"
      "3 c ok read y 1\n");
  EXPECT_EQ(bad.verdict, Verdict::kNotLinearizable);
  EXPECT_EQ(bad.explanation.rfind("key y:", 0), 0u) << bad.explanation;
}

TEST(HandWritten, JepsenFormatInfoWriteTakesEffectLater) {
  CheckResult r = check_text(
      "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
      "INFO  jepsen.util - 0\t:info\t:write\t:timed-out\n"
      "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
      "INFO  jepsen.util - 1\t:ok\t:read\tnil\n"
      "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
      "INFO  jepsen.util - 1\t:ok\t:read\t1\n"
      "INFO  jepsen.util - 2\t:invoke\t:cas\t[1 4]\n"
      "INFO  jepsen.util - 2\t:ok\t:cas\t[1 4]\n"
      "INFO  jepsen.util - 3  :invoke :read   nil\n"  // spaces instead of tabs, as some logs have
      "INFO  jepsen.util - 3  :ok     :read   4\n"
      "INFO  jepsen.util - 4\t:invoke\t:write\t2\n");  // never completes: unknown outcome
  EXPECT_EQ(r.verdict, Verdict::kLinearizable) << r.explanation;
  EXPECT_EQ(r.operations, 6u);
}

// ---------------------------------------------------------------------------------------------
// Random small histories against an exhaustive search: the memoized just-in-time search must
// give the same verdict as trying every order that respects real time.

bool brute_force(const History& h, std::vector<bool>& placed, lin::ValueId state) {
  lin::RegisterModel model;
  bool all_known_placed = true;
  for (size_t i = 0; i < h.ops.size(); ++i) {
    if (!placed[i] && h.ops[i].ret != lin::kNever) all_known_placed = false;
  }
  if (all_known_placed) return true;  // the rest are unknown outcomes: they never took effect
  for (size_t i = 0; i < h.ops.size(); ++i) {
    if (placed[i]) continue;
    bool minimal = true;  // no other remaining operation returned before this one was called
    for (size_t j = 0; j < h.ops.size() && minimal; ++j) {
      if (j != i && !placed[j] && h.ops[j].ret < h.ops[i].call) minimal = false;
    }
    lin::ValueId after;
    if (!minimal || !model.step(state, h.ops[i], &after)) continue;
    placed[i] = true;
    bool ok = brute_force(h, placed, after);
    placed[i] = false;
    if (ok) return true;
  }
  return false;
}

TEST(RandomHistories, AgreeWithExhaustiveSearch) {
  std::mt19937_64 rng(20240604);
  auto uniform = [&](int lo, int hi) {
    return static_cast<int>(std::uniform_int_distribution<int>(lo, hi)(rng));
  };
  size_t seen[2] = {0, 0};
  for (int trial = 0; trial < 4000; ++trial) {
    History h;
    h.intern_key("x");
    h.intern_client("c");
    lin::ValueId vals[3] = {h.intern_value("1"), h.intern_value("2"), h.intern_value("3")};
    const int n = uniform(1, 7);
    // Each operation gets an interval and a point inside it where it "really" happens; running
    // those points in order gives truthful results, which are then sometimes corrupted.
    struct Planned {
      int point;
      size_t op;
      bool applies;
    };
    std::vector<Planned> plan;
    for (int i = 0; i < n; ++i) {
      lin::Operation op;
      op.call = uniform(0, 20);
      op.ret = op.call + uniform(0, 8);
      op.kind = static_cast<lin::OpKind>(uniform(0, 2));
      op.value = uniform(0, 3) == 0 ? lin::kAbsent : vals[uniform(0, 2)];
      if (op.kind == lin::OpKind::kWrite && op.value == lin::kAbsent) op.value = vals[0];
      op.to = vals[uniform(0, 2)];
      op.call_line = static_cast<uint32_t>(i + 1);
      op.ret_line = op.call_line;
      op.outcome = lin::Outcome::kOk;
      bool info = uniform(0, 6) == 0;
      plan.push_back(
          {static_cast<int>(op.call * 2 + uniform(0, static_cast<int>(2 * (op.ret - op.call)))),
           h.ops.size(), !info || uniform(0, 1) == 0});
      if (info) {
        op.outcome = lin::Outcome::kInfo;
        op.ret = lin::kNever;
      }
      h.ops.push_back(op);
    }
    std::stable_sort(plan.begin(), plan.end(),
                     [](const Planned& a, const Planned& b) { return a.point < b.point; });
    lin::ValueId state = lin::kAbsent;
    for (const Planned& p : plan) {
      lin::Operation& op = h.ops[p.op];
      if (!p.applies) continue;
      switch (op.kind) {
        case lin::OpKind::kRead:
          op.value = state;
          break;
        case lin::OpKind::kWrite:
          state = op.value;
          break;
        case lin::OpKind::kCas:
          if (state == op.value) {
            state = op.to;
          } else if (op.outcome == lin::Outcome::kOk) {
            op.outcome = lin::Outcome::kFail;
          }
          break;
      }
    }
    if (uniform(0, 2) == 0) {  // corrupt one result
      lin::Operation& op = h.ops[static_cast<size_t>(uniform(0, n - 1))];
      if (op.kind == lin::OpKind::kRead) op.value = vals[uniform(0, 2)];
      if (op.kind == lin::OpKind::kCas && op.outcome != lin::Outcome::kInfo) {
        op.outcome = op.outcome == lin::Outcome::kOk ? lin::Outcome::kFail : lin::Outcome::kOk;
      }
    }
    std::vector<bool> placed(h.ops.size(), false);
    // The checker drops unknown reads; the oracle keeps them, and they always step: the same.
    const bool want = brute_force(h, placed, lin::kAbsent);
    CheckResult r = lin::check_registers(h);
    ASSERT_EQ(r.verdict, want ? Verdict::kLinearizable : Verdict::kNotLinearizable)
        << "trial " << trial << "\n"
        << r.explanation;
    ++seen[want ? 1 : 0];
  }
  // Both verdicts must be well represented, or the comparison proves little.
  EXPECT_GT(seen[0], 500u);
  EXPECT_GT(seen[1], 500u);
}

// ---------------------------------------------------------------------------------------------
// Bounds: a history whose search is exponential returns kUnknown within its budget.

std::string hard_history(int writers) {
  // `writers` writes of unknown outcome, all concurrent, then a read of a value nobody wrote:
  // every subset and order of the writes is a configuration to rule out.
  std::string s;
  for (int i = 0; i < writers; ++i) {
    s += "0 w" + std::to_string(i) + " invoke write x " + std::to_string(i) + "\n";
    s += "1 w" + std::to_string(i) + " info write x\n";
  }
  s += "2 r invoke read x\n3 r ok read x never-written\n";
  return s;
}

TEST(Bounds, TimeBudgetGivesUnknown) {
  CheckOptions options;
  options.time_budget_ms = 50;
  auto start = std::chrono::steady_clock::now();
  CheckResult r = check_text(hard_history(30), options);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_NE(r.explanation.find("time budget"), std::string::npos) << r.explanation;
  EXPECT_LT(ms, 2000);
}

TEST(Bounds, MemoCapGivesUnknown) {
  CheckOptions options;
  options.memo_bytes_max = 1 << 20;
  CheckResult r = check_text(hard_history(30), options);
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_NE(r.explanation.find("memo"), std::string::npos) << r.explanation;
}

TEST(Bounds, SmallHardHistoryIsDecided) {
  CheckResult r = check_text(hard_history(8));
  EXPECT_EQ(r.verdict, Verdict::kNotLinearizable);
}

// ---------------------------------------------------------------------------------------------
// Malformed input: an error with a line number, never a crash or a wrong history.

TEST(Parsing, MalformedJepsenLinesAreErrors) {
  const auto jepsen = lin::Format::kJepsen;
  EXPECT_EQ(parse_error("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nhello\n", jepsen)
                .rfind("line 2: not a Jepsen history line", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - x\t:invoke\t:read\tnil\n", jepsen)
                .rfind("line 1: process is not a number", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - 1\t:done\t:read\tnil\n", jepsen)
                .rfind("line 1: type is not", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - 1\t:invoke\t:append\t1\n", jepsen)
                .rfind("line 1: function is not", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - 1\t:invoke\t:cas\t[1\n", jepsen)
                .rfind("line 1: value is not nil, a number", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - 1\t:ok\t:read\t1\n", jepsen)
                .rfind("line 1: client 1 completes an operation it has not invoked", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
                        "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n",
                        jepsen)
                .rfind("line 2: client 1 invokes again", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - 1\t:invoke\t:write\t3\n"
                        "INFO  jepsen.util - 1\t:ok\t:write\t4\n",
                        jepsen)
                .rfind("line 2: the completed write does not repeat", 0),
            0u);
  EXPECT_EQ(parse_error("INFO  jepsen.util - 1\t:invoke\t:write\t3\n"
                        "INFO  jepsen.util - 1\t:ok\t:read\t3\n",
                        jepsen)
                .rfind("line 2: completion is a read", 0),
            0u);
  std::string long_line = "INFO  jepsen.util - 1\t:invoke\t:write\t" + std::string(5000, '7');
  EXPECT_EQ(parse_error(long_line, jepsen).rfind("line 1: longer than 4096 bytes", 0), 0u);
}

TEST(Parsing, MalformedWeftLinesAreErrors) {
  const auto weft = lin::Format::kWeft;
  EXPECT_EQ(parse_error("x a invoke read k\n", weft).rfind("line 1: time is not", 0), 0u);
  EXPECT_EQ(parse_error("-1 a invoke read k\n", weft).rfind("line 1: time is not", 0), 0u);
  EXPECT_EQ(parse_error("1 a invoke read\n", weft).rfind("line 1: want", 0), 0u);
  EXPECT_EQ(parse_error("1 a begin read k\n", weft).rfind("line 1: type is not", 0), 0u);
  EXPECT_EQ(parse_error("1 a invoke write k\n", weft).rfind("line 1: an invoked write takes 1", 0),
            0u);
  EXPECT_EQ(parse_error("1 a invoke write k nil\n", weft).rfind("line 1: a write of nil", 0), 0u);
  EXPECT_EQ(parse_error("1 a invoke read k\n2 a ok read k\n", weft)
                .rfind("line 2: a completed read needs exactly one value", 0),
            0u);
  EXPECT_EQ(parse_error("1 a invoke read k\n2 a ok read j 1\n", weft)
                .rfind("line 2: completion names key \"j\"", 0),
            0u);
  // Lines out of time order are sorted first, so the completion written first still pairs.
  History h = parse_or_die("2 a ok write k 1\n1 a invoke write k 1\n", weft);
  ASSERT_EQ(h.ops.size(), 1u);
  EXPECT_EQ(h.ops[0].call, 1);
  EXPECT_EQ(h.ops[0].ret, 2);
  EXPECT_EQ(h.ops[0].outcome, lin::Outcome::kOk);
}

TEST(Parsing, MutatedInputNeverCrashes) {
  // A cheap fuzz loop (run under ASan in CI): random edits of valid histories must either parse
  // into something checkable or give an error.
  const std::string seeds[2] = {
      "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 0\t:fail\t:cas\t[1 4]\n"
      "INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:ok\t:read\t3\n",
      "1 a invoke cas k 1 2\n2 b invoke read k\n3 a fail cas k 1 2\n4 b ok read k nil\n"};
  const char alphabet[] = " \t\n[]:0123456789abcdefghijklmnopqrstuvwxyz-#";
  std::mt19937_64 rng(7);
  size_t parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[i % 2];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      size_t at = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          s.insert(s.begin() + static_cast<long>(at), alphabet[rng() % (sizeof alphabet - 1)]);
          break;
        case 1:
          if (at < s.size()) s.erase(at, 1);
          break;
        default:
          if (at < s.size()) s[at] = alphabet[rng() % (sizeof alphabet - 1)];
          break;
      }
    }
    History h;
    std::string error;
    if (lin::parse_history(s, lin::Format::kAuto, &h, &error)) {
      ++parsed;
      (void)lin::check_registers(h);
    } else {
      EXPECT_EQ(error.rfind("line ", 0), 0u) << error;
    }
  }
  EXPECT_GT(parsed, 0u);
}

// ---------------------------------------------------------------------------------------------
// The CLI: exit codes and output.

struct CliRun {
  int code;
  std::string out;
};

CliRun run_cli(std::vector<std::string> args) {
  std::vector<const char*> argv{"lincheck"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  char* out_buf = nullptr;
  size_t out_size = 0;
  std::FILE* out = open_memstream(&out_buf, &out_size);
  std::FILE* err = std::tmpfile();
  int code = lin::lincheck_main(static_cast<int>(argv.size()), argv.data(), out, err);
  std::fclose(out);
  std::string text(out_buf, out_size);
  std::free(out_buf);
  std::rewind(err);
  char buf[4096];
  size_t n = std::fread(buf, 1, sizeof buf, err);
  text += std::string(buf, n);
  std::fclose(err);
  return {code, text};
}

std::string write_temp(const std::string& content) {
  char path[] = "/tmp/lincheck_test_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  std::FILE* f = fdopen(fd, "w");
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  return path;
}

TEST(Cli, ExitCodesSayTheVerdict) {
  std::string good = write_temp(
      "0 a invoke write x 1\n1 a ok write x 1\n2 b invoke read x\n"
      "3 b ok read x 1\n");
  std::string bad = write_temp(
      "0 a invoke write x 1\n1 a ok write x 1\n2 b invoke read x\n"
      "3 b ok read x nil\n");
  std::string broken = write_temp("0 a invoke write x 1\n1 a ok write x 2\n");
  std::string hard = write_temp(hard_history(30));

  CliRun r = run_cli({good});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(": linearizable (1 key, 2 operations"), std::string::npos) << r.out;

  r = run_cli({bad});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("not linearizable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("returned before it could be placed:\n    client b key x read -> nil"),
            std::string::npos)
      << r.out;

  r = run_cli({"--format=weft", broken});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("line 2: the completed write does not repeat"), std::string::npos) << r.out;

  r = run_cli({"--budget-ms=20", hard});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown"), std::string::npos) << r.out;

  EXPECT_EQ(run_cli({"/nonexistent/history"}).code, 2);
  EXPECT_EQ(run_cli({}).code, 2);
  EXPECT_EQ(run_cli({"--budget-ms=0", good}).code, 2);
  for (const std::string& p : {good, bad, broken, hard}) std::remove(p.c_str());
}

}  // namespace
