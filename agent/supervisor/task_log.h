// supervisor::TaskLog -- one stream (stdout or stderr) of one task written to rotated files,
// Nomad's layout and limits (issue 6 item 7), each line with its time.
//
// Files: <dir>/<task>.<stream>.<n>, n counting up from 0; the highest n is the file being
// written. When it reaches max_file_bytes the next line goes to n+1 and, past max_files files,
// the lowest is removed (Nomad's defaults: 10 files of 10 MiB). A TaskLog opened on a directory
// that already holds files continues after the highest n (an agent restart loses nothing).
//
// Line format: the CRI container log format that kubelet writes, one record per line:
//   2026-12-07T20:31:02.123456789Z stdout F hello world
// "F" ends a line the task ended with '\n'; "P" is a part of a longer line (a line is cut every
// kLineBytesMax bytes, and output still without '\n' is written as a "P" record when flush() is
// called, which the supervisor does when the task exits). Readers put the parts back together.
//
// Reading (LogReader): the stream's content as the task wrote it (or with each line's time), from
// an origin ("start" or "end") and an offset in content bytes, across the rotated files; follow
// mode reads on from a position the last read returned. Lines in files already rotated away are
// gone; a reader whose position was removed restarts at the oldest file left.
//
// Threading: one owner on the loop thread (plain appends, no fsync). Writes go through hal::Fs.
// Not here: the pipes (the supervisor reads them), the HTTP stream (agent/http).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/base/time.h"
#include "hal/fs.h"

namespace supervisor {

inline constexpr size_t kLineBytesMax = 16 << 10;

class TaskLog {
 public:
  TaskLog(hal::Fs& fs, std::string dir, std::string task, std::string stream, int32_t max_files,
          uint64_t max_file_bytes);
  TaskLog(const TaskLog&) = delete;
  TaskLog& operator=(const TaskLog&) = delete;
  ~TaskLog();

  // Finds the highest existing file and opens it for appending (or creates <task>.<stream>.0).
  [[nodiscard]] base::Status open();
  // Output bytes as the task wrote them, read at `now`. kIo when the disk refuses (the supervisor
  // counts it and drops the bytes; the task keeps running).
  [[nodiscard]] base::Status write(std::string_view bytes, base::WallTime now);
  // Writes any partial line as a "P" record.
  [[nodiscard]] base::Status flush(base::WallTime now);
  uint64_t bytes_written() const { return bytes_written_; }  // content bytes, this run

 private:
  // (implementation's)
  hal::Fs& fs_;
  std::string dir_, task_, stream_;
  int32_t max_files_;
  uint64_t max_file_bytes_;
  int64_t file_ = -1;
  uint32_t index_ = 0;
  uint64_t file_bytes_ = 0;
  std::string partial_;
  uint64_t bytes_written_ = 0;
};

struct LogPosition {
  uint32_t index = 0;   // file number
  uint64_t offset = 0;  // byte offset in that file (at a record boundary)
};

struct LogChunk {
  std::string data;      // content (or "<time> <line>" lines with timestamps)
  LogPosition next;      // where a follow-up read continues
  bool truncated = false;  // the position asked for had been rotated away
};

class LogReader {
 public:
  LogReader(hal::Fs& fs, std::string dir, std::string task, std::string stream);
  // The position `offset` content bytes from the start or (from_end) back from the end.
  base::Result<LogPosition> seek(bool from_end, uint64_t offset);
  // Up to `bytes_max` bytes of content from `at`; with_time prefixes each line with its time.
  base::Result<LogChunk> read(LogPosition at, size_t bytes_max, bool with_time);

 private:
  hal::Fs& fs_;
  std::string dir_, task_, stream_;
};

}  // namespace supervisor
