// The RPC frame encoder and the incremental decoder; see rpc_frame.h for the format.
#include "agent/wire/rpc_frame.h"

#include <algorithm>

#include "agent/base/assert.h"

namespace wire {

namespace {

bool method_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '/' || c == '-';
}

bool type_known(uint8_t t) { return t >= 1 && t <= 4; }

}  // namespace

std::string_view rpc_frame_type_name(RpcFrameType type) {
  switch (type) {
    case RpcFrameType::kRequest: return "request";
    case RpcFrameType::kResponse: return "response";
    case RpcFrameType::kError: return "error";
    case RpcFrameType::kCancel: return "cancel";
  }
  return "unknown";
}

base::Status check_rpc_frame(const RpcFrame& f, size_t body_bytes_max) {
  using base::Code;
  if (!type_known(static_cast<uint8_t>(f.type))) {
    return base::error(Code::kInvalidArgument, "rpc frame: unknown type %u",
                       static_cast<unsigned>(f.type));
  }
  if (f.call_id == 0) return base::error(Code::kInvalidArgument, "rpc frame: call id 0");
  if ((f.flags & ~kRpcFlagsKnown) != 0) {
    return base::error(Code::kInvalidArgument, "rpc frame: unknown flags 0x%02x", f.flags);
  }
  if ((f.flags & kRpcFlagMore) != 0 && f.type != RpcFrameType::kResponse) {
    return base::error(Code::kInvalidArgument, "rpc frame: 'more' flag on a %s frame",
                       std::string(rpc_frame_type_name(f.type)).c_str());
  }
  if (f.type == RpcFrameType::kRequest) {
    if (f.method.empty() || f.method.size() > kRpcMethodBytesMax) {
      return base::error(Code::kInvalidArgument, "rpc frame: method name of %zu bytes (1..%zu)",
                         f.method.size(), kRpcMethodBytesMax);
    }
    if (!std::all_of(f.method.begin(), f.method.end(), method_char_ok)) {
      return base::error(Code::kInvalidArgument, "rpc frame: bad character in method name");
    }
  } else if (!f.method.empty()) {
    return base::error(Code::kInvalidArgument, "rpc frame: method name on a %s frame",
                       std::string(rpc_frame_type_name(f.type)).c_str());
  }
  if (f.type == RpcFrameType::kCancel && !f.body.empty()) {
    return base::error(Code::kInvalidArgument, "rpc frame: cancel with a body");
  }
  if (f.body.size() > body_bytes_max) {
    return base::error(Code::kResourceExhausted, "rpc frame: body of %zu bytes over the %zu limit",
                       f.body.size(), body_bytes_max);
  }
  return base::Status::ok();
}

base::Status append_rpc_frame(const RpcFrame& f, size_t body_bytes_max, std::string* out) {
  AGENT_ASSERT(body_bytes_max <= kRpcBodyBytesLimit);
  AGENT_TRY(check_rpc_frame(f, body_bytes_max));
  const size_t total = kRpcHeaderBytes + f.method.size() + f.body.size();
  const size_t start = out->size();
  base::ByteWriter w(out, start + total);
  w.u8(kRpcFrameVersion);
  w.u8(static_cast<uint8_t>(f.type));
  w.u8(f.flags);
  w.u8(static_cast<uint8_t>(f.method.size()));
  w.u32(f.call_id);
  w.u32(static_cast<uint32_t>(f.body.size()));
  w.raw(f.method);
  w.raw(f.body);
  AGENT_ASSERT(w.ok() && out->size() == start + total);
  return base::Status::ok();
}

std::string encode_rpc_error_body(const base::Status& status) {
  AGENT_ASSERT(!status.is_ok());
  std::string body;
  body.push_back(static_cast<char>(status.code()));
  body.append(status.message(), 0, kRpcErrorMessageBytesMax);
  return body;
}

base::Status decode_rpc_error_body(std::string_view body) {
  if (body.empty()) return base::Status(base::Code::kInternal, "rpc error without a code");
  const auto code = static_cast<uint8_t>(body[0]);
  std::string message(body.substr(1, kRpcErrorMessageBytesMax));
  if (code == 0 || code > static_cast<uint8_t>(base::Code::kCancelled)) {
    return base::Status(base::Code::kInternal, "rpc error with unknown code: " + message);
  }
  return base::Status(static_cast<base::Code>(code), std::move(message));
}

RpcFrameDecoder::RpcFrameDecoder(size_t body_bytes_max) : body_bytes_max_(body_bytes_max) {
  AGENT_ASSERT(body_bytes_max <= kRpcBodyBytesLimit);
}

base::Status RpcFrameDecoder::fail(base::Status s) {
  state_ = State::kFailed;
  error_ = s;
  frame_ = RpcFrame{};
  return s;
}

// Checks the header as soon as it is whole, before any method or body byte is buffered, so an
// oversized or foreign stream is refused without reading (or allocating) its body.
base::Status RpcFrameDecoder::parse_header() {
  using base::Code;
  base::ByteReader r(base::ByteSpan(header_.data(), header_.size()));
  const uint8_t version = r.u8();
  const uint8_t type = r.u8();
  const uint8_t flags = r.u8();
  method_bytes_ = r.u8();
  const uint32_t call_id = r.u32();
  body_bytes_ = r.u32();
  AGENT_ASSERT(r.at_end());
  if (version != kRpcFrameVersion) {
    return base::error(Code::kInvalidArgument, "rpc frame: version %u (speaking %u)", version,
                       kRpcFrameVersion);
  }
  if (!type_known(type)) {
    return base::error(Code::kInvalidArgument, "rpc frame: unknown type %u", type);
  }
  frame_ = RpcFrame{};
  frame_.type = static_cast<RpcFrameType>(type);
  frame_.flags = flags;
  frame_.call_id = call_id;
  if (body_bytes_ > body_bytes_max_) {
    return base::error(Code::kResourceExhausted, "rpc frame: body of %zu bytes over the %zu limit",
                       body_bytes_, body_bytes_max_);
  }
  // Check everything but the method's characters and the body now; a stand-in method of the
  // announced length makes check_rpc_frame see the right sizes.
  if (method_bytes_ > kRpcMethodBytesMax) {
    return base::error(Code::kInvalidArgument, "rpc frame: method name of %zu bytes (1..%zu)",
                       method_bytes_, kRpcMethodBytesMax);
  }
  RpcFrame shape = frame_;
  shape.method.assign(method_bytes_, 'm');
  if (frame_.type == RpcFrameType::kCancel && body_bytes_ != 0) {
    return base::error(Code::kInvalidArgument, "rpc frame: cancel with a body");
  }
  AGENT_TRY(check_rpc_frame(shape, body_bytes_max_));
  frame_.method.reserve(method_bytes_);
  return base::Status::ok();
}

base::Result<size_t> RpcFrameDecoder::feed(base::ByteSpan in) {
  AGENT_ASSERT_MSG(state_ != State::kComplete, "take_frame() before feeding again");
  if (state_ == State::kFailed) return error_;
  size_t used = 0;
  while (used < in.size() || state_ != State::kHeader) {
    if (state_ == State::kHeader) {
      const size_t n = std::min(kRpcHeaderBytes - header_bytes_, in.size() - used);
      std::copy_n(in.data() + used, n, header_.data() + header_bytes_);
      header_bytes_ += n;
      used += n;
      if (header_bytes_ < kRpcHeaderBytes) break;
      base::Status s = parse_header();
      if (!s.is_ok()) return fail(std::move(s));
      state_ = State::kMethod;
    } else if (state_ == State::kMethod) {
      const size_t n = std::min(method_bytes_ - frame_.method.size(), in.size() - used);
      frame_.method.append(reinterpret_cast<const char*>(in.data() + used), n);
      used += n;
      if (frame_.method.size() < method_bytes_) break;
      if (!std::all_of(frame_.method.begin(), frame_.method.end(), method_char_ok)) {
        return fail(base::error(base::Code::kInvalidArgument,
                                "rpc frame: bad character in method name"));
      }
      state_ = State::kBody;
    } else if (state_ == State::kBody) {
      const size_t n = std::min(body_bytes_ - frame_.body.size(), in.size() - used);
      frame_.body.append(reinterpret_cast<const char*>(in.data() + used), n);
      used += n;
      if (frame_.body.size() < body_bytes_) break;
      state_ = State::kComplete;
      break;
    } else {
      AGENT_UNREACHABLE();
    }
  }
  return used;
}

RpcFrame RpcFrameDecoder::take_frame() {
  AGENT_ASSERT(state_ == State::kComplete);
  RpcFrame out = std::move(frame_);
  frame_ = RpcFrame{};
  header_bytes_ = 0;
  method_bytes_ = 0;
  body_bytes_ = 0;
  state_ = State::kHeader;
  return out;
}

}  // namespace wire
