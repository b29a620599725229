// image/store.cc -- see store.h. Organised as: opening and refs.json, load() (staging an archive,
// then the OCI or docker layout), layers (ensure_layer: unpack once, rename into place), lookup
// and removal with garbage collection, root filesystems (overlay, else copy).
#include "agent/image/store.h"

#include <algorithm>
#include <set>

#include "agent/http/json.h"
#include "agent/image/layer.h"
#include "agent/image/oci.h"
#include "hal/crypto.h"

namespace image {

namespace {

std::string hex_of(const std::string& digest) { return digest.substr(7); }  // after "sha256:"

std::string sha256_text(const std::string& bytes) {
  hal::crypto::Digest d = hal::crypto::sha256(base::as_bytes(bytes));
  return "sha256:" + base::hex(base::ByteSpan(d.data(), d.size()));
}

bool exists(hal::Fs& fs, const std::string& path) { return fs.stat(path).is_ok(); }

}  // namespace

// What the store keeps beside each unpacked layer (layers/sha256/<hex>.json).
struct ImageStore::LayerInfo {
  uint64_t size_bytes = 0;
  std::vector<std::string> whiteouts;
  std::vector<std::string> opaque_dirs;
  bool overlay_ready = true;
};

base::Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& root, hal::Fs& fs, hal::Mounts* mounts,
                                                           Limits limits) {
  AGENT_TRY(fs.make_dirs(root + "/blobs/sha256", 0700));
  AGENT_TRY(fs.make_dirs(root + "/layers/sha256", 0700));
  AGENT_TRY(fs.remove_tree(root + "/tmp"));
  AGENT_TRY(fs.make_dirs(root + "/tmp", 0700));
  std::unique_ptr<ImageStore> store(new ImageStore(root, fs, mounts, limits));
  auto text = fs.read_file(root + "/refs.json", kJsonBytesMax * 4);
  if (!text.is_ok() && text.status().code() != base::Code::kNotFound) return text.status();
  if (text.is_ok()) {
    AGENT_ASSIGN_OR_RETURN(http::Json doc, http::Json::parse(*text, kJsonBytesMax * 4));
    const cJSON* item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc.get(), "Images")) {
      auto image = image_from_json(item);
      if (!image.is_ok()) return base::error(base::Code::kInvalidArgument, "%s/refs.json: %s", root.c_str(), image.status().message().c_str());
      store->images_[image->manifest_digest] = std::move(image).value();
    }
  }
  return store;
}

base::Status ImageStore::save_refs() {
  http::Json doc = http::Json::object();
  cJSON* list = doc.add_array(doc.get(), "Images");
  for (const auto& [digest, image] : images_) image_to_json(doc, doc.add_object(list, ""), image);
  AGENT_ASSIGN_OR_RETURN(std::string text, doc.dump());
  return fs_.write_file(root_ + "/refs.json", base::as_bytes(text), 0600, /*durable=*/true);
}

std::string ImageStore::temp_path(const char* what) {
  return root_ + "/tmp/" + what + "-" + std::to_string(++temp_counter_);
}

base::Result<std::vector<Image>> ImageStore::load(const std::string& path, const std::string& name, int64_t now_unix_ns) {
  std::string override_name;
  if (!name.empty()) {
    AGENT_ASSIGN_OR_RETURN(override_name, normalize_name(name));
  }
  std::lock_guard<std::mutex> load_lock(load_mu_);
  AGENT_ASSIGN_OR_RETURN(hal::FileInfo info, fs_.stat(path));
  std::string dir = path;
  std::string staging;
  if (info.type != hal::FileType::kDirectory) {
    // An archive: unpacked (checked like a layer, without whiteouts) into a staging directory
    // and read from there as a layout directory. It costs the archive's size in disk for the
    // duration of the load; tar gives no random access to its members otherwise.
    staging = temp_path("archive");
    AGENT_TRY(fs_.make_dirs(staging, 0700));
    FileSource source(fs_, path);
    auto unpacked = unpack(source, TarKind::kArchive, UnpackTarget{staging, &fs_, nullptr}, limits_);
    if (!unpacked.is_ok()) {
      fs_.remove_tree(staging).ignore();
      return base::error(unpacked.status().code(), "%s: %s", path.c_str(), unpacked.status().message().c_str());
    }
    dir = staging;
  }
  std::vector<Image> images;
  base::Status s;
  if (exists(fs_, dir + "/index.json")) {
    s = load_oci(dir, &images);
  } else if (exists(fs_, dir + "/manifest.json")) {
    s = load_docker(dir, &images);
  } else {
    s = base::error(base::Code::kInvalidArgument, "neither an OCI layout (index.json) nor a docker save archive (manifest.json)");
  }
  if (!staging.empty()) fs_.remove_tree(staging).ignore();
  if (!s.is_ok()) return base::error(s.code(), "%s: %s", path.c_str(), s.message().c_str());
  if (images.empty()) return base::error(base::Code::kInvalidArgument, "%s: holds no image", path.c_str());
  if (!override_name.empty()) {
    if (images.size() != 1) {
      return base::error(base::Code::kInvalidArgument, "%s holds %zu images; a name can be given to one only", path.c_str(), images.size());
    }
    images[0].names = {override_name};
  }

  std::lock_guard<std::mutex> lock(mu_);
  for (Image& image : images) {
    image.loaded_unix_ns = now_unix_ns;
    // A name moves to the image loaded last, as `docker load` retags.
    for (auto& [digest, other] : images_) {
      if (digest == image.manifest_digest) continue;
      std::erase_if(other.names, [&](const std::string& n) { return std::count(image.names.begin(), image.names.end(), n) != 0; });
    }
    auto it = images_.find(image.manifest_digest);
    if (it != images_.end()) {
      for (const auto& n : it->second.names) {
        if (std::count(image.names.begin(), image.names.end(), n) == 0) image.names.push_back(n);
      }
    }
    images_[image.manifest_digest] = image;
  }
  AGENT_TRY(save_refs());
  return images;
}

base::Status ImageStore::load_oci(const std::string& dir, std::vector<Image>* out) {
  AGENT_ASSIGN_OR_RETURN(std::string index_text, fs_.read_file(dir + "/index.json", kJsonBytesMax));
  AGENT_ASSIGN_OR_RETURN(std::vector<Descriptor> manifests, parse_index(index_text));
  // A multi-platform index nests another: follow one level, keeping this node's platform.
#if defined(__x86_64__)
  constexpr std::string_view kArch = "amd64";
#elif defined(__aarch64__)
  constexpr std::string_view kArch = "arm64";
#else
  constexpr std::string_view kArch = "";
#endif
  std::vector<Descriptor> flat;
  for (const Descriptor& d : manifests) {
    if (d.media_type != kMediaIndex && d.media_type != kMediaDockerList) {
      flat.push_back(d);
      continue;
    }
    AGENT_ASSIGN_OR_RETURN(std::string text, fs_.read_file(dir + "/blobs/sha256/" + hex_of(d.digest), kJsonBytesMax));
    if (sha256_text(text) != d.digest) return base::error(base::Code::kInvalidArgument, "blob %s: digest mismatch", d.digest.c_str());
    AGENT_ASSIGN_OR_RETURN(std::vector<Descriptor> inner, parse_index(text));
    for (Descriptor& m : inner) {
      if ((m.os.empty() || m.os == "linux") && (m.architecture.empty() || m.architecture == kArch)) {
        if (m.ref_name.empty()) m.ref_name = d.ref_name;
        if (m.image_name.empty()) m.image_name = d.image_name;
        flat.push_back(std::move(m));
        break;
      }
    }
  }
  for (const Descriptor& d : flat) {
    if (d.media_type == kMediaIndex || d.media_type == kMediaDockerList) {
      return base::error(base::Code::kInvalidArgument, "index %s nests indexes more than one level deep", d.digest.c_str());
    }
    AGENT_ASSIGN_OR_RETURN(std::string text, fs_.read_file(dir + "/blobs/sha256/" + hex_of(d.digest), kJsonBytesMax));
    if (sha256_text(text) != d.digest) return base::error(base::Code::kInvalidArgument, "blob %s: digest mismatch", d.digest.c_str());
    std::vector<std::string> names;
    // containerd's full name first; OCI's ref.name is a full name only when it has a ':' or '/'
    // (skopeo and podman write "name:tag"; a bare "latest" names no repository).
    std::string full = !d.image_name.empty() ? d.image_name
                       : (d.ref_name.find_first_of(":/") != std::string::npos ? d.ref_name : "");
    if (!full.empty()) {
      AGENT_ASSIGN_OR_RETURN(std::string n, normalize_name(full));
      names.push_back(std::move(n));
    }
    AGENT_ASSIGN_OR_RETURN(Image image, load_manifest(dir, d.digest, std::move(text), std::move(names)));
    out->push_back(std::move(image));
  }
  return base::Status::ok();
}

base::Result<Image> ImageStore::load_manifest(const std::string& dir, const std::string& manifest_digest, std::string manifest_text,
                                              std::vector<std::string> names) {
  AGENT_ASSIGN_OR_RETURN(Manifest manifest, parse_manifest(manifest_text));
  AGENT_ASSIGN_OR_RETURN(std::string config_text, fs_.read_file(dir + "/blobs/sha256/" + hex_of(manifest.config.digest), kJsonBytesMax));
  if (sha256_text(config_text) != manifest.config.digest) {
    return base::error(base::Code::kInvalidArgument, "blob %s: digest mismatch", manifest.config.digest.c_str());
  }
  AGENT_ASSIGN_OR_RETURN(ParsedConfig config, parse_config(config_text));
  if (config.diff_ids.size() != manifest.layers.size()) {
    return base::error(base::Code::kInvalidArgument, "manifest %s has %zu layers but its config %zu diff_ids", manifest_digest.c_str(),
                       manifest.layers.size(), config.diff_ids.size());
  }
  Image image;
  image.names = std::move(names);
  image.manifest_digest = manifest_digest;
  image.config_digest = manifest.config.digest;
  image.config = std::move(config.config);
  image.diff_ids = config.diff_ids;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const Descriptor& layer = manifest.layers[i];
    AGENT_ASSIGN_OR_RETURN(LayerInfo info, ensure_layer(dir + "/blobs/sha256/" + hex_of(layer.digest), layer.digest, config.diff_ids[i]));
    image.size_bytes += info.size_bytes;
  }
  AGENT_TRY(put_blob(manifest.config.digest, config_text));
  AGENT_TRY(put_blob(manifest_digest, manifest_text));
  return image;
}

base::Status ImageStore::load_docker(const std::string& dir, std::vector<Image>* out) {
  AGENT_ASSIGN_OR_RETURN(std::string text, fs_.read_file(dir + "/manifest.json", kJsonBytesMax));
  AGENT_ASSIGN_OR_RETURN(std::vector<DockerImage> list, parse_docker_manifest(text));
  for (const DockerImage& d : list) {
    AGENT_ASSIGN_OR_RETURN(std::string config_path, clean_path(d.config_path));
    AGENT_ASSIGN_OR_RETURN(std::string config_text, fs_.read_file(dir + "/" + config_path, kJsonBytesMax));
    std::string config_digest = sha256_text(config_text);
    AGENT_ASSIGN_OR_RETURN(ParsedConfig config, parse_config(config_text));
    if (config.diff_ids.size() != d.layer_paths.size()) {
      return base::error(base::Code::kInvalidArgument, "manifest.json lists %zu layers but config %s has %zu diff_ids", d.layer_paths.size(),
                         d.config_path.c_str(), config.diff_ids.size());
    }
    Image image;
    image.config_digest = config_digest;
    image.diff_ids = config.diff_ids;
    image.config = std::move(config.config);
    std::vector<int64_t> sizes;
    for (size_t i = 0; i < d.layer_paths.size(); ++i) {
      AGENT_ASSIGN_OR_RETURN(std::string layer_path, clean_path(d.layer_paths[i]));
      // The old layout names no blob digest for a layer: only its diff_id is checked.
      AGENT_ASSIGN_OR_RETURN(LayerInfo info, ensure_layer(dir + "/" + layer_path, "", config.diff_ids[i]));
      image.size_bytes += info.size_bytes;
      sizes.push_back(static_cast<int64_t>(info.size_bytes));
    }
    for (const auto& tag : d.repo_tags) {
      AGENT_ASSIGN_OR_RETURN(std::string n, normalize_name(tag));
      image.names.push_back(std::move(n));
    }
    std::string manifest = make_manifest(config_digest, static_cast<int64_t>(config_text.size()), config.diff_ids, sizes);
    image.manifest_digest = sha256_text(manifest);
    AGENT_TRY(put_blob(config_digest, config_text));
    AGENT_TRY(put_blob(image.manifest_digest, manifest));
    out->push_back(std::move(image));
  }
  return base::Status::ok();
}

base::Status ImageStore::put_blob(const std::string& digest, const std::string& bytes) {
  AGENT_ASSERT(valid_digest(digest));
  std::string path = root_ + "/blobs/sha256/" + hex_of(digest);
  if (exists(fs_, path)) return base::Status::ok();
  return fs_.write_file(path, base::as_bytes(bytes), 0600, /*durable=*/true);
}

base::Result<ImageStore::LayerInfo> ImageStore::read_layer_info(const std::string& diff_id) {
  AGENT_ASSIGN_OR_RETURN(std::string text, fs_.read_file(root_ + "/layers/sha256/" + hex_of(diff_id) + ".json", kJsonBytesMax));
  AGENT_ASSIGN_OR_RETURN(http::Json doc, http::Json::parse(text, kJsonBytesMax));
  LayerInfo info;
  int64_t size = 0;
  if (http::json_get_i64(doc.get(), "SizeBytes", &size) && size > 0) info.size_bytes = static_cast<uint64_t>(size);
  http::json_get_bool(doc.get(), "OverlayReady", &info.overlay_ready);
  const cJSON* item;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc.get(), "Whiteouts")) {
    if (cJSON_IsString(item)) info.whiteouts.push_back(item->valuestring);
  }
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc.get(), "OpaqueDirs")) {
    if (cJSON_IsString(item)) info.opaque_dirs.push_back(item->valuestring);
  }
  return info;
}

base::Result<ImageStore::LayerInfo> ImageStore::ensure_layer(const std::string& blob_path, const std::string& blob_digest,
                                                             const std::string& diff_id) {
  const std::string final_dir = root_ + "/layers/sha256/" + hex_of(diff_id);
  if (exists(fs_, final_dir)) {
    auto info = read_layer_info(diff_id);
    if (info.is_ok()) return info;  // shared: unpacked and checked by an earlier load
    AGENT_TRY(fs_.remove_tree(final_dir));  // a load interrupted between the rename and the .json
  }
  const std::string tmp = temp_path("layer");
  AGENT_TRY(fs_.make_dirs(tmp, 0755));
  FileSource source(fs_, blob_path);
  auto unpacked = unpack(source, TarKind::kLayer, UnpackTarget{tmp, &fs_, mounts_}, limits_);
  base::Status s;
  if (!unpacked.is_ok()) {
    s = base::error(unpacked.status().code(), "layer %s: %s", diff_id.c_str(), unpacked.status().message().c_str());
  } else if (!blob_digest.empty() && unpacked->compressed_digest != blob_digest) {
    s = base::error(base::Code::kInvalidArgument, "blob %s: digest mismatch (its content is %s)", blob_digest.c_str(),
                    unpacked->compressed_digest.c_str());
  } else if (unpacked->diff_id != diff_id) {
    s = base::error(base::Code::kInvalidArgument, "layer %s: diff_id mismatch (its content is %s)", diff_id.c_str(), unpacked->diff_id.c_str());
  }
  if (s.is_ok()) s = fs_.rename(tmp, final_dir);
  if (!s.is_ok()) {
    fs_.remove_tree(tmp).ignore();
    return s;
  }
  LayerInfo info;
  info.size_bytes = unpacked->size_bytes;
  info.whiteouts = unpacked->whiteouts;
  info.opaque_dirs = unpacked->opaque_dirs;
  info.overlay_ready = unpacked->overlay_ready;
  http::Json doc = http::Json::object();
  doc.add_u64("SizeBytes", info.size_bytes);
  doc.add_bool("OverlayReady", info.overlay_ready);
  cJSON* w = doc.add_array(doc.get(), "Whiteouts");
  for (const auto& p : info.whiteouts) doc.add_string(w, "", p);
  cJSON* o = doc.add_array(doc.get(), "OpaqueDirs");
  for (const auto& p : info.opaque_dirs) doc.add_string(o, "", p);
  AGENT_ASSIGN_OR_RETURN(std::string text, doc.dump());
  AGENT_TRY(fs_.write_file(final_dir + ".json", base::as_bytes(text), 0600, /*durable=*/true));
  return info;
}

std::vector<Image> ImageStore::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Image> out;
  for (const auto& [digest, image] : images_) out.push_back(image);
  return out;
}

const Image* ImageStore::find(const std::string& ref) const {
  if (valid_digest(ref)) {
    auto it = images_.find(ref);
    return it == images_.end() ? nullptr : &it->second;
  }
  auto name = normalize_name(ref);
  if (!name.is_ok()) return nullptr;
  for (const auto& [digest, image] : images_) {
    if (std::count(image.names.begin(), image.names.end(), *name) != 0) return &image;
  }
  return nullptr;
}

base::Result<Image> ImageStore::resolve(const std::string& ref, int64_t now_unix_ns) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (const Image* image = find(ref)) return *image;
  }
  if (!ref.empty() && (ref[0] == '/' || ref.rfind("./", 0) == 0) && exists(fs_, ref)) {
    AGENT_ASSIGN_OR_RETURN(std::vector<Image> loaded, load(ref, "", now_unix_ns));
    return loaded.front();
  }
  return base::error(base::Code::kNotFound, "no image %s", ref.c_str());
}

std::vector<std::string> ImageStore::layer_dirs(const Image& image) const {
  std::vector<std::string> out;
  for (const auto& d : image.diff_ids) out.push_back(root_ + "/layers/sha256/" + hex_of(d));
  return out;
}

base::Status ImageStore::remove(const std::string& ref) {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  const Image* found = find(ref);
  if (found == nullptr) return base::error(base::Code::kNotFound, "no image %s", ref.c_str());
  Image& image = images_[found->manifest_digest];
  if (valid_digest(ref)) {
    image.names.clear();
  } else {
    std::string name = normalize_name(ref).value();
    std::erase(image.names, name);
  }
  if (image.names.empty()) images_.erase(std::string(image.manifest_digest));
  AGENT_TRY(save_refs());
  collect_garbage();
  return base::Status::ok();
}

void ImageStore::collect_garbage() {
  std::set<std::string> blobs, layers;
  for (const auto& [digest, image] : images_) {
    blobs.insert(hex_of(image.manifest_digest));
    blobs.insert(hex_of(image.config_digest));
    for (const auto& d : image.diff_ids) layers.insert(hex_of(d));
  }
  for (const auto& [dir, diff_ids] : rootfs_layers_) {
    for (const auto& d : diff_ids) layers.insert(hex_of(d));
  }
  // Failures here leave garbage for the next removal; they never fail the removal itself.
  auto names = fs_.list_dir(root_ + "/blobs/sha256");
  if (names.is_ok()) {
    for (const auto& n : *names) {
      if (blobs.count(n) == 0) fs_.remove(root_ + "/blobs/sha256/" + n).ignore();
    }
  }
  names = fs_.list_dir(root_ + "/layers/sha256");
  if (names.is_ok()) {
    for (const auto& n : *names) {
      std::string hex = n.size() > 5 && n.ends_with(".json") ? n.substr(0, n.size() - 5) : n;
      if (layers.count(hex) == 0) fs_.remove_tree(root_ + "/layers/sha256/" + n).ignore();
    }
  }
}

base::Status ImageStore::prepare_rootfs(const Image& image, const std::string& dir, std::string* how) {
  const std::string rootfs = dir + "/rootfs";
  AGENT_TRY(fs_.make_dirs(dir + "/upper", 0755));
  AGENT_TRY(fs_.make_dirs(dir + "/work", 0700));
  AGENT_TRY(fs_.make_dirs(rootfs, 0755));
  {
    std::lock_guard<std::mutex> lock(mu_);
    rootfs_layers_[dir] = image.diff_ids;
  }
  std::vector<LayerInfo> infos;
  bool overlay_ready = mounts_ != nullptr && !image.diff_ids.empty();
  for (const auto& d : image.diff_ids) {
    AGENT_ASSIGN_OR_RETURN(LayerInfo info, read_layer_info(d));
    overlay_ready = overlay_ready && info.overlay_ready;
    infos.push_back(std::move(info));
  }
  if (overlay_ready && mounts_->mount_overlay(layer_dirs(image), dir + "/upper", dir + "/work", rootfs).is_ok()) {
    *how = "overlay";
    return base::Status::ok();
  }
  // The copy: each layer onto the ones below, its deletions applied first.
  std::vector<std::string> dirs = layer_dirs(image);
  for (size_t i = 0; i < dirs.size(); ++i) {
    for (const auto& p : infos[i].opaque_dirs) {
      if (!p.empty()) AGENT_TRY(fs_.remove_tree(rootfs + "/" + p));
    }
    for (const auto& p : infos[i].whiteouts) AGENT_TRY(fs_.remove_tree(rootfs + "/" + p));
    AGENT_TRY(copy_tree(dirs[i], rootfs));
  }
  *how = "copy";
  return base::Status::ok();
}

base::Status ImageStore::release_rootfs(const std::string& dir) {
  if (mounts_ != nullptr) {
    base::Status s = mounts_->unmount(dir + "/rootfs");
    // Never remove a tree that may still be mounted: that would delete through the mount.
    if (!s.is_ok() && s.code() != base::Code::kNotFound) return s;
  }
  AGENT_TRY(fs_.remove_tree(dir));
  std::lock_guard<std::mutex> lock(mu_);
  rootfs_layers_.erase(dir);
  return base::Status::ok();
}

}  // namespace image
