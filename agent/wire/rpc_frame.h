// The RPC frame: how calls between agents and foundations are cut out of one TLS byte stream.
//
// One TCP connection (mutual TLS, hal/tls.h) carries many calls at once. Each call has an id
// chosen by the side that opened it; every frame names its call, so responses may come back in
// any order and a slow call does not hold up the others (multiplexing, as in Consul's yamux or
// HTTP/2 streams, without their flow control: bodies are bounded instead).
//
// Frame (all integers little-endian, written by base::ByteWriter):
//   u8   version       kRpcFrameVersion; anything else is refused
//   u8   type          RpcFrameType
//   u8   flags         RpcFrameFlags bits; unknown bits are refused
//   u8   method bytes  length of the method name that follows the header (requests only)
//   u32  call id       non-zero; chosen by the caller, unique among its calls in flight
//   u32  body bytes    at most the decoder's body_bytes_max
//   method name (method bytes, [A-Za-z0-9._/-], 1..kRpcMethodBytesMax for a request, else empty)
//   body (opaque here: the method's request or response encoding, or an error's text)
// The header is kRpcHeaderBytes long. There is no checksum: TLS authenticates every record.
//
// Types: kRequest opens a call (method required); kResponse answers it, and with kFlagMore set
// it is one chunk of a streamed answer that continues with further kResponse frames (the last
// has kFlagMore clear); kError ends a call with a failure (body: u8 base::Code, then the
// message); kCancel, from the caller, abandons a call (empty body; the server may still answer,
// the caller drops it). Only kResponse may carry kFlagMore.
//
// Decoding is incremental (RpcFrameDecoder): bytes are fed as they arrive, split anywhere, and
// whole frames come out one at a time. A malformed header -- unknown version, type or flag, a
// bad method name, a body over the bound -- is connection-fatal: the stream has lost its framing
// and nothing after it can be trusted, so the decoder stays failed and the connection is closed.
// The decoder never holds more than kRpcHeaderBytes + kRpcMethodBytesMax + body_bytes_max bytes,
// and grows its body buffer only as body bytes actually arrive (a peer that announces 1 MiB and
// sends nothing costs nothing).
//
// Threading: plain values and a decoder owned by one connection. Not here: TLS (hal/tls.h),
// call tables, timeouts and dispatch (agent/rpc/), what a body means (each method's codec).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/bytes.h"
#include "agent/base/status.h"

namespace wire {

// Bumped when the frame header changes incompatibly; a peer speaking another version is refused.
inline constexpr uint8_t kRpcFrameVersion = 1;
inline constexpr size_t kRpcHeaderBytes = 12;
// Method names are short dotted identifiers ("KV.Get", "Raft.AppendEntries").
inline constexpr size_t kRpcMethodBytesMax = 64;
// Default body bound: a 512 KiB KV value (Consul's limit) with its key and headroom.
inline constexpr size_t kRpcBodyBytesDefault = 1u << 20;
// Hard ceiling for any configured body bound: above a Raft AppendEntries batch
// (kRaftMessageBytesMax, 8 MiB) so one frame can carry one, and small enough that a connection's
// worst case stays a fixed, known amount of memory.
inline constexpr size_t kRpcBodyBytesLimit = 16u << 20;

enum class RpcFrameType : uint8_t {
  kRequest = 1,
  kResponse = 2,
  kError = 3,
  kCancel = 4,
};
std::string_view rpc_frame_type_name(RpcFrameType type);

// Flag bits.
inline constexpr uint8_t kRpcFlagMore = 1;  // kResponse only: more chunks of this call follow
inline constexpr uint8_t kRpcFlagsKnown = kRpcFlagMore;

struct RpcFrame {
  RpcFrameType type = RpcFrameType::kRequest;
  uint8_t flags = 0;
  uint32_t call_id = 0;
  std::string method;  // requests only
  std::string body;
  bool operator==(const RpcFrame&) const = default;
};

// Checks a frame against the format's rules (non-zero call id, method present exactly for
// requests and well-formed, flags allowed for the type, empty cancel body, body within
// `body_bytes_max`). kInvalidArgument naming the rule, or kResourceExhausted for a body over
// the bound. Used by both the encoder and the decoder.
base::Status check_rpc_frame(const RpcFrame& f, size_t body_bytes_max);

// Appends the encoding of `f` to `out`. Fails (appending nothing) with check_rpc_frame's error:
// a body too big to send is an expected condition (a large KV value), not a broken invariant.
[[nodiscard]] base::Status append_rpc_frame(const RpcFrame& f, size_t body_bytes_max,
                                            std::string* out);

// An error frame's body: u8 code, then the message (truncated to kRpcErrorMessageBytesMax).
inline constexpr size_t kRpcErrorMessageBytesMax = 1024;
std::string encode_rpc_error_body(const base::Status& status);
// Reads an error body back. A code byte outside base::Code or an empty body gives kInternal with
// the text, so a garbled error still reads as an error.
base::Status decode_rpc_error_body(std::string_view body);

class RpcFrameDecoder {
 public:
  // `body_bytes_max` bounds every frame's body; it must be at most kRpcBodyBytesLimit (asserted:
  // it comes from validated config).
  explicit RpcFrameDecoder(size_t body_bytes_max = kRpcBodyBytesDefault);

  // Consumes bytes from the front of `in`, stopping right after the first frame it completes.
  // Returns how many bytes it consumed (all of `in` unless a frame completed earlier); when a
  // frame is complete, has_frame() is true and the caller must take_frame() before feeding
  // again (asserted). The caller loops: feed, take, feed the rest.
  // Errors are connection-fatal (kInvalidArgument for garbage, kResourceExhausted for an oversized
  // body): the decoder keeps returning the same error and the connection must be closed.
  [[nodiscard]] base::Result<size_t> feed(base::ByteSpan in);

  bool has_frame() const { return state_ == State::kComplete; }
  // The completed frame; resets the decoder for the next one. Asserts has_frame().
  RpcFrame take_frame();

  bool failed() const { return state_ == State::kFailed; }
  // True when no partial frame is buffered (a clean point to close the connection).
  bool idle() const { return state_ == State::kHeader && header_bytes_ == 0; }
  size_t body_bytes_max() const { return body_bytes_max_; }

 private:
  enum class State : uint8_t { kHeader, kMethod, kBody, kComplete, kFailed };
  base::Status fail(base::Status s);
  base::Status parse_header();

  size_t body_bytes_max_;
  State state_ = State::kHeader;
  std::array<uint8_t, kRpcHeaderBytes> header_{};
  size_t header_bytes_ = 0;
  size_t method_bytes_ = 0;
  size_t body_bytes_ = 0;
  RpcFrame frame_;
  base::Status error_;
};

}  // namespace wire
