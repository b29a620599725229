// Run-time tag changes (tag_overrides.h): the checks, the JSON shape, and the merge that keeps
// only differences from the configuration.
#include "agent/main/tag_overrides.h"

#include <cstdio>

#include "agent/http/json.h"
#include "cJSON.h"

namespace agent {

namespace {

// The agent's own tags (membership.cc, make_tags): named in the refusal so the operator sees why.
constexpr std::string_view kAgentTags[] = {"role", "dc", "id", "vsn", "build", "rpc_addr", "kr"};

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A key quoted for an error message: printable ASCII kept, anything else as \xNN, at most 80.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > 80) out += "...";
  out += "\"";
  return out;
}

}  // namespace

base::Status check_operator_tag(std::string_view key) {
  const std::string_view prefix = gossip::kTagLabelPrefix;
  if (key.substr(0, prefix.size()) != prefix) {
    for (std::string_view t : kAgentTags) {
      if (key == t) {
        return base::error(base::Code::kInvalidArgument,
                           "tag %s belongs to the agent (role, dc, id, vsn, build, rpc_addr and kr are set from its "
                           "configuration and state); only label.<name> tags can change at run time",
                           quoted(key).c_str());
      }
    }
    std::string hint;
    if (!key.empty() && key.size() <= kLabelNameBytesMax) hint = " (did you mean label." + std::string(key) + "?)";
    return base::error(base::Code::kInvalidArgument, "tag %s is not a label: only label.<name> tags can change at run time%s",
                       quoted(key).c_str(), hint.c_str());
  }
  const std::string_view name = key.substr(prefix.size());
  bool ok = !name.empty() && name.size() <= kLabelNameBytesMax && alnum(name.front()) && alnum(name.back());
  for (char c : name) ok = ok && (alnum(c) || c == '.' || c == '_' || c == '-');
  if (!ok) {
    return base::error(base::Code::kInvalidArgument,
                       "tag %s: a label name is 1..%zu of letters, digits, '.', '_' and '-', starting and ending "
                       "with a letter or digit",
                       quoted(key).c_str(), kLabelNameBytesMax);
  }
  return base::Status::ok();
}

base::Status check_label_value(std::string_view key, std::string_view value) {
  bool ok = value.size() <= kLabelValueBytesMax;
  for (char c : value) ok = ok && c >= 0x20 && c < 0x7f;
  if (!ok) {
    return base::error(base::Code::kInvalidArgument, "tag %s: a value is at most %zu printable ASCII characters",
                       quoted(key).c_str(), kLabelValueBytesMax);
  }
  return base::Status::ok();
}

base::Status check_tag_change(const TagChange& change, bool allow_empty) {
  if (change.empty() && !allow_empty) {
    return base::error(base::Code::kInvalidArgument, "nothing to change: give labels to Set and/or Delete");
  }
  if (change.set.size() + change.remove.size() > kTagChangeEntriesMax) {
    return base::error(base::Code::kInvalidArgument, "at most %zu tags in one change", kTagChangeEntriesMax);
  }
  for (const auto& [k, v] : change.set) {
    AGENT_TRY(check_operator_tag(k));
    AGENT_TRY(check_label_value(k, v));
  }
  for (const auto& k : change.remove) {
    AGENT_TRY(check_operator_tag(k));
    if (change.set.count(k) != 0) {
      return base::error(base::Code::kInvalidArgument, "tag %s is both set and deleted", quoted(k).c_str());
    }
  }
  return base::Status::ok();
}

base::Result<TagChange> parse_tag_change(std::string_view json) {
  if (json.size() > kTagChangeJsonBytesMax) {
    return base::error(base::Code::kResourceExhausted, "tag change over %zu bytes", kTagChangeJsonBytesMax);
  }
  auto doc = http::Json::parse(json, kTagChangeJsonBytesMax);
  if (!doc.is_ok()) {
    return base::error(base::Code::kInvalidArgument, "want a JSON object {\"Set\": {...}, \"Delete\": [...]}: %s",
                       doc.status().message().c_str());
  }
  const cJSON* root = doc->get();
  if (!cJSON_IsObject(root)) {
    return base::error(base::Code::kInvalidArgument, "want a JSON object {\"Set\": {...}, \"Delete\": [...]}");
  }
  TagChange out;
  const cJSON* field = nullptr;
  bool seen_set = false, seen_delete = false;
  cJSON_ArrayForEach(field, root) {
    const std::string_view name = field->string ? field->string : "";
    if (name == "Set" && !seen_set) {
      seen_set = true;
      if (!cJSON_IsObject(field)) return base::error(base::Code::kInvalidArgument, "Set: want an object of strings");
      const cJSON* e = nullptr;
      cJSON_ArrayForEach(e, field) {
        const std::string key = e->string ? e->string : "";
        if (!cJSON_IsString(e) || e->valuestring == nullptr) {
          return base::error(base::Code::kInvalidArgument, "Set: the value of %s is not a string", quoted(key).c_str());
        }
        if (!out.set.emplace(key, e->valuestring).second) {
          return base::error(base::Code::kInvalidArgument, "Set: tag %s given twice", quoted(key).c_str());
        }
      }
    } else if (name == "Delete" && !seen_delete) {
      seen_delete = true;
      if (!cJSON_IsArray(field)) return base::error(base::Code::kInvalidArgument, "Delete: want an array of tag names");
      const cJSON* e = nullptr;
      cJSON_ArrayForEach(e, field) {
        if (!cJSON_IsString(e) || e->valuestring == nullptr) {
          return base::error(base::Code::kInvalidArgument, "Delete: want an array of tag names");
        }
        if (!out.remove.emplace(e->valuestring).second) {
          return base::error(base::Code::kInvalidArgument, "Delete: tag %s given twice", quoted(e->valuestring).c_str());
        }
      }
    } else {
      return base::error(base::Code::kInvalidArgument, "unexpected field %s (want Set and Delete, once each)",
                         quoted(name).c_str());
    }
  }
  return out;
}

std::string encode_tag_change(const TagChange& change) {
  http::Json doc = http::Json::object();
  cJSON* set = doc.add_object(doc.get(), "Set");
  for (const auto& [k, v] : change.set) doc.add_string(set, k, v);
  cJSON* del = doc.add_array(doc.get(), "Delete");
  for (const auto& k : change.remove) doc.add_string(del, "", k);
  auto text = doc.dump();
  return text.is_ok() ? std::move(text).value() : std::string();
}

TagChange merge_overrides(const TagChange& overrides, const TagChange& change, const gossip::Tags& configured) {
  TagChange out = overrides;
  for (const auto& [k, v] : change.set) {
    out.remove.erase(k);
    auto c = configured.find(k);
    if (c != configured.end() && c->second == v) {
      out.set.erase(k);  // back to the configured value: nothing to override
    } else {
      out.set[k] = v;
    }
  }
  for (const auto& k : change.remove) {
    out.set.erase(k);
    if (configured.count(k) != 0) {
      out.remove.insert(k);
    } else {
      out.remove.erase(k);  // the configuration does not have it: nothing to override
    }
  }
  return out;
}

void apply_overrides(const TagChange& overrides, gossip::Tags* tags) {
  for (const auto& [k, v] : overrides.set) (*tags)[k] = v;
  for (const auto& k : overrides.remove) tags->erase(k);
}

}  // namespace agent
