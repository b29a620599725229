// Conversions between raw source values and typed Values. The JSON path and the text path both
// end in check_value(), so a value is held to the same rules wherever it came from.
#include "agent/config/value.h"

#include <cmath>
#include <cstdio>

#include "agent/config/parse.h"
#include "cJSON.h"

namespace config {
namespace {

// Integers in JSON arrive as doubles; beyond 2^53 they are no longer exact.
constexpr double kJsonIntMax = 9007199254740992.0;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string describe_json(const cJSON* json) {
  if (cJSON_IsString(json)) return quote(json->valuestring);
  if (cJSON_IsBool(json)) return cJSON_IsTrue(json) ? "true" : "false";
  if (cJSON_IsNull(json)) return "null";
  if (cJSON_IsArray(json)) return "an array";
  if (cJSON_IsObject(json)) return "an object";
  if (cJSON_IsNumber(json)) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "the number %.17g", json->valuedouble);
    return buf;
  }
  return "an invalid value";
}

bool want(const KeySpec& spec, const std::string& got, std::string* why) {
  *why = "want " + describe_type(spec) + ", got " + got;
  return false;
}

// Splits "a, b,c" into trimmed non-empty items.
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = trim(text.substr(pos, comma - pos));
    if (!item.empty()) out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

bool valid_map_key(std::string_view k) {
  if (k.empty() || k.size() > 63) return false;
  for (char c : k) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '/';
    if (!ok) return false;
  }
  return true;
}

bool has_control(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool check_item(const KeySpec& spec, const std::string& item, std::string* why) {
  if (item.size() > static_cast<size_t>(spec.int_max) || has_control(item)) {
    *why = "item " + quote(item) + " is longer than " + std::to_string(spec.int_max) +
           " characters or holds control characters";
    return false;
  }
  if (spec.item == KeyType::kEnum) {
    for (std::string_view c : spec.choices) {
      if (c == item) return true;
    }
    return want(spec, quote(item), why);
  }
  if (spec.item == KeyType::kAddress) {
    std::string reason;
    if (!is_address(item, &reason)) {
      *why = "want host[:port], got " + quote(item) + ": " + reason;
      return false;
    }
  }
  return true;
}

}  // namespace

bool check_value(const KeySpec& spec, const Value& v, std::string* why) {
  switch (spec.type) {
    case KeyType::kString:
      if (v.s.size() > static_cast<size_t>(spec.int_max) || has_control(v.s)) {
        return want(spec, quote(v.s), why);
      }
      break;
    case KeyType::kBool:
      break;
    case KeyType::kInt:
      if (v.i < spec.int_min || v.i > spec.int_max) return want(spec, std::to_string(v.i), why);
      break;
    case KeyType::kBytes:
      if (v.i < spec.int_min || v.i > spec.int_max) return want(spec, format_bytes(v.i), why);
      break;
    case KeyType::kDuration:
      if (v.i < spec.int_min || v.i > spec.int_max) {
        return want(spec, quote(format_duration(v.i)), why);
      }
      break;
    case KeyType::kEnum: {
      bool found = false;
      for (std::string_view c : spec.choices) found = found || c == v.s;
      if (!found) return want(spec, quote(v.s), why);
      break;
    }
    case KeyType::kIp:
      // An empty value leaves a key whose default is empty unset.
      if (!(v.s.empty() && spec.default_text.empty()) && !is_ip(v.s)) {
        return want(spec, quote(v.s), why);
      }
      break;
    case KeyType::kAddress: {
      std::string reason;
      if (!is_address(v.s, &reason)) {
        *why = "want host[:port], got " + quote(v.s) + ": " + reason;
        return false;
      }
      break;
    }
    case KeyType::kList:
      if (v.list.size() > spec.items_max) {
        *why = "want at most " + std::to_string(spec.items_max) + " items, got " +
               std::to_string(v.list.size());
        return false;
      }
      for (size_t i = 0; i < v.list.size(); ++i) {
        if (!check_item(spec, v.list[i], why)) return false;
        for (size_t j = 0; j < i; ++j) {
          if (v.list[j] == v.list[i]) {
            *why = quote(v.list[i]) + " is listed twice";
            return false;
          }
        }
      }
      break;
    case KeyType::kMap:
      if (v.map.size() > spec.items_max) {
        *why = "want at most " + std::to_string(spec.items_max) + " entries, got " +
               std::to_string(v.map.size());
        return false;
      }
      for (const auto& [k, val] : v.map) {
        if (!valid_map_key(k)) {
          *why = "entry name " + quote(k) + " is not 1..63 of letters, digits, '_', '-', '.', '/'";
          return false;
        }
        if (val.size() > static_cast<size_t>(spec.int_max) || has_control(val)) {
          *why = "entry " + quote(k) + " has a value longer than " + std::to_string(spec.int_max) +
                 " characters or with control characters";
          return false;
        }
      }
      break;
  }
  if (spec.check != nullptr && !spec.check(v, why)) return false;
  return true;
}

bool value_from_text(const KeySpec& spec, std::string_view text, Value* out, std::string* why) {
  *out = Value();
  switch (spec.type) {
    case KeyType::kString:
    case KeyType::kEnum:
    case KeyType::kIp:
    case KeyType::kAddress:
      out->s = std::string(text);
      break;
    case KeyType::kBool:
      if (!parse_bool(text, &out->b)) return want(spec, quote(text), why);
      break;
    case KeyType::kInt:
      if (!parse_int(text, &out->i)) return want(spec, quote(text), why);
      break;
    case KeyType::kBytes:
      if (!parse_bytes(text, &out->i)) return want(spec, quote(text), why);
      break;
    case KeyType::kDuration:
      if (!parse_duration(text, &out->i)) return want(spec, quote(text), why);
      break;
    case KeyType::kList:
      out->list = split_list(text);
      break;
    case KeyType::kMap:
      for (const std::string& pair : split_list(text)) {
        size_t eq = pair.find('=');
        if (eq == std::string::npos) {
          *why = "want key=value pairs separated by commas, got " + quote(pair);
          return false;
        }
        out->map[std::string(trim(pair.substr(0, eq)))] = std::string(trim(pair.substr(eq + 1)));
      }
      break;
  }
  return check_value(spec, *out, why);
}

bool value_from_json(const KeySpec& spec, const cJSON* json, Value* out, std::string* why) {
  *out = Value();
  switch (spec.type) {
    case KeyType::kString:
    case KeyType::kEnum:
    case KeyType::kIp:
    case KeyType::kAddress:
    case KeyType::kDuration:
      if (!cJSON_IsString(json)) return want(spec, describe_json(json), why);
      if (spec.type == KeyType::kDuration) {
        if (!parse_duration(json->valuestring, &out->i))
          return want(spec, describe_json(json), why);
      } else {
        out->s = json->valuestring;
      }
      break;
    case KeyType::kBool:
      if (!cJSON_IsBool(json)) return want(spec, describe_json(json), why);
      out->b = cJSON_IsTrue(json);
      break;
    case KeyType::kInt:
    case KeyType::kBytes:
      if (spec.type == KeyType::kBytes && cJSON_IsString(json)) {
        if (!parse_bytes(json->valuestring, &out->i)) return want(spec, describe_json(json), why);
        break;
      }
      if (!cJSON_IsNumber(json) || !std::isfinite(json->valuedouble) ||
          std::fabs(json->valuedouble) > kJsonIntMax ||
          json->valuedouble != std::trunc(json->valuedouble)) {
        return want(spec, describe_json(json), why);
      }
      out->i = static_cast<int64_t>(json->valuedouble);
      break;
    case KeyType::kList: {
      if (!cJSON_IsArray(json)) return want(spec, describe_json(json), why);
      size_t n = 0;
      for (const cJSON* item = json->child; item != nullptr; item = item->next) {
        if (!cJSON_IsString(item)) {
          return want(spec, "an array holding " + describe_json(item), why);
        }
        if (++n > spec.items_max) {
          *why = "want at most " + std::to_string(spec.items_max) + " items";
          return false;
        }
        out->list.emplace_back(item->valuestring);
      }
      break;
    }
    case KeyType::kMap: {
      if (!cJSON_IsObject(json)) return want(spec, describe_json(json), why);
      for (const cJSON* item = json->child; item != nullptr; item = item->next) {
        std::string name = item->string != nullptr ? item->string : "";
        if (!cJSON_IsString(item)) {
          *why = "entry " + quote(name) + ": want a string, got " + describe_json(item);
          return false;
        }
        if (out->map.count(name) != 0) {
          *why = "entry " + quote(name) + " appears twice";
          return false;
        }
        if (out->map.size() >= spec.items_max) {
          *why = "want at most " + std::to_string(spec.items_max) + " entries";
          return false;
        }
        out->map[name] = item->valuestring;
      }
      break;
    }
  }
  return check_value(spec, *out, why);
}

std::string value_to_text(const KeySpec& spec, const Value& v) {
  switch (spec.type) {
    case KeyType::kString:
    case KeyType::kEnum:
    case KeyType::kIp:
    case KeyType::kAddress:
      return v.s;
    case KeyType::kBool:
      return v.b ? "true" : "false";
    case KeyType::kInt:
      return std::to_string(v.i);
    case KeyType::kBytes:
      return format_bytes(v.i);
    case KeyType::kDuration:
      return format_duration(v.i);
    case KeyType::kList: {
      std::string out;
      for (const std::string& item : v.list) {
        if (!out.empty()) out += ',';
        out += item;
      }
      return out;
    }
    case KeyType::kMap: {
      std::string out;
      for (const auto& [k, val] : v.map) {
        if (!out.empty()) out += ',';
        out += k + "=" + val;
      }
      return out;
    }
  }
  return "";
}

}  // namespace config
