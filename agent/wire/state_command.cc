// State command encoding: see state_command.h.
#include "agent/wire/state_command.h"

#include "agent/base/bytes.h"

namespace wire {

namespace {

using base::Code;
using base::Status;

bool known_type(uint8_t t) { return t >= 1 && t <= 5; }
bool has_value(StateCommandType t) { return t == StateCommandType::kKvSet || t == StateCommandType::kKvCas; }
bool has_index(StateCommandType t) { return t == StateCommandType::kKvCas || t == StateCommandType::kKvDeleteCas; }

Status check(const StateCommand& cmd) {
  if (!known_type(static_cast<uint8_t>(cmd.type))) {
    return base::error(Code::kInvalidArgument, "state command: unknown type %u", static_cast<unsigned>(cmd.type));
  }
  AGENT_TRY(check_kv_key(cmd.key, cmd.type == StateCommandType::kKvDeleteTree));
  if (cmd.value.size() > kKvValueBytesMax) {
    return base::error(Code::kResourceExhausted, "state command: value of %zu bytes is over the %zu-byte limit",
                       cmd.value.size(), kKvValueBytesMax);
  }
  return Status::ok();
}

}  // namespace

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte first, an overlong 2-byte lead (C0, C1) or F5..FF
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      uint8_t cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;  // overlong
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Status check_kv_key(std::string_view key, bool prefix) {
  if (key.size() > kKvKeyBytesMax) {
    return base::error(Code::kResourceExhausted, "state command: key of %zu bytes is over the %zu-byte limit",
                       key.size(), kKvKeyBytesMax);
  }
  if (key.empty() && !prefix) return base::error(Code::kInvalidArgument, "state command: empty key");
  if (!key.empty() && key[0] == '/') return base::error(Code::kInvalidArgument, "state command: key starts with '/'");
  if (!valid_utf8(key)) return base::error(Code::kInvalidArgument, "state command: key is not valid UTF-8");
  return Status::ok();
}

base::Result<std::string> encode_state_command(const StateCommand& cmd) {
  AGENT_TRY(check(cmd));
  if (!has_value(cmd.type) && (!cmd.value.empty() || cmd.flags != 0)) {
    return base::error(Code::kInvalidArgument, "state command: value or flags on a delete");
  }
  if (!has_index(cmd.type) && cmd.index != 0) return base::error(Code::kInvalidArgument, "state command: index on a non-CAS command");
  std::string out;
  base::ByteWriter w(&out, kStateCommandBytesMax);
  w.u8(kStateCommandVersion);
  w.u8(static_cast<uint8_t>(cmd.type));
  w.str(cmd.key);
  if (has_value(cmd.type)) {
    w.u64(cmd.flags);
    w.str(cmd.value);
  }
  if (has_index(cmd.type)) w.u64(cmd.index);
  if (!w.ok()) return base::error(Code::kResourceExhausted, "state command: over %zu bytes", kStateCommandBytesMax);
  return out;
}

base::Result<StateCommand> decode_state_command(std::string_view bytes) {
  if (bytes.size() > kStateCommandBytesMax) {
    return base::error(Code::kResourceExhausted, "state command: %zu bytes is over the %zu-byte limit", bytes.size(),
                       kStateCommandBytesMax);
  }
  base::ByteReader r(bytes);
  uint8_t version = r.u8();
  uint8_t type = r.u8();
  if (!r.ok()) return base::error(Code::kInvalidArgument, "state command: truncated header");
  if (version != kStateCommandVersion) {
    return base::error(Code::kInvalidArgument, "state command: unknown version %u", static_cast<unsigned>(version));
  }
  if (!known_type(type)) return base::error(Code::kInvalidArgument, "state command: unknown type %u", static_cast<unsigned>(type));
  StateCommand cmd;
  cmd.type = static_cast<StateCommandType>(type);
  // Read the key's length with room to spare so an over-long key is reported as such.
  std::string_view key = r.str(bytes.size());
  if (!r.ok()) return base::error(Code::kInvalidArgument, "state command: truncated key");
  cmd.key = std::string(key);
  if (has_value(cmd.type)) {
    cmd.flags = r.u64();
    std::string_view value = r.str(bytes.size());
    if (!r.ok()) return base::error(Code::kInvalidArgument, "state command: truncated flags or value");
    cmd.value = std::string(value);
  }
  if (has_index(cmd.type)) {
    cmd.index = r.u64();
    if (!r.ok()) return base::error(Code::kInvalidArgument, "state command: truncated index");
  }
  if (!r.at_end()) return base::error(Code::kInvalidArgument, "state command: trailing bytes");
  AGENT_TRY(check(cmd));
  return cmd;
}

}  // namespace wire
