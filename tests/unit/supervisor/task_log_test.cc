// TaskLog and LogReader over an in-memory Fs: the CRI records on disk, rotation, and reading the
// content back from either end, across rotations.
#include "agent/supervisor/task_log.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/supervisor/mem_fs.h"

namespace supervisor {
namespace {

using supervisor_test::MemFs;

// 2026-12-07T20:31:02.123456789Z
constexpr int64_t kT0 = 1'796'675'462'123'456'789;
base::WallTime at(int64_t plus_ns = 0) { return base::WallTime::from_unix_ns(kT0 + plus_ns); }

const std::string kPath0 = "/logs/web.stdout.0";

std::string read_all(LogReader& r, LogPosition from, bool with_time, LogPosition* next = nullptr) {
  std::string all;
  // Bounded: each read makes progress or returns nothing new.
  for (int i = 0; i < 10000; i++) {
    auto chunk = r.read(from, 1000, with_time);
    EXPECT_TRUE(chunk.is_ok()) << chunk.status().to_string();
    if (!chunk.is_ok() || chunk->data.empty()) break;
    all += chunk->data;
    from = chunk->next;
  }
  if (next != nullptr) *next = from;
  return all;
}

// The content from seek(from_end, offset) on; `index` gets the file number seek() chose.
std::string read_after_seek(LogReader& r, bool from_end, uint64_t offset, uint32_t* index) {
  auto pos = r.seek(from_end, offset);
  EXPECT_TRUE(pos.is_ok()) << pos.status().to_string();
  if (!pos.is_ok()) return "";
  *index = pos->index;
  return read_all(r, *pos, false);
}

// Whole lines become "F" records with the nanosecond time and the stream's name.
TEST(TaskLogTest, LinesWithTimestamps) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 10, 1 << 20);
  ASSERT_TRUE(log.open().is_ok());
  ASSERT_TRUE(log.write("hello world\n\nbye\n", at()).is_ok());
  EXPECT_EQ(fs.files[kPath0],
            "2026-12-07T20:31:02.123456789Z stdout F hello world\n"
            "2026-12-07T20:31:02.123456789Z stdout F \n"
            "2026-12-07T20:31:02.123456789Z stdout F bye\n");
  EXPECT_EQ(log.bytes_written(), 17u);
  EXPECT_EQ(fs.appends, 1);  // one write, one append
}

// Output without '\n' waits for the rest of its line; flush() writes it as a "P" record.
TEST(TaskLogTest, PartialLines) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 10, 1 << 20);
  ASSERT_TRUE(log.open().is_ok());
  ASSERT_TRUE(log.write("abc", at()).is_ok());
  EXPECT_EQ(fs.files[kPath0], "");
  ASSERT_TRUE(log.write("def\nghi", at(1)).is_ok());
  ASSERT_TRUE(log.flush(at(2)).is_ok());
  ASSERT_TRUE(log.flush(at(3)).is_ok());  // nothing left: nothing written
  EXPECT_EQ(fs.files[kPath0],
            "2026-12-07T20:31:02.123456790Z stdout F abcdef\n"
            "2026-12-07T20:31:02.123456791Z stdout P ghi\n");
  LogReader r(fs, "/logs", "web", "stdout");
  EXPECT_EQ(read_all(r, LogPosition{}, false), "abcdef\nghi");
}

// A line longer than kLineBytesMax is cut into "P" records; one of exactly kLineBytesMax stays
// whole even when its '\n' comes in a later write. The reader joins the parts.
TEST(TaskLogTest, LongLineSplit) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stderr", 10, 1 << 20);
  ASSERT_TRUE(log.open().is_ok());
  std::string longer(2 * kLineBytesMax + 5, 'x');
  std::string exact(kLineBytesMax, 'y');
  ASSERT_TRUE(log.write(longer + "\n", at()).is_ok());
  ASSERT_TRUE(log.write(exact, at()).is_ok());
  ASSERT_TRUE(log.write("\n", at()).is_ok());
  const std::string& file = fs.files["/logs/web.stderr.0"];
  std::vector<std::string> tags;
  for (size_t pos = 0; pos < file.size();) {
    size_t nl = file.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    tags.push_back(file.substr(pos + 38, 1));  // after "<time> stderr "
    EXPECT_LE(nl - pos - 40, kLineBytesMax);
    pos = nl + 1;
  }
  EXPECT_EQ(tags, (std::vector<std::string>{"P", "P", "F", "F"}));
  LogReader r(fs, "/logs", "web", "stderr");
  std::string want = longer + "\n" + exact + "\n";
  std::string got = read_all(r, LogPosition{}, false);
  size_t diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end()).first - got.begin();
  EXPECT_TRUE(got == want) << "got " << got.size() << " bytes, want " << want.size()
                           << ", first difference at " << diff;
}

// Files are cut at record boundaries before they pass max_file_bytes, and only the newest
// max_files are kept.
TEST(TaskLogTest, RotationAndRemoval) {
  MemFs fs;
  // Each record of "line N\n" is 30 + 8 + 1 + 6 + 1 = 48 bytes (N one digit): two fit in 100.
  TaskLog log(fs, "/logs", "web", "stdout", 3, 100);
  ASSERT_TRUE(log.open().is_ok());
  for (int i = 0; i < 10; i++) {
    ASSERT_TRUE(log.write("line " + std::to_string(i) + "\n", at(i)).is_ok());
  }
  std::vector<std::string> names;
  for (const auto& [path, content] : fs.files) {
    names.push_back(path);
    EXPECT_LE(content.size(), 100u) << path;
    EXPECT_EQ(content.back(), '\n');
  }
  EXPECT_EQ(names, (std::vector<std::string>{"/logs/web.stdout.2", "/logs/web.stdout.3",
                                             "/logs/web.stdout.4"}));
  EXPECT_EQ(fs.open_handles(), 1);
  LogReader r(fs, "/logs", "web", "stdout");
  uint32_t index = 0;
  EXPECT_EQ(read_after_seek(r, false, 0, &index),
            "line 4\nline 5\nline 6\nline 7\nline 8\nline 9\n");
  EXPECT_EQ(index, 2u);
}

// A TaskLog opened again appends to the highest file; a full or torn one is left for the next n.
TEST(TaskLogTest, ReopenContinuesNumbering) {
  MemFs fs;
  {
    TaskLog log(fs, "/logs", "web", "stdout", 10, 100);
    ASSERT_TRUE(log.open().is_ok());
    ASSERT_TRUE(log.write("a\nb\nc\n", at()).is_ok());  // 42-byte records: files 0 (2), 1 (1)
  }
  EXPECT_EQ(fs.open_handles(), 0);
  ASSERT_EQ(fs.files.size(), 2u);
  fs.files["/logs/other.stdout.7"] = "not ours\n";
  fs.files["/logs/web.stdout.01"] = "not a number of ours\n";
  {
    TaskLog log(fs, "/logs", "web", "stdout", 10, 100);
    ASSERT_TRUE(log.open().is_ok());
    ASSERT_TRUE(log.write("d\n", at()).is_ok());
  }
  EXPECT_EQ(fs.files["/logs/web.stdout.1"].size(), 84u);                            // appended to 1
  fs.files["/logs/web.stdout.1"] += "2026-12-07T20:31:02.123456789Z stdout F tor";  // a crash
  {
    TaskLog log(fs, "/logs", "web", "stdout", 10, 1000);
    ASSERT_TRUE(log.open().is_ok());
    ASSERT_TRUE(log.write("e\n", at()).is_ok());
  }
  EXPECT_EQ(fs.files.count("/logs/web.stdout.2"), 1u);
  LogReader r(fs, "/logs", "web", "stdout");
  EXPECT_EQ(read_all(r, LogPosition{}, false), "a\nb\nc\nd\ne\n");
}

// seek() counts content bytes (not record bytes) from the start or back from the end, across
// files, and lands inside records.
TEST(LogReaderTest, SeekFromStartAndEnd) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 10, 100);
  ASSERT_TRUE(log.open().is_ok());
  ASSERT_TRUE(log.write("one\ntwo\nthree\nfour\n", at()).is_ok());  // 19 content bytes
  ASSERT_GE(fs.files.size(), 2u);
  LogReader r(fs, "/logs", "web", "stdout");
  struct Case {
    bool from_end;
    uint64_t offset;
    std::string want;
  };
  for (const Case& c :
       {Case{false, 0, "one\ntwo\nthree\nfour\n"}, Case{false, 4, "two\nthree\nfour\n"},
        Case{false, 6, "o\nthree\nfour\n"}, Case{false, 19, ""}, Case{false, 500, ""},
        Case{true, 0, ""}, Case{true, 5, "four\n"}, Case{true, 7, "e\nfour\n"},
        Case{true, 19, "one\ntwo\nthree\nfour\n"}, Case{true, 500, "one\ntwo\nthree\nfour\n"}}) {
    uint32_t index = 0;
    EXPECT_EQ(read_after_seek(r, c.from_end, c.offset, &index), c.want)
        << c.from_end << " " << c.offset;
  }
  // No files at all: the start.
  LogReader none(fs, "/logs", "api", "stdout");
  uint32_t index = 7;
  EXPECT_EQ(read_after_seek(none, true, 10, &index), "");
  EXPECT_EQ(index, 0u);
}

// read() returns at most bytes_max bytes, and a follow-up read goes on exactly where it stopped.
TEST(LogReaderTest, ReadsAreBounded) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 10, 1 << 20);
  ASSERT_TRUE(log.open().is_ok());
  std::string text;
  for (int i = 0; i < 100; i++) text += "line number " + std::to_string(i) + "\n";
  ASSERT_TRUE(log.write(text, at()).is_ok());
  LogReader r(fs, "/logs", "web", "stdout");
  LogPosition pos;
  std::string got;
  for (int i = 0; i < 1000 && got.size() < text.size(); i++) {
    auto chunk = r.read(pos, 7, false);
    ASSERT_TRUE(chunk.is_ok());
    EXPECT_LE(chunk->data.size(), 7u);
    ASSERT_FALSE(chunk->data.empty());
    got += chunk->data;
    pos = chunk->next;
  }
  EXPECT_EQ(got, text);
  auto chunk = r.read(pos, 7, false);
  ASSERT_TRUE(chunk.is_ok());
  EXPECT_EQ(chunk->data, "");
  auto zero = r.read(LogPosition{}, 0, false);
  ASSERT_TRUE(zero.is_ok());
  EXPECT_EQ(zero->data, "");
}

// Follow mode: a reader at the end sees new lines, also after the writer moved to a new file,
// and a partial line read before its end is completed without a second time prefix.
TEST(LogReaderTest, FollowAcrossRotation) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 10, 100);
  ASSERT_TRUE(log.open().is_ok());
  LogReader r(fs, "/logs", "web", "stdout");
  auto pos = r.seek(true, 0);
  ASSERT_TRUE(pos.is_ok());
  LogPosition next = *pos;
  EXPECT_EQ(read_all(r, next, true, &next), "");
  ASSERT_TRUE(log.write("first\n", at()).is_ok());
  EXPECT_EQ(read_all(r, next, true, &next), "2026-12-07T20:31:02.123456789Z first\n");
  ASSERT_TRUE(log.write("part", at(1)).is_ok());
  ASSERT_TRUE(log.flush(at(1)).is_ok());
  EXPECT_EQ(read_all(r, next, true, &next), "2026-12-07T20:31:02.123456790Z part");
  ASSERT_TRUE(log.write("rest\nthird\nfourth\n", at(2)).is_ok());  // rotates
  EXPECT_GE(fs.files.size(), 2u);
  EXPECT_EQ(read_all(r, next, true, &next),
            "rest\n2026-12-07T20:31:02.123456791Z third\n"
            "2026-12-07T20:31:02.123456791Z fourth\n");
  EXPECT_EQ(read_all(r, next, false, &next), "");
  ASSERT_TRUE(log.write("fifth\n", at(3)).is_ok());
  EXPECT_EQ(read_all(r, next, false, &next), "fifth\n");
}

// A position whose file was rotated away restarts at the oldest file left, with truncated set.
TEST(LogReaderTest, TruncatedWhenRotatedAway) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 2, 100);
  ASSERT_TRUE(log.open().is_ok());
  ASSERT_TRUE(log.write("a\nb\n", at()).is_ok());
  LogReader r(fs, "/logs", "web", "stdout");
  auto first = r.read(LogPosition{}, 2, false);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->data, "a\n");
  EXPECT_FALSE(first->truncated);
  ASSERT_TRUE(log.write("c\nd\ne\nf\ng\n", at()).is_ok());  // files 0 and 1 are gone
  EXPECT_EQ(fs.files.count(kPath0), 0u);
  auto again = r.read(first->next, 1000, false);
  ASSERT_TRUE(again.is_ok());
  EXPECT_TRUE(again->truncated);
  EXPECT_EQ(again->data, "e\nf\ng\n");
  auto on = r.read(again->next, 1000, false);
  ASSERT_TRUE(on.is_ok());
  EXPECT_FALSE(on->truncated);
  EXPECT_EQ(on->data, "");
}

// with_time puts each line's time (of its first record) before the line, once.
TEST(LogReaderTest, WithTimeOutput) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 10, 1 << 20);
  ASSERT_TRUE(log.open().is_ok());
  ASSERT_TRUE(log.write("alpha", at(0)).is_ok());
  ASSERT_TRUE(log.flush(at(0)).is_ok());
  ASSERT_TRUE(log.write(" beta\n\ngamma\n", at(5)).is_ok());
  LogReader r(fs, "/logs", "web", "stdout");
  EXPECT_EQ(read_all(r, LogPosition{}, true),
            "2026-12-07T20:31:02.123456789Z alpha beta\n"
            "2026-12-07T20:31:02.123456794Z \n"
            "2026-12-07T20:31:02.123456794Z gamma\n");
}

// An append the disk refuses surfaces as kIo, drops those bytes, and the next write goes to a
// new file so that a torn record stays an old file's tail, which the reader skips.
TEST(TaskLogTest, DiskErrorFromAppendIsIo) {
  MemFs fs;
  TaskLog log(fs, "/logs", "web", "stdout", 10, 1 << 20);
  ASSERT_TRUE(log.open().is_ok());
  ASSERT_TRUE(log.write("kept\n", at()).is_ok());
  fs.appends_failing = 1;
  fs.torn_bytes = 20;
  base::Status st = log.write("lost\n", at());
  EXPECT_EQ(st.code(), base::Code::kIo);
  EXPECT_EQ(log.bytes_written(), 5u);
  ASSERT_TRUE(log.write("after\n", at()).is_ok());
  EXPECT_EQ(fs.files.count("/logs/web.stdout.1"), 1u);
  EXPECT_EQ(log.bytes_written(), 11u);
  LogReader r(fs, "/logs", "web", "stdout");
  EXPECT_EQ(read_all(r, LogPosition{}, false), "kept\nafter\n");
  // A directory that does not exist is the caller's to make.
  TaskLog nowhere(fs, "/missing", "web", "stdout", 10, 100);
  EXPECT_EQ(nowhere.open().code(), base::Code::kNotFound);
}

}  // namespace
}  // namespace supervisor
