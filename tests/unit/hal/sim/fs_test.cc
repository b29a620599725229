// The sim disk: the hal::Fs contract, and the crash fault -- non-durable writes are lost,
// durable ones kept -- plus injected fsync failures and a full disk.
#include <gtest/gtest.h>

#include "hal/sim/world.h"

namespace {

base::ByteSpan b(std::string_view s) { return base::as_bytes(s); }

std::string read(hal::Fs& fs, std::string_view path) {
  auto r = fs.read_file(path, 1 << 20);
  return r.is_ok() ? *r : "<" + std::string(base::code_name(r.status().code())) + ">";
}

}  // namespace

TEST(SimFs, ContractBasics) {
  sim::World w(1);
  hal::Fs& fs = *w.node(w.add_node("a")).env().fs;
  EXPECT_EQ(fs.write_file("/var/lib/agent/x", b("1"), 0600, true).code(), base::Code::kNotFound);
  ASSERT_TRUE(fs.make_dirs("/var/lib/agent", 0700).is_ok());
  ASSERT_TRUE(fs.make_dirs("/var/lib/agent/", 0700).is_ok());  // exists: OK
  ASSERT_TRUE(fs.write_file("/var/lib/agent/b", b("bee"), 0600, true).is_ok());
  ASSERT_TRUE(fs.write_file("/var/lib/agent/a", b("ay"), 0644, false).is_ok());
  ASSERT_TRUE(fs.make_dirs("/var/lib/agent/sub", 0700).is_ok());
  auto names = fs.list_dir("/var/lib/agent");
  ASSERT_TRUE(names.is_ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "sub"}));
  EXPECT_EQ(read(fs, "/var/lib/agent/b"), "bee");
  EXPECT_EQ(read(fs, "/var//lib/agent/b"), "bee");
  EXPECT_EQ(fs.read_file("/var/lib/agent/b", 2).status().code(), base::Code::kResourceExhausted);
  EXPECT_EQ(fs.read_file("/nope", 10).status().code(), base::Code::kNotFound);
  auto st = fs.stat("/var/lib/agent/b");
  ASSERT_TRUE(st.is_ok());
  EXPECT_EQ(st->type, hal::FileType::kRegular);
  EXPECT_EQ(st->size_bytes, 3u);
  EXPECT_EQ(st->mode, 0600u);
  EXPECT_EQ(fs.stat("/var/lib/agent/sub")->type, hal::FileType::kDirectory);
  EXPECT_EQ(fs.remove("/var/lib/agent").code(), base::Code::kFailedPrecondition);
  EXPECT_TRUE(fs.remove("/var/lib/agent/a").is_ok());
  EXPECT_EQ(fs.remove("/var/lib/agent/a").code(), base::Code::kNotFound);
  EXPECT_TRUE(fs.chmod("/var/lib/agent/b", 0640).is_ok());
  EXPECT_EQ(fs.stat("/var/lib/agent/b")->mode, 0640u);
  EXPECT_TRUE(fs.remove_tree("/var").is_ok());
  EXPECT_TRUE(fs.remove_tree("/var").is_ok());  // absent: OK
  EXPECT_EQ(fs.stat("/var").status().code(), base::Code::kNotFound);
  auto t1 = fs.make_temp_dir("weft-");
  auto t2 = fs.make_temp_dir("weft-");
  ASSERT_TRUE(t1.is_ok() && t2.is_ok());
  EXPECT_NE(*t1, *t2);
  EXPECT_EQ(fs.stat(*t1)->mode, 0700u);
}

TEST(SimFs, CrashLosesNonDurableWritesAndKeepsDurableOnes) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  hal::Fs& fs = *w.node(a).env().fs;
  ASSERT_TRUE(fs.make_dirs("/d", 0755).is_ok());
  ASSERT_TRUE(fs.write_file("/d/durable", b("v1"), 0600, true).is_ok());
  ASSERT_TRUE(fs.write_file("/d/plain", b("p1"), 0600, false).is_ok());
  ASSERT_TRUE(fs.write_file("/d/mixed", b("m1"), 0600, true).is_ok());
  ASSERT_TRUE(fs.write_file("/d/mixed", b("m2-not-synced"), 0600, false).is_ok());
  EXPECT_EQ(w.node(a).fs().unsynced_files(), 2u);
  // Before the crash the node reads its own latest writes.
  EXPECT_EQ(read(fs, "/d/plain"), "p1");
  EXPECT_EQ(read(fs, "/d/mixed"), "m2-not-synced");

  w.crash(a);
  w.restart(a);
  hal::Fs& after = *w.node(a).env().fs;
  EXPECT_EQ(read(after, "/d/durable"), "v1");
  EXPECT_EQ(read(after, "/d/plain"), "<not_found>");
  EXPECT_EQ(read(after, "/d/mixed"), "m1");
  EXPECT_EQ(w.node(a).fs().unsynced_files(), 0u);
}

TEST(SimFs, InjectedFsyncFailureLeavesOldContent) {
  sim::World w(1);
  hal::Fs& fs = *w.node(w.add_node("a")).env().fs;
  ASSERT_TRUE(fs.write_file("/f", b("old"), 0600, true).is_ok());
  w.node(0).fs().fail_durable_writes(1);
  EXPECT_EQ(fs.write_file("/f", b("new"), 0600, true).code(), base::Code::kIo);
  EXPECT_EQ(read(fs, "/f"), "old");
  EXPECT_TRUE(fs.write_file("/f", b("new"), 0600, true).is_ok());  // only one failure injected
  EXPECT_EQ(read(fs, "/f"), "new");
}

TEST(SimFs, FullDiskRefusesWrites) {
  sim::SimConfig cfg;
  cfg.disk_bytes_max = 10;
  sim::World w(1, cfg);
  hal::Fs& fs = *w.node(w.add_node("a")).env().fs;
  EXPECT_TRUE(fs.write_file("/a", b("12345678"), 0600, true).is_ok());
  EXPECT_EQ(fs.write_file("/b", b("123"), 0600, true).code(), base::Code::kResourceExhausted);
  EXPECT_TRUE(fs.write_file("/a", b("1234567890"), 0600, true).is_ok());  // replacing counts the new size only
}

TEST(SimFs, DisksArePerNode) {
  sim::World w(1);
  hal::Fs& a = *w.node(w.add_node("a")).env().fs;
  hal::Fs& bfs = *w.node(w.add_node("b")).env().fs;
  ASSERT_TRUE(a.write_file("/x", b("a's"), 0600, true).is_ok());
  EXPECT_EQ(bfs.read_file("/x", 100).status().code(), base::Code::kNotFound);
}

// Appended bytes are unsynced writes: read back before a crash, lost by it (a file that was never
// synced vanishes, a synced one keeps its synced prefix); a handle follows its file through
// rename and writes nowhere once its file is removed; read_range reads any window.
TEST(SimFs, AppendedDataIsUnsyncedAndLostInACrash) {
  sim::World w(1);
  sim::NodeId a = w.add_node("a");
  hal::Fs& fs = *w.node(a).env().fs;
  ASSERT_TRUE(fs.make_dirs("/logs", 0755).is_ok());
  EXPECT_EQ(fs.open_append("/nodir/x", 0644).status().code(), base::Code::kNotFound);
  auto h = fs.open_append("/logs/out", 0640);
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  ASSERT_TRUE(fs.append(*h, b("one\n")).is_ok());
  ASSERT_TRUE(fs.append(*h, b("two\n")).is_ok());
  EXPECT_EQ(read(fs, "/logs/out"), "one\ntwo\n");
  EXPECT_EQ(fs.stat("/logs/out")->mode, 0640u);
  EXPECT_EQ(*fs.read_range("/logs/out", 4, 2), "tw");
  EXPECT_EQ(*fs.read_range("/logs/out", 8, 2), "");
  EXPECT_EQ(fs.read_range("/logs/none", 0, 2).status().code(), base::Code::kNotFound);

  // Rotation: the handle follows the file; the replaced target's content is gone.
  ASSERT_TRUE(fs.write_file("/logs/out.0", b("older"), 0644, true).is_ok());
  ASSERT_TRUE(fs.rename("/logs/out", "/logs/out.0").is_ok());
  ASSERT_TRUE(fs.append(*h, b("three\n")).is_ok());
  EXPECT_EQ(read(fs, "/logs/out.0"), "one\ntwo\nthree\n");
  EXPECT_EQ(read(fs, "/logs/out"), "<not_found>");
  EXPECT_EQ(fs.rename("/logs/out", "/logs/y").code(), base::Code::kNotFound);
  EXPECT_EQ(fs.rename("/logs", "/logs2").code(), base::Code::kInvalidArgument);

  // A second log, synced halfway by a durable rewrite, then appended to.
  auto g = fs.open_append("/logs/err", 0644);
  ASSERT_TRUE(g.is_ok());
  ASSERT_TRUE(fs.write_file("/logs/err", b("kept\n"), 0644, true).is_ok());
  ASSERT_TRUE(fs.append(*g, b("lost\n")).is_ok());
  EXPECT_EQ(read(fs, "/logs/err"), "kept\nlost\n");

  // A removed file's handle writes nowhere: no file comes back under its name.
  auto r = fs.open_append("/logs/removed", 0644);
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(fs.remove("/logs/removed").is_ok());
  ASSERT_TRUE(fs.append(*r, b("x")).is_ok());
  EXPECT_EQ(read(fs, "/logs/removed"), "<not_found>");
  fs.close_file(*r);

  w.crash(a);
  w.restart(a);
  hal::Fs& after = *w.node(a).env().fs;
  EXPECT_EQ(read(after, "/logs/out.0"), "<not_found>");  // never synced: the rename took it away
  EXPECT_EQ(read(after, "/logs/err"), "kept\n");
  EXPECT_EQ(after.append(*h, b("from the dead")).code(), base::Code::kInvalidArgument);
  EXPECT_EQ(w.node(a).fs().open_append_files(), 0u);
}
