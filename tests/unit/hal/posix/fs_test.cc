// Proves PosixFs on a real temporary directory: durable and plain writes read back with their
// mode and leave no temporaries, read_file refuses past its bound (also for /proc files that
// report size 0), list_dir is sorted bytewise, make_dirs/remove/remove_tree behave as hal/fs.h
// says, and remove_tree never follows a symlink out of the tree.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "hal/posix/posix_fs.h"
#include "test_util.h"

namespace {

using hal::posix::PosixFs;
using posix_test::TempDir;

base::ByteSpan bytes(std::string_view s) { return base::as_bytes(s); }

TEST(PosixFs, DurableWriteThenRead) {
  TempDir dir;
  PosixFs fs;
  const std::string path = dir.join("state.json");
  ASSERT_TRUE(fs.write_file(path, bytes("{\"term\":1}"), 0640, true).is_ok());
  auto got = fs.read_file(path, 1024);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(*got, "{\"term\":1}");
  auto info = fs.stat(path);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->type, hal::FileType::kRegular);
  EXPECT_EQ(info->mode, 0640u);
  EXPECT_EQ(info->size_bytes, 10u);
  EXPECT_GT(info->modified.unix_sec(), 1600000000);

  // Replacing keeps exactly one file: the temporary was renamed over the target.
  ASSERT_TRUE(fs.write_file(path, bytes("{\"term\":2}"), 0600, true).is_ok());
  EXPECT_EQ(*fs.read_file(path, 1024), "{\"term\":2}");
  EXPECT_EQ(fs.stat(path)->mode, 0600u);
  EXPECT_EQ(*fs.list_dir(dir.path()), std::vector<std::string>{"state.json"});
}

TEST(PosixFs, PlainWriteTruncatesAndSetsMode) {
  TempDir dir;
  PosixFs fs;
  const std::string path = dir.join("plain");
  ASSERT_TRUE(fs.write_file(path, bytes("a long first version"), 0644, false).is_ok());
  ASSERT_TRUE(fs.write_file(path, bytes("short"), 0600, false).is_ok());
  EXPECT_EQ(*fs.read_file(path, 100), "short");
  EXPECT_EQ(fs.stat(path)->mode, 0600u);
  // An empty file is fine too.
  ASSERT_TRUE(fs.write_file(path, bytes(""), 0600, true).is_ok());
  EXPECT_EQ(*fs.read_file(path, 0), "");
}

TEST(PosixFs, DurableWriteIntoMissingDirectoryFailsCleanly) {
  TempDir dir;
  PosixFs fs;
  auto s = fs.write_file(dir.join("missing/file"), bytes("x"), 0600, true);
  EXPECT_EQ(s.code(), base::Code::kNotFound);
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();
  EXPECT_TRUE(fs.list_dir(dir.path())->empty());
}

TEST(PosixFs, ReadFileRefusesPastItsBound) {
  TempDir dir;
  PosixFs fs;
  const std::string path = dir.join("hundred");
  ASSERT_TRUE(fs.write_file(path, std::vector<uint8_t>(100, 'z'), 0600, false).is_ok());
  auto over = fs.read_file(path, 99);
  ASSERT_FALSE(over.is_ok());
  EXPECT_EQ(over.status().code(), base::Code::kResourceExhausted);
  auto exact = fs.read_file(path, 100);
  ASSERT_TRUE(exact.is_ok());
  EXPECT_EQ(exact->size(), 100u);

  // /proc files report size 0; the bound must hold while reading, too.
  auto proc = fs.read_file("/proc/self/status", 10);
  EXPECT_EQ(proc.status().code(), base::Code::kResourceExhausted);
  auto proc_ok = fs.read_file("/proc/self/status", 1 << 20);
  ASSERT_TRUE(proc_ok.is_ok());
  EXPECT_NE(proc_ok->find("VmRSS"), std::string::npos);

  EXPECT_EQ(fs.read_file(dir.join("absent"), 10).status().code(), base::Code::kNotFound);
  EXPECT_EQ(fs.read_file(dir.path(), 10).status().code(), base::Code::kFailedPrecondition);
  EXPECT_EQ(fs.read_file("", 10).status().code(), base::Code::kInvalidArgument);
}

TEST(PosixFs, ListDirIsSortedBytewise) {
  TempDir dir;
  PosixFs fs;
  for (const char* name : {"b", "a", "C", "aa", "_x", "10", "9"}) {
    ASSERT_TRUE(fs.write_file(dir.join(name), bytes(name), 0600, false).is_ok());
  }
  ASSERT_TRUE(fs.make_dirs(dir.join("dir"), 0700).is_ok());
  auto names = fs.list_dir(dir.path());
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"10", "9", "C", "_x", "a", "aa", "b", "dir"}));
  EXPECT_EQ(fs.list_dir(dir.join("absent")).status().code(), base::Code::kNotFound);
}

TEST(PosixFs, MakeDirsCreatesParentsWithMode) {
  TempDir dir;
  PosixFs fs;
  const std::string deep = dir.join("a/b//c");
  ASSERT_TRUE(fs.make_dirs(deep, 0750).is_ok());
  EXPECT_EQ(fs.stat(dir.join("a/b/c"))->type, hal::FileType::kDirectory);
  EXPECT_EQ(fs.stat(dir.join("a/b/c"))->mode, 0750u);
  EXPECT_EQ(fs.stat(dir.join("a"))->mode, 0750u);
  // Existing directories are fine; a file in the way is not.
  ASSERT_TRUE(fs.make_dirs(deep, 0700).is_ok());
  EXPECT_EQ(fs.stat(dir.join("a/b/c"))->mode, 0750u) << "existing directories keep their mode";
  ASSERT_TRUE(fs.write_file(dir.join("file"), bytes("x"), 0600, false).is_ok());
  EXPECT_EQ(fs.make_dirs(dir.join("file"), 0700).code(), base::Code::kAlreadyExists);
  EXPECT_FALSE(fs.make_dirs(dir.join("file/sub"), 0700).is_ok());
}

TEST(PosixFs, RemoveFilesAndEmptyDirectories) {
  TempDir dir;
  PosixFs fs;
  ASSERT_TRUE(fs.write_file(dir.join("f"), bytes("x"), 0600, false).is_ok());
  ASSERT_TRUE(fs.make_dirs(dir.join("d/e"), 0700).is_ok());
  EXPECT_TRUE(fs.remove(dir.join("f")).is_ok());
  EXPECT_EQ(fs.remove(dir.join("f")).code(), base::Code::kNotFound);
  EXPECT_EQ(fs.remove(dir.join("d")).code(), base::Code::kFailedPrecondition) << "not empty";
  EXPECT_TRUE(fs.remove(dir.join("d/e")).is_ok());
  EXPECT_TRUE(fs.remove(dir.join("d")).is_ok());
  EXPECT_TRUE(fs.list_dir(dir.path())->empty());
}

TEST(PosixFs, RemoveTreeDoesNotFollowSymlinks) {
  TempDir dir;
  PosixFs fs;
  // Outside the tree: a directory with a file that must survive.
  ASSERT_TRUE(fs.make_dirs(dir.join("outside"), 0700).is_ok());
  ASSERT_TRUE(fs.write_file(dir.join("outside/precious"), bytes("keep"), 0600, false).is_ok());
  // The tree: nested directories, files, and symlinks to the outside directory and file.
  ASSERT_TRUE(fs.make_dirs(dir.join("tree/a/b/c"), 0700).is_ok());
  ASSERT_TRUE(fs.write_file(dir.join("tree/a/b/c/leaf"), bytes("x"), 0600, false).is_ok());
  ASSERT_TRUE(fs.write_file(dir.join("tree/top"), bytes("x"), 0600, false).is_ok());
  ASSERT_EQ(symlink(dir.join("outside").c_str(), dir.join("tree/a/link-dir").c_str()), 0);
  ASSERT_EQ(symlink(dir.join("outside/precious").c_str(), dir.join("tree/link-file").c_str()), 0);
  EXPECT_EQ(fs.stat(dir.join("tree/a/link-dir"))->type, hal::FileType::kSymlink);

  ASSERT_TRUE(fs.remove_tree(dir.join("tree")).is_ok());
  EXPECT_EQ(fs.stat(dir.join("tree")).status().code(), base::Code::kNotFound);
  EXPECT_EQ(*fs.read_file(dir.join("outside/precious"), 100), "keep");

  // A symlink given as the root is removed itself, not its target's contents.
  ASSERT_EQ(symlink(dir.join("outside").c_str(), dir.join("root-link").c_str()), 0);
  ASSERT_TRUE(fs.remove_tree(dir.join("root-link")).is_ok());
  EXPECT_EQ(fs.stat(dir.join("root-link")).status().code(), base::Code::kNotFound);
  EXPECT_EQ(*fs.read_file(dir.join("outside/precious"), 100), "keep");

  // Absent is fine; a plain file is removed.
  EXPECT_TRUE(fs.remove_tree(dir.join("never-existed")).is_ok());
  EXPECT_TRUE(fs.remove_tree(dir.join("outside/precious")).is_ok());
  EXPECT_EQ(*fs.list_dir(dir.join("outside")), std::vector<std::string>{});
}

TEST(PosixFs, RemoveTreeRefusesPastItsDepth) {
  TempDir dir;
  PosixFs fs;
  std::string deep = dir.join("d");
  for (int i = 0; i < PosixFs::kTreeDepthMax + 2; ++i) deep += "/d";
  ASSERT_TRUE(fs.make_dirs(deep, 0700).is_ok());
  EXPECT_EQ(fs.remove_tree(dir.join("d")).code(), base::Code::kResourceExhausted);
  // TempDir's own cleanup would fail the same way: remove the bottom half first.
  std::string half = dir.join("d");
  for (int i = 0; i < PosixFs::kTreeDepthMax / 2; ++i) half += "/d";
  ASSERT_TRUE(fs.remove_tree(half).is_ok());
  ASSERT_TRUE(fs.remove_tree(dir.join("d")).is_ok());
}

TEST(PosixFs, MakeTempDirIsPrivateAndUnderTmpdir) {
  PosixFs fs;
  TempDir parent;
  const char* old = getenv("TMPDIR");
  std::string saved = old ? old : "";
  setenv("TMPDIR", parent.path().c_str(), 1);
  auto made = fs.make_temp_dir("weft-x-");
  if (old)
    setenv("TMPDIR", saved.c_str(), 1);
  else
    unsetenv("TMPDIR");
  ASSERT_TRUE(made.is_ok()) << made.status().to_string();
  EXPECT_EQ(made->rfind(parent.path() + "/weft-x-", 0), 0u) << *made;
  auto info = fs.stat(*made);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->type, hal::FileType::kDirectory);
  EXPECT_EQ(info->mode, 0700u);
  EXPECT_EQ(fs.make_temp_dir("a/b").status().code(), base::Code::kInvalidArgument);
}

TEST(PosixFs, Chmod) {
  TempDir dir;
  PosixFs fs;
  ASSERT_TRUE(fs.write_file(dir.join("f"), bytes("x"), 0600, false).is_ok());
  ASSERT_TRUE(fs.chmod(dir.join("f"), 0444).is_ok());
  EXPECT_EQ(fs.stat(dir.join("f"))->mode, 0444u);
  EXPECT_EQ(fs.chmod(dir.join("absent"), 0600).code(), base::Code::kNotFound);
}

}  // namespace

namespace {

// Proves the appendable files: two handles append after each other (O_APPEND), the mode is the
// one given, rename replaces the target, and read_range reads any window of the file.
TEST(PosixFsAppend, AppendRenameAndReadRange) {
  TempDir dir;
  PosixFs fs;
  const std::string log = dir.join("task.stdout");
  auto a = fs.open_append(log, 0640);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  ASSERT_TRUE(fs.append(*a, bytes("one\n")).is_ok());
  auto b = fs.open_append(log, 0600);  // an existing file keeps its mode
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  ASSERT_TRUE(fs.append(*b, bytes("two\n")).is_ok());
  ASSERT_TRUE(fs.append(*a, bytes("three\n")).is_ok());
  ASSERT_TRUE(fs.append(*a, bytes("")).is_ok());
  fs.close_file(*b);
  EXPECT_EQ(*fs.read_file(log, 1024), "one\ntwo\nthree\n");
  EXPECT_EQ(fs.stat(log)->mode, 0640u & ~static_cast<uint32_t>(umask(umask(0))));

  EXPECT_EQ(*fs.read_range(log, 0, 3), "one");
  EXPECT_EQ(*fs.read_range(log, 4, 100), "two\nthree\n");
  EXPECT_EQ(*fs.read_range(log, 14, 10), "");
  EXPECT_EQ(*fs.read_range(log, 1000, 10), "");
  EXPECT_EQ(fs.read_range(dir.join("absent"), 0, 10).status().code(), base::Code::kNotFound);

  // Rotation: the open handle follows the file to its new name.
  const std::string rotated = dir.join("task.stdout.0");
  ASSERT_TRUE(fs.write_file(rotated, bytes("old"), 0644, false).is_ok());
  ASSERT_TRUE(fs.rename(log, rotated).is_ok());
  ASSERT_TRUE(fs.append(*a, bytes("four\n")).is_ok());
  fs.close_file(*a);
  EXPECT_EQ(*fs.read_file(rotated, 1024), "one\ntwo\nthree\nfour\n");
  EXPECT_EQ(fs.stat(log).status().code(), base::Code::kNotFound);
  EXPECT_EQ(fs.rename(log, rotated).code(), base::Code::kNotFound);
  EXPECT_EQ(fs.open_append(dir.join("no/such/dir"), 0644).status().code(), base::Code::kNotFound);
}

}  // namespace
