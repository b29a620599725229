// Run-time tag changes: what an operator may change in this node's gossip tags while the agent
// runs (PUT /v1/agent/tags, `agentctl tags`), the checks on such a change, and the overrides
// that persist it across restarts.
//
// Only labels are the operator's: "label.<name>" tags. Every other tag the agent derives from its
// own state and configuration -- role, dc, id, vsn, build, rpc_addr, kr -- and other members read
// them (foundations are found by role and rpc_addr, key rotation by kr), so a change to them is
// refused. Serf lets `serf tags` change any tag; Weft does not, because its tags are not only
// the operator's metadata.
//
// A TagChange is the request: labels to set and labels to delete. Overrides are what the agent
// keeps: the same shape, holding only the differences from the configured labels -- a label set
// to its configured value or a deletion of a label the configuration does not have is dropped --
// so a later configuration change of a label the operator never touched takes effect. The agent
// writes the overrides to <data_dir>/tags.json (durably) and applies them over the configured
// labels at every start (membership.h).
//
// Plain values and functions; no threading concerns. Not here: the HTTP handler and the file's
// I/O (membership.cc), the encoded-size bound of all tags together (wire::kTagsBytesMax, checked
// by the caller against the whole tag set).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/gossip/member.h"

namespace agent {

// "label." then 1..63 of [A-Za-z0-9._-], starting and ending with a letter or digit: a DNS
// label's length, and the characters a job constraint can name without quoting.
inline constexpr size_t kLabelNameBytesMax = 63;
// At most 255 printable ASCII characters (0x20..0x7e): no control characters that would break a
// log line or a terminal, and well under the 512 bytes all of a member's tags share.
inline constexpr size_t kLabelValueBytesMax = 255;
// Entries (sets plus deletions) in one change; the tag count bound of a member.
inline constexpr size_t kTagChangeEntriesMax = wire::kTagCountMax;
// The largest request body or overrides file accepted.
inline constexpr size_t kTagChangeJsonBytesMax = 32 * 1024;

struct TagChange {
  std::map<std::string, std::string> set;
  std::set<std::string> remove;  // the JSON's "Delete"
  bool empty() const { return set.empty() && remove.empty(); }
  bool operator==(const TagChange&) const = default;
};

// OK if `key` is a tag the operator may set or delete (label.<name>, see above); otherwise
// kInvalidArgument with a message that names the key and says why (one of the agent's own tags,
// or not a label at all, with the label it may have meant).
base::Status check_operator_tag(std::string_view key);
// OK if `value` is acceptable for a label (see kLabelValueBytesMax); else kInvalidArgument.
base::Status check_label_value(std::string_view key, std::string_view value);
// Every key and value checked as above, at most kTagChangeEntriesMax entries, no key both set
// and deleted. An empty change is refused too (`allow_empty` for the overrides file, which is
// empty when every change was undone).
base::Status check_tag_change(const TagChange& change, bool allow_empty);

// Parses {"Set": {"label.k": "v", ...}, "Delete": ["label.k", ...]} -- both members optional,
// nothing else allowed, a key at most once. kInvalidArgument says what is wrong;
// kResourceExhausted if the text is over kTagChangeJsonBytesMax. Does not check the keys
// (check_tag_change does).
base::Result<TagChange> parse_tag_change(std::string_view json);
// The same shape, compact; keys in order, so equal changes encode equally.
std::string encode_tag_change(const TagChange& change);

// The overrides after `change` is applied to `overrides`, given the tags the configuration makes
// (`configured`): only differences from `configured` are kept.
TagChange merge_overrides(const TagChange& overrides, const TagChange& change, const gossip::Tags& configured);
// Applies `overrides` to `tags` (sets, then deletions).
void apply_overrides(const TagChange& overrides, gossip::Tags* tags);

}  // namespace agent
