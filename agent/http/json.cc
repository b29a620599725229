#include "agent/http/json.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace http {

namespace {

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

Json& Json::operator=(Json&& o) noexcept {
  if (this != &o) {
    if (root_) cJSON_Delete(root_);
    root_ = o.root_;
    ok_ = o.ok_;
    o.root_ = nullptr;
    o.ok_ = false;
  }
  return *this;
}

Json::~Json() {
  if (root_) cJSON_Delete(root_);
}

Json Json::object() { return Json(cJSON_CreateObject()); }
Json Json::array() { return Json(cJSON_CreateArray()); }

cJSON* Json::release() {
  cJSON* r = root_;
  root_ = nullptr;
  ok_ = false;
  return r;
}

base::Result<Json> Json::parse(std::string_view text, size_t bytes_max) {
  if (text.size() > bytes_max) {
    return base::error(base::Code::kResourceExhausted, "json: %zu bytes, limit %zu", text.size(), bytes_max);
  }
  if (text.empty()) return base::error(base::Code::kInvalidArgument, "json: empty document");
  const char* end = nullptr;
  cJSON* root = cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, 0);
  if (root == nullptr) {
    size_t at = (end != nullptr && end >= text.data() && end <= text.data() + text.size())
                    ? static_cast<size_t>(end - text.data())
                    : 0;
    return base::error(base::Code::kInvalidArgument, "json: syntax error at byte %zu", at);
  }
  Json doc(root);
  size_t pos = (end != nullptr) ? static_cast<size_t>(end - text.data()) : text.size();
  while (pos < text.size()) {
    char c = text[pos];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return base::error(base::Code::kInvalidArgument, "json: trailing data at byte %zu", pos);
    }
    ++pos;
  }
  return doc;
}

cJSON* Json::attach(cJSON* parent, std::string_view key, cJSON* item) {
  if (item == nullptr || parent == nullptr || !ok_) {
    if (item) cJSON_Delete(item);
    ok_ = false;
    return nullptr;
  }
  if (cJSON_IsObject(parent)) {
    if (has_nul(key)) {
      cJSON_Delete(item);
      ok_ = false;
      return nullptr;
    }
    std::string k(key);
    if (!cJSON_AddItemToObject(parent, k.c_str(), item)) {
      cJSON_Delete(item);
      ok_ = false;
      return nullptr;
    }
    return item;
  }
  if (cJSON_IsArray(parent)) {
    if (!cJSON_AddItemToArray(parent, item)) {
      cJSON_Delete(item);
      ok_ = false;
      return nullptr;
    }
    return item;
  }
  cJSON_Delete(item);
  ok_ = false;
  return nullptr;
}

cJSON* Json::add_string(cJSON* parent, std::string_view key, std::string_view value) {
  // cJSON strings are NUL-terminated: a value holding a NUL would be cut short silently, so it
  // fails the document instead.
  if (has_nul(value)) {
    ok_ = false;
    return nullptr;
  }
  std::string v(value);
  return attach(parent, key, cJSON_CreateString(v.c_str()));
}

cJSON* Json::add_bool(cJSON* parent, std::string_view key, bool value) {
  return attach(parent, key, cJSON_CreateBool(value ? 1 : 0));
}

cJSON* Json::add_null(cJSON* parent, std::string_view key) { return attach(parent, key, cJSON_CreateNull()); }

cJSON* Json::add_double(cJSON* parent, std::string_view key, double value) {
  // JSON has no NaN or infinity; cJSON would print "null" -- say so by failing instead.
  if (!std::isfinite(value)) {
    ok_ = false;
    return nullptr;
  }
  return attach(parent, key, cJSON_CreateNumber(value));
}

cJSON* Json::add_i64(cJSON* parent, std::string_view key, int64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%" PRId64, value);
  return attach(parent, key, cJSON_CreateRaw(buf));
}

cJSON* Json::add_u64(cJSON* parent, std::string_view key, uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%" PRIu64, value);
  return attach(parent, key, cJSON_CreateRaw(buf));
}

cJSON* Json::add_object(cJSON* parent, std::string_view key) { return attach(parent, key, cJSON_CreateObject()); }
cJSON* Json::add_array(cJSON* parent, std::string_view key) { return attach(parent, key, cJSON_CreateArray()); }

cJSON* Json::add_tree(cJSON* parent, std::string_view key, Json child) {
  if (!child.ok()) {
    ok_ = false;
    return nullptr;
  }
  return attach(parent, key, child.release());
}

base::Result<std::string> Json::dump() const {
  if (!ok()) return base::error(base::Code::kResourceExhausted, "json: document failed while building");
  char* text = cJSON_PrintUnformatted(root_);
  if (text == nullptr) return base::error(base::Code::kResourceExhausted, "json: out of memory printing");
  std::string out(text);
  cJSON_free(text);
  return out;
}

std::string json_dump(const cJSON* item) {
  if (item == nullptr) return std::string();
  char* text = cJSON_PrintUnformatted(item);
  if (text == nullptr) return std::string();
  std::string out(text);
  cJSON_free(text);
  return out;
}

namespace {

const cJSON* member(const cJSON* obj, std::string_view key) {
  if (obj == nullptr || !cJSON_IsObject(obj) || has_nul(key)) return nullptr;
  std::string k(key);
  return cJSON_GetObjectItemCaseSensitive(obj, k.c_str());
}

}  // namespace

bool json_get_string(const cJSON* obj, std::string_view key, std::string* out) {
  const cJSON* m = member(obj, key);
  if (m == nullptr || !cJSON_IsString(m) || m->valuestring == nullptr) return false;
  *out = m->valuestring;
  return true;
}

bool json_get_bool(const cJSON* obj, std::string_view key, bool* out) {
  const cJSON* m = member(obj, key);
  if (m == nullptr || !cJSON_IsBool(m)) return false;
  *out = cJSON_IsTrue(m) != 0;
  return true;
}

bool json_get_i64(const cJSON* obj, std::string_view key, int64_t* out) {
  const cJSON* m = member(obj, key);
  if (m == nullptr || !cJSON_IsNumber(m)) return false;
  double v = m->valuedouble;
  constexpr double kExactMax = 9007199254740992.0;  // 2^53
  if (!std::isfinite(v) || v > kExactMax || v < -kExactMax || std::floor(v) != v) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

Response json_response(int status, const Json& doc) {
  auto text = doc.dump();
  if (!text.is_ok()) return Response::error(500, "out of memory building the response");
  return Response::json(status, std::move(text).value());
}

}  // namespace http
