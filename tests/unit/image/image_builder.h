// Test helpers: tar streams and whole images (OCI layout, OCI archive, docker save) built in
// memory with libarchive's write API, so every case -- hostile ones included -- is made by the
// test that uses it.
#pragma once

// Designated initializers name only the fields a case needs; the rest keep their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <archive.h>
#include <archive_entry.h>

#include <map>
#include <string>
#include <vector>

#include "agent/base/bytes.h"
#include "hal/crypto.h"

namespace image::testing {

struct TarEntry {
  std::string name;
  char type = 'f';  // f file, d dir, l symlink, h hard link, c char device, b block, p FIFO
  std::string data;  // file content
  std::string link;  // symlink or hard link target
  unsigned mode = 0644;
  unsigned rdev_major = 0, rdev_minor = 0;
};

inline la_ssize_t append_cb(archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// A pax tar of `entries` (gzip-compressed with `gzip`). Times are fixed, so the same entries
// always give the same bytes.
inline std::string make_tar(const std::vector<TarEntry>& entries, bool gzip = false) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) {
    archive_write_add_filter_gzip(a);
    archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);  // no time in the header
  }
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append_cb, nullptr);
  for (const TarEntry& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_perm(e, t.mode);
    switch (t.type) {
      case 'd': archive_entry_set_filetype(e, AE_IFDIR); archive_entry_set_perm(e, 0755); break;
      case 'l': archive_entry_set_filetype(e, AE_IFLNK); archive_entry_set_symlink(e, t.link.c_str()); break;
      case 'h': archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_hardlink(e, t.link.c_str()); break;
      case 'c': archive_entry_set_filetype(e, AE_IFCHR); archive_entry_set_rdevmajor(e, t.rdev_major); archive_entry_set_rdevminor(e, t.rdev_minor); break;
      case 'b': archive_entry_set_filetype(e, AE_IFBLK); archive_entry_set_rdevmajor(e, 8); break;
      case 'p': archive_entry_set_filetype(e, AE_IFIFO); break;
      default: archive_entry_set_filetype(e, AE_IFREG); archive_entry_set_size(e, static_cast<la_int64_t>(t.data.size())); break;
    }
    archive_write_header(a, e);
    if (t.type == 'f' && !t.data.empty()) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

inline std::string sha256_hex(const std::string& bytes) {
  hal::crypto::Digest d = hal::crypto::sha256(base::as_bytes(bytes));
  return base::hex(base::ByteSpan(d.data(), d.size()));
}
inline std::string digest_of(const std::string& bytes) { return "sha256:" + sha256_hex(bytes); }

// The files of an image, by path relative to the layout's root.
struct ImageFiles {
  std::map<std::string, std::string> files;
  std::string manifest_digest;  // OCI layouts only
  std::vector<std::string> diff_ids;
};

inline std::string config_json(const std::vector<std::string>& diff_ids) {
  std::string ids;
  for (const auto& d : diff_ids) ids += (ids.empty() ? "\"" : ",\"") + d + "\"";
  return "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"],\"Env\":[\"PATH=/bin\"],"
         "\"WorkingDir\":\"/\",\"ExposedPorts\":{\"80/tcp\":{}}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + ids + "]}}";
}

// An OCI image layout of one image whose layers are `layers` (lowest first), gzip-compressed
// with `gzip`; `ref_name` goes into index.json's org.opencontainers.image.ref.name.
inline ImageFiles oci_layout(const std::vector<std::vector<TarEntry>>& layers, bool gzip, const std::string& ref_name) {
  ImageFiles out;
  std::string layer_descs;
  for (const auto& l : layers) {
    std::string tar = make_tar(l, false);
    std::string blob = gzip ? make_tar(l, true) : tar;
    out.diff_ids.push_back(digest_of(tar));
    out.files["blobs/sha256/" + sha256_hex(blob)] = blob;
    layer_descs += std::string(layer_descs.empty() ? "" : ",") + "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar" +
                   (gzip ? "+gzip" : "") + "\",\"digest\":\"" + digest_of(blob) + "\",\"size\":" + std::to_string(blob.size()) + "}";
  }
  std::string config = config_json(out.diff_ids);
  out.files["blobs/sha256/" + sha256_hex(config)] = config;
  std::string manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
                         "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + digest_of(config) + "\",\"size\":" +
                         std::to_string(config.size()) + "},\"layers\":[" + layer_descs + "]}";
  out.files["blobs/sha256/" + sha256_hex(manifest)] = manifest;
  out.manifest_digest = digest_of(manifest);
  out.files["oci-layout"] = "{\"imageLayoutVersion\":\"1.0.0\"}";
  out.files["index.json"] = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" +
                            out.manifest_digest + "\",\"size\":" + std::to_string(manifest.size()) +
                            ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + ref_name + "\"}}]}";
  return out;
}

// A `docker save` archive's files in the old layout: manifest.json, <config hex>.json and
// <n>/layer.tar per layer.
inline ImageFiles docker_save(const std::vector<std::vector<TarEntry>>& layers, const std::string& repo_tag) {
  ImageFiles out;
  std::string paths;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string tar = make_tar(layers[i], false);
    out.diff_ids.push_back(digest_of(tar));
    std::string path = "layer" + std::to_string(i) + "/layer.tar";
    out.files[path] = tar;
    paths += std::string(paths.empty() ? "\"" : ",\"") + path + "\"";
  }
  std::string config = config_json(out.diff_ids);
  std::string config_path = sha256_hex(config) + ".json";
  out.files[config_path] = config;
  out.files["manifest.json"] = "[{\"Config\":\"" + config_path + "\",\"RepoTags\":[\"" + repo_tag + "\"],\"Layers\":[" + paths + "]}]";
  return out;
}

// The files as one tar (an OCI archive or a docker save archive).
inline std::string archive_of(const ImageFiles& image, bool gzip = false) {
  std::vector<TarEntry> entries;
  for (const auto& [path, bytes] : image.files) entries.push_back(TarEntry{.name = path, .data = bytes});
  return make_tar(entries, gzip);
}

}  // namespace image::testing
