// The state machine's command encoding: what a client's write becomes inside a Raft log entry,
// and what agent/state/ decodes and applies once the entry is committed (issue 4 items 3 and 6).
//
// Command (the whole entry data; nothing may follow it, so every command has one encoding):
//   u8      version (kStateCommandVersion)
//   u8      type (StateCommandType)
//   bytes   key (varint length <= kKvKeyBytesMax)
//   by type:
//   kKvSet         u64 flags, bytes value (<= kKvValueBytesMax)
//   kKvCas         u64 flags, bytes value, u64 index (0: create only if absent)
//   kKvDelete      -
//   kKvDeleteCas   u64 index
//   kKvDeleteTree  - (the key is a prefix; an empty prefix means every key, like Consul's
//                    DELETE /v1/kv/?recurse)
//
// Keys follow Consul's rules: valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF),
// at most 512 bytes, no leading '/', non-empty except as a delete-tree prefix. Values are opaque
// and at most 512 KiB (Consul's limit).
//
// decode_state_command() takes untrusted bytes from the Raft log: every length is bounded, every
// failure is a Status (kInvalidArgument naming the field, kResourceExhausted for a key or value
// over its limit), nothing asserts. Threading: pure functions and plain values.
// Not here: node commands (the nodes table exists; its commands come with registration).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/status.h"

namespace wire {

inline constexpr uint8_t kStateCommandVersion = 1;
inline constexpr size_t kKvKeyBytesMax = 512;
inline constexpr size_t kKvValueBytesMax = 512 * 1024;
// Header, key, flags, index and the value's length prefix fit in 1 KiB beside the value.
inline constexpr size_t kStateCommandBytesMax = kKvValueBytesMax + 1024;

enum class StateCommandType : uint8_t {
  kKvSet = 1,
  kKvCas = 2,
  kKvDelete = 3,
  kKvDeleteCas = 4,
  kKvDeleteTree = 5,
};

struct StateCommand {
  StateCommandType type = StateCommandType::kKvSet;
  std::string key;
  std::string value;   // kKvSet, kKvCas
  uint64_t flags = 0;  // kKvSet, kKvCas
  uint64_t index = 0;  // kKvCas, kKvDeleteCas: the modify index the key must have (0: absent)

  bool operator==(const StateCommand&) const = default;
};

// True if `s` is well-formed UTF-8 (RFC 3629).
bool valid_utf8(std::string_view s);

// OK if `key` is a valid KV key (or, with `prefix`, a valid delete-tree prefix, which may be
// empty). kInvalidArgument or kResourceExhausted otherwise.
base::Status check_kv_key(std::string_view key, bool prefix = false);

// Encodes a command after checking it as the decoder would (so an encoded command always
// decodes); errors as decode_state_command().
base::Result<std::string> encode_state_command(const StateCommand& cmd);

base::Result<StateCommand> decode_state_command(std::string_view bytes);

}  // namespace wire
