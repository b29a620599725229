// supervisor::TaskLog and LogReader (task_log.h).
//
// How the file is organised: the shared pieces first (file names, the CRI record's time and
// parser, a chunked record scanner), then the writer, then the reader.
//
// Positions: a LogPosition names a record (file and byte offset) and how much of its content has
// been returned already (`skip`). A read leaves its position on the last record it took from,
// with skip equal to that record's content when it took all of it, rather than on the next
// record: so a follow-up read knows whether that record ended its line ("F") or not ("P"), which
// says whether the next bytes start a line and get a time with with_time. It costs one record
// read again per follow-up read.
#include "agent/supervisor/task_log.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "agent/base/assert.h"

namespace supervisor {
namespace {

// "2026-12-07T20:31:02.123456789Z": RFC 3339 with nine fractional digits, as kubelet writes them.
constexpr size_t kTimeBytes = 30;
// "stdout", "stderr": stream names are short; the bound keeps kRecordBytesMax a constant.
constexpr size_t kStreamBytesMax = 16;
// The longest record a TaskLog writes: time, stream, tag, a kLineBytesMax part, three spaces and
// the '\n'.
constexpr size_t kRecordBytesMax = kTimeBytes + 1 + kStreamBytesMax + 3 + kLineBytesMax + 1;
// Files are read in chunks of this size: several of the largest records, so that a chunk from a
// record boundary without any '\n' is known to be no record of ours.
constexpr size_t kChunkBytes = 64 << 10;
static_assert(kChunkBytes >= kRecordBytesMax);
// Records are gathered and appended in batches of about this size (one write each).
constexpr size_t kBatchBytes = 64 << 10;
// File numbers have at most nine digits, so they fit a uint32_t and sort as numbers.
constexpr uint32_t kIndexMax = 999'999'999;
// Logs are the task's own; the agent's group may read them.
constexpr uint32_t kFileMode = 0640;

std::string prefix_of(const std::string& task, const std::string& stream) {
  return task + "." + stream + ".";
}

std::string path_of(const std::string& dir, const std::string& prefix, uint32_t n) {
  return dir + "/" + prefix + std::to_string(n);
}

// n from "<prefix><n>" (decimal, no leading zeros, at most nine digits), else false.
bool parse_index(std::string_view name, std::string_view prefix, uint32_t* out) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return false;
  std::string_view digits = name.substr(prefix.size());
  if (digits.size() > 9 || (digits.size() > 1 && digits[0] == '0')) return false;
  uint32_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  *out = n;
  return true;
}

// The numbers of the stream's files in `dir`, ascending.
base::Result<std::vector<uint32_t>> list_indices(hal::Fs& fs, const std::string& dir,
                                                 const std::string& prefix) {
  AGENT_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.list_dir(dir));
  std::vector<uint32_t> out;
  for (const std::string& name : names) {
    uint32_t n = 0;
    if (parse_index(name, prefix, &n)) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// `now` as kTimeBytes characters plus a NUL. Times before the epoch are written as the epoch.
void format_time(base::WallTime now, char out[kTimeBytes + 1]) {
  int64_t ns = std::max<int64_t>(0, now.unix_ns());
  char ms[40];
  base::format_rfc3339(base::WallTime::from_unix_ns(ns), ms, sizeof ms);  // "...:05.123Z"
  std::memcpy(out, ms, 20);                                               // through the '.'
  int64_t frac = ns % 1'000'000'000;
  for (int i = 28; i >= 20; i--) {
    out[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  out[29] = 'Z';
  out[30] = '\0';
}

// One record: "<time> <stream> <F|P> <text>" without its '\n'. Records that do not parse are
// not valid and give no content (a torn write, or a file that is not ours).
struct Record {
  std::string_view time;
  std::string_view text;
  bool full = false;  // "F": the line ends here
  bool valid = false;
  // The content bytes: the text, and the '\n' that "F" stands for.
  uint64_t content_bytes() const { return valid ? text.size() + (full ? 1 : 0) : 0; }
};

Record parse_record(std::string_view line) {
  Record r;
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0) return r;
  r.time = line.substr(0, sp);
  std::string_view rest = line.substr(sp + 1);
  sp = rest.find(' ');  // after the stream name
  if (sp == std::string_view::npos) return r;
  rest = rest.substr(sp + 1);
  if (rest.empty() || (rest[0] != 'F' && rest[0] != 'P')) return r;
  r.full = rest[0] == 'F';
  if (rest.size() > 1) {
    if (rest[1] != ' ') return r;
    r.text = rest.substr(2);
  }
  r.valid = true;
  return r;
}

// Where a scan stopped.
struct ScanEnd {
  uint64_t offset = 0;    // the first byte not passed over
  uint64_t io_bytes = 0;  // bytes read
  bool stopped = false;   // the callback refused the record at `offset`
  bool at_end = false;    // no complete record after `offset` (there may be a torn tail)
};

// Calls fn(record_offset, record_bytes, record) for each complete record of `path` from `offset`
// (a record boundary) until fn returns false, the file ends or `io_bytes_max` bytes were read.
// Memory: one chunk. A chunk of kChunkBytes without any '\n' is skipped as not ours.
template <typename Fn>
base::Result<ScanEnd> scan(hal::Fs& fs, const std::string& path, uint64_t offset,
                           uint64_t io_bytes_max, Fn&& fn) {
  ScanEnd end;
  end.offset = offset;
  // Bounded: each pass passes over at least one byte, reaches the end, or spends the budget.
  while (end.io_bytes < io_bytes_max) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, io_bytes_max - end.io_bytes));
    AGENT_ASSIGN_OR_RETURN(std::string data, fs.read_range(path, end.offset, want));
    end.io_bytes += data.size();
    std::string_view view = data;
    size_t pos = 0;
    for (size_t nl = view.find('\n'); nl != std::string_view::npos; nl = view.find('\n', pos)) {
      uint64_t record_offset = end.offset + pos;
      if (!fn(record_offset, nl + 1 - pos, parse_record(view.substr(pos, nl - pos)))) {
        end.offset = record_offset;
        end.stopped = true;
        return end;
      }
      pos = nl + 1;
    }
    if (data.size() < want) {
      end.offset += pos;
      end.at_end = true;
      return end;
    }
    if (pos == 0) {
      if (want < kRecordBytesMax) break;  // the budget ends inside the next record
      pos = data.size();                  // no '\n' in a chunk that would hold any record
    }
    end.offset += pos;
  }
  return end;
}

}  // namespace

// --- TaskLog ------------------------------------------------------------------------------------

TaskLog::TaskLog(hal::Fs& fs, std::string dir, std::string task, std::string stream,
                 int32_t max_files, uint64_t max_file_bytes)
    : fs_(fs),
      dir_(std::move(dir)),
      task_(std::move(task)),
      stream_(std::move(stream)),
      max_files_(max_files),
      max_file_bytes_(max_file_bytes) {
  AGENT_ASSERT(!task_.empty());
  AGENT_ASSERT(!stream_.empty() && stream_.size() <= kStreamBytesMax);
  AGENT_ASSERT(stream_.find(' ') == std::string::npos);
  AGENT_ASSERT(max_files_ >= 1);
  AGENT_ASSERT(max_file_bytes_ > 0);
}

TaskLog::~TaskLog() {
  if (file_ >= 0) fs_.close_file(file_);
}

std::string TaskLog::path(uint32_t n) const { return path_of(dir_, prefix_of(task_, stream_), n); }

base::Status TaskLog::open() {
  AGENT_ASSERT(!opened_);
  AGENT_ASSIGN_OR_RETURN(std::vector<uint32_t> have,
                         list_indices(fs_, dir_, prefix_of(task_, stream_)));
  opened_ = true;
  if (have.empty()) return open_file(0);
  index_ = have.back();
  AGENT_ASSIGN_OR_RETURN(hal::FileInfo info, fs_.stat(path(index_)));
  bool torn = false;
  if (info.size_bytes > 0) {
    AGENT_ASSIGN_OR_RETURN(std::string last, fs_.read_range(path(index_), info.size_bytes - 1, 1));
    torn = last != "\n";
  }
  // A file that ends inside a record (the last run died in a write) is left behind, so that the
  // torn record stays the tail of an older file, which readers skip.
  if (!torn && info.size_bytes < max_file_bytes_) {
    AGENT_TRY(open_file(index_));
    file_bytes_ = info.size_bytes;
    prune();
    return base::Status::ok();
  }
  return rotate();
}

base::Status TaskLog::open_file(uint32_t n) {
  AGENT_ASSERT(file_ < 0);
  AGENT_ASSIGN_OR_RETURN(int64_t file, fs_.open_append(path(n), kFileMode));
  file_ = file;
  index_ = n;
  file_bytes_ = 0;
  return base::Status::ok();
}

base::Status TaskLog::rotate() {
  if (file_ >= 0) {
    fs_.close_file(file_);
    file_ = -1;
  }
  if (index_ >= kIndexMax) {
    return base::error(base::Code::kResourceExhausted, "task log %s: file numbers used up",
                       path(index_).c_str());
  }
  AGENT_TRY(open_file(index_ + 1));
  prune();
  return base::Status::ok();
}

void TaskLog::prune() {
  auto have = list_indices(fs_, dir_, prefix_of(task_, stream_));
  // Best effort: a file that cannot be listed or removed now is removed at the next rotation,
  // which lists the directory again; the bytes just written are not the ones that failed.
  if (!have.is_ok()) return;
  for (uint32_t n : *have) {
    if (static_cast<int64_t>(n) > static_cast<int64_t>(index_) - max_files_) break;
    fs_.remove(path(n)).ignore();
  }
}

base::Status TaskLog::put_record(std::string_view head, std::string_view tail, bool full,
                                 const char* time) {
  size_t record_bytes = kTimeBytes + 1 + stream_.size() + 3 + head.size() + tail.size() + 1;
  uint64_t used = file_bytes_ + batch_.size();
  if (file_ < 0 || (used > 0 && used + record_bytes > max_file_bytes_)) {
    AGENT_TRY(append_batch());
    AGENT_TRY(rotate());
  }
  batch_.append(time, kTimeBytes);
  batch_ += ' ';
  batch_ += stream_;
  batch_ += full ? " F " : " P ";
  batch_ += head;
  batch_ += tail;
  batch_ += '\n';
  batch_content_bytes_ += head.size() + tail.size() + (full ? 1 : 0);
  if (batch_.size() >= kBatchBytes) return append_batch();
  return base::Status::ok();
}

base::Status TaskLog::append_batch() {
  if (batch_.empty()) return base::Status::ok();
  AGENT_ASSERT(file_ >= 0);
  base::Status st = fs_.append(file_, base::as_bytes(batch_));
  uint64_t content = batch_content_bytes_;
  size_t bytes = batch_.size();
  batch_.clear();
  batch_content_bytes_ = 0;
  if (!st.is_ok()) {
    // The file may now end inside a record: the next record starts a new file (put_record
    // rotates when there is none), so the torn one is an older file's tail, which readers skip.
    fs_.close_file(file_);
    file_ = -1;
    return base::error(base::Code::kIo, "task log %s: %s", path(index_).c_str(),
                       st.to_string().c_str());
  }
  file_bytes_ += bytes;
  bytes_written_ += content;
  return base::Status::ok();
}

base::Status TaskLog::write(std::string_view bytes, base::WallTime now) {
  AGENT_ASSERT(opened_);
  char time[kTimeBytes + 1];
  format_time(now, time);
  // Bounded by bytes.size(): each pass takes at least one byte or empties a full partial_.
  while (!bytes.empty()) {
    if (partial_.size() == kLineBytesMax && bytes[0] != '\n') {
      base::Status st = put_record(partial_, "", false, time);
      partial_.clear();
      if (!st.is_ok()) return st;
    }
    size_t room = kLineBytesMax - partial_.size();
    // A '\n' just past the room still ends a line of exactly kLineBytesMax bytes.
    size_t nl = bytes.substr(0, room + 1).find('\n');
    if (nl != std::string_view::npos) {
      base::Status st = put_record(partial_, bytes.substr(0, nl), true, time);
      partial_.clear();
      bytes.remove_prefix(nl + 1);
      if (!st.is_ok()) return st;
      continue;
    }
    size_t take = std::min(room, bytes.size());
    partial_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
  return append_batch();
}

base::Status TaskLog::flush(base::WallTime now) {
  AGENT_ASSERT(opened_);
  if (!partial_.empty()) {
    char time[kTimeBytes + 1];
    format_time(now, time);
    base::Status st = put_record(partial_, "", false, time);
    partial_.clear();
    AGENT_TRY(std::move(st));
  }
  return append_batch();
}

// --- LogReader ----------------------------------------------------------------------------------

LogReader::LogReader(hal::Fs& fs, std::string dir, std::string task, std::string stream)
    : fs_(fs), dir_(std::move(dir)), task_(std::move(task)), stream_(std::move(stream)) {}

std::string LogReader::path(uint32_t n) const {
  return path_of(dir_, prefix_of(task_, stream_), n);
}

base::Result<uint64_t> LogReader::content_bytes(uint32_t n) {
  uint64_t total = 0;
  AGENT_ASSIGN_OR_RETURN(ScanEnd end,
                         scan(fs_, path(n), 0, UINT64_MAX, [&](uint64_t, size_t, const Record& r) {
                           total += r.content_bytes();
                           return true;
                         }));
  (void)end;
  return total;
}

base::Result<LogPosition> LogReader::forward(const std::vector<uint32_t>& have, size_t first,
                                             uint64_t target) {
  LogPosition at{.index = have[first], .offset = 0, .skip = 0};
  uint64_t left = target;
  for (size_t i = first; i < have.size() && left > 0; i++) {
    uint32_t n = have[i];
    AGENT_ASSIGN_OR_RETURN(
        ScanEnd end, scan(fs_, path(n), 0, UINT64_MAX, [&](uint64_t off, size_t, const Record& r) {
          uint64_t c = r.content_bytes();
          if (c == 0) return true;
          at = LogPosition{.index = n, .offset = off, .skip = std::min(c, left)};
          left -= at.skip;
          return left > 0;
        }));
    (void)end;
  }
  return at;
}

base::Result<LogPosition> LogReader::seek(bool from_end, uint64_t offset) {
  AGENT_ASSIGN_OR_RETURN(std::vector<uint32_t> have,
                         list_indices(fs_, dir_, prefix_of(task_, stream_)));
  if (have.empty()) return LogPosition{};
  if (!from_end) return forward(have, 0, offset);
  uint64_t newer = 0;  // content in the files after have[i]
  for (size_t i = have.size(); i-- > 0;) {
    AGENT_ASSIGN_OR_RETURN(uint64_t c, content_bytes(have[i]));
    if (newer + c >= offset) return forward(have, i, c - (offset - newer));
    newer += c;
  }
  return LogPosition{.index = have.front(), .offset = 0, .skip = 0};
}

base::Result<LogChunk> LogReader::read(LogPosition at, size_t bytes_max, bool with_time) {
  AGENT_ASSIGN_OR_RETURN(std::vector<uint32_t> have,
                         list_indices(fs_, dir_, prefix_of(task_, stream_)));
  LogChunk out;
  out.next = at;
  auto it = std::lower_bound(have.begin(), have.end(), at.index);
  if (it == have.end()) return out;  // nothing written at or after `at` yet
  if (*it != at.index) {
    // The file under the position was rotated away: restart at the oldest file after it.
    out.truncated = true;
    at = LogPosition{.index = *it, .offset = 0, .skip = 0};
    out.next = at;
  }
  uint64_t left = bytes_max;
  // What is asked plus two records: the record under `at` is read again, and the last record
  // taken may be cut anywhere.
  uint64_t io_left = bytes_max + 2 * kRecordBytesMax;
  bool line_start = true;  // the next record's first byte starts a line
  // Bounded by the number of files.
  for (; it != have.end() && left > 0 && io_left > 0; ++it) {
    uint32_t n = *it;
    bool newest = it + 1 == have.end();
    uint64_t skip = n == at.index ? at.skip : 0;
    uint64_t start = n == at.index ? at.offset : 0;
    uint64_t consumed_end = start;
    auto end = scan(fs_, path(n), start, io_left, [&](uint64_t off, size_t bytes, const Record& r) {
      uint64_t c = r.content_bytes();
      if (c == 0) return true;
      if (skip >= c) {  // returned by an earlier read
        out.next = LogPosition{.index = n, .offset = off, .skip = c};
        line_start = r.full;
        consumed_end = off + bytes;
        skip = 0;
        return true;
      }
      if (left == 0) return false;
      uint64_t take = std::min(c - skip, left);
      if (with_time && skip == 0 && line_start) {
        out.data += r.time;
        out.data += ' ';
      }
      size_t text = r.text.size();
      if (skip < text) out.data += r.text.substr(skip, std::min<uint64_t>(take, text - skip));
      if (r.full && skip + take == c) out.data += '\n';
      out.next = LogPosition{.index = n, .offset = off, .skip = skip + take};
      line_start = r.full;
      consumed_end = off + bytes;
      left -= take;
      skip = 0;
      return true;
    });
    if (!end.is_ok()) {
      if (end.status().code() != base::Code::kNotFound) return end.status();
      // Rotated away while we read: go on with the next file.
      out.truncated = true;
      if (it + 1 != have.end()) out.next = LogPosition{.index = *(it + 1), .offset = 0, .skip = 0};
      continue;
    }
    io_left -= std::min(io_left, end->io_bytes);
    // Bytes passed over that held no content (not ours, or torn): do not read them again.
    if (!end->stopped && end->offset > consumed_end) {
      out.next = LogPosition{.index = n, .offset = end->offset, .skip = 0};
    }
    if (end->stopped || !end->at_end || newest) break;
  }
  return out;
}

}  // namespace supervisor
