// boot/modules.h: modules.alias and modules.dep read with their bounds, QEMU's and real devices'
// modaliases matched as kmod matches them, load orders as modprobe gives them, cycles, depth and
// malformed input -- on lines taken from Debian 6.1's files, and on the whole files when present.
#include "boot/modules.h"

#include <fnmatch.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "boot/glob.h"

namespace boot {
namespace {

using Strings = std::vector<std::string>;

// Lines from Debian 6.1's modules.alias (linux-image-6.1.0-57-amd64, after depmod), in file order.
constexpr std::string_view kDebianAlias =
    "# Aliases extracted from modules themselves.\n"
    "alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n"
    "alias virtio:d00000002v* virtio_blk\n"
    "alias pci:v*d*sv*sd*bc01sc08i02* nvme\n"
    "alias pci:v0000106Bd00002005sv*sd*bc*sc*i* nvme\n"
    "alias pci:v0000106Bd00002003sv*sd*bc*sc*i* nvme\n"
    "alias pci:v00008086d00002E6Esv*sd*bc*sc*i* e1000\n"
    "alias pci:v00008086d000010B5sv*sd*bc*sc*i* e1000\n"
    "alias pci:v00008086d0000100Fsv*sd*bc*sc*i* e1000\n"
    "alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000\n"
    "alias pci:v00008086d00001004sv*sd*bc*sc*i* e1000\n"
    "alias pci:v00008086d00005511sv*sd*bc*sc*i* e1000e\n"
    "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\n"
    "alias virtio:d00000001v* virtio_net\n"
    "alias usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in* uas\n"
    "alias usb:v13FDp3940d0[0-2]*dc*dsc*dp*ic*isc*ip*in* usb_storage\n"
    "alias usb:v1645p0007d01[0-2]*dc*dsc*dp*ic*isc*ip*in* usb_storage\n"
    "alias usb:v1645p0007d013[0-3]dc*dsc*dp*ic*isc*ip*in* usb_storage\n"
    "alias pci:v*d*sv*sd*bc01sc06i01* ahci\n"
    "alias pci:v00001B4Bd00009123sv*sd*bc01sc06i01* ahci\n"
    "alias pci:v00008086d*sv00001028sd*bc01sc04i00* ahci\n"
    "alias pci:v00008086d00002922sv*sd*bc*sc*i* ahci\n"
    "alias crypto-crc64-rocksoft-generic crc64_rocksoft_generic\n";

// The matching lines of its modules.dep.
constexpr std::string_view kDebianDep =
    "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/virtio/virtio_ring.ko:\n"
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko\n"
    "kernel/drivers/scsi/scsi_common.ko:\n"
    "kernel/drivers/nvme/host/nvme-core.ko: kernel/block/t10-pi.ko kernel/lib/crc64-rocksoft.ko "
    "kernel/lib/crc-t10dif.ko kernel/lib/crc64.ko kernel/crypto/crct10dif_common.ko\n"
    "kernel/drivers/nvme/host/nvme.ko: kernel/drivers/nvme/host/nvme-core.ko "
    "kernel/block/t10-pi.ko "
    "kernel/lib/crc64-rocksoft.ko kernel/lib/crc-t10dif.ko kernel/lib/crc64.ko "
    "kernel/crypto/crct10dif_common.ko\n"
    "kernel/drivers/net/ethernet/intel/e1000/e1000.ko:\n"
    "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko:\n"
    "kernel/drivers/ata/libata.ko: kernel/drivers/scsi/scsi_mod.ko "
    "kernel/drivers/scsi/scsi_common.ko\n"
    "kernel/drivers/ata/ahci.ko: kernel/drivers/ata/libahci.ko kernel/drivers/ata/libata.ko "
    "kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko\n"
    "kernel/drivers/ata/libahci.ko: kernel/drivers/ata/libata.ko kernel/drivers/scsi/scsi_mod.ko "
    "kernel/drivers/scsi/scsi_common.ko\n"
    "kernel/crypto/crct10dif_common.ko:\n"
    "kernel/block/t10-pi.ko: kernel/lib/crc64-rocksoft.ko kernel/lib/crc-t10dif.ko "
    "kernel/lib/crc64.ko "
    "kernel/crypto/crct10dif_common.ko\n"
    "kernel/lib/crc-t10dif.ko: kernel/crypto/crct10dif_common.ko\n"
    "kernel/lib/crc64.ko:\n"
    "kernel/lib/crc64-rocksoft.ko: kernel/lib/crc64.ko\n"
    "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
    "kernel/net/core/failover.ko "
    "kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
    "kernel/net/core/failover.ko:\n";

// The modaliases of QEMU's devices (q35 machine), as /sys shows them.
constexpr const char* kQemuE1000 = "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00";
constexpr const char* kQemuE1000e = "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00";
constexpr const char* kQemuVirtioNetPci = "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00";
constexpr const char* kQemuVirtioNet = "virtio:d00000001v00001AF4";
constexpr const char* kQemuVirtioBlk = "virtio:d00000002v00001AF4";
constexpr const char* kQemuIch9Ahci = "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01";
constexpr const char* kQemuNvme = "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02";

ModuleIndex debian() {
  base::Result<ModuleIndex> index = ModuleIndex::load(kDebianAlias, kDebianDep);
  EXPECT_TRUE(index.is_ok()) << index.status().to_string();
  EXPECT_EQ(index->alias_report().bad_lines, 0u);
  EXPECT_EQ(index->dep_report().bad_lines, 0u);
  return std::move(index).value();
}

Strings order(const ModuleIndex& index, std::string_view module) {
  base::Result<Strings> r = index.load_order(module);
  EXPECT_TRUE(r.is_ok()) << module << ": " << r.status().to_string();
  return r.is_ok() ? *r : Strings{};
}

// The modules a linear scan of every alias with glibc's fnmatch finds, as a set.
std::set<std::string> brute_force(const ModuleIndex& index, const std::string& modalias) {
  std::set<std::string> out;
  base::Result<std::string> key = normalize_alias(modalias);
  if (!key.is_ok()) return out;
  for (size_t i = 0; i < index.alias_count(); ++i) {
    const ModuleIndex::Alias a = index.alias(i);
    if (fnmatch(std::string(a.pattern).c_str(), key->c_str(), 0) == 0) out.emplace(a.module);
  }
  return out;
}

void expect_report(const ParseReport& r, size_t lines, size_t entries, size_t bad_lines,
                   const Strings& first_bad) {
  EXPECT_EQ(r.lines, lines);
  EXPECT_EQ(r.entries, entries);
  EXPECT_EQ(r.bad_lines, bad_lines);
  EXPECT_EQ(r.bad, first_bad);
}

std::set<std::string> as_set(const Strings& v) { return std::set<std::string>(v.begin(), v.end()); }

// QEMU's NICs: e1000 and e1000e by vendor and device; virtio-net's PCI function asks for
// virtio_pci and the virtio device on it for virtio_net.
TEST(ModuleIndexTest, QemuNicsMatchTheirDrivers) {
  const ModuleIndex index = debian();
  EXPECT_EQ(index.match(kQemuE1000), Strings{"e1000"});
  EXPECT_EQ(index.match(kQemuE1000e), Strings{"e1000e"});
  EXPECT_EQ(index.match(kQemuVirtioNetPci), Strings{"virtio_pci"});
  EXPECT_EQ(index.match(kQemuVirtioNet), Strings{"virtio_net"});
  EXPECT_EQ(index.match("pci:v00008086d0000100Dsv00001AF4sd00001100bc02sc00i00"), Strings{});
  EXPECT_EQ(index.match("virtio:d00000003v00001AF4"), Strings{});
}

// Storage: virtio-blk by device id, NVMe by its class (any vendor), ICH9's AHCI by both its id
// and its class -- returned once.
TEST(ModuleIndexTest, QemuStorageMatchesItsDrivers) {
  const ModuleIndex index = debian();
  EXPECT_EQ(index.match(kQemuVirtioBlk), Strings{"virtio_blk"});
  EXPECT_EQ(index.match(kQemuNvme), Strings{"nvme"});
  EXPECT_EQ(index.match(kQemuIch9Ahci), Strings{"ahci"});
  EXPECT_EQ(index.match("pci:v0000106Bd00002005sv00000000sd00000000bc01sc80i00"), Strings{"nvme"});
  // A Dell-subsystem Intel RAID-mode controller: ahci through "d*sv00001028...bc01sc04i00".
  EXPECT_EQ(index.match("pci:v00008086d00002822sv00001028sd000004DAbc01sc04i00"), Strings{"ahci"});
  EXPECT_EQ(index.match("pci:v00008086d00002822sv00001043sd000004DAbc01sc04i00"), Strings{});
}

// A device that two modules claim gets both, in the order they first appear in modules.alias
// (kmod's priority; modprobe loads them all); the bracket range decides the bcdDevice.
TEST(ModuleIndexTest, SeveralModulesInKmodOrder) {
  const ModuleIndex index = debian();
  const Strings both{"uas", "usb_storage"};
  EXPECT_EQ(index.match("usb:v13FDp3940d0200dc00dsc00dp00ic08isc06ip62in00"), both);
  EXPECT_EQ(index.match("usb:v13FDp3940d0300dc00dsc00dp00ic08isc06ip62in00"), Strings{});
  EXPECT_EQ(index.match("usb:v1645p0007d0133dc00dsc00dp00ic08isc06ip50in00"),
            Strings{"usb_storage"});
  EXPECT_EQ(index.match("usb:v1645p0007d0134dc00dsc00dp00ic08isc06ip50in00"), Strings{});
}

// '-' and '_' are one: in patterns, in the looked-up alias and in module names.
TEST(ModuleIndexTest, DashesAreUnderscores) {
  const ModuleIndex index = debian();
  EXPECT_EQ(index.match("crypto-crc64-rocksoft-generic"), Strings{"crc64_rocksoft_generic"});
  EXPECT_EQ(index.match("crypto_crc64_rocksoft_generic"), Strings{"crc64_rocksoft_generic"});
  EXPECT_EQ(order(index, "nvme-core"), order(index, "nvme_core"));
  EXPECT_EQ(order(index, "crc64-rocksoft").back(), "kernel/lib/crc64-rocksoft.ko");
  // A modalias kmod would refuse to look up matches nothing.
  EXPECT_EQ(index.match("pci:v]"), Strings{});
  EXPECT_EQ(index.match(std::string(kAliasBytesMax + 1, 'a')), Strings{});
}

// Load orders are modprobe's (checked with modprobe --show-depends on the same files): the
// dependencies from the last listed to the first, then the module.
TEST(ModuleIndexTest, LoadOrdersAreModprobes) {
  const ModuleIndex index = debian();
  EXPECT_EQ(order(index, "e1000"), Strings{"kernel/drivers/net/ethernet/intel/e1000/e1000.ko"});
  EXPECT_EQ(order(index, "virtio_net"),
            (Strings{"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
                     "kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
                     "kernel/drivers/net/virtio_net.ko"}));
  EXPECT_EQ(order(index, "virtio_pci"),
            (Strings{"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
                     "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
                     "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
                     "kernel/drivers/virtio/virtio_pci.ko"}));
  EXPECT_EQ(order(index, "virtio_blk"),
            (Strings{"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
                     "kernel/drivers/block/virtio_blk.ko"}));
  EXPECT_EQ(order(index, "ahci"),
            (Strings{"kernel/drivers/scsi/scsi_common.ko", "kernel/drivers/scsi/scsi_mod.ko",
                     "kernel/drivers/ata/libata.ko", "kernel/drivers/ata/libahci.ko",
                     "kernel/drivers/ata/ahci.ko"}));
  EXPECT_EQ(
      order(index, "nvme"),
      (Strings{"kernel/crypto/crct10dif_common.ko", "kernel/lib/crc64.ko",
               "kernel/lib/crc-t10dif.ko", "kernel/lib/crc64-rocksoft.ko", "kernel/block/t10-pi.ko",
               "kernel/drivers/nvme/host/nvme-core.ko", "kernel/drivers/nvme/host/nvme.ko"}));
  EXPECT_EQ(index.load_order("uas").status().code(), base::Code::kNotFound);
  EXPECT_EQ(index.load_order("no_such_module").status().code(), base::Code::kNotFound);
}

// Lines that list only direct dependencies (not depmod's closure) still load every dependency
// before what needs it, each once; compressed module files keep their names; a dependency with
// no line of its own loads from the path it was named by.
TEST(ModuleIndexTest, DirectDependenciesCompressedFilesAndLinelessDeps) {
  const std::string dep =
      "kernel/a.ko.zst: kernel/b.ko.xz kernel/c.ko.gz\n"
      "kernel/b.ko.xz: kernel/d.ko\n"
      "kernel/c.ko.gz: kernel/d.ko kernel/e-x.ko\n"
      "kernel/d.ko:\n";
  base::Result<ModuleIndex> index = ModuleIndex::load("", dep);
  ASSERT_TRUE(index.is_ok());
  EXPECT_EQ(order(*index, "a"), (Strings{"kernel/e-x.ko", "kernel/d.ko", "kernel/c.ko.gz",
                                         "kernel/b.ko.xz", "kernel/a.ko.zst"}));
  EXPECT_EQ(index->load_order("e_x").status().code(), base::Code::kNotFound);
  EXPECT_EQ(index->dep_report().entries, 4u);
}

// A cycle, however long, and a module that needs itself are refused with the loop named; the
// modules outside it still resolve.
TEST(ModuleIndexTest, CyclesAreReported) {
  const std::string dep =
      "kernel/a.ko: kernel/b.ko\n"
      "kernel/b.ko: kernel/c.ko\n"
      "kernel/c.ko: kernel/a.ko\n"
      "kernel/self.ko: kernel/self.ko\n"
      "kernel/ok.ko: kernel/leaf.ko\n"
      "kernel/leaf.ko:\n";
  base::Result<ModuleIndex> index = ModuleIndex::load("", dep);
  ASSERT_TRUE(index.is_ok());
  base::Result<Strings> a = index->load_order("a");
  ASSERT_FALSE(a.is_ok());
  EXPECT_EQ(a.status().code(), base::Code::kInvalidArgument);
  EXPECT_NE(a.status().message().find("a -> b -> c -> a"), std::string::npos)
      << a.status().message();
  base::Result<Strings> self = index->load_order("self");
  ASSERT_FALSE(self.is_ok());
  EXPECT_NE(self.status().message().find("self -> self"), std::string::npos);
  EXPECT_EQ(order(*index, "ok"), (Strings{"kernel/leaf.ko", "kernel/ok.ko"}));
}

// A chain of dependencies deeper than depth_max is refused; one as deep is not.
TEST(ModuleIndexTest, DepthIsBounded) {
  ModuleLimits limits;
  limits.depth_max = 8;
  auto chain = [](int n) {
    std::string dep;
    for (int i = 0; i < n; ++i) {
      dep += "kernel/m" + std::to_string(i) + ".ko:";
      if (i + 1 < n) dep += " kernel/m" + std::to_string(i + 1) + ".ko";
      dep += "\n";
    }
    return dep;
  };
  base::Result<ModuleIndex> ok = ModuleIndex::load("", chain(8), limits);
  ASSERT_TRUE(ok.is_ok());
  EXPECT_EQ(order(*ok, "m0").size(), 8u);
  base::Result<ModuleIndex> deep = ModuleIndex::load("", chain(9), limits);
  ASSERT_TRUE(deep.is_ok());
  EXPECT_EQ(deep->load_order("m0").status().code(), base::Code::kResourceExhausted);
  EXPECT_TRUE(deep->load_order("m1").is_ok());
  limits.depth_max = 0;
  base::Result<ModuleIndex> none = ModuleIndex::load("", chain(1), limits);
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(none->load_order("m0").status().message(),
            "dependencies of m0 nested over 0 deep in modules.dep");
}

// Malformed lines are counted and the first few kept with their line numbers; the good lines
// around them are all taken; comments, blank lines and CRLF endings are no problem.
TEST(ModuleIndexTest, MalformedLinesAreCountedNotFatal) {
  const std::string alias =
      "# comment\n"
      "\n"
      "alias virtio:d00000001v* virtio_net\r\n"  // 3: fine
      "alias virtio:d00000002v*\n"               // 4: two fields
      "alias a b c\n"                            // 5: four fields
      "blias virtio:d00000009v* x\n"             // 6: not alias
      "alias pci:v[0-9 x\n"                      // 7: unpaired '['
      "alias pci:v0-9] x\n"                      // 8: unpaired ']'
      "alias pci:v] x\n"                         // 9: unpaired ']'
      "alias x[[:alpha:]] x\n"                   // 10: unpaired bracket (kmod's rule)
      "alias x[[:alpha:] x\n"                    // 11: character class
      "alias a\x01 x\n"                          // 12: control byte
      "alias a bad.name\n"                       // 13: module name
      "alias a " +
      std::string(56, 'm') +
      "\n"  // 14: module name too long
      "alias " +
      std::string(513, 'p') +
      " x\n"                                          // 15: pattern too long
      "  alias\tvirtio:d00000002v*\tvirtio_blk  \n";  // 16: fine
  const std::string dep =
      "kernel/a.ko: kernel/b.ko\n"     // 1: fine
      "kernel/b.ko\n"                  // 2: no colon
      "/lib/modules/x/kernel/c.ko:\n"  // 3: absolute
      "kernel/../../etc/d.ko:\n"       // 4: '..'
      "kernel/e.o:\n"                  // 5: extension
      "kernel/f.ko: kernel/../g.ko\n"  // 6: a dependency's path
      "kernel/a.ko:\n"                 // 7: second line for a
      "kernel/b.ko:\n"                 // 8: fine
      "kernel/h!.ko:\n";               // 9: module name in path
  ModuleLimits limits;
  limits.bad_lines_kept_max = 3;
  base::Result<ModuleIndex> index = ModuleIndex::load(alias, dep, limits);
  ASSERT_TRUE(index.is_ok());
  expect_report(index->alias_report(), 16, 2, 12,
                {"modules.alias:4: not \"alias <pattern> <module>\"",
                 "modules.alias:5: not \"alias <pattern> <module>\"",
                 "modules.alias:6: not \"alias <pattern> <module>\""});
  expect_report(index->dep_report(), 9, 2, 7,
                {"modules.dep:2: no ':' after the module's path",
                 "modules.dep:3: path is not relative", "modules.dep:4: '..' in path"});
  EXPECT_EQ(index->match("virtio:d00000001v00001AF4"), Strings{"virtio_net"});
  EXPECT_EQ(index->match("virtio:d00000002v00001AF4"), Strings{"virtio_blk"});
  EXPECT_EQ(order(*index, "a"), (Strings{"kernel/b.ko", "kernel/a.ko"}));

  // Every reason, one line each.
  ModuleLimits all;
  all.bad_lines_kept_max = 100;
  base::Result<ModuleIndex> again = ModuleIndex::load(alias, dep, all);
  ASSERT_TRUE(again.is_ok());
  const Strings want_alias{
      "modules.alias:4: not \"alias <pattern> <module>\"",
      "modules.alias:5: not \"alias <pattern> <module>\"",
      "modules.alias:6: not \"alias <pattern> <module>\"",
      "modules.alias:7: pattern: '[' at byte 5 is not closed",
      "modules.alias:8: pattern: ']' without '[' at byte 8",
      "modules.alias:9: pattern: ']' without '[' at byte 5",
      "modules.alias:10: pattern: ']' without '[' at byte 11",
      "modules.alias:11: pattern names a character class, equivalence class or collating symbol",
      "modules.alias:12: control byte in pattern",
      "modules.alias:13: bad module name",
      "modules.alias:14: bad module name",
      "modules.alias:15: pattern over 512 bytes"};
  EXPECT_EQ(again->alias_report().bad, want_alias);
  const Strings want_dep{"modules.dep:2: no ':' after the module's path",
                         "modules.dep:3: path is not relative",
                         "modules.dep:4: '..' in path",
                         "modules.dep:5: not a .ko, .ko.gz, .ko.xz or .ko.zst path",
                         "modules.dep:6: dependency: '..' in path",
                         "modules.dep:7: module a has a line already (the first is kept)",
                         "modules.dep:9: bad module name in path"};
  EXPECT_EQ(again->dep_report().bad, want_dep);
}

// Files over their byte or line limits are refused whole, naming the file and the limit; a line
// with too many dependencies is a bad line.
TEST(ModuleIndexTest, OversizedInputIsRefused) {
  ModuleLimits limits;
  limits.alias_file_bytes_max = 64;
  limits.dep_lines_max = 2;
  limits.deps_per_module_max = 2;
  base::Result<ModuleIndex> big = ModuleIndex::load(std::string(65, '#'), "", limits);
  ASSERT_FALSE(big.is_ok());
  EXPECT_EQ(big.status().code(), base::Code::kResourceExhausted);
  EXPECT_EQ(big.status().message(), "modules.alias is 65 bytes (at most 64)");
  base::Result<ModuleIndex> lines = ModuleIndex::load("", "\n\n\n", limits);
  ASSERT_FALSE(lines.is_ok());
  EXPECT_EQ(lines.status().message(), "modules.dep has 3 lines (at most 2)");
  EXPECT_TRUE(ModuleIndex::load("", "\n\n", limits).is_ok());
  EXPECT_FALSE(ModuleIndex::load("", "\n\nx", limits).is_ok());
  base::Result<ModuleIndex> deps =
      ModuleIndex::load("", "kernel/a.ko: kernel/b.ko kernel/c.ko kernel/d.ko\n", limits);
  ASSERT_TRUE(deps.is_ok());
  EXPECT_EQ(deps->dep_report().bad_lines, 1u);
  EXPECT_EQ(deps->dep_report().bad[0], "modules.dep:1: over 2 dependencies");
  // The defaults take an input eight times Debian's without effort, and refuse past them.
  EXPECT_EQ(ModuleIndex::load(std::string((16 << 20) + 1, '\n'), "").status().code(),
            base::Code::kResourceExhausted);
}

// The prefix index finds exactly what a scan of every alias with glibc's fnmatch finds.
TEST(ModuleIndexTest, IndexAgreesWithALinearScan) {
  const ModuleIndex index = debian();
  for (const char* key :
       {kQemuE1000, kQemuE1000e, kQemuVirtioNetPci, kQemuVirtioNet, kQemuVirtioBlk, kQemuIch9Ahci,
        kQemuNvme, "usb:v13FDp3940d0200dc00dsc00dp00ic08isc06ip62in00",
        "crypto-crc64-rocksoft-generic", "pci:", "", "virtio:d00000001v"}) {
    EXPECT_EQ(as_set(index.match(key)), brute_force(index, key)) << key;
  }
}

std::string read_file(const std::string& path) {
  std::string out;
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  fclose(f);
  return out;
}

// The whole modules.alias and modules.dep of the running kernel, or of the directory named by
// WEFT_MODULES_DIR (an unpacked Debian kernel, for machines whose own kernel has no modules):
// read without a bad line, QEMU's devices matched as on the lines above, every match's load order
// exactly modprobe's (its dependencies' line reversed, then itself), the index agreeing with a
// linear scan -- and the time it all takes, printed.
TEST(ModuleIndexTest, RealModulesFiles) {
  std::string dir;
  if (const char* env = getenv("WEFT_MODULES_DIR"); env != nullptr && *env != '\0') {
    dir = env;
  } else {
    struct utsname u {};
    if (uname(&u) == 0) dir = std::string("/lib/modules/") + u.release;
  }
  const std::string alias_text = read_file(dir + "/modules.alias");
  const std::string dep_text = read_file(dir + "/modules.dep");
  if (alias_text.empty() || dep_text.empty()) {
    GTEST_SKIP() << "no modules.alias and modules.dep in " << dir
                 << " (set WEFT_MODULES_DIR to a kernel's modules directory)";
  }

  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  base::Result<ModuleIndex> loaded = ModuleIndex::load(alias_text, dep_text);
  const Clock::time_point t1 = Clock::now();
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  const ModuleIndex& index = *loaded;
  EXPECT_EQ(index.alias_report().bad_lines, 0u)
      << (index.alias_report().bad.empty() ? "" : index.alias_report().bad[0]);
  EXPECT_EQ(index.dep_report().bad_lines, 0u)
      << (index.dep_report().bad.empty() ? "" : index.dep_report().bad[0]);
  EXPECT_GT(index.alias_count(), 1000u);

  // A machine's worth of devices: QEMU's, and the PCI and ACPI devices of a typical server.
  const std::vector<std::string> devices = {
      kQemuE1000,
      kQemuE1000e,
      kQemuVirtioNetPci,
      kQemuVirtioNet,
      kQemuVirtioBlk,
      kQemuIch9Ahci,
      kQemuNvme,
      "pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00",  // q35 host bridge
      "pci:v00008086d00002918sv00001AF4sd00001100bc06sc01i00",  // ICH9 LPC
      "pci:v00008086d00002930sv00001AF4sd00001100bc0Csc05i00",  // ICH9 SMBus
      "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30",  // qemu-xhci
      "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",  // virtio-blk, legacy
      "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00",  // virtio-net, modern
      "pci:v00008086d00001533sv000015D9sd00001533bc02sc00i00",  // I210
      "pci:v00008086d00001572sv00008086sd00000000bc02sc00i00",  // X710
      "pci:v000015B3d00001017sv000015B3sd00000020bc02sc00i00",  // ConnectX-5
      "pci:v0000144Dd0000A808sv0000144Dsd0000A801bc01sc08i02",  // Samsung NVMe
      "acpi:PNP0A08:PNP0A03:",
      "acpi:PNP0501:",
      "acpi:QEMU0002:",
      "acpi:ACPI0010:",
      "platform:serial8250",
      "virtio:d00000004v00001AF4",
      "virtio:d00000003v00001AF4",
      "usb:v1D6Bp0003d0618dc09dsc00dp03ic09isc00ip00in00",
      "input:b0011v0001p0001eAB41-e0,1,4,11,14,k71,72,73,74,75,76,77,79,7A,7B,7C,7D,7E,7F,80,8C,8E,"
      "8F,9B,9C,9D,9E,9F,A3,A4,A5,A6,AC,AD,B7,B8,B9,D9,E2,ram4,l0,1,2,sfw",
      "dmi:bvnSeaBIOS:bvrrel-1.16.3-0-ga6ed6b701f0a-prebuilt.qemu.org:bd04/01/2014:br0.0:svnQEMU:"
      "pnStandardPC(Q35+ICH9,2009):pvrpc-q35-8.2:cvnQEMU:ct1:cvrpc-q35-8.2:sku:",
  };
  const Clock::time_point t2 = Clock::now();
  std::vector<Strings> matched;
  for (const std::string& d : devices) matched.push_back(index.match(d));
  const Clock::time_point t3 = Clock::now();
  size_t files = 0;
  for (const Strings& names : matched) {
    for (const std::string& name : names) {
      base::Result<Strings> o = index.load_order(name);
      if (o.is_ok()) files += o->size();
    }
  }
  const Clock::time_point t4 = Clock::now();

  EXPECT_EQ(matched[0], Strings{"e1000"});
  EXPECT_EQ(matched[1], Strings{"e1000e"});
  EXPECT_EQ(matched[2], Strings{"virtio_pci"});
  EXPECT_EQ(matched[3], Strings{"virtio_net"});
  EXPECT_EQ(matched[4], Strings{"virtio_blk"});
  EXPECT_EQ(matched[5], Strings{"ahci"});
  EXPECT_EQ(matched[6], Strings{"nvme"});
  EXPECT_EQ(order(index, "e1000").back(), "kernel/drivers/net/ethernet/intel/e1000/e1000.ko");

  // modprobe's order, read off the module's own modules.dep line.
  auto line_of = [&](const std::string& name) -> Strings {
    size_t pos = 0;
    while (pos < dep_text.size()) {
      size_t nl = dep_text.find('\n', pos);
      if (nl == std::string::npos) nl = dep_text.size();
      const std::string line = dep_text.substr(pos, nl - pos);
      pos = nl + 1;
      const size_t colon = line.find(':');
      if (colon == std::string::npos || module_name_from_path(line.substr(0, colon)) != name)
        continue;
      Strings out;
      size_t i = colon + 1;
      while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        const size_t start = i;
        while (i < line.size() && line[i] != ' ') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
      }
      std::reverse(out.begin(), out.end());
      out.push_back(line.substr(0, colon));
      return out;
    }
    return {};
  };
  size_t checked = 0;
  for (size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(as_set(matched[i]), brute_force(index, devices[i])) << devices[i];
    for (const std::string& name : matched[i]) {
      EXPECT_EQ(order(index, name), line_of(name)) << name;
      ++checked;
    }
  }
  EXPECT_GE(checked, 7u);

  auto us = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  };
  printf(
      "[ timing   ] %s: load %zu aliases, %zu bytes + %zu bytes: %lld us; match %zu devices: "
      "%lld us (%lld us each); %zu load orders (%zu files): %lld us\n",
      dir.c_str(), index.alias_count(), alias_text.size(), dep_text.size(),
      static_cast<long long>(us(t1 - t0)), devices.size(), static_cast<long long>(us(t3 - t2)),
      static_cast<long long>(us(t3 - t2) / static_cast<long long>(devices.size())), checked, files,
      static_cast<long long>(us(t4 - t3)));
}

}  // namespace
}  // namespace boot
