// image/oci.h -- the JSON documents of images: OCI's index, manifest and config (the OCI Image
// Format Specification v1.0+, image-index.md, manifest.md, config.md), Docker's `docker save`
// manifest.json, and the store's own refs.json. Parsing is bounded (kJsonBytesMax) and names the
// field that is wrong; every digest is checked to be "sha256:" + 64 lower-case hex digits before
// it becomes part of a path.
//
// Threading: free functions. Not here: reading files (store.cc), tar streams (layer.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"
#include "agent/http/json.h"
#include "agent/image/store.h"

namespace image {

inline constexpr std::string_view kMediaIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kMediaConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaLayerTar = "application/vnd.oci.image.layer.v1.tar";

struct Descriptor {
  std::string media_type;
  std::string digest;  // checked by valid_digest()
  int64_t size = -1;
  std::string ref_name;    // org.opencontainers.image.ref.name
  std::string image_name;  // io.containerd.image.name (full "name:tag")
  std::string os, architecture;  // platform, when the index says
};

struct Manifest {
  Descriptor config;
  std::vector<Descriptor> layers;  // lowest first
};

struct ParsedConfig {
  ImageConfig config;
  std::vector<std::string> diff_ids;
};

// One image of a `docker save` manifest.json.
struct DockerImage {
  std::string config_path;  // relative to the archive's root, as written (checked by the caller)
  std::vector<std::string> repo_tags;
  std::vector<std::string> layer_paths;
};

bool valid_digest(std::string_view digest);
// "busybox" -> "busybox:latest"; kInvalidArgument for an empty name or one with whitespace.
base::Result<std::string> normalize_name(std::string_view name);

base::Result<std::vector<Descriptor>> parse_index(std::string_view text);
base::Result<Manifest> parse_manifest(std::string_view text);
base::Result<ParsedConfig> parse_config(std::string_view text);
base::Result<std::vector<DockerImage>> parse_docker_manifest(std::string_view text);

// An OCI manifest for an image that came without one (docker save's old layout): the config and
// each layer as an uncompressed tar named by its diff_id.
std::string make_manifest(const std::string& config_digest, int64_t config_size, const std::vector<std::string>& diff_ids,
                          const std::vector<int64_t>& layer_sizes);

// An Image as JSON (refs.json and the API share the shape): Names, ManifestDigest, ConfigDigest,
// DiffIDs, SizeBytes, LoadedUnixNs, Config{Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts}.
void image_to_json(http::Json& doc, cJSON* obj, const Image& image);
base::Result<Image> image_from_json(const cJSON* obj);

}  // namespace image
