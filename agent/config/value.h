// Turning a source's raw value (text, or a JSON node) into a checked config::Value of a key's
// type, and back into operator text for `config show`.
//
// Text (kernel command line, environment, flags): lists are comma-separated ("a,b"), maps are
// comma-separated key=value pairs ("rack=r12,zone=a"), booleans as parse_bool() reads them.
// JSON: strings for string-like keys and durations, numbers for integers (byte sizes take either),
// true/false for booleans, arrays of strings for lists, objects of strings for maps. A JSON
// value of the wrong JSON type is an error, never coerced: "7700" (a string) for ports.http is
// wrong, as an operator who quoted it may have meant something else.
//
// Every function returns false with *why set to one phrase, "want an integer 1..65535, got
// \"eighty\"", that the caller prefixes with the key and suffixes with the origin.
// Threading: pure functions. Not here: name resolution, precedence (config.cc).
#pragma once

#include <string>
#include <string_view>

#include "agent/config/schema.h"

struct cJSON;

namespace config {

bool value_from_text(const KeySpec& spec, std::string_view text, Value* out, std::string* why);
bool value_from_json(const KeySpec& spec, const cJSON* json, Value* out, std::string* why);

// The type-level checks (range, length, enum, address, map entries) and the key's own check.
// value_from_text and value_from_json call this; load() calls it again on derived defaults.
bool check_value(const KeySpec& spec, const Value& value, std::string* why);

// Operator text that value_from_text reads back to the same value ("10s", "a,b", "k=v").
std::string value_to_text(const KeySpec& spec, const Value& value);

}  // namespace config
