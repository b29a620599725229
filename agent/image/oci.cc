// image/oci.cc -- see oci.h. Each parser reads with cJSON through http::Json and says which
// member was missing or of the wrong type.
#include "agent/image/oci.h"

namespace image {

namespace {

const cJSON* member(const cJSON* obj, const char* key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

// An array of strings at obj[key] into *out; absent or null is an empty list.
bool string_list(const cJSON* obj, const char* key, std::vector<std::string>* out) {
  const cJSON* a = member(obj, key);
  if (a == nullptr || cJSON_IsNull(a)) return true;
  if (!cJSON_IsArray(a)) return false;
  const cJSON* item;
  cJSON_ArrayForEach(item, a) {
    if (!cJSON_IsString(item)) return false;
    out->push_back(item->valuestring);
  }
  return true;
}

base::Status bad(const char* doc, const char* what) { return base::error(base::Code::kInvalidArgument, "%s: %s", doc, what); }

base::Result<Descriptor> descriptor(const cJSON* d, const char* doc) {
  Descriptor out;
  if (!cJSON_IsObject(d)) return bad(doc, "a descriptor is not an object");
  http::json_get_string(d, "mediaType", &out.media_type);
  if (!http::json_get_string(d, "digest", &out.digest) || !valid_digest(out.digest)) {
    return bad(doc, "a descriptor's digest is missing or not sha256:<64 hex digits>");
  }
  int64_t size = -1;
  if (http::json_get_i64(d, "size", &size)) out.size = size;
  const cJSON* ann = member(d, "annotations");
  http::json_get_string(ann, "org.opencontainers.image.ref.name", &out.ref_name);
  http::json_get_string(ann, "io.containerd.image.name", &out.image_name);
  const cJSON* platform = member(d, "platform");
  http::json_get_string(platform, "os", &out.os);
  http::json_get_string(platform, "architecture", &out.architecture);
  return out;
}

base::Result<http::Json> parse_object(std::string_view text, const char* doc) {
  auto json = http::Json::parse(text, kJsonBytesMax);
  if (!json.is_ok()) return base::error(json.status().code(), "%s: %s", doc, json.status().message().c_str());
  if (!cJSON_IsObject(json->get()) && !cJSON_IsArray(json->get())) return bad(doc, "not a JSON object");
  return std::move(json).value();
}

void add_list(http::Json& doc, cJSON* obj, const char* key, const std::vector<std::string>& items) {
  cJSON* a = doc.add_array(obj, key);
  for (const auto& s : items) doc.add_string(a, "", s);
}

}  // namespace

bool valid_digest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : digest.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

base::Result<std::string> normalize_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return base::error(base::Code::kInvalidArgument, "image name must be 1 to 255 characters");
  for (char c : name) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return base::error(base::Code::kInvalidArgument, "image name \"%.*s\" holds whitespace or a control character",
                         static_cast<int>(name.size()), name.data());
    }
  }
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) return std::string(name) + ":latest";
  return std::string(name);
}

base::Result<std::vector<Descriptor>> parse_index(std::string_view text) {
  AGENT_ASSIGN_OR_RETURN(http::Json json, parse_object(text, "index"));
  const cJSON* manifests = member(json.get(), "manifests");
  if (!cJSON_IsArray(manifests)) return bad("index", "\"manifests\" is not an array");
  std::vector<Descriptor> out;
  const cJSON* d;
  cJSON_ArrayForEach(d, manifests) {
    if (out.size() >= kLayersMax) return bad("index", "too many manifests");
    AGENT_ASSIGN_OR_RETURN(Descriptor desc, descriptor(d, "index"));
    out.push_back(std::move(desc));
  }
  return out;
}

base::Result<Manifest> parse_manifest(std::string_view text) {
  AGENT_ASSIGN_OR_RETURN(http::Json json, parse_object(text, "manifest"));
  Manifest out;
  AGENT_ASSIGN_OR_RETURN(out.config, descriptor(member(json.get(), "config"), "manifest config"));
  const cJSON* layers = member(json.get(), "layers");
  if (!cJSON_IsArray(layers)) return bad("manifest", "\"layers\" is not an array");
  const cJSON* d;
  cJSON_ArrayForEach(d, layers) {
    if (out.layers.size() >= kLayersMax) return bad("manifest", "more layers than kLayersMax (128)");
    AGENT_ASSIGN_OR_RETURN(Descriptor desc, descriptor(d, "manifest layer"));
    out.layers.push_back(std::move(desc));
  }
  return out;
}

base::Result<ParsedConfig> parse_config(std::string_view text) {
  AGENT_ASSIGN_OR_RETURN(http::Json json, parse_object(text, "config"));
  ParsedConfig out;
  const cJSON* rootfs = member(json.get(), "rootfs");
  if (!string_list(rootfs, "diff_ids", &out.diff_ids)) return bad("config", "rootfs.diff_ids is not a list of strings");
  if (out.diff_ids.size() > kLayersMax) return bad("config", "more layers than kLayersMax (128)");
  for (const auto& d : out.diff_ids) {
    if (!valid_digest(d)) return bad("config", "a diff_id is not sha256:<64 hex digits>");
  }
  const cJSON* c = member(json.get(), "config");
  if (c != nullptr && !cJSON_IsNull(c)) {
    if (!cJSON_IsObject(c)) return bad("config", "\"config\" is not an object");
    if (!string_list(c, "Entrypoint", &out.config.entrypoint) || !string_list(c, "Cmd", &out.config.cmd) ||
        !string_list(c, "Env", &out.config.env)) {
      return bad("config", "Entrypoint, Cmd or Env is not a list of strings");
    }
    http::json_get_string(c, "WorkingDir", &out.config.working_dir);
    http::json_get_string(c, "User", &out.config.user);
    const cJSON* ports = member(c, "ExposedPorts");
    const cJSON* p;
    if (cJSON_IsObject(ports)) cJSON_ArrayForEach(p, ports) out.config.exposed_ports.push_back(p->string);
  }
  return out;
}

base::Result<std::vector<DockerImage>> parse_docker_manifest(std::string_view text) {
  AGENT_ASSIGN_OR_RETURN(http::Json json, parse_object(text, "manifest.json"));
  if (!cJSON_IsArray(json.get())) return bad("manifest.json", "not an array");
  std::vector<DockerImage> out;
  const cJSON* m;
  cJSON_ArrayForEach(m, json.get()) {
    if (out.size() >= kLayersMax) return bad("manifest.json", "too many images");
    DockerImage image;
    if (!http::json_get_string(m, "Config", &image.config_path)) return bad("manifest.json", "an image has no \"Config\"");
    if (!string_list(m, "RepoTags", &image.repo_tags) || !string_list(m, "Layers", &image.layer_paths)) {
      return bad("manifest.json", "RepoTags or Layers is not a list of strings");
    }
    if (image.layer_paths.size() > kLayersMax) return bad("manifest.json", "more layers than kLayersMax (128)");
    out.push_back(std::move(image));
  }
  return out;
}

std::string make_manifest(const std::string& config_digest, int64_t config_size, const std::vector<std::string>& diff_ids,
                          const std::vector<int64_t>& layer_sizes) {
  http::Json doc = http::Json::object();
  doc.add_i64("schemaVersion", 2);
  doc.add_string("mediaType", kMediaManifest);
  cJSON* config = doc.add_object(doc.get(), "config");
  doc.add_string(config, "mediaType", kMediaConfig);
  doc.add_string(config, "digest", config_digest);
  doc.add_i64(config, "size", config_size);
  cJSON* layers = doc.add_array(doc.get(), "layers");
  for (size_t i = 0; i < diff_ids.size(); ++i) {
    cJSON* l = doc.add_object(layers, "");
    doc.add_string(l, "mediaType", kMediaLayerTar);
    doc.add_string(l, "digest", diff_ids[i]);
    doc.add_i64(l, "size", i < layer_sizes.size() ? layer_sizes[i] : 0);
  }
  auto text = doc.dump();
  AGENT_ASSERT_MSG(text.is_ok(), "out of memory making a manifest");
  return std::move(text).value();
}

void image_to_json(http::Json& doc, cJSON* obj, const Image& image) {
  add_list(doc, obj, "Names", image.names);
  doc.add_string(obj, "ManifestDigest", image.manifest_digest);
  doc.add_string(obj, "ConfigDigest", image.config_digest);
  add_list(doc, obj, "DiffIDs", image.diff_ids);
  doc.add_u64(obj, "SizeBytes", image.size_bytes);
  doc.add_i64(obj, "LoadedUnixNs", image.loaded_unix_ns);
  cJSON* c = doc.add_object(obj, "Config");
  add_list(doc, c, "Entrypoint", image.config.entrypoint);
  add_list(doc, c, "Cmd", image.config.cmd);
  add_list(doc, c, "Env", image.config.env);
  doc.add_string(c, "WorkingDir", image.config.working_dir);
  doc.add_string(c, "User", image.config.user);
  add_list(doc, c, "ExposedPorts", image.config.exposed_ports);
}

base::Result<Image> image_from_json(const cJSON* obj) {
  Image image;
  int64_t size = 0;
  if (!string_list(obj, "Names", &image.names) || !http::json_get_string(obj, "ManifestDigest", &image.manifest_digest) ||
      !http::json_get_string(obj, "ConfigDigest", &image.config_digest) || !string_list(obj, "DiffIDs", &image.diff_ids) ||
      !valid_digest(image.manifest_digest) || !valid_digest(image.config_digest)) {
    return bad("refs.json", "an image lacks Names, ManifestDigest, ConfigDigest or DiffIDs");
  }
  for (const auto& d : image.diff_ids) {
    if (!valid_digest(d)) return bad("refs.json", "a DiffID is not sha256:<64 hex digits>");
  }
  if (http::json_get_i64(obj, "SizeBytes", &size) && size > 0) image.size_bytes = static_cast<uint64_t>(size);
  http::json_get_i64(obj, "LoadedUnixNs", &image.loaded_unix_ns);
  const cJSON* c = member(obj, "Config");
  string_list(c, "Entrypoint", &image.config.entrypoint);
  string_list(c, "Cmd", &image.config.cmd);
  string_list(c, "Env", &image.config.env);
  http::json_get_string(c, "WorkingDir", &image.config.working_dir);
  http::json_get_string(c, "User", &image.config.user);
  string_list(c, "ExposedPorts", &image.config.exposed_ports);
  return image;
}

}  // namespace image
