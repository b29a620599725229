// A DNS response as text, for `agentctl dns` (issue 5 item 6: a console with no dig): the query
// for a name and type built, and the response's records read back into dig's presentation
// (owner, TTL, type, data). Only for responses this agent's own server wrote; anything malformed
// is an error, never a partial read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace dns {

struct RecordText {
  std::string name;  // dotted, with the final dot
  uint32_t ttl = 0;
  std::string type;  // "A", "SRV", ... or "TYPE<n>"
  std::string data;  // dig's presentation ("10 5 8080 web.node.weft.", "10.0.0.1", ...)
};

struct ResponseText {
  std::string rcode;  // "NOERROR", "NXDOMAIN", ... or "RCODE<n>"
  bool authoritative = false;
  bool truncated = false;
  std::vector<RecordText> answer, authority, additional;  // OPT left out
};

// "A", "aaaa", "SRV", "33", ... as a type number; 0 when it is none of the known names or a
// number 1..65535.
uint16_t type_from_text(std::string_view text);
std::string type_name(uint16_t type);

// A query (ID 1, RD, class IN, no EDNS) for `name` and `type`. kInvalidArgument for a name
// name_from_text() refuses.
base::Result<std::vector<uint8_t>> build_query(std::string_view name, uint16_t type);

base::Result<ResponseText> describe_response(std::span<const uint8_t> msg);

}  // namespace dns
