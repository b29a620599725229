// See config_volume.h.
#include "boot/config_volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

namespace boot {

namespace {

constexpr size_t kIsoDescriptor = 16 * 2048;
constexpr size_t kBlockDevicesMax = 64;

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\0')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\0')) --e;
  return std::string(s.substr(b, e - b));
}

bool printable_label(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Reads `max` bytes of `path` at most; "" when it cannot.
std::string read_head(const std::string& path, size_t max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out(max, '\0');
  size_t have = 0;
  while (have < max) {
    ssize_t n = ::read(fd, out.data() + have, max - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(have);
  return out;
}

// The whole file, or "" with *too_big when it is over `max`.
std::string read_all(const std::string& path, size_t max, bool* present, bool* too_big) {
  std::string text = read_head(path, max + 1);
  struct stat st {};
  *present = ::stat(path.c_str(), &st) == 0;
  *too_big = text.size() > max;
  return *too_big ? "" : text;
}

bool equals_ignoring_case(const std::string& a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The block devices and partitions (/sys/class/block), loop and RAM disks left out, sorted.
std::vector<std::string> block_devices() {
  std::vector<std::string> devices;
  DIR* d = ::opendir("/sys/class/block");
  while (d != nullptr && devices.size() < kBlockDevicesMax) {
    dirent* e = ::readdir(d);
    if (e == nullptr) break;
    if (e->d_name[0] != '.' && std::strncmp(e->d_name, "loop", 4) != 0 && std::strncmp(e->d_name, "ram", 3) != 0) {
      devices.emplace_back(e->d_name);
    }
  }
  if (d != nullptr) ::closedir(d);
  std::sort(devices.begin(), devices.end());
  return devices;
}

}  // namespace

std::string volume_label(std::string_view b) {
  // ext2/3/4: the superblock at 1024 bytes, its magic 0xEF53 (little-endian) at 0x38, the volume
  // name (16 bytes, NUL-padded) at 0x78.
  if (b.size() >= 1024 + 0x88 && static_cast<uint8_t>(b[1024 + 0x38]) == 0x53 && static_cast<uint8_t>(b[1024 + 0x39]) == 0xEF) {
    std::string label = trim(b.substr(1024 + 0x78, 16));
    return printable_label(label) ? label : "";
  }
  // ISO 9660: the primary volume descriptor (type 1, "CD001", version 1) in sector 16;
  // its volume identifier is bytes 40..71, space-padded.
  if (b.size() >= kIsoDescriptor + 72 && static_cast<uint8_t>(b[kIsoDescriptor]) == 1 &&
      b.substr(kIsoDescriptor + 1, 5) == "CD001") {
    std::string label = trim(b.substr(kIsoDescriptor + 40, 32));
    return printable_label(label) ? label : "";
  }
  // FAT: a boot sector ending 0x55 0xAA; the extended boot signature 0x29 at 0x26 (FAT12/16,
  // label at 0x2B) or at 0x42 (FAT32, label at 0x47); 11 bytes, space-padded.
  if (b.size() >= 512 && static_cast<uint8_t>(b[510]) == 0x55 && static_cast<uint8_t>(b[511]) == 0xAA) {
    size_t at = 0;
    if (static_cast<uint8_t>(b[0x42]) == 0x29 && b.substr(0x52, 5) == "FAT32") {
      at = 0x47;
    } else if (static_cast<uint8_t>(b[0x26]) == 0x29 && b.substr(0x36, 3) == "FAT") {
      at = 0x2B;
    }
    if (at != 0) {
      std::string label = trim(b.substr(at, 11));
      if (label == "NO NAME") return "";
      return printable_label(label) ? label : "";
    }
  }
  return "";
}

MetaData parse_meta_data(std::string_view text) {
  MetaData m;
  text = text.substr(0, kMetaDataBytesMax);
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || line[0] == ' ' || colon == std::string_view::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (value.size() > 253 || !printable_label(value)) continue;
    if (key == "local-hostname") m.local_hostname = value;
    if (key == "instance-id") m.instance_id = value;
  }
  return m;
}

std::string find_data_disk(const std::string& mount_dir, std::string* why) {
  const std::vector<std::string> devices = block_devices();
  for (const std::string& dev : devices) {
    const std::string head = read_head("/dev/" + dev, kProbeBytes);
    if (head.size() < 1024 + 0x3a || static_cast<uint8_t>(head[1024 + 0x38]) != 0x53 || static_cast<uint8_t>(head[1024 + 0x39]) != 0xEF ||
        volume_label(head) != "WEFT-DATA") {
      continue;
    }
    ::mkdir(mount_dir.c_str(), 0755);
    if (::mount(("/dev/" + dev).c_str(), mount_dir.c_str(), "ext4", MS_NOSUID | MS_NODEV, nullptr) != 0) {
      *why = "mount /dev/" + dev + " (ext4) on " + mount_dir + ": " + std::strerror(errno);
      return "";
    }
    return dev;
  }
  return "";
}

ConfigVolume find_config_volume(const std::string& mount_dir, const std::string& config_file) {
  return find_labelled_volume("CIDATA", "user-data", mount_dir, config_file);
}

ConfigVolume find_labelled_volume(const std::string& label, const std::string& file_name, const std::string& mount_dir,
                                  const std::string& config_file) {
  ConfigVolume v;
  const std::vector<std::string> devices = block_devices();
  for (const std::string& dev : devices) {
    const std::string head = read_head("/dev/" + dev, kProbeBytes);
    if (!equals_ignoring_case(volume_label(head), label)) continue;
    v.found = true;
    v.device = dev;
    v.filesystem = head.size() > kIsoDescriptor + 6 && head.substr(kIsoDescriptor + 1, 5) == "CD001" ? "iso9660" : "vfat";
    ::mkdir(mount_dir.c_str(), 0755);
    if (::mount(("/dev/" + dev).c_str(), mount_dir.c_str(), v.filesystem.c_str(), MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                nullptr) != 0) {
      v.error = "mount /dev/" + dev + " (" + v.filesystem + "): " + std::strerror(errno);
      return v;
    }
    bool present = false, too_big = false;
    const std::string meta = read_all(mount_dir + "/meta-data", kMetaDataBytesMax, &present, &too_big);
    if (too_big) v.error = "meta-data is larger than " + std::to_string(kMetaDataBytesMax) + " bytes: ignored";
    v.meta = parse_meta_data(meta);
    const std::string user = read_all(mount_dir + "/" + file_name, kUserDataBytesMax, &present, &too_big);
    if (too_big) {
      v.error = file_name + " is larger than " + std::to_string(kUserDataBytesMax) + " bytes: ignored";
    } else if (present) {
      int fd = ::open(config_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0 || ::write(fd, user.data(), user.size()) != static_cast<ssize_t>(user.size())) {
        v.error = "write " + config_file + ": " + std::strerror(errno);
      } else {
        v.user_data = true;
      }
      if (fd >= 0) ::close(fd);
    }
    return v;
  }
  return v;
}

}  // namespace boot
