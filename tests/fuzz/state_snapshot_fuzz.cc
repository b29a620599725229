// Fuzzes the snapshot reader, state::Store::restore (agent/state/store.h), on a live Store kept
// for the whole process on a simulated node's disk (hal/sim/sqlite_vfs.h: no real files, nothing
// left behind). The first byte picks how the rest becomes a snapshot:
//   0  the rest as is (header, digest, image: almost always refused at the header or digest);
//   1  the rest after 8 bytes is an image and those 8 bytes its last_applied: the harness writes
//      a valid header and SHA-256 around it, so SQLite's deserialize, quick_check and the schema
//      and last_applied checks see fuzzed database images; the header's schema version is the
//      current one, or 1 when (first byte / 3) is odd (the in-memory migration of old images);
//   2  the rest is edits (u16 offset, u8 xor) of a real snapshot's image (a store with a few
//      keys), re-digested: corrupt pages and cells that still pass the digest.
// Properties: restore never crashes or asserts; a refused snapshot leaves the live state as it
// was; after an accepted one the reads run (a read may refuse a row as corrupt, with an error)
// and its own snapshot is accepted and restores the same contents.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/bytes.h"
#include "agent/state/store.h"
#include "agent/wire/state_command.h"
#include "hal/crypto.h"
#include "hal/sim/world.h"

namespace {

void check(bool ok) {
  if (!ok) abort();
}

constexpr size_t kHeaderBytes = 8 + 4 + 8 + 8 + 8 + hal::crypto::kSha256Bytes;

// Wraps `image` in a valid snapshot header (store.h's layout) with its digest.
std::string wrap(uint64_t last_applied, std::string_view image,
                 uint64_t schema = static_cast<uint64_t>(state::Store::kSchemaVersion)) {
  std::string out;
  base::ByteWriter w(&out, kHeaderBytes + image.size());
  w.raw(std::string_view("WEFTSNAP", 8));
  w.u32(1);
  w.u64(schema);
  w.u64(last_applied);
  w.u64(image.size());
  const size_t digest_at = out.size();
  w.raw(std::string(hal::crypto::kSha256Bytes, '\0'));
  w.raw(image);
  check(w.ok());
  hal::crypto::Digest d = hal::crypto::sha256(
      {base::as_bytes(std::string_view(out.data(), digest_at)), base::as_bytes(image)});
  std::memcpy(out.data() + digest_at, d.data(), d.size());
  return out;
}

struct Harness {
  sim::World world{1};
  sim::Node* node = nullptr;
  std::unique_ptr<state::Store> store;
  std::string base_image;  // a real snapshot's image (mode 2)
  uint64_t base_applied = 0;

  Harness() {
    node = &world.node(world.add_node("fuzz"));
    check(node->fs().make_dirs("/data", 0700).is_ok());
    reopen();
    std::vector<std::string> batch;
    for (const char* key : {"web/a", "web/b", "db/x", "db/y/z"}) {
      wire::StateCommand c;
      c.key = key;
      c.value = std::string("value of ") + key;
      c.flags = 7;
      batch.push_back(*wire::encode_state_command(c));
    }
    wire::StateCommand del;
    del.type = wire::StateCommandType::kKvDelete;
    del.key = "web/b";
    batch.push_back(*wire::encode_state_command(del));
    check(store->apply(1, batch).is_ok());
    auto snap = store->snapshot();
    check(snap.is_ok());
    base_image = snap->substr(kHeaderBytes);
    base_applied = store->last_applied();
  }

  // Closes and reopens the live store: the close checkpoints the WAL into the database and
  // removes it, so the simulated disk stays a few pages (libFuzzer's leak checks scan the whole
  // heap, and a WAL grown to SQLite's 1000-page checkpoint would make every run slow).
  void reopen() {
    store.reset();
    state::StoreOptions o;
    o.vfs = node->sqlite_vfs().name();
    auto r = state::Store::open("/data/state.db", o);
    if (!r.is_ok()) fprintf(stderr, "reopen after an accepted restore: %s\n", r.status().to_string().c_str());
    check(r.is_ok());
    store = std::move(r).value();
  }

  // The live contents, or nullopt if a read fails (an accepted image may hold rows that a read
  // refuses as corrupt: that is an error value, never a crash).
  std::optional<std::vector<state::KvEntry>> contents() {
    auto r = store->list("");
    if (!r.is_ok()) return std::nullopt;
    return *r;
  }
};

Harness& harness() {
  static Harness h;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Harness& h = harness();
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string snap;
  switch (data[0] % 3) {
    case 0:
      snap.assign(rest);
      break;
    case 1: {
      if (rest.size() < 8) return 0;
      base::ByteReader r(rest.substr(0, 8));
      const uint64_t applied = r.u64();
      snap = wrap(applied, rest.substr(8), (data[0] / 3) % 2 == 1 ? 1 : static_cast<uint64_t>(state::Store::kSchemaVersion));
      break;
    }
    default: {
      std::string image = h.base_image;
      for (size_t i = 0; i + 3 <= rest.size(); i += 3) {
        const size_t at = (static_cast<uint8_t>(rest[i]) | static_cast<size_t>(static_cast<uint8_t>(rest[i + 1])) << 8) %
                          image.size();
        image[at] = static_cast<char>(image[at] ^ rest[i + 2]);
      }
      snap = wrap(h.base_applied, image);
      break;
    }
  }

  const std::optional<std::vector<state::KvEntry>> before = h.contents();
  const uint64_t applied_before = h.store->last_applied();
  base::Status s = h.store->restore(snap);
  if (!s.is_ok()) {
    // Refused: nothing changed.
    check(h.store->last_applied() == applied_before);
    check(h.contents() == before);
    return 0;
  }
  struct Reopen {
    Harness& h;
    ~Reopen() { h.reopen(); }
  } reopen_after{h};
  // Accepted: the reads run (errors allowed), and its own snapshot restores to the same contents.
  const std::optional<std::vector<state::KvEntry>> now = h.contents();
  (void)h.store->keys("", "/");
  (void)h.store->prefix_index("web/");
  (void)h.store->get("db/x");
  auto again = h.store->snapshot();
  check(again.is_ok());
  check(h.store->restore(*again).is_ok());
  check(h.contents() == now);
  return 0;
}
