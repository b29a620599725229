// The image store (image/store.h) over the posix HAL in a temporary directory: each input form
// loads, digests are checked, hostile layers are refused with nothing kept, layers are shared
// and collected, and whiteouts hide lower files in both the overlay and the copied rootfs.
#include "agent/image/store.h"

#include <gtest/gtest.h>

#include "hal/posix/posix_fs.h"
#include "hal/posix/posix_mounts.h"
#include "tests/unit/image/image_builder.h"

namespace image {
namespace {

using testing::ImageFiles;
using testing::TarEntry;

const std::vector<TarEntry> kBase = {{.name = "bin", .type = 'd'},
                                     {.name = "bin/busybox", .data = "base", .mode = 0755},
                                     {.name = "bin/sh", .type = 'l', .link = "/bin/busybox"},
                                     {.name = "a", .type = 'd'},
                                     {.name = "a/x", .data = "x"},
                                     {.name = "a/y", .data = "y"},
                                     {.name = "c", .type = 'd'},
                                     {.name = "c/z", .data = "z"}};
const std::vector<TarEntry> kTop = {{.name = "a/.wh.x"}, {.name = "c/.wh..wh..opq"}, {.name = "c/new", .data = "new"}};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs_.make_temp_dir("image-store-test").value();
    store_ = open_store(&mounts_);
  }
  void TearDown() override {
    store_.reset();
    fs_.remove_tree(dir_).ignore();
  }
  std::unique_ptr<ImageStore> open_store(hal::Mounts* mounts, Limits limits = {}) {
    auto s = ImageStore::open(dir_ + "/store", fs_, mounts, limits);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    return s.is_ok() ? std::move(s).value() : nullptr;
  }
  // Writes `files` as a layout directory under dir_/<name>; returns its path.
  std::string write_layout(const ImageFiles& files, const std::string& name) {
    std::string root = dir_ + "/" + name;
    for (const auto& [path, bytes] : files.files) {
      std::string full = root + "/" + path;
      EXPECT_TRUE(fs_.make_dirs(full.substr(0, full.rfind('/')), 0755).is_ok());
      EXPECT_TRUE(fs_.write_file(full, base::as_bytes(bytes), 0644, false).is_ok());
    }
    return root;
  }
  std::string write_file(const std::string& bytes, const std::string& name) {
    std::string path = dir_ + "/" + name;
    EXPECT_TRUE(fs_.write_file(path, base::as_bytes(bytes), 0644, false).is_ok());
    return path;
  }
  size_t count(const std::string& sub) { return fs_.list_dir(dir_ + "/store/" + sub).value().size(); }

  hal::posix::PosixFs fs_;
  hal::posix::PosixMounts mounts_;
  std::string dir_;
  std::unique_ptr<ImageStore> store_;
};

// An OCI layout directory with gzip layers loads, named by its ref.name annotation.
TEST_F(StoreTest, LoadsOciLayoutDirectory) {
  ImageFiles files = testing::oci_layout({kBase, kTop}, true, "busybox:1.36");
  auto loaded = store_->load(write_layout(files, "layout"), "", 42);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 1u);
  const Image& image = (*loaded)[0];
  EXPECT_EQ(image.names, std::vector<std::string>{"busybox:1.36"});
  EXPECT_EQ(image.manifest_digest, files.manifest_digest);
  EXPECT_EQ(image.diff_ids, files.diff_ids);
  EXPECT_EQ(image.config.cmd, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(image.config.exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(image.loaded_unix_ns, 42);
  auto dirs = store_->layer_dirs(image);
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(fs_.read_file(dirs[0] + "/bin/busybox", 100).value(), "base");
  EXPECT_EQ(store_->resolve("busybox:1.36", 0).value().manifest_digest, image.manifest_digest);
  EXPECT_EQ(store_->resolve(image.manifest_digest, 0).value().names, image.names);
  EXPECT_EQ(store_->resolve("busybox", 0).status().code(), base::Code::kNotFound);
  EXPECT_EQ(count("tmp"), 0u);
}

// An OCI archive (a tar of the layout), plain layers, gzip around the whole archive, and a name
// given by the caller.
TEST_F(StoreTest, LoadsOciArchive) {
  ImageFiles files = testing::oci_layout({kBase}, false, "latest");
  auto loaded = store_->load(write_file(testing::archive_of(files, true), "oci.tar.gz"), "myapp", 1);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)[0].names, std::vector<std::string>{"myapp:latest"});
  EXPECT_EQ(store_->list().size(), 1u);
  EXPECT_EQ(count("tmp"), 0u);  // the staging directory is gone
}

// A docker save archive in the old layout (<id>/layer.tar): diff_ids checked, a manifest made.
TEST_F(StoreTest, LoadsDockerSaveArchive) {
  ImageFiles files = testing::docker_save({kBase, kTop}, "example.com/app:2");
  auto loaded = store_->load(write_file(testing::archive_of(files), "docker.tar"), "", 1);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)[0].names, std::vector<std::string>{"example.com/app:2"});
  EXPECT_EQ((*loaded)[0].diff_ids, files.diff_ids);
  EXPECT_TRUE(fs_.stat(dir_ + "/store/blobs/sha256/" + (*loaded)[0].manifest_digest.substr(7)).is_ok());
}

// A blob whose bytes do not match its name is refused, and no layer is kept.
TEST_F(StoreTest, RefusesDigestMismatch) {
  ImageFiles files = testing::oci_layout({kBase}, true, "bad:1");
  for (auto& [path, bytes] : files.files) {
    if (path.rfind("blobs/", 0) == 0 && bytes.size() > 2 && bytes[0] == '\x1f') {
      bytes = testing::make_tar({{.name = "other", .data = "swapped"}}, true);  // same name, other content
    }
  }
  auto loaded = store_->load(write_layout(files, "layout"), "", 1);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_NE(loaded.status().message().find("mismatch"), std::string::npos) << loaded.status().message();
  EXPECT_EQ(count("layers/sha256"), 0u);
  EXPECT_EQ(count("tmp"), 0u);
  EXPECT_TRUE(store_->list().empty());
}

// Each hostile layer is refused inside a real image, and nothing of it stays in the store.
TEST_F(StoreTest, RefusesHostileLayers) {
  std::vector<std::vector<TarEntry>> hostile = {
      {{.name = "../../escape", .data = "x"}},
      {{.name = "/etc/cron.d/evil", .data = "x"}},
      {{.name = "lnk", .type = 'l', .link = "../../../../etc"}},
      {{.name = "hard", .type = 'h', .link = "../../../../etc/shadow"}},
      {{.name = "dev/sda", .type = 'b'}},
      {{.name = "dev/mem", .type = 'c', .rdev_major = 1, .rdev_minor = 1}},
      {{.name = "etc", .type = 'l', .link = "/etc"}, {.name = "etc/passwd", .data = "root::0:0::/:/bin/sh"}},
  };
  for (size_t i = 0; i < hostile.size(); ++i) {
    ImageFiles files = testing::oci_layout({hostile[i]}, i % 2 == 0, "evil:" + std::to_string(i));
    auto loaded = store_->load(write_file(testing::archive_of(files), "evil" + std::to_string(i) + ".tar"), "", 1);
    ASSERT_FALSE(loaded.is_ok()) << "case " << i;
    EXPECT_EQ(loaded.status().code(), base::Code::kInvalidArgument) << loaded.status().message();
    EXPECT_NE(loaded.status().message().find("entry"), std::string::npos) << loaded.status().message();
  }
  // An archive that would unpack past the bound.
  auto small = open_store(&mounts_, Limits{.entries_max = 1000, .unpacked_bytes_max = 1000});
  ImageFiles big = testing::oci_layout({{{.name = "big", .data = std::string(2000, 'b')}}}, true, "big:1");
  auto loaded = small->load(write_layout(big, "big"), "", 1);
  ASSERT_FALSE(loaded.is_ok());
  EXPECT_EQ(loaded.status().code(), base::Code::kResourceExhausted);
  EXPECT_EQ(count("layers/sha256"), 0u);
  EXPECT_EQ(count("tmp"), 0u);
  EXPECT_TRUE(store_->list().empty());
}

// Loading the same image twice, or an image sharing a base layer, unpacks each layer once;
// removing images collects exactly what no remaining image uses.
TEST_F(StoreTest, SharesAndCollectsLayers) {
  ImageFiles one = testing::oci_layout({kBase, kTop}, true, "one:1");
  ImageFiles two = testing::docker_save({kBase, {{.name = "two", .data = "2"}}}, "two:1");
  ASSERT_TRUE(store_->load(write_layout(one, "one"), "", 1).is_ok());
  EXPECT_EQ(count("layers/sha256"), 4u);  // two layer dirs and their .json
  ASSERT_TRUE(store_->load(write_layout(one, "one-again"), "", 2).is_ok());
  EXPECT_EQ(count("layers/sha256"), 4u);
  EXPECT_EQ(store_->list().size(), 1u);
  ASSERT_TRUE(store_->load(write_file(testing::archive_of(two), "two.tar"), "", 3).is_ok());
  EXPECT_EQ(count("layers/sha256"), 6u);  // the base is shared
  EXPECT_EQ(store_->list().size(), 2u);

  ASSERT_TRUE(store_->remove("one:1").is_ok());
  EXPECT_EQ(count("layers/sha256"), 4u);
  EXPECT_EQ(count("blobs/sha256"), 2u);
  EXPECT_EQ(store_->remove("one:1").code(), base::Code::kNotFound);
  // The store reopens from refs.json.
  store_ = open_store(&mounts_);
  ASSERT_EQ(store_->list().size(), 1u);
  EXPECT_EQ(store_->list()[0].names, std::vector<std::string>{"two:1"});
  ASSERT_TRUE(store_->remove(store_->list()[0].manifest_digest).is_ok());
  EXPECT_EQ(count("layers/sha256"), 0u);
  EXPECT_EQ(count("blobs/sha256"), 0u);
}

void expect_whiteouts_applied(hal::Fs& fs, const std::string& rootfs) {
  EXPECT_EQ(fs.read_file(rootfs + "/bin/busybox", 100).value(), "base");
  EXPECT_FALSE(fs.stat(rootfs + "/a/x").is_ok()) << "the whiteout did not hide a/x";
  EXPECT_EQ(fs.read_file(rootfs + "/a/y", 100).value(), "y");
  EXPECT_FALSE(fs.stat(rootfs + "/c/z").is_ok()) << "the opaque directory did not hide c/z";
  EXPECT_EQ(fs.read_file(rootfs + "/c/new", 100).value(), "new");
  EXPECT_EQ(fs.stat(rootfs + "/bin/sh").value().type, hal::FileType::kSymlink);
}

// Overlay: the top layer's whiteout and opaque directory hide the base's files in the mounted
// rootfs. Needs root (mount, mknod, trusted.* xattrs).
TEST_F(StoreTest, OverlayRootfsShowsDeletions) {
  auto loaded = store_->load(write_layout(testing::oci_layout({kBase, kTop}, true, "wh:1"), "layout"), "", 1);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  std::string how;
  std::string task = dir_ + "/task";
  ASSERT_TRUE(store_->prepare_rootfs((*loaded)[0], task, &how).is_ok());
  if (how != "overlay") {
    ASSERT_TRUE(store_->release_rootfs(task).is_ok());
    GTEST_SKIP() << "no overlay mount here (not root?); the copy is tested below";
  }
  expect_whiteouts_applied(fs_, task + "/rootfs");
  // The task writes to its upper layer; the shared layer stays as it was.
  ASSERT_TRUE(fs_.write_file(task + "/rootfs/a/y", base::as_bytes(std::string("changed")), 0644, false).is_ok());
  EXPECT_EQ(fs_.read_file(store_->layer_dirs((*loaded)[0])[0] + "/a/y", 100).value(), "y");
  // A layer under a prepared rootfs survives the removal of its image.
  ASSERT_TRUE(store_->remove("wh:1").is_ok());
  EXPECT_TRUE(fs_.stat(store_->layer_dirs((*loaded)[0])[0]).is_ok());
  ASSERT_TRUE(store_->release_rootfs(task).is_ok());
  EXPECT_FALSE(fs_.stat(task).is_ok());
}

// The copy fallback (no hal::Mounts): the same deletions applied while copying.
TEST_F(StoreTest, CopiedRootfsShowsDeletions) {
  auto copying = open_store(nullptr);
  auto loaded = copying->load(write_layout(testing::oci_layout({kBase, kTop}, false, "wh:1"), "layout"), "", 1);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  std::string how;
  ASSERT_TRUE(copying->prepare_rootfs((*loaded)[0], dir_ + "/task", &how).is_ok());
  EXPECT_EQ(how, "copy");
  expect_whiteouts_applied(fs_, dir_ + "/task/rootfs");
  ASSERT_TRUE(copying->release_rootfs(dir_ + "/task").is_ok());
}

// Inputs that are not images are refused with a reason.
TEST_F(StoreTest, RefusesNonImages) {
  auto r = store_->load(write_file(testing::make_tar({{.name = "readme", .data = "hi"}}), "plain.tar"), "", 1);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("neither"), std::string::npos);
  EXPECT_EQ(store_->load(dir_ + "/missing.tar", "", 1).status().code(), base::Code::kNotFound);
  EXPECT_FALSE(store_->load(write_file("garbage", "garbage"), "", 1).is_ok());
  ImageFiles files = testing::oci_layout({kBase}, true, "x:1");
  EXPECT_FALSE(store_->load(write_layout(files, "l"), "bad name", 1).is_ok());
}

}  // namespace
}  // namespace image
