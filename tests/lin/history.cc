// Parsers for the two history formats (tests/lin/README.md). The file is read line by line; a
// line is split into whitespace-separated fields; each completion is matched to the pending
// invocation of the same client. Every malformed line is an error naming its line number.
#include "tests/lin/history.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace lin {
namespace {

constexpr size_t kFieldsMax = 16;

struct Fields {
  std::string_view f[kFieldsMax];
  size_t n = 0;
};

// Splits on spaces and tabs. False when there are more than kFieldsMax fields.
bool split_fields(std::string_view line, Fields* out) {
  out->n = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (out->n == kFieldsMax) return false;
    out->f[out->n++] = line.substr(i, j - i);
    i = j;
  }
  return true;
}

std::string line_error(uint32_t line, const std::string& what) {
  return "line " + std::to_string(line) + ": " + what;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 64) out += "...";
  return out + "\"";
}

bool parse_i64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool all_digits(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Iterates over the lines of a text, enforcing kLineBytesMax. A trailing '\r' is dropped.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  // Returns false at the end. On an overlong line sets *too_long and returns true.
  bool next(std::string_view* line, uint32_t* number, bool* too_long) {
    if (pos_ >= text_.size()) return false;
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    *line = text_.substr(pos_, end - pos_);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    *too_long = line->size() > kLineBytesMax;
    pos_ = end + 1;
    *number = ++number_;
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  uint32_t number_ = 0;
};

bool blank_or_comment(std::string_view line) {
  for (char c : line) {
    if (c == ' ' || c == '\t') continue;
    return c == '#';
  }
  return true;
}

enum class EventType : uint8_t { kInvoke, kOk, kFail, kInfo };

// One parsed event before pairing: who, what, and the value fields, already split.
struct Event {
  int64_t time = 0;
  uint32_t line = 0;
  std::string_view client;
  std::string_view key;
  EventType type = EventType::kInvoke;
  OpKind kind = OpKind::kRead;
  // The value fields: none, one (read result, write value) or two (cas from, to).
  std::string_view args[2];
  size_t arg_count = 0;
};

const char* kind_name(OpKind k) {
  switch (k) {
    case OpKind::kRead:
      return "read";
    case OpKind::kWrite:
      return "write";
    case OpKind::kCas:
      return "cas";
  }
  return "?";
}

// Pairs invocations with completions per client, in event order, and builds the operations.
// Shared by both formats: they differ only in how a line becomes an Event.
class Pairer {
 public:
  // allow_bare_completion: a write or cas completion may omit its values (Weft's format).
  Pairer(History* h, bool allow_bare_completion)
      : h_(h), allow_bare_completion_(allow_bare_completion) {}

  bool add(const Event& e, std::string* error) {
    uint32_t client = h_->intern_client(e.client);
    if (pending_.size() <= client) pending_.resize(client + 1, kNone);
    uint32_t& slot = pending_[client];
    if (e.type == EventType::kInvoke) return invoke(e, client, &slot, error);
    if (slot == kNone) {
      *error = line_error(
          e.line, "client " + std::string(e.client) + " completes an operation it has not invoked");
      return false;
    }
    Operation& op = h_->ops[slot];
    if (op.kind != e.kind) {
      *error =
          line_error(e.line, std::string("completion is a ") + kind_name(e.kind) + " but client " +
                                 std::string(e.client) + " invoked a " + kind_name(op.kind) +
                                 " on line " + std::to_string(op.call_line));
      return false;
    }
    if (h_->intern_key(e.key) != op.key) {
      *error = line_error(e.line,
                          "completion names key " + quoted(e.key) + " but the invocation on line " +
                              std::to_string(op.call_line) + " named " + quoted(h_->keys[op.key]));
      return false;
    }
    if (!complete(e, &op, error)) return false;
    slot = kNone;
    return true;
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;

  bool invoke(const Event& e, uint32_t client, uint32_t* slot, std::string* error) {
    if (*slot != kNone) {
      *error = line_error(e.line, "client " + std::string(e.client) +
                                      " invokes again before its operation on line " +
                                      std::to_string(h_->ops[*slot].call_line) + " completed");
      return false;
    }
    if (h_->ops.size() >= kOperationsMax) {
      *error = line_error(e.line, "more than " + std::to_string(kOperationsMax) + " operations");
      return false;
    }
    Operation op;
    op.client = client;
    op.key = h_->intern_key(e.key);
    op.kind = e.kind;
    op.call = e.time;
    op.call_line = e.line;
    size_t want = e.kind == OpKind::kRead ? 0 : e.kind == OpKind::kWrite ? 1 : 2;
    if (e.arg_count != want) {
      *error = line_error(e.line, std::string("an invoked ") + kind_name(e.kind) + " takes " +
                                      std::to_string(want) + " value(s), got " +
                                      std::to_string(e.arg_count));
      return false;
    }
    if (e.kind == OpKind::kWrite && e.args[0] == "nil") {
      *error = line_error(e.line, "a write of nil (the absent value) is not in the model");
      return false;
    }
    if (e.kind == OpKind::kCas && e.args[1] == "nil") {
      *error = line_error(e.line, "a cas to nil (the absent value) is not in the model");
      return false;
    }
    if (want >= 1) op.value = h_->intern_value(e.args[0]);
    if (want == 2) op.to = h_->intern_value(e.args[1]);
    *slot = static_cast<uint32_t>(h_->ops.size());
    h_->ops.push_back(op);
    return true;
  }

  bool complete(const Event& e, Operation* op, std::string* error) {
    op->ret_line = e.line;
    if (e.type == EventType::kInfo) {
      op->outcome = Outcome::kInfo;
      op->ret = kNever;
      return true;
    }
    op->outcome = e.type == EventType::kOk ? Outcome::kOk : Outcome::kFail;
    op->ret = e.time;
    if (op->kind == OpKind::kRead) {
      if (op->outcome == Outcome::kFail) return true;  // whatever it says, it read nothing
      if (e.arg_count != 1) {
        *error = line_error(e.line, "a completed read needs exactly one value (or nil)");
        return false;
      }
      op->value = h_->intern_value(e.args[0]);
      return true;
    }
    // A write or cas completion repeats the invocation's values (or, in Weft's format, may omit
    // them); anything else means the log is not what we think it is.
    size_t want = op->kind == OpKind::kWrite ? 1 : 2;
    if (e.arg_count == 0 && allow_bare_completion_) return true;
    bool same = e.arg_count == want && h_->intern_value(e.args[0]) == op->value &&
                (want == 1 || h_->intern_value(e.args[1]) == op->to);
    if (!same) {
      *error = line_error(e.line, std::string("the completed ") + kind_name(op->kind) +
                                      " does not repeat the values invoked on line " +
                                      std::to_string(op->call_line));
      return false;
    }
    return true;
  }

  History* h_;
  bool allow_bare_completion_;
  std::vector<uint32_t> pending_;  // per client: index of its pending operation, or kNone
};

bool parse_event_type(std::string_view s, EventType* out) {
  if (s == "invoke")
    *out = EventType::kInvoke;
  else if (s == "ok")
    *out = EventType::kOk;
  else if (s == "fail")
    *out = EventType::kFail;
  else if (s == "info")
    *out = EventType::kInfo;
  else
    return false;
  return true;
}

bool parse_kind(std::string_view s, OpKind* out) {
  if (s == "read")
    *out = OpKind::kRead;
  else if (s == "write")
    *out = OpKind::kWrite;
  else if (s == "cas")
    *out = OpKind::kCas;
  else
    return false;
  return true;
}

// Jepsen's value field after the function: `nil`, `4`, `[3 0]`, `:timed-out`. Fills args for
// the forms the model uses; other forms (keywords) leave arg_count at 0 and are only accepted
// where the value does not matter (failed and unknown completions).
bool parse_jepsen_value(const Fields& fs, size_t first, Event* e) {
  size_t n = fs.n - first;
  if (n == 0) return false;
  if (n == 1 && fs.f[first].front() != '[') {
    std::string_view v = fs.f[first];
    if (v.front() == ':') return true;  // a keyword such as :timed-out: no value
    e->args[0] = v;
    e->arg_count = 1;
    return true;
  }
  // `[a b]`, split by the whitespace into "[a" "b]".
  if (n != 2) return false;
  std::string_view a = fs.f[first], b = fs.f[first + 1];
  if (a.size() < 2 || a.front() != '[' || b.size() < 2 || b.back() != ']') return false;
  e->args[0] = a.substr(1);
  e->args[1] = b.substr(0, b.size() - 1);
  e->arg_count = 2;
  return true;
}

}  // namespace

ValueId History::intern_value(std::string_view text) {
  if (text == "nil") return kAbsent;
  auto [it, fresh] = value_ids_.emplace(std::string(text), static_cast<ValueId>(values.size()));
  if (fresh) values.emplace_back(text);
  return it->second;
}

uint32_t History::intern_key(std::string_view text) {
  auto [it, fresh] = key_ids_.emplace(std::string(text), static_cast<uint32_t>(keys.size()));
  if (fresh) keys.emplace_back(text);
  return it->second;
}

uint32_t History::intern_client(std::string_view text) {
  auto [it, fresh] = client_ids_.emplace(std::string(text), static_cast<uint32_t>(clients.size()));
  if (fresh) clients.emplace_back(text);
  return it->second;
}

std::string History::describe(const Operation& op) const {
  std::string s = "client " + clients[op.client] + " ";
  if (!keys[op.key].empty()) s += "key " + keys[op.key] + " ";
  switch (op.kind) {
    case OpKind::kRead:
      s += "read";
      if (op.outcome == Outcome::kOk) s += " -> " + values[op.value];
      break;
    case OpKind::kWrite:
      s += "write " + values[op.value];
      break;
    case OpKind::kCas:
      s += "cas " + values[op.value] + "->" + values[op.to];
      break;
  }
  const std::string lines = std::to_string(op.call_line) + "-" + std::to_string(op.ret_line);
  switch (op.outcome) {
    case Outcome::kOk:
      s += " ok (lines " + lines + ")";
      break;
    case Outcome::kFail:
      s += op.kind == OpKind::kCas ? " fail (compare did not match; lines " + lines + ")"
                                   : " fail (lines " + lines + ")";
      break;
    case Outcome::kInfo:
      s += " info (outcome unknown; invoked on line " + std::to_string(op.call_line) + ")";
      break;
  }
  return s;
}

bool parse_jepsen_etcd(std::string_view text, History* out, std::string* error) {
  out->intern_key("");  // one register, named by nothing
  Pairer pairer(out, /*allow_bare_completion=*/false);
  LineReader lines(text);
  std::string_view line;
  uint32_t number = 0;
  bool too_long = false;
  Fields fs;
  while (lines.next(&line, &number, &too_long)) {
    if (too_long) {
      *error = line_error(number, "longer than " + std::to_string(kLineBytesMax) + " bytes");
      return false;
    }
    if (blank_or_comment(line)) continue;
    if (!split_fields(line, &fs) || fs.n < 7 || fs.f[0] != "INFO" || fs.f[1] != "jepsen.util" ||
        fs.f[2] != "-") {
      *error = line_error(number,
                          "not a Jepsen history line (want `INFO jepsen.util - <process> "
                          ":<type> :<f> <value>`): " +
                              quoted(line));
      return false;
    }
    Event e;
    e.time = number;
    e.line = number;
    if (!all_digits(fs.f[3], 9)) {
      *error = line_error(number, "process is not a number: " + quoted(fs.f[3]));
      return false;
    }
    e.client = fs.f[3];
    if (fs.f[4].size() < 2 || fs.f[4][0] != ':' || !parse_event_type(fs.f[4].substr(1), &e.type)) {
      *error = line_error(number, "type is not :invoke, :ok, :fail or :info: " + quoted(fs.f[4]));
      return false;
    }
    if (fs.f[5].size() < 2 || fs.f[5][0] != ':' || !parse_kind(fs.f[5].substr(1), &e.kind)) {
      *error = line_error(number, "function is not :read, :write or :cas: " + quoted(fs.f[5]));
      return false;
    }
    if (!parse_jepsen_value(fs, 6, &e)) {
      *error =
          line_error(number, "value is not nil, a number, a keyword or [a b]: " + quoted(line));
      return false;
    }
    // An invoked read carries `nil` in Jepsen's logs; it is not a value the read asks for.
    if (e.type == EventType::kInvoke && e.kind == OpKind::kRead) e.arg_count = 0;
    // Whatever a failed or unknown completion says (`:timed-out`), only its type matters --
    // except a failed cas, whose [a b] says the compare was evaluated and did not match.
    bool must_match =
        e.type == EventType::kOk || (e.type == EventType::kFail && e.kind == OpKind::kCas);
    if (!must_match && e.type != EventType::kInvoke) e.arg_count = 0;
    if (e.type == EventType::kFail && e.kind == OpKind::kCas && e.arg_count != 2) {
      *error = line_error(number,
                          "a failed cas must say [from to]; a cas that failed without "
                          "evaluating its compare is not in the model: " +
                              quoted(line));
      return false;
    }
    if (!pairer.add(e, error)) return false;
  }
  return true;
}

bool parse_weft(std::string_view text, History* out, std::string* error) {
  std::vector<Event> events;
  LineReader lines(text);
  std::string_view line;
  uint32_t number = 0;
  bool too_long = false;
  Fields fs;
  while (lines.next(&line, &number, &too_long)) {
    if (too_long) {
      *error = line_error(number, "longer than " + std::to_string(kLineBytesMax) + " bytes");
      return false;
    }
    if (blank_or_comment(line)) continue;
    if (events.size() >= 2 * kOperationsMax) {
      *error = line_error(number, "more than " + std::to_string(kOperationsMax) + " operations");
      return false;
    }
    if (!split_fields(line, &fs) || fs.n < 5 || fs.n > 7) {
      *error = line_error(number,
                          "want `<time> <client> invoke|ok|fail|info read|write|cas "
                          "<key> [<value> [<value>]]`: " +
                              quoted(line));
      return false;
    }
    Event e;
    e.line = number;
    if (!parse_i64(fs.f[0], &e.time) || e.time < 0 || e.time == kNever) {
      *error = line_error(number, "time is not an integer in [0, 2^63-1): " + quoted(fs.f[0]));
      return false;
    }
    e.client = fs.f[1];
    if (!parse_event_type(fs.f[2], &e.type)) {
      *error = line_error(number, "type is not invoke, ok, fail or info: " + quoted(fs.f[2]));
      return false;
    }
    if (!parse_kind(fs.f[3], &e.kind)) {
      *error = line_error(number, "function is not read, write or cas: " + quoted(fs.f[3]));
      return false;
    }
    e.key = fs.f[4];
    e.arg_count = fs.n - 5;
    for (size_t i = 0; i < e.arg_count; ++i) e.args[i] = fs.f[5 + i];
    if (e.type == EventType::kInfo || (e.type == EventType::kFail && e.kind != OpKind::kCas)) {
      e.arg_count = 0;  // the outcome alone matters
    } else if (e.type == EventType::kFail && e.kind == OpKind::kCas && e.arg_count == 1) {
      *error = line_error(number, "a failed cas repeats both values or neither");
      return false;
    }
    events.push_back(e);
  }
  // Per-client logs merged in any order: real time is the timestamps. The sort is stable, so a
  // client's invocation and completion with the same timestamp keep their file order.
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.time < b.time; });
  Pairer pairer(out, /*allow_bare_completion=*/true);
  for (const Event& e : events)
    if (!pairer.add(e, error)) return false;
  return true;
}

bool parse_history(std::string_view text, Format format, History* out, std::string* error) {
  if (format == Format::kAuto) {
    format = Format::kWeft;
    LineReader lines(text);
    std::string_view line;
    uint32_t number = 0;
    bool too_long = false;
    while (lines.next(&line, &number, &too_long)) {
      if (!too_long && blank_or_comment(line)) continue;
      size_t i = line.find_first_not_of(" \t");
      if (i != std::string_view::npos && line.substr(i, 4) == "INFO") format = Format::kJepsen;
      break;
    }
  }
  return format == Format::kJepsen ? parse_jepsen_etcd(text, out, error)
                                   : parse_weft(text, out, error);
}

bool read_file(const std::string& path, std::string* out, std::string* error) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  out->clear();
  char buf[65536];
  bool ok = true;
  for (;;) {
    size_t n = std::fread(buf, 1, sizeof buf, f);
    if (n == 0) break;
    if (out->size() + n > kFileBytesMax) {
      *error = path + ": larger than " + std::to_string(kFileBytesMax) + " bytes";
      ok = false;
      break;
    }
    out->append(buf, n);
  }
  if (ok && std::ferror(f)) {
    *error = path + ": read error";
    ok = false;
  }
  std::fclose(f);
  return ok;
}

}  // namespace lin
