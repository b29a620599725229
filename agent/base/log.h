// Logging: levelled lines to the console and to an in-memory ring that `agentctl logs` reads.
//
// A Logger formats one line per call ("2026-11-22T10:04:05.123Z info  http: listening on ..."),
// writes it to the console sink when its level is at or above the console threshold, and keeps
// it in a LogRing: a bounded buffer of the most recent records (by total bytes), each with a
// sequence number so a follower can ask "everything after N" without missing or repeating lines.
//
// Time comes from a function the owner installs (the HAL's wall clock in the agent, the virtual
// clock in the simulator); a Logger never reads a clock itself.
//
// Threading: every public method is safe to call from any thread (workers log too); one mutex.
// Not here: log files and rotation (the supervisor's task logs are a different thing), syslog.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/time.h"

namespace base {

enum class LogLevel : uint8_t { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::string_view log_level_name(LogLevel level);
// Parses "debug", "info", "warn", "error". Returns false for anything else.
bool parse_log_level(std::string_view text, LogLevel* out);

struct LogRecord {
  uint64_t seq = 0;  // 1, 2, 3, ... per Logger; never reused
  WallTime time;
  LogLevel level = LogLevel::kInfo;
  std::string module;
  std::string text;
};

class LogRing {
 public:
  // Keeps records while their text totals at most `bytes_max`; the oldest go first.
  explicit LogRing(size_t bytes_max) : bytes_max_(bytes_max) {}

  void append(LogRecord record);
  // Copies up to `count_max` records with seq > `after_seq` and level >= `min_level` into `out`
  // (oldest first). Returns the seq of the last record examined, to pass as `after_seq` next
  // time. If records after `after_seq` were already dropped, reading resumes at the oldest kept.
  uint64_t read_after(uint64_t after_seq, size_t count_max, LogLevel min_level,
                      std::vector<LogRecord>* out) const;
  uint64_t last_seq() const { return last_seq_; }
  size_t size() const { return records_.size(); }
  uint64_t dropped() const { return dropped_; }

 private:
  size_t bytes_max_;
  size_t bytes_ = 0;
  uint64_t last_seq_ = 0;
  uint64_t dropped_ = 0;
  std::deque<LogRecord> records_;
};

class Logger {
 public:
  using WallClockFn = std::function<WallTime()>;

  // `ring_bytes_max` bounds the in-memory ring. Default: no console, clock reads as epoch.
  explicit Logger(size_t ring_bytes_max = 256 * 1024) : ring_(ring_bytes_max) {}

  void set_clock(WallClockFn fn);
  // Lines at `min_level` and above go to `console` (nullptr: none). Each line is written with one
  // fputs and flushed, so lines from threads never interleave within a line.
  void set_console(FILE* console, LogLevel min_level);
  // Records below this level are dropped entirely (not kept in the ring either).
  void set_level(LogLevel level);
  // Called after each record is kept, outside the lock, on the thread that logged. For a
  // follower (agentctl logs -f) to wake up; it must be cheap and must not log. Empty: none.
  void set_append_hook(std::function<void()> hook);

  // A prefix put before every module name, e.g. the node name in the simulator ("n3/").
  void set_prefix(std::string prefix);

  void log(LogLevel level, std::string_view module, const char* fmt, ...)
      __attribute__((format(printf, 4, 5)));
  void vlog(LogLevel level, std::string_view module, const char* fmt, va_list ap);

  uint64_t read_after(uint64_t after_seq, size_t count_max, LogLevel min_level,
                      std::vector<LogRecord>* out) const;
  uint64_t last_seq() const;

  // Formats a record as the console shows it, without a trailing newline.
  static std::string format(const LogRecord& record);

 private:
  void append_locked(LogLevel level, std::string_view module, const char* text);

  mutable std::mutex mu_;
  LogRing ring_;
  WallClockFn clock_;
  std::function<void()> append_hook_;
  FILE* console_ = nullptr;
  LogLevel console_level_ = LogLevel::kInfo;
  LogLevel level_ = LogLevel::kDebug;
  std::string prefix_;
};

}  // namespace base

#define AGENT_LOG_DEBUG(logger, module, ...) (logger).log(::base::LogLevel::kDebug, module, __VA_ARGS__)
#define AGENT_LOG_INFO(logger, module, ...) (logger).log(::base::LogLevel::kInfo, module, __VA_ARGS__)
#define AGENT_LOG_WARN(logger, module, ...) (logger).log(::base::LogLevel::kWarn, module, __VA_ARGS__)
#define AGENT_LOG_ERROR(logger, module, ...) (logger).log(::base::LogLevel::kError, module, __VA_ARGS__)
