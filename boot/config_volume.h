// boot::find_config_volume -- node config from a volume labelled CIDATA (issue 7 item 2) or from
// the disk image's config partition (WEFTCONFIG, below), the first as
// cloud-init's NoCloud datasource finds it: an ISO 9660 or FAT filesystem whose label is
// "CIDATA" (any case) holding `user-data` and `meta-data`.
//
//   - volume_label() reads a filesystem's label from its first sectors: the ISO 9660 primary
//     volume descriptor's volume identifier, a FAT boot sector's volume label (FAT12/16 and
//     FAT32 layouts, with the extended boot signature 0x29), or an ext2/3/4 superblock's volume
//     name; "" for anything else. Pure.
//   - parse_meta_data() takes `local-hostname` and `instance-id` from meta-data's
//     "key: value" lines (the subset of YAML NoCloud writes); bounded, junk lines skipped. Pure.
//   - find_config_volume() looks at every block device in /sys/class/block, reads kProbeBytes of
//     it, and mounts the first CIDATA one read-only at `mount_dir` (the filesystem's module is
//     loaded on demand by the kernel through /sbin/modprobe). `user-data` is Weft's JSON config
//     as it stands (the agent checks it: a broken one lands the node in maintenance mode, with
//     the agent's own message) and is copied to `config_file`; meta-data's local-hostname
//     becomes the hostname (the agent's default node name), unless the kernel command line
//     names the node. Files larger than kUserDataBytesMax are refused.
// Threading: init's thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace boot {

inline constexpr size_t kProbeBytes = 36 * 1024;  // past the ISO 9660 descriptor at 32 KiB
inline constexpr size_t kUserDataBytesMax = 1 << 20;
inline constexpr size_t kMetaDataBytesMax = 64 << 10;

std::string volume_label(std::string_view first_bytes);

struct MetaData {
  std::string instance_id;
  std::string local_hostname;
};
MetaData parse_meta_data(std::string_view text);

struct ConfigVolume {
  bool found = false;
  std::string device;       // "vdb"
  std::string filesystem;   // "iso9660" or "vfat"
  bool user_data = false;   // copied to the config file
  MetaData meta;
  std::string error;        // why a CIDATA volume could not be used
};
ConfigVolume find_config_volume(const std::string& mount_dir, const std::string& config_file);

// The same for any label and file: the config partition of tools/mkimage's disk image is a FAT
// partition labelled WEFTCONFIG whose node.json is Weft JSON (an operator writes it from any
// machine that mounts FAT).
// The node's data disk: an ext4 filesystem labelled WEFT-DATA (tools/mkimage's disk image has
// one), mounted read-write at `mount_dir` (the agent's data_dir) so the node's state outlives a
// reboot. Its device ("vda3"), or "" when there is none or it does not mount (*why says why).
std::string find_data_disk(const std::string& mount_dir, std::string* why);

ConfigVolume find_labelled_volume(const std::string& label, const std::string& file_name, const std::string& mount_dir,
                                  const std::string& config_file);

}  // namespace boot
