// JSON for the HTTP API: an RAII owner for cJSON trees, builders that cannot leak or crash on an
// allocation failure, a bounded parser and a serializer to std::string.
//
// cJSON is owned by agent/http and agent/config (STYLE.md); every cJSON* the agent creates lives
// in a Json. Builders return the child they made (nullptr on failure, never a dangling pointer)
// and put the tree in the failed state, so a caller builds a whole document and checks ok()
// once at the end, the way ByteWriter works.
//
// Numbers: cJSON keeps doubles, which are exact only up to 2^53. Indexes and other 64-bit
// counters therefore go through add_u64()/add_i64(), which write the decimal digits verbatim (a
// cJSON "raw" item), so X-Consul-Index-style values survive the round trip exactly.
//
// Threading: a Json is one owner's; cJSON keeps no global state besides its allocator hooks,
// which Weft never changes.
// Not here: schema validation or typed decoding of API bodies (each endpoint reads its fields
// with the getters below and says which one was wrong); pretty-printing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/http/message.h"
#include "cJSON.h"

namespace http {

class Json {
 public:
  Json() = default;
  // Takes ownership of `root` (may be nullptr: an empty, failed document).
  explicit Json(cJSON* root) : root_(root), ok_(root != nullptr) {}
  Json(const Json&) = delete;
  Json& operator=(const Json&) = delete;
  Json(Json&& o) noexcept : root_(o.root_), ok_(o.ok_) { o.root_ = nullptr; o.ok_ = false; }
  Json& operator=(Json&& o) noexcept;
  ~Json();

  static Json object();
  static Json array();

  // Parses at most `bytes_max` bytes of JSON text (the whole of `text`, nothing may follow but
  // whitespace). kInvalidArgument names the byte offset where parsing stopped; kResourceExhausted
  // when the text is longer than `bytes_max`. cJSON bounds nesting at CJSON_NESTING_LIMIT (1000).
  static base::Result<Json> parse(std::string_view text, size_t bytes_max);

  cJSON* get() const { return root_; }
  // Gives up ownership.
  cJSON* release();
  // False after any builder failed (out of memory, a key with a NUL, adding to a non-container).
  bool ok() const { return ok_ && root_ != nullptr; }

  // Builders on a container: `parent` is the root or any container obtained from these calls.
  // On an object `key` names the member; on an array `key` is ignored. Each returns the new
  // item or nullptr (and the document is failed).
  cJSON* add_string(cJSON* parent, std::string_view key, std::string_view value);
  cJSON* add_bool(cJSON* parent, std::string_view key, bool value);
  cJSON* add_null(cJSON* parent, std::string_view key);
  cJSON* add_double(cJSON* parent, std::string_view key, double value);
  cJSON* add_i64(cJSON* parent, std::string_view key, int64_t value);
  cJSON* add_u64(cJSON* parent, std::string_view key, uint64_t value);
  cJSON* add_object(cJSON* parent, std::string_view key);
  cJSON* add_array(cJSON* parent, std::string_view key);
  // Moves `child`'s whole tree under `parent` (child is left empty).
  cJSON* add_tree(cJSON* parent, std::string_view key, Json child);
  // Shorthands on the root.
  cJSON* add_string(std::string_view key, std::string_view value) { return add_string(root_, key, value); }
  cJSON* add_bool(std::string_view key, bool value) { return add_bool(root_, key, value); }
  cJSON* add_u64(std::string_view key, uint64_t value) { return add_u64(root_, key, value); }
  cJSON* add_i64(std::string_view key, int64_t value) { return add_i64(root_, key, value); }

  // Compact serialization. kResourceExhausted if the document is failed or cJSON ran out of
  // memory.
  base::Result<std::string> dump() const;

 private:
  cJSON* attach(cJSON* parent, std::string_view key, cJSON* item);
  cJSON* root_ = nullptr;
  bool ok_ = false;
};

// Serializes any cJSON tree compactly ("" when `item` is nullptr or cJSON ran out of memory).
std::string json_dump(const cJSON* item);
// `doc` as an application/json response with `status`; 500 if it cannot be serialized.
Response json_response(int status, const Json& doc);

// Typed getters for reading request bodies. Each returns false when `obj` is not an object, the
// member is absent, or has another type; `out` is then untouched. Keys are case-sensitive.
bool json_get_string(const cJSON* obj, std::string_view key, std::string* out);
bool json_get_bool(const cJSON* obj, std::string_view key, bool* out);
// Accepts a JSON number that is an integer within int64's range (no fraction, no exponent past
// what double holds exactly: |v| <= 2^53).
bool json_get_i64(const cJSON* obj, std::string_view key, int64_t* out);

}  // namespace http
