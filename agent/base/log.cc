#include "agent/base/log.h"

#include <utility>

namespace base {

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "?";
}

bool parse_log_level(std::string_view text, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == log_level_name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void LogRing::append(LogRecord record) {
  record.seq = ++last_seq_;
  bytes_ += record.text.size() + record.module.size();
  records_.push_back(std::move(record));
  while (bytes_ > bytes_max_ && records_.size() > 1) {
    bytes_ -= records_.front().text.size() + records_.front().module.size();
    records_.pop_front();
    ++dropped_;
  }
}

uint64_t LogRing::read_after(uint64_t after_seq, size_t count_max, LogLevel min_level,
                             std::vector<LogRecord>* out) const {
  uint64_t last = after_seq;
  if (records_.empty()) return last;
  uint64_t first_seq = records_.front().seq;
  size_t start = after_seq < first_seq ? 0 : static_cast<size_t>(after_seq - first_seq + 1);
  size_t copied = 0;
  for (size_t i = start; i < records_.size() && copied < count_max; ++i) {
    const LogRecord& r = records_[i];
    last = r.seq;
    if (r.level < min_level) continue;
    out->push_back(r);
    ++copied;
  }
  return last;
}

void Logger::set_clock(WallClockFn fn) {
  std::lock_guard<std::mutex> lock(mu_);
  clock_ = std::move(fn);
}

void Logger::set_console(FILE* console, LogLevel min_level) {
  std::lock_guard<std::mutex> lock(mu_);
  console_ = console;
  console_level_ = min_level;
}

void Logger::set_level(LogLevel level) {
  std::lock_guard<std::mutex> lock(mu_);
  level_ = level;
}

void Logger::set_append_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  append_hook_ = std::move(hook);
}

void Logger::set_prefix(std::string prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  prefix_ = std::move(prefix);
}

void Logger::log(LogLevel level, std::string_view module, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(level, module, fmt, ap);
  va_end(ap);
}

void Logger::vlog(LogLevel level, std::string_view module, const char* fmt, va_list ap) {
  // Bounded line: longer messages are cut, never allocated without limit.
  char text[1024];
  std::vsnprintf(text, sizeof text, fmt, ap);
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (level < level_) return;
    hook = append_hook_;
    append_locked(level, module, text);
  }
  if (hook) hook();
}

void Logger::append_locked(LogLevel level, std::string_view module, const char* text) {
  LogRecord r;
  r.time = clock_ ? clock_() : WallTime();
  r.level = level;
  r.module = prefix_;
  r.module.append(module);
  r.text = text;
  if (console_ && level >= console_level_) {
    std::string line = format(r);
    line.push_back('\n');
    std::fputs(line.c_str(), console_);
    std::fflush(console_);
  }
  ring_.append(std::move(r));
}

uint64_t Logger::read_after(uint64_t after_seq, size_t count_max, LogLevel min_level,
                            std::vector<LogRecord>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  return ring_.read_after(after_seq, count_max, min_level, out);
}

uint64_t Logger::last_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ring_.last_seq();
}

std::string Logger::format(const LogRecord& r) {
  char ts[40];
  format_rfc3339(r.time, ts, sizeof ts);
  std::string out(ts);
  out += ' ';
  std::string_view name = log_level_name(r.level);
  out.append(name);
  out.append(6 - name.size(), ' ');
  out += r.module;
  out += ": ";
  out += r.text;
  return out;
}

}  // namespace base
