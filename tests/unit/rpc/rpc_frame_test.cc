// Proves the RPC frame codec's contract: frames round-trip; the incremental decoder yields the
// same frames however the stream is split (every byte boundary, one byte at a time, many frames
// in one feed); truncated input yields nothing; and garbage -- another version, an unknown type
// or flag, a bad method, an oversized body -- is refused as connection-fatal without buffering
// the body.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/wire/rpc_frame.h"

namespace {

using base::Code;
using wire::RpcFrame;
using wire::RpcFrameDecoder;
using wire::RpcFrameType;

std::vector<RpcFrame> sample_frames() {
  std::vector<RpcFrame> v;
  v.push_back({.type = RpcFrameType::kRequest, .flags = 0, .call_id = 1, .method = "KV.Get",
               .body = "key/one"});
  v.push_back({.type = RpcFrameType::kResponse, .flags = wire::kRpcFlagMore, .call_id = 1,
               .method = "", .body = std::string(300, 'x')});
  v.push_back({.type = RpcFrameType::kResponse, .flags = 0, .call_id = 1, .method = "",
               .body = ""});
  v.push_back({.type = RpcFrameType::kError, .flags = 0, .call_id = 0xffffffffu, .method = "",
               .body = wire::encode_rpc_error_body(base::Status(Code::kUnavailable, "no leader"))});
  v.push_back({.type = RpcFrameType::kCancel, .flags = 0, .call_id = 7, .method = "", .body = ""});
  v.push_back({.type = RpcFrameType::kRequest, .flags = 0, .call_id = 2,
               .method = std::string(wire::kRpcMethodBytesMax, 'M'), .body = std::string(1, '\0')});
  return v;
}

std::string encode_all(const std::vector<RpcFrame>& frames) {
  std::string out;
  for (const RpcFrame& f : frames) {
    EXPECT_TRUE(wire::append_rpc_frame(f, wire::kRpcBodyBytesDefault, &out).is_ok());
  }
  return out;
}

// Feeds `chunks` in order, taking every frame; returns the frames, or the first error.
base::Result<std::vector<RpcFrame>> decode_chunks(RpcFrameDecoder& d,
                                                  const std::vector<std::string>& chunks) {
  std::vector<RpcFrame> out;
  for (const std::string& c : chunks) {
    base::ByteSpan in = base::as_bytes(c);
    while (true) {
      base::Result<size_t> used = d.feed(in);
      if (!used.is_ok()) return used.status();
      EXPECT_LE(used.value(), in.size());
      in = in.subspan(used.value());
      if (d.has_frame()) {
        out.push_back(d.take_frame());
      } else {
        EXPECT_TRUE(in.empty());
        break;
      }
    }
  }
  return out;
}

TEST(RpcFrame, RoundTripsEveryTypeInOneFeed) {
  const auto frames = sample_frames();
  RpcFrameDecoder d;
  auto got = decode_chunks(d, {encode_all(frames)});
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  EXPECT_EQ(got.value(), frames);
  EXPECT_TRUE(d.idle());
}

TEST(RpcFrame, HeaderLayoutIsFixed) {
  std::string out;
  ASSERT_TRUE(wire::append_rpc_frame({.type = RpcFrameType::kRequest, .flags = 0,
                                      .call_id = 0x01020304, .method = "A", .body = "bc"},
                                     16, &out)
                  .is_ok());
  EXPECT_EQ(out, std::string("\x01\x01\x00\x01\x04\x03\x02\x01\x02\x00\x00\x00" "Abc", 15));
}

TEST(RpcFrame, SplitAtEveryByteBoundaryGivesTheSameFrames) {
  const auto frames = sample_frames();
  const std::string bytes = encode_all(frames);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    RpcFrameDecoder d;
    auto got = decode_chunks(d, {bytes.substr(0, cut), bytes.substr(cut)});
    ASSERT_TRUE(got.is_ok()) << "cut " << cut;
    ASSERT_EQ(got.value(), frames) << "cut " << cut;
  }
}

TEST(RpcFrame, OneByteAtATimeGivesTheSameFrames) {
  const auto frames = sample_frames();
  const std::string bytes = encode_all(frames);
  std::vector<std::string> chunks;
  for (char c : bytes) chunks.emplace_back(1, c);
  RpcFrameDecoder d;
  auto got = decode_chunks(d, chunks);
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got.value(), frames);
}

TEST(RpcFrame, EveryTruncationYieldsNoFrameAndNoError) {
  const auto frames = sample_frames();
  for (const RpcFrame& f : frames) {
    const std::string bytes = encode_all({f});
    for (size_t len = 0; len < bytes.size(); ++len) {
      RpcFrameDecoder d;
      auto got = decode_chunks(d, {bytes.substr(0, len)});
      ASSERT_TRUE(got.is_ok()) << "len " << len;
      EXPECT_TRUE(got.value().empty()) << "len " << len;
      EXPECT_EQ(d.idle(), len == 0);
    }
  }
}

TEST(RpcFrame, OversizedBodyIsRefusedFromTheHeaderAlone) {
  RpcFrame f{.type = RpcFrameType::kResponse, .flags = 0, .call_id = 3, .method = "",
             .body = std::string(101, 'b')};
  std::string bytes;
  // The encoder refuses to send it under a 100-byte bound...
  EXPECT_EQ(wire::append_rpc_frame(f, 100, &bytes).code(), Code::kResourceExhausted);
  EXPECT_TRUE(bytes.empty());
  // ...and the decoder refuses it after 12 bytes, before any body byte is buffered.
  ASSERT_TRUE(wire::append_rpc_frame(f, 101, &bytes).is_ok());
  RpcFrameDecoder d(100);
  auto used = d.feed(base::as_bytes(bytes).first(wire::kRpcHeaderBytes));
  ASSERT_FALSE(used.is_ok());
  EXPECT_EQ(used.status().code(), Code::kResourceExhausted);
  EXPECT_TRUE(d.failed());
  // Connection-fatal: later bytes get the same error.
  EXPECT_EQ(d.feed(base::as_bytes(bytes)).status().code(), Code::kResourceExhausted);
  // Exactly at the bound is fine.
  RpcFrameDecoder ok(101);
  auto got = decode_chunks(ok, {bytes});
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got.value().at(0), f);
}

TEST(RpcFrame, AnnouncedBodyIsNotAllocatedUpFront) {
  // A header announcing the maximum body followed by one byte leaves the decoder holding one byte.
  std::string bytes("\x01\x02\x00\x00\x01\x00\x00\x00\x00\x00\x10\x00" "z", 13);
  RpcFrameDecoder d(wire::kRpcBodyBytesDefault);
  auto used = d.feed(base::as_bytes(bytes));
  ASSERT_TRUE(used.is_ok());
  EXPECT_EQ(used.value(), bytes.size());
  EXPECT_FALSE(d.has_frame());
  EXPECT_FALSE(d.idle());
}

// Header bytes with one field changed, each of which must be refused.
TEST(RpcFrame, GarbageHeadersAreConnectionFatal) {
  const std::string good("\x01\x01\x00\x01\x05\x00\x00\x00\x00\x00\x00\x00" "A", 13);
  struct Case {
    const char* what;
    size_t offset;
    char value;
  };
  const Case cases[] = {
      {"version 0", 0, '\x00'},          {"version 2", 0, '\x02'},
      {"type 0", 1, '\x00'},             {"type 5", 1, '\x05'},
      {"unknown flag", 2, '\x80'},       {"more on a request", 2, '\x01'},
      {"method too long", 3, '\x41'},    {"request without method", 3, '\x00'},
      {"call id 0", 4, '\x00'},          {"bad method character", 12, ' '},
  };
  {
    RpcFrameDecoder d;
    ASSERT_TRUE(decode_chunks(d, {good}).is_ok());
  }
  for (const Case& c : cases) {
    std::string bad = good;
    bad[c.offset] = c.value;
    RpcFrameDecoder d;
    auto got = decode_chunks(d, {bad});
    ASSERT_FALSE(got.is_ok()) << c.what;
    EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << c.what;
    EXPECT_TRUE(d.failed()) << c.what;
  }
  // Method names on non-requests and bodies on cancels are refused too.
  const std::string response_with_method("\x01\x02\x00\x01\x05\x00\x00\x00\x00\x00\x00\x00" "A",
                                         13);
  const std::string cancel_with_body("\x01\x04\x00\x00\x05\x00\x00\x00\x01\x00\x00\x00" "A", 13);
  for (const std::string& bad : {response_with_method, cancel_with_body}) {
    RpcFrameDecoder d;
    EXPECT_EQ(decode_chunks(d, {bad}).status().code(), Code::kInvalidArgument);
  }
}

TEST(RpcFrame, EncoderRefusesMalformedFrames) {
  auto mk = [](RpcFrameType t, uint32_t id, std::string method, std::string body, uint8_t flags) {
    return RpcFrame{.type = t, .flags = flags, .call_id = id, .method = method, .body = body};
  };
  const RpcFrame bad[] = {
      mk(RpcFrameType::kRequest, 0, "X", "", 0),         // call id 0
      mk(RpcFrameType::kRequest, 1, "", "", 0),          // request without a method
      mk(RpcFrameType::kRequest, 1, "bad name", "", 0),  // space in the method
      mk(RpcFrameType::kCancel, 1, "", "b", 0),          // cancel with a body
      mk(RpcFrameType::kError, 1, "", "", wire::kRpcFlagMore),
      mk(RpcFrameType::kResponse, 1, "", "", 0x40),      // unknown flag
      mk(static_cast<RpcFrameType>(9), 1, "", "", 0),    // unknown type
  };
  std::string out;
  for (const RpcFrame& f : bad) {
    EXPECT_EQ(wire::append_rpc_frame(f, 1024, &out).code(), Code::kInvalidArgument);
  }
  EXPECT_TRUE(out.empty());
}

TEST(RpcFrame, ErrorBodiesRoundTrip) {
  base::Status s = wire::decode_rpc_error_body(
      wire::encode_rpc_error_body(base::Status(Code::kNotFound, "no such key")));
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "no such key");
  EXPECT_EQ(wire::decode_rpc_error_body("").code(), Code::kInternal);
  EXPECT_EQ(wire::decode_rpc_error_body(std::string("\x00oops", 5)).code(), Code::kInternal);
  EXPECT_EQ(wire::decode_rpc_error_body("\x7fgarbled").code(), Code::kInternal);
}

}  // namespace
