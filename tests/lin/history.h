// Histories for the linearizability checker: what one client operation is, and the two text
// formats a history is read from.
//
// A history is a set of operations on named registers (keys). Each operation was invoked by one
// client at a time `call` and completed at `ret`; its outcome is ok, fail or info (unknown),
// which is Jepsen's vocabulary. An operation whose outcome is unknown -- a timeout, a crashed
// client -- may have taken effect at any moment after its call, or never: the parsers give it
// `ret = kNever`, so the checker may place it anywhere after its call, including after all else.
//
// Two formats are read (tests/lin/README.md specifies both):
//   * Jepsen's etcd log (`INFO  jepsen.util - 3	:ok	:read	4`), one register, no
//   timestamps:
//     the order of the lines is the real-time order.
//   * Weft's own history format, one event per line with a timestamp, client, key and values;
//     lines may come in any order (merged per-client logs) and are sorted by time.
//
// Parsers take untrusted text: every malformed line is an error naming its line number; lines are
// bounded (kLineBytesMax) and so is the number of operations (kOperationsMax).
//
// Ownership: History owns its operations and the interned strings; plain values, no threads.
// Not here: checking (checker.h), other data types than registers (a new model would add fields
// to Operation, or a new record type, beside these).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lin {

// Values and keys are interned per history; id 0 is "absent" (`nil`), the register's initial
// value.
using ValueId = uint32_t;
inline constexpr ValueId kAbsent = 0;

// A completion time for operations whose outcome is unknown: they may take effect at any later
// moment, so they are open-ended.
inline constexpr int64_t kNever = INT64_MAX;

// Bounds on untrusted input. A line longer than this is an error, not a reason to allocate; a
// lab run of one hour at a few hundred operations per second stays far below the op count.
inline constexpr size_t kLineBytesMax = 4096;
inline constexpr size_t kOperationsMax = 10'000'000;
inline constexpr size_t kFileBytesMax = size_t{1} << 30;

enum class OpKind : uint8_t { kRead, kWrite, kCas };

// Jepsen's completion types. For a cas, kFail means the compare did not match (the operation
// was evaluated and changed nothing), which is what Jepsen's CAS-register clients report; for a
// read or a write kFail means the operation certainly did not take effect.
enum class Outcome : uint8_t { kOk, kFail, kInfo };

struct Operation {
  uint32_t client = 0;  // index into History::clients
  uint32_t key = 0;     // index into History::keys
  OpKind kind = OpKind::kRead;
  Outcome outcome = Outcome::kInfo;
  // read: the value returned (kOk only); write: the value written; cas: the expected value.
  ValueId value = kAbsent;
  ValueId to = kAbsent;    // cas: the new value
  int64_t call = 0;        // invocation time; Jepsen logs use the line number
  int64_t ret = kNever;    // completion time, kNever when the outcome is unknown
  uint32_t call_line = 0;  // source lines, for explanations; ret_line 0 when there is none
  uint32_t ret_line = 0;
};

struct History {
  std::vector<Operation> ops;  // in invocation order
  std::vector<std::string> values{"nil"};
  std::vector<std::string> keys;
  std::vector<std::string> clients;

  ValueId intern_value(std::string_view text);
  uint32_t intern_key(std::string_view text);
  uint32_t intern_client(std::string_view text);

  // One line, e.g. `client 3 cas 1->4 ok (lines 40-45)` or
  // `client 7 write 2 info (outcome unknown; invoked on line 9)`.
  std::string describe(const Operation& op) const;

 private:
  std::unordered_map<std::string, ValueId> value_ids_;
  std::unordered_map<std::string, uint32_t> key_ids_;
  std::unordered_map<std::string, uint32_t> client_ids_;
};

enum class Format : uint8_t { kAuto, kJepsen, kWeft };

// Parses `text` into *out (which must be empty). Returns false with *error set to
// "line N: what is wrong" on malformed input; *out is then unspecified.
// kAuto picks Jepsen when the first non-blank, non-comment line starts with "INFO", else Weft.
bool parse_history(std::string_view text, Format format, History* out, std::string* error);
bool parse_jepsen_etcd(std::string_view text, History* out, std::string* error);
bool parse_weft(std::string_view text, History* out, std::string* error);

// Reads a whole file of at most kFileBytesMax bytes. False with *error set if it cannot.
bool read_file(const std::string& path, std::string* out, std::string* error);

}  // namespace lin
