// image::ImageStore -- the node's container images (issue 6 item 6): archives and OCI layout
// directories loaded into a content-addressed store of blobs and unpacked layers, from which each
// oci task gets its own root filesystem.
//
// Inputs load() accepts (untrusted; checked before anything is kept):
//   - an OCI image layout directory (oci-layout, index.json, blobs/sha256/...);
//   - a tar archive of one (what `skopeo copy ... oci-archive:` and `podman save --format
//     oci-archive` write), plain or gzip-compressed;
//   - a `docker save` archive (manifest.json, <config>.json, <layer>/layer.tar, or the blobs/
//     layout Docker 25+ writes), plain or gzip-compressed.
// Layers may be tar or tar+gzip (media types ...tar and ...tar+gzip, or by their magic bytes).
// Every blob's sha256 is checked against the digest that names it, and each layer's
// uncompressed digest against the config's rootfs.diff_ids.
//
// Refused (kInvalidArgument naming the entry): paths with ".." components or absolute paths;
// symlinks or hard links whose target escapes the layer's root (absolute targets are resolved
// against the rootfs, as a container sees them, so "/etc/x" is fine; "../../x" out of the root
// is not); device nodes, FIFOs and sockets; names over 4096 bytes; more than kEntriesMax entries
// in a layer; an archive or layer that would unpack to more than kUnpackedBytesMax; more than
// kLayersMax layers; JSON documents (index, manifest, config) over kJsonBytesMax.
//
// Store layout under `root` (<data_dir>/images):
//   blobs/sha256/<hex>          manifests and configs (layers are not kept compressed)
//   layers/sha256/<diff_id hex>/  each layer unpacked once, shared by every image and task that
//                               uses it; whiteouts (.wh.<name>, .wh..wh..opq) recorded as
//                               overlayfs expects them (a 0/0 character device, the
//                               trusted.overlay.opaque xattr) so layers stack by overlay mount
//   refs.json                   "name:tag" -> manifest digest, plus each image's summary
// A layer is unpacked into a temporary directory and renamed into place only when complete.
//
// Root filesystems: prepare_rootfs(image, dir) mounts an overlay of the image's layers (lowest
// first) with <dir>/upper and <dir>/work as the task's writable top layer at <dir>/rootfs, and
// release_rootfs() unmounts it. Where overlay mounts are not possible it copies the layers into
// <dir>/rootfs instead and says so (slower, more disk).
//
// Threading: load() and prepare_rootfs() do heavy file work: call them on the worker pool, never
// the loop thread; the store serializes its own state with a mutex.
// Not here: pulling from registries (images arrive as files), the OCI runtime (supervisor).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/base/status.h"
#include "hal/fs.h"
#include "hal/mounts.h"

namespace image {

inline constexpr size_t kLayersMax = 128;
inline constexpr uint64_t kEntriesMax = 1 << 20;
inline constexpr uint64_t kUnpackedBytesMax = 16ULL << 30;
inline constexpr size_t kJsonBytesMax = 4 << 20;

// The bounds of one unpack; the defaults are the constants above (tests make them small).
struct Limits {
  uint64_t entries_max = kEntriesMax;
  uint64_t unpacked_bytes_max = kUnpackedBytesMax;
};

// What a task needs from an image's config (the OCI image config's "config" object).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // NAME=value
  std::string working_dir;
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp"
};

struct Image {
  std::vector<std::string> names;  // "busybox:latest"; a manifest may have several
  std::string manifest_digest;     // "sha256:..."
  std::string config_digest;
  std::vector<std::string> diff_ids;  // lowest first
  uint64_t size_bytes = 0;            // unpacked
  int64_t loaded_unix_ns = 0;
  ImageConfig config;
};

class ImageStore {
 public:
  // Opens (creating) the store at `root`; reads refs.json and removes what an interrupted load
  // left in <root>/tmp. Files go through `fs`; whiteouts, opaque directories and overlay mounts
  // through `mounts` (null: root filesystems are copied). Both must outlive the store.
  static base::Result<std::unique_ptr<ImageStore>> open(const std::string& root, hal::Fs& fs, hal::Mounts* mounts,
                                                        Limits limits = {});

  // Loads every image in the archive or layout directory at `path`; returns them. `name` (may
  // be empty) names the image when the input does not ("myapp:1.2"), or overrides its name.
  base::Result<std::vector<Image>> load(const std::string& path, const std::string& name, int64_t now_unix_ns);
  std::vector<Image> list() const;
  // By "name:tag" (":latest" when no tag), by manifest digest, or by a path to an archive or
  // layout (loaded first, then found). kNotFound otherwise.
  base::Result<Image> resolve(const std::string& ref, int64_t now_unix_ns);
  // The unpacked layer directories of `image`, lowest first.
  std::vector<std::string> layer_dirs(const Image& image) const;

  // See the header comment. *how says "overlay" or "copy".
  [[nodiscard]] base::Status prepare_rootfs(const Image& image, const std::string& dir, std::string* how);
  [[nodiscard]] base::Status release_rootfs(const std::string& dir);

  // Removes an image's name (by name), or the image with all its names (by manifest digest);
  // an image left without names is removed. Blobs and layers no image uses any more are removed
  // too, except layers under a prepared root filesystem. kNotFound for an unknown ref.
  [[nodiscard]] base::Status remove(const std::string& ref);

 private:
  struct LayerInfo;
  ImageStore(std::string root, hal::Fs& fs, hal::Mounts* mounts, Limits limits)
      : root_(std::move(root)), fs_(fs), mounts_(mounts), limits_(limits) {}
  base::Status load_oci(const std::string& dir, std::vector<Image>* out);
  base::Status load_docker(const std::string& dir, std::vector<Image>* out);
  base::Result<Image> load_manifest(const std::string& dir, const std::string& manifest_digest, std::string manifest_text,
                                    std::vector<std::string> names);
  base::Result<LayerInfo> ensure_layer(const std::string& blob_path, const std::string& blob_digest,
                                       const std::string& diff_id);
  base::Result<LayerInfo> read_layer_info(const std::string& diff_id);
  base::Status put_blob(const std::string& digest, const std::string& bytes);
  base::Status save_refs();  // with mu_ held
  void collect_garbage();    // with mu_ held
  const Image* find(const std::string& ref) const;  // with mu_ held
  std::string temp_path(const char* what);

  const std::string root_;
  hal::Fs& fs_;
  hal::Mounts* const mounts_;
  const Limits limits_;
  std::mutex load_mu_;  // one load or remove at a time: their file work must not interleave
  mutable std::mutex mu_;
  std::map<std::string, Image> images_;  // by manifest digest
  std::map<std::string, std::vector<std::string>> rootfs_layers_;  // prepared dir -> its diff_ids
  uint64_t temp_counter_ = 0;
};

}  // namespace image
