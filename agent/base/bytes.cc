#include "agent/base/bytes.h"

#include <array>
#include <cstring>

#include "agent/base/assert.h"

namespace base {

bool ByteWriter::reserve(size_t n) {
  if (!ok_) return false;
  if (n > bytes_max_ || out_->size() > bytes_max_ - n) {
    ok_ = false;
    return false;
  }
  return true;
}

void ByteWriter::u8(uint8_t v) {
  if (reserve(1)) out_->push_back(static_cast<char>(v));
}

void ByteWriter::u16(uint16_t v) {
  if (!reserve(2)) return;
  out_->push_back(static_cast<char>(v & 0xff));
  out_->push_back(static_cast<char>(v >> 8));
}

void ByteWriter::u32(uint32_t v) {
  if (!reserve(4)) return;
  for (int i = 0; i < 4; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ByteWriter::u64(uint64_t v) {
  if (!reserve(8)) return;
  for (int i = 0; i < 8; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ByteWriter::varint(uint64_t v) {
  char buf[kVarintBytesMax];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  if (reserve(n)) out_->append(buf, n);
}

void ByteWriter::raw(ByteSpan bytes) {
  if (reserve(bytes.size())) out_->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void ByteWriter::patch_u32(size_t offset, uint32_t v) {
  if (!ok_) return;
  AGENT_ASSERT(offset + 4 <= out_->size());
  for (int i = 0; i < 4; ++i) (*out_)[offset + static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
}

bool ByteReader::need(size_t n) {
  if (!ok_) return false;
  if (in_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

uint8_t ByteReader::u8() {
  if (!need(1)) return 0;
  return in_[pos_++];
}

uint16_t ByteReader::u16() {
  if (!need(2)) return 0;
  uint16_t v = static_cast<uint16_t>(in_[pos_] | (in_[pos_ + 1] << 8));
  pos_ += 2;
  return v;
}

uint32_t ByteReader::u32() {
  if (!need(4)) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(in_[pos_ + static_cast<size_t>(i)]) << (8 * i);
  pos_ += 4;
  return v;
}

uint64_t ByteReader::u64() {
  if (!need(8)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(in_[pos_ + static_cast<size_t>(i)]) << (8 * i);
  pos_ += 8;
  return v;
}

uint64_t ByteReader::varint() {
  uint64_t v = 0;
  for (size_t i = 0; i < kVarintBytesMax; ++i) {
    if (!need(1)) return 0;
    uint8_t b = in_[pos_++];
    // The tenth byte may carry only the top bit of a 64-bit value.
    if (i == kVarintBytesMax - 1 && b > 1) break;
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return v;
  }
  ok_ = false;  // over-long or overflowing varint
  return 0;
}

ByteSpan ByteReader::raw(size_t n) {
  if (!need(n)) return {};
  ByteSpan out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

ByteSpan ByteReader::bytes(size_t bytes_max) {
  uint64_t n = varint();
  if (!ok_) return {};
  if (n > bytes_max) {
    ok_ = false;
    return {};
  }
  return raw(static_cast<size_t>(n));
}

namespace {
constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrc32cTable = make_crc32c_table();
}  // namespace

uint32_t crc32c(ByteSpan data, uint32_t crc) {
  crc = ~crc;
  for (uint8_t b : data) crc = kCrc32cTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string hex(ByteSpan data) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string uuid_v4(uint8_t b[16]) {
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10
  std::string h = hex(ByteSpan(b, 16));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

}  // namespace base
