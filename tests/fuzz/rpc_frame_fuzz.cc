// Fuzzes the incremental RPC frame decoder. The first byte picks a chunk size (1..256) and the
// rest is the stream, fed in chunks of that size to a decoder with a 4 KiB body bound:
//   - the decoder never asserts and never consumes more than it is given;
//   - every frame it yields passes check_rpc_frame and re-encodes to exactly the bytes it was
//     decoded from (one encoding per frame);
//   - after an error it stays failed;
//   - the same stream fed in one piece yields the same frames and the same verdict.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/wire/rpc_frame.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

constexpr size_t kBodyMax = 4096;

// Decodes `in` fed in `chunk`-byte pieces; returns the frames and whether the stream failed.
std::vector<wire::RpcFrame> run(base::ByteSpan in, size_t chunk, bool* failed) {
  wire::RpcFrameDecoder d(kBodyMax);
  std::vector<wire::RpcFrame> frames;
  *failed = false;
  size_t pos = 0;
  size_t frame_start = 0;
  while (pos < in.size()) {
    base::ByteSpan piece = in.subspan(pos, std::min(chunk, in.size() - pos));
    while (!piece.empty()) {
      base::Result<size_t> used = d.feed(piece);
      if (!used.is_ok()) {
        check(d.failed());
        check(!d.feed(piece).is_ok());
        *failed = true;
        return frames;
      }
      check(used.value() <= piece.size());
      piece = piece.subspan(used.value());
      pos += used.value();
      if (!d.has_frame()) {
        check(piece.empty());
        break;
      }
      wire::RpcFrame f = d.take_frame();
      check(wire::check_rpc_frame(f, kBodyMax).is_ok());
      std::string again;
      check(wire::append_rpc_frame(f, kBodyMax, &again).is_ok());
      check(again.size() == pos - frame_start);
      check(base::as_chars(in.subspan(frame_start, again.size())) == again);
      frame_start = pos;
      frames.push_back(std::move(f));
    }
  }
  return frames;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  base::ByteSpan in(data + 1, size - 1);
  bool failed_chunked = false;
  bool failed_whole = false;
  auto chunked = run(in, chunk, &failed_chunked);
  auto whole = run(in, in.size() + 1, &failed_whole);
  check(failed_chunked == failed_whole);
  check(chunked == whole);
  return 0;
}
