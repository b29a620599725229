// A linearizability checker for histories of registers, for the Jepsen-style tests of issue 4.
//
// The algorithm is Wing & Gong's search as Lowe improved it ("Testing for linearizability",
// 2017): walk the history's call and return events in real-time order; "just in time", try to
// linearize any operation whose call has been seen; on reaching a return whose operation is not
// yet linearized, backtrack. The search is memoized on (set of linearized operations, model
// state), which is what makes it fast in practice (Horn & Kroening 2015; Porcupine, Athalye
// 2017, does the same). The set's hash is kept incrementally (Zobrist: one random word per
// operation, XORed in and out) so a step costs O(1) plus the model's step.
//
// Histories of keyed registers are checked one key at a time (P-compositionality, Horn &
// Kroening): linearizability is local (Herlihy & Wing 1990, theorem 1), so a history is
// linearizable exactly when each key's sub-history is.
//
// Operations with unknown outcome (Outcome::kInfo) have no return event before the end of the
// history (ret = kNever): they may be linearized anywhere after their call. Placing them after
// everything else is how "it never took effect" is expressed, so once every operation with a
// known outcome is linearized the search succeeds -- which requires of a model that an
// operation with unknown outcome can always step (see the Model contract below).
//
// Bounded: every check has a time budget and a cap on the memo's memory; past either it returns
// kUnknown rather than running on. Deterministic: same input, same verdict and explanation.
// Threading: none; a check is a pure function of its inputs. Not here: parsing (history.h),
// the CLI (cli.h). This code must not depend on the agent; it tests it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/lin/history.h"

#define LIN_ASSERT(cond)                                                                       \
  ((cond) ? (void)0                                                                            \
          : (std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond), \
             std::abort()))

namespace lin {

enum class Verdict : uint8_t { kLinearizable, kNotLinearizable, kUnknown };
const char* verdict_name(Verdict v);  // "linearizable", "not linearizable", "unknown"

struct CheckOptions {
  // Wall-clock budget for the whole check (all keys). 10 s: every Jepsen etcd history takes
  // well under a second in a release build; a lab history that needs longer is worth a human
  // look rather than a CI run that hangs.
  int64_t time_budget_ms = 10'000;
  // Cap on the memo's memory. Its entries are (bitset, state) pairs; 1 GiB holds tens of millions
  // of them for histories of a few hundred operations per key.
  size_t memo_bytes_max = size_t{1} << 30;
};

struct CheckResult {
  Verdict verdict = Verdict::kUnknown;
  // Empty when linearizable. Otherwise what went wrong: for a violation, the key, the longest
  // partial linearization found, the operation that could not be placed before its return and
  // the candidates that were pending then; for kUnknown, which bound was hit.
  std::string explanation;
  size_t keys = 0;                // keys (partitions) checked
  size_t operations = 0;          // operations that took part in the search
  size_t operations_dropped = 0;  // operations that cannot constrain anything (failed reads...)
  uint64_t steps = 0;             // successful model steps (linearization attempts)
  uint64_t memo_entries = 0;
  int64_t elapsed_us = 0;
};

// The compare-and-set register of the Jepsen etcd tests (shared/linearizability/README.md):
// initially absent; read returns the current value; write sets it; cas [a b] sets b exactly when
// the value is a, and otherwise fails, changing nothing.
//
// The Model contract, which the search relies on and any other model must meet:
//   using State;  copyable, equality-comparable with ==
//   State init() const;
//   bool relevant(const Operation&) const;  false: the operation can never fail to step and never
//       changes the state, so it is left out of the search (a failed read; an unknown read; a
//       write that certainly did not happen)
//   bool step(const State&, const Operation&, State* next) const;  true when the operation's
//       recorded outcome is legal in this state, with the state after it in *next. Must return
//       true for every operation with Outcome::kInfo.
//   uint64_t hash(const State&) const;
//   std::string describe_state(const State&, const History&) const;
class RegisterModel {
 public:
  using State = ValueId;
  State init() const { return kAbsent; }
  bool relevant(const Operation& op) const {
    if (op.kind == OpKind::kRead) return op.outcome == Outcome::kOk;
    if (op.kind == OpKind::kWrite) return op.outcome != Outcome::kFail;
    return true;  // a failed cas observed that the value was not `from`
  }
  bool step(const State& s, const Operation& op, State* next) const {
    *next = s;
    switch (op.kind) {
      case OpKind::kRead:
        return op.outcome != Outcome::kOk || s == op.value;
      case OpKind::kWrite:
        if (op.outcome != Outcome::kFail) *next = op.value;
        return true;
      case OpKind::kCas:
        if (op.outcome == Outcome::kFail) return s != op.value;
        if (s == op.value) {
          *next = op.to;
          return true;
        }
        // A cas of unknown outcome whose compare does not match is a failed cas, which is legal.
        return op.outcome == Outcome::kInfo;
    }
    return false;
  }
  uint64_t hash(const State& s) const { return (uint64_t{s} + 1) * 0x9E3779B97F4A7C15ull; }
  std::string describe_state(const State& s, const History& h) const {
    return "the register holds " + h.values[s];
  }
};

// Checks a history of keyed registers: partitions it by key and checks each key's operations
// against RegisterModel, sharing one budget. The first key found not linearizable decides (keys
// are checked in order of first appearance); kUnknown if any key ran out of budget and none
// failed.
CheckResult check_registers(const History& h, const CheckOptions& options = {});

namespace detail {

inline uint64_t mix64(uint64_t x) {  // splitmix64's finalizer: a fixed, well-spread permutation
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The set of (linearized set, state) configurations already explored. Open addressing over a
// flat arena: entry i's bitset is bits_[i*words_ .. (i+1)*words_).
template <class State>
class Memo {
 public:
  explicit Memo(size_t words) : words_(words), slots_(1024, 0) {}

  // Inserts; returns false if the configuration was there already.
  bool insert(const uint64_t* bits, const State& state, uint64_t h) {
    if ((hashes_.size() + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      uint32_t e = slots_[i];
      if (e == 0) {
        hashes_.push_back(h);
        states_.push_back(state);
        bits_.insert(bits_.end(), bits, bits + words_);
        slots_[i] = static_cast<uint32_t>(hashes_.size());
        return true;
      }
      --e;
      if (hashes_[e] == h && states_[e] == state &&
          std::memcmp(&bits_[e * words_], bits, words_ * sizeof(uint64_t)) == 0) {
        return false;
      }
    }
  }
  size_t size() const { return hashes_.size(); }
  size_t bytes() const {
    return slots_.capacity() * sizeof(uint32_t) + hashes_.capacity() * sizeof(uint64_t) +
           states_.capacity() * sizeof(State) + bits_.capacity() * sizeof(uint64_t);
  }

 private:
  void grow() {
    std::vector<uint32_t> slots(slots_.size() * 2, 0);
    size_t mask = slots.size() - 1;
    for (size_t e = 0; e < hashes_.size(); ++e) {
      size_t i = hashes_[e] & mask;
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = static_cast<uint32_t>(e + 1);
    }
    slots_.swap(slots);
  }

  size_t words_;
  std::vector<uint32_t> slots_;  // 0 empty, else entry index + 1
  std::vector<uint64_t> hashes_;
  std::vector<State> states_;
  std::vector<uint64_t> bits_;
};

using Clock = std::chrono::steady_clock;

struct PartitionOutcome {
  Verdict verdict = Verdict::kUnknown;
  std::string explanation;
  size_t operations = 0;
  size_t dropped = 0;
  uint64_t steps = 0;
  uint64_t memo_entries = 0;
};

// Checks the operations h.ops[index[0..]] as one object against `model`, until `deadline`.
template <class Model>
PartitionOutcome check_partition(const Model& model, const History& h,
                                 const std::vector<uint32_t>& index, Clock::time_point deadline,
                                 size_t memo_bytes_max) {
  using State = typename Model::State;
  PartitionOutcome out;
  std::vector<const Operation*> ops;
  for (uint32_t i : index) {
    if (model.relevant(h.ops[i])) {
      ops.push_back(&h.ops[i]);
    } else {
      ++out.dropped;
    }
  }
  const uint32_t n = static_cast<uint32_t>(ops.size());
  out.operations = n;
  if (n == 0) {
    out.verdict = Verdict::kLinearizable;
    return out;
  }

  // The events, in real-time order. At equal times calls go first, so operations whose
  // intervals only touch count as concurrent: the checker never infers an order the clocks do
  // not show. Unknown outcomes return at kNever, after everything.
  struct Ev {
    int64_t time;
    uint32_t is_return;
    uint32_t op;
  };
  std::vector<Ev> evs;
  evs.reserve(2 * size_t{n});
  for (uint32_t i = 0; i < n; ++i) {
    LIN_ASSERT(ops[i]->call <= ops[i]->ret);
    evs.push_back({ops[i]->call, 0, i});
    evs.push_back({ops[i]->ret, 1, i});
  }
  std::sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return a.is_return < b.is_return;
    return a.op < b.op;
  });

  // A doubly linked list of the events not yet linearized, with a head sentinel; an operation
  // is lifted out (call and return) when linearized and put back when the search backtracks.
  // Links are restored in the reverse order of removal (dancing links), so undo is exact.
  const uint32_t nodes = 2 * n;
  const uint32_t head = nodes;
  const uint32_t nil = nodes + 1;
  std::vector<uint32_t> next(nodes + 1), prev(nodes + 1), match(nodes), node_op(nodes);
  std::vector<uint8_t> node_is_return(nodes);
  std::vector<uint32_t> call_node(n, nil);
  for (uint32_t k = 0; k < nodes; ++k) {
    node_op[k] = evs[k].op;
    node_is_return[k] = static_cast<uint8_t>(evs[k].is_return);
    if (evs[k].is_return) {
      match[k] = call_node[evs[k].op];
      match[call_node[evs[k].op]] = k;
    } else {
      call_node[evs[k].op] = k;
    }
    prev[k] = k == 0 ? head : k - 1;
    next[k] = k + 1 == nodes ? nil : k + 1;
  }
  next[head] = 0;
  auto unlink = [&](uint32_t x) {
    next[prev[x]] = next[x];
    if (next[x] != nil) prev[next[x]] = prev[x];
  };
  auto relink = [&](uint32_t x) {
    next[prev[x]] = x;
    if (next[x] != nil) prev[next[x]] = x;
  };

  const size_t words = (n + 63) / 64;
  std::vector<uint64_t> bits(words, 0);
  std::vector<uint64_t> zobrist(n);
  for (uint32_t i = 0; i < n; ++i) zobrist[i] = mix64(0x6c696e6368656b00ull + i);
  uint64_t bits_hash = 0;
  auto flip = [&](uint32_t op) {
    bits[op / 64] ^= uint64_t{1} << (op % 64);
    bits_hash ^= zobrist[op];
  };

  Memo<State> memo(words);
  struct Frame {
    uint32_t node;  // the call node of the operation linearized
    State before;   // the state before it
  };
  std::vector<Frame> stack;
  stack.reserve(n);
  State state = model.init();

  // For the explanation: the deepest point at which the search got stuck.
  size_t best_depth = 0;
  bool have_best = false;
  std::vector<uint32_t> best_sequence;
  std::vector<uint32_t> best_pending;
  std::vector<uint8_t> best_pending_legal;
  State best_state = state;
  uint32_t best_stuck = 0;

  uint32_t e = next[head];
  uint64_t iterations = 0;
  while (next[head] != nil) {
    if ((++iterations & 1023) == 0) {
      if (Clock::now() > deadline) {
        out.verdict = Verdict::kUnknown;
        out.explanation = "time budget spent after " + std::to_string(out.steps) + " steps with " +
                          std::to_string(stack.size()) + " of " + std::to_string(n) +
                          " operations linearized";
        out.memo_entries = memo.size();
        return out;
      }
      if (memo.bytes() > memo_bytes_max) {
        out.verdict = Verdict::kUnknown;
        out.explanation = "memo reached its cap of " + std::to_string(memo_bytes_max) +
                          " bytes after " + std::to_string(out.steps) + " steps";
        out.memo_entries = memo.size();
        return out;
      }
    }
    LIN_ASSERT(e != nil);  // the list always ends with a return
    const uint32_t op = node_op[e];
    if (!node_is_return[e]) {
      State after;
      if (model.step(state, *ops[op], &after)) {
        flip(op);
        if (memo.insert(bits.data(), after, mix64(bits_hash ^ model.hash(after)))) {
          ++out.steps;
          stack.push_back({e, state});
          state = after;
          unlink(e);
          unlink(match[e]);
          e = next[head];
          continue;
        }
        flip(op);
      }
      e = next[e];
      continue;
    }
    // A return whose operation is not linearized yet. If it returns at kNever, every operation
    // with a known outcome is linearized (their returns all come earlier) and the remaining
    // ones can go after them in any order.
    if (ops[op]->ret == kNever) break;
    if (!have_best || stack.size() > best_depth) {
      have_best = true;
      best_depth = stack.size();
      best_sequence.clear();
      for (const Frame& f : stack) best_sequence.push_back(node_op[f.node]);
      best_state = state;
      best_stuck = op;
      best_pending.clear();
      best_pending_legal.clear();
      for (uint32_t x = next[head]; x != nil && x != e && best_pending.size() < 16; x = next[x]) {
        if (node_is_return[x]) continue;
        State ignored;
        best_pending.push_back(node_op[x]);
        best_pending_legal.push_back(model.step(state, *ops[node_op[x]], &ignored) ? 1 : 0);
      }
    }
    if (stack.empty()) break;
    Frame f = stack.back();
    stack.pop_back();
    state = f.before;
    flip(node_op[f.node]);
    relink(match[f.node]);
    relink(f.node);
    e = next[f.node];
  }
  out.memo_entries = memo.size();
  if (next[head] == nil || ops[node_op[e]]->ret == kNever) {
    out.verdict = Verdict::kLinearizable;
    return out;
  }

  out.verdict = Verdict::kNotLinearizable;
  std::string& s = out.explanation;
  s = "no order of its " + std::to_string(n) +
      " operations both respects real time and is legal for the model.\n";
  s += "The longest partial linearization found has " + std::to_string(best_sequence.size()) +
       " operations";
  const size_t shown_max = 8;
  if (best_sequence.empty()) {
    s += ".\n";
  } else if (best_sequence.size() > shown_max) {
    s += "; its last " + std::to_string(shown_max) + ":\n";
  } else {
    s += ":\n";
  }
  size_t from = best_sequence.size() > shown_max ? best_sequence.size() - shown_max : 0;
  for (size_t i = from; i < best_sequence.size(); ++i) {
    s += "    " + h.describe(*ops[best_sequence[i]]) + "\n";
  }
  s += "after which " + model.describe_state(best_state, h) + ".\n";
  s += "This operation returned before it could be placed:\n    " + h.describe(*ops[best_stuck]) +
       "\n";
  if (!best_pending.empty()) {
    s += "Operations that could still be placed at that point:\n";
    for (size_t i = 0; i < best_pending.size(); ++i) {
      s += "    " + h.describe(*ops[best_pending[i]]) +
           (best_pending_legal[i] ? "  [legal here; every order after it was ruled out]\n"
                                  : "  [illegal in this state]\n");
    }
  }
  return out;
}

}  // namespace detail
}  // namespace lin
