// supervisor::TaskLog -- one stream (stdout or stderr) of one task written to rotated files,
// Nomad's layout and limits (issue 6 item 7), each line with its time.
//
// Files: <dir>/<task>.<stream>.<n>, n counting up from 0; the highest n is the file being
// written. A record that would take it past max_file_bytes goes to n+1 instead (files are cut at
// record boundaries; only a single record larger than max_file_bytes makes a file exceed it) and,
// past max_files files, the lowest are removed (Nomad's defaults: 10 files of 10 MiB). A TaskLog
// opened on a directory that already holds files appends to the highest n (an agent restart loses
// nothing), or starts n+1 when that file is full or ends inside a record (a write torn by a crash
// or a disk error: the torn record stays the tail of an older file, which readers skip).
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
// gone; a reader whose position was removed restarts at the oldest file left (truncated). Records
// that do not parse (not ours, torn) give no content.
//
// Threading: one owner on the loop thread (plain appends, no fsync). Writes go through hal::Fs.
// Not here: the pipes (the supervisor reads them), the HTTP stream (agent/http).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

  // Finds the highest existing file and opens it for appending (or creates <task>.<stream>.0);
  // removes files past max_files. Call once, before write(). Errors: the directory's (kNotFound
  // when it does not exist: the supervisor makes it), or the file's open_append.
  [[nodiscard]] base::Status open();
  // Output bytes as the task wrote them, read at `now`. kIo when the disk refuses (the supervisor
  // counts it and drops the bytes; the task keeps running, and the next write starts a new file).
  // Complete lines are on disk when it returns; a line without its '\n' waits (up to
  // kLineBytesMax bytes) for more output or flush().
  [[nodiscard]] base::Status write(std::string_view bytes, base::WallTime now);
  // Writes any partial line as a "P" record.
  [[nodiscard]] base::Status flush(base::WallTime now);
  uint64_t bytes_written() const { return bytes_written_; }  // content bytes, this run

 private:
  std::string path(uint32_t n) const;
  [[nodiscard]] base::Status open_file(uint32_t n);
  [[nodiscard]] base::Status rotate();  // closes the file, opens n+1, prunes
  void prune();                         // best effort: removes files past max_files
  // Adds the record "<time> <stream> F|P <head><tail>" to the batch, rotating first when it would
  // not fit the current file.
  [[nodiscard]] base::Status put_record(std::string_view head, std::string_view tail, bool full,
                                        const char* time);
  [[nodiscard]] base::Status append_batch();  // appends the batch to the file (kIo on failure)

  hal::Fs& fs_;
  std::string dir_, task_, stream_;
  int32_t max_files_;
  uint64_t max_file_bytes_;
  int64_t file_ = -1;
  uint32_t index_ = 0;
  uint64_t file_bytes_ = 0;
  bool opened_ = false;
  std::string partial_;  // output of the line in progress, at most kLineBytesMax bytes
  std::string batch_;    // records not yet appended
  uint64_t batch_content_bytes_ = 0;
  uint64_t bytes_written_ = 0;
};

// A place in the stream: a record, and how many of its content bytes come before the place. The
// positions read() and seek() return sit on the last record already taken (skip = all of its
// content) rather than on the next one, so that the next read knows whether a line was left
// open; that record is read again, and skipped.
struct LogPosition {
  uint32_t index = 0;   // file number
  uint64_t offset = 0;  // byte offset in that file (at a record boundary)
  uint64_t skip = 0;    // content bytes of that record before the position
};

struct LogChunk {
  std::string data;        // content (or "<time> <line>" lines with timestamps)
  LogPosition next;        // where a follow-up read continues
  bool truncated = false;  // the position asked for had been rotated away
};

class LogReader {
 public:
  LogReader(hal::Fs& fs, std::string dir, std::string task, std::string stream);
  // The position `offset` content bytes from the start or (from_end) back from the end, clamped
  // to the content there is ({0, 0, 0} when there are no files). It scans records from the
  // start, or from the newest files back: the bytes read grow with the distance (in chunks; the
  // memory used does not).
  base::Result<LogPosition> seek(bool from_end, uint64_t offset);
  // Up to `bytes_max` bytes of content from `at`, and the position after them; with_time puts
  // "<time> " (the RFC 3339 time its first record was written) before each line's first byte,
  // on top of bytes_max. Reads at most bytes_max plus two records' bytes from the files (the
  // record under `at` again, and one cut at bytes_max), so a chunk may hold less than there is
  // (many short lines): read on from `next`. Empty data: nothing new yet (next may still have
  // moved past bytes that held no content). A position in a file removed since restarts at the
  // oldest file after it, with truncated set. Errors: the directory's, or a file's other than
  // kNotFound (a file rotated away during the read is skipped, with truncated set).
  base::Result<LogChunk> read(LogPosition at, size_t bytes_max, bool with_time);

 private:
  std::string path(uint32_t n) const;
  base::Result<uint64_t> content_bytes(uint32_t n);  // of one file, by a full scan
  // The position `target` content bytes from the start of file have[first].
  base::Result<LogPosition> forward(const std::vector<uint32_t>& have, size_t first,
                                    uint64_t target);

  hal::Fs& fs_;
  std::string dir_, task_, stream_;
};

}  // namespace supervisor
