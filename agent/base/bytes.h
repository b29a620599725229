// Byte buffers and explicit little-endian / varint encoders.
//
// Everything Weft puts on the wire or on disk is written field by field through ByteWriter and
// read back through ByteReader -- never by copying a struct -- so the encoding is the same on
// every compiler and architecture.
//
//   ByteWriter  appends to a caller-owned std::string-like buffer with a hard byte limit. When a
//               write would pass the limit the writer goes into the failed state and stays there;
//               check ok() once at the end (like a stream), no partial garbage is relied upon.
//   ByteReader  reads from a span it does not own. Every read is bounds-checked; reading past
//               the end, an over-long varint or a length prefix beyond the data puts the reader
//               in the failed state, after which every read returns zero values. Untrusted bytes
//               go through here, so nothing in it asserts on input.
//
// Varints are unsigned LEB128 (at most 10 bytes for 64 bits); signed values are zigzag-encoded.
// Threading: none; one owner at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace base {

using ByteSpan = std::span<const uint8_t>;

inline ByteSpan as_bytes(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view as_chars(ByteSpan b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// Maximum bytes a varint of a 64-bit value takes.
inline constexpr size_t kVarintBytesMax = 10;

class ByteWriter {
 public:
  // Appends to `out` (which may already hold bytes); `out` never grows past `bytes_max` in total.
  ByteWriter(std::string* out, size_t bytes_max) : out_(out), bytes_max_(bytes_max) {}

  void u8(uint8_t v);
  void u16(uint16_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void varint(uint64_t v);
  void svarint(int64_t v) { varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void raw(ByteSpan bytes);
  void raw(std::string_view bytes) { raw(as_bytes(bytes)); }
  // A varint length followed by the bytes.
  void bytes(ByteSpan bytes) { varint(bytes.size()); raw(bytes); }
  void str(std::string_view s) { bytes(as_bytes(s)); }

  bool ok() const { return ok_; }
  size_t size() const { return out_->size(); }
  // Overwrites 4 bytes at `offset` (already written) with `v`, little-endian; for length/CRC
  // fields whose value is known only after the body is written.
  void patch_u32(size_t offset, uint32_t v);

 private:
  bool reserve(size_t n);
  std::string* out_;
  size_t bytes_max_;
  bool ok_ = true;
};

class ByteReader {
 public:
  explicit ByteReader(ByteSpan in) : in_(in) {}
  explicit ByteReader(std::string_view in) : in_(as_bytes(in)) {}

  uint8_t u8();
  uint16_t u16();
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  uint64_t varint();
  int64_t svarint() {
    uint64_t z = varint();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  // Returns a view of the next n bytes (empty and failed if fewer remain).
  ByteSpan raw(size_t n);
  // A varint length (at most `bytes_max`) followed by that many bytes.
  ByteSpan bytes(size_t bytes_max);
  std::string_view str(size_t bytes_max) { return as_chars(bytes(bytes_max)); }

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  bool at_end() const { return ok_ && pos_ == in_.size(); }
  size_t position() const { return pos_; }

 private:
  bool need(size_t n);
  ByteSpan in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// CRC-32C (Castagnoli), for framing and snapshot checksums. `crc` continues a running value.
uint32_t crc32c(ByteSpan data, uint32_t crc = 0);

// Lower-case hex of `data`.
std::string hex(ByteSpan data);
// An RFC 9562 version-4 UUID ("8-4-4-4-12" lower-case hex) from 16 random bytes: the version and
// variant bits are set in `b` before it is formatted.
std::string uuid_v4(uint8_t b[16]);

}  // namespace base
