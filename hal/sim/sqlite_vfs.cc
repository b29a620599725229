// sim::SqliteVfs: see sqlite_vfs.h for what each VFS call does and why.
#include "hal/sim/sqlite_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <span>

#include "agent/base/assert.h"

namespace sim {

// One open file. SQLite allocates szOsFile bytes and hands them to xOpen; the object is built
// there with placement new and destroyed in xClose (or in xOpen when it fails).
struct SqliteVfs::File {
  sqlite3_file base;  // first: SQLite sees a sqlite3_file*
  SqliteVfs* vfs = nullptr;
  std::string path;  // empty: a nameless temporary file held in `temp`
  std::string temp;
  uint64_t cycle = 0;  // SimFs::power_cycles() at open
  int lock = SQLITE_LOCK_NONE;
  bool delete_on_close = false;

  bool is_temp() const { return path.empty(); }
  bool alive() const { return is_temp() || cycle == vfs->fs_.power_cycles(); }
};

namespace {

uint64_t g_serial = 0;  // makes VFS names unique in the process (tests create many Worlds)

int io_error(const base::Status& s, int code) {
  if (s.code() == base::Code::kResourceExhausted) return SQLITE_FULL;
  return code;
}

}  // namespace

struct VfsCalls {
  using File = SqliteVfs::File;
  static SqliteVfs& self(sqlite3_vfs* v) { return *static_cast<SqliteVfs*>(v->pAppData); }
  static File& file(sqlite3_file* f) { return *reinterpret_cast<File*>(f); }

  // --- io methods -------------------------------------------------------------------------------
  static int close(sqlite3_file* f) {
    File& h = file(f);
    SqliteVfs& v = *h.vfs;
    if (!h.is_temp()) {
      auto it = v.open_.find(h.path);
      AGENT_ASSERT(it != v.open_.end());
      auto& list = it->second;
      list.erase(std::remove(list.begin(), list.end(), &h), list.end());
      if (list.empty()) v.open_.erase(it);
      if (h.delete_on_close && h.alive()) (void)v.fs_.remove(h.path).ignore();
    }
    --v.open_files_;
    h.~File();
    return SQLITE_OK;
  }

  static int read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
    File& h = file(f);
    if (!h.alive()) return SQLITE_IOERR_READ;
    auto* p = static_cast<uint8_t*>(out);
    const size_t want = static_cast<size_t>(amount);
    size_t got = 0;
    if (h.is_temp()) {
      if (static_cast<uint64_t>(offset) < h.temp.size()) {
        got = std::min(want, h.temp.size() - static_cast<size_t>(offset));
        std::memcpy(p, h.temp.data() + offset, got);
      }
    } else {
      base::Result<size_t> r = h.vfs->fs_.read_at(h.path, static_cast<uint64_t>(offset), std::span<uint8_t>(p, want));
      if (!r.is_ok()) return SQLITE_IOERR_READ;
      got = *r;
    }
    if (got == want) return SQLITE_OK;
    std::memset(p + got, 0, want - got);  // SQLite requires the rest zeroed on a short read
    return SQLITE_IOERR_SHORT_READ;
  }

  static int write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
    File& h = file(f);
    if (!h.alive()) return SQLITE_IOERR_WRITE;
    const auto* p = static_cast<const uint8_t*>(data);
    if (h.is_temp()) {
      const size_t at = static_cast<size_t>(offset);
      if (h.temp.size() < at + static_cast<size_t>(amount)) h.temp.resize(at + static_cast<size_t>(amount), '\0');
      std::memcpy(h.temp.data() + at, p, static_cast<size_t>(amount));
      return SQLITE_OK;
    }
    base::Status s = h.vfs->fs_.write_at(h.path, static_cast<uint64_t>(offset), base::ByteSpan(p, static_cast<size_t>(amount)));
    return s.is_ok() ? SQLITE_OK : io_error(s, SQLITE_IOERR_WRITE);
  }

  static int truncate(sqlite3_file* f, sqlite3_int64 size) {
    File& h = file(f);
    if (!h.alive()) return SQLITE_IOERR_TRUNCATE;
    if (h.is_temp()) {
      h.temp.resize(static_cast<size_t>(size), '\0');
      return SQLITE_OK;
    }
    base::Status s = h.vfs->fs_.truncate(h.path, static_cast<uint64_t>(size));
    return s.is_ok() ? SQLITE_OK : io_error(s, SQLITE_IOERR_TRUNCATE);
  }

  static int sync(sqlite3_file* f, int /*flags*/) {
    File& h = file(f);
    if (!h.alive()) return SQLITE_IOERR_FSYNC;
    if (h.is_temp()) return SQLITE_OK;
    base::Status s = h.vfs->fs_.sync_file(h.path);
    if (!s.is_ok()) return SQLITE_IOERR_FSYNC;
    ++h.vfs->syncs_;
    return SQLITE_OK;
  }

  static int file_size(sqlite3_file* f, sqlite3_int64* size) {
    File& h = file(f);
    if (!h.alive()) return SQLITE_IOERR_FSTAT;
    if (h.is_temp()) {
      *size = static_cast<sqlite3_int64>(h.temp.size());
      return SQLITE_OK;
    }
    base::Result<uint64_t> r = h.vfs->fs_.file_size(h.path);
    if (!r.is_ok()) return SQLITE_IOERR_FSTAT;
    *size = static_cast<sqlite3_int64>(*r);
    return SQLITE_OK;
  }

  // SQLite's lock levels (os.h): SHARED to read; RESERVED to prepare a write while readers go
  // on; PENDING blocks new readers while a writer waits for EXCLUSIVE, which it gets only once
  // no other handle reads.
  static int lock(sqlite3_file* f, int level) {
    File& h = file(f);
    if (h.is_temp() || h.lock >= level) return SQLITE_OK;
    if (!h.alive()) return SQLITE_IOERR_LOCK;
    const int others = h.vfs->others_lock(&h);
    switch (level) {
      case SQLITE_LOCK_SHARED:
        if (others >= SQLITE_LOCK_PENDING) return SQLITE_BUSY;
        break;
      case SQLITE_LOCK_RESERVED:
        if (others >= SQLITE_LOCK_RESERVED) return SQLITE_BUSY;
        break;
      case SQLITE_LOCK_EXCLUSIVE:
        if (others >= SQLITE_LOCK_RESERVED) return SQLITE_BUSY;
        if (others >= SQLITE_LOCK_SHARED) {
          h.lock = SQLITE_LOCK_PENDING;  // keeps new readers out while the writer retries
          return SQLITE_BUSY;
        }
        break;
      default:
        return SQLITE_IOERR_LOCK;  // SQLite never asks for PENDING directly
    }
    h.lock = level;
    return SQLITE_OK;
  }

  static int unlock(sqlite3_file* f, int level) {
    File& h = file(f);
    if (h.lock > level) h.lock = level;
    return SQLITE_OK;
  }

  static int check_reserved(sqlite3_file* f, int* out) {
    File& h = file(f);
    *out = !h.is_temp() && h.vfs->others_lock(&h) >= SQLITE_LOCK_RESERVED;
    return SQLITE_OK;
  }

  static int file_control(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }

  static int sector_size(sqlite3_file* f) { return static_cast<int>(file(f).vfs->fs_.sector_bytes()); }

  static int device_characteristics(sqlite3_file*) { return SQLITE_IOCAP_POWERSAFE_OVERWRITE; }

  static int shm_map(sqlite3_file* f, int, int, int, void volatile** pp) {
    File& h = file(f);
    ++h.vfs->shm_calls_;
    *pp = nullptr;
    sqlite3_log(SQLITE_IOERR_SHMMAP,
                "weftsim VFS %s: shared memory requested for %s; set PRAGMA locking_mode=EXCLUSIVE before "
                "journal_mode=WAL",
                h.vfs->name_.c_str(), h.path.c_str());
    return SQLITE_IOERR_SHMMAP;
  }
  static int shm_lock(sqlite3_file* f, int, int, int) {
    ++file(f).vfs->shm_calls_;
    return SQLITE_IOERR_SHMLOCK;
  }
  static void shm_barrier(sqlite3_file*) {}
  static int shm_unmap(sqlite3_file*, int) { return SQLITE_OK; }

  static const sqlite3_io_methods* methods() {
    static const sqlite3_io_methods m = {
        2,  // iVersion: up to the xShm* methods, which refuse
        &close, &read, &write, &truncate, &sync, &file_size, &lock, &unlock, &check_reserved, &file_control,
        &sector_size, &device_characteristics, &shm_map, &shm_lock, &shm_barrier, &shm_unmap,
        nullptr, nullptr,  // xFetch, xUnfetch (iVersion 3)
    };
    return &m;
  }

  // --- vfs methods ------------------------------------------------------------------------------
  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    SqliteVfs& v = self(vfs);
    f->pMethods = nullptr;  // until the file is really open: SQLite then does not call xClose
    File* h = new (f) File();
    h->vfs = &v;
    h->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
    if (name != nullptr) {
      h->path = SimFs::normalize(name);
      h->cycle = v.fs_.power_cycles();
      const bool exists = v.fs_.file_exists(h->path);
      int rc = SQLITE_OK;
      if (!v.fs_.powered()) {
        rc = SQLITE_CANTOPEN;
      } else if (exists && (flags & SQLITE_OPEN_EXCLUSIVE) && (flags & SQLITE_OPEN_CREATE)) {
        rc = SQLITE_CANTOPEN;
      } else if (!exists) {
        if (!(flags & SQLITE_OPEN_CREATE)) {
          rc = SQLITE_CANTOPEN;
        } else if (!v.fs_.create_file(h->path, 0600).is_ok()) {
          rc = SQLITE_CANTOPEN;
        }
      }
      if (rc != SQLITE_OK) {
        h->~File();
        return rc;
      }
      v.open_[h->path].push_back(h);
    }
    ++v.open_files_;
    if (out_flags != nullptr) *out_flags = flags;
    f->pMethods = methods();
    return SQLITE_OK;
  }

  static int remove(sqlite3_vfs* vfs, const char* name, int /*sync_dir*/) {
    SqliteVfs& v = self(vfs);
    base::Status s = v.fs_.remove(name);
    if (s.is_ok()) return SQLITE_OK;
    return s.code() == base::Code::kNotFound ? SQLITE_IOERR_DELETE_NOENT : SQLITE_IOERR_DELETE;
  }

  static int access(sqlite3_vfs* vfs, const char* name, int /*flags*/, int* out) {
    *out = self(vfs).fs_.file_exists(name) ? 1 : 0;
    return SQLITE_OK;
  }

  static int full_pathname(sqlite3_vfs*, const char* name, int n_out, char* out) {
    const std::string p = SimFs::normalize(name);
    if (p.size() + 1 > static_cast<size_t>(n_out)) return SQLITE_CANTOPEN;
    std::memcpy(out, p.c_str(), p.size() + 1);
    return SQLITE_OK;
  }

  static void* dl_open(sqlite3_vfs*, const char*) { return nullptr; }
  static void dl_error(sqlite3_vfs*, int n, char* out) {
    if (n > 0) snprintf(out, static_cast<size_t>(n), "weftsim VFS: no loadable extensions");
  }
  static void (*dl_sym(sqlite3_vfs*, void*, const char*))(void) { return nullptr; }
  static void dl_close(sqlite3_vfs*, void*) {}

  static int randomness(sqlite3_vfs* vfs, int n, char* out) {
    SqliteVfs& v = self(vfs);
    for (int i = 0; i < n; ++i) out[i] = static_cast<char>(v.prng_.next_u64());
    return n;
  }

  static int sleep(sqlite3_vfs*, int micros) { return micros; }

  static int current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
    // Julian day number in milliseconds: the Unix epoch is JD 2440587.5.
    constexpr int64_t kUnixEpochJdMs = 210866760000000LL;
    *out = kUnixEpochJdMs + self(vfs).clock_.wall_now().unix_ns() / 1000000;
    return SQLITE_OK;
  }
  static int current_time(sqlite3_vfs* vfs, double* out) {
    sqlite3_int64 ms = 0;
    current_time_int64(vfs, &ms);
    *out = static_cast<double>(ms) / 86400000.0;
    return SQLITE_OK;
  }
  static int last_error(sqlite3_vfs*, int, char*) { return 0; }
};

SqliteVfs::SqliteVfs(const std::string& name_hint, SimFs& fs, SimClock& clock, uint64_t seed)
    : fs_(fs), clock_(clock), prng_(seed) {
  char serial[32];
  snprintf(serial, sizeof serial, "weftsim-%llu-", static_cast<unsigned long long>(++g_serial));
  name_ = serial + name_hint;
  vfs_ = new sqlite3_vfs{};
  vfs_->iVersion = 2;
  vfs_->szOsFile = static_cast<int>(sizeof(File));
  vfs_->mxPathname = 512;
  vfs_->zName = name_.c_str();
  vfs_->pAppData = this;
  vfs_->xOpen = &VfsCalls::open;
  vfs_->xDelete = &VfsCalls::remove;
  vfs_->xAccess = &VfsCalls::access;
  vfs_->xFullPathname = &VfsCalls::full_pathname;
  vfs_->xDlOpen = &VfsCalls::dl_open;
  vfs_->xDlError = &VfsCalls::dl_error;
  vfs_->xDlSym = &VfsCalls::dl_sym;
  vfs_->xDlClose = &VfsCalls::dl_close;
  vfs_->xRandomness = &VfsCalls::randomness;
  vfs_->xSleep = &VfsCalls::sleep;
  vfs_->xCurrentTime = &VfsCalls::current_time;
  vfs_->xGetLastError = &VfsCalls::last_error;
  vfs_->xCurrentTimeInt64 = &VfsCalls::current_time_int64;
  const int rc = sqlite3_vfs_register(vfs_, /*makeDflt=*/0);
  AGENT_ASSERT_MSG(rc == SQLITE_OK, "sqlite3_vfs_register failed");
  // Pin SQLite's process-wide PRNG (see the header); 0 would mean "ask the default VFS".
  const int pin = static_cast<int>(prng_.next_u64() & 0x7fffffff) | 1;
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, pin, static_cast<sqlite3*>(nullptr));
}

SqliteVfs::~SqliteVfs() {
  AGENT_ASSERT_MSG(open_files_ == 0, "a SQLite database is still open on a node being destroyed");
  sqlite3_vfs_unregister(vfs_);
  delete vfs_;
}

int SqliteVfs::others_lock(const File* self) const {
  auto it = open_.find(self->path);
  if (it == open_.end()) return SQLITE_LOCK_NONE;
  int level = SQLITE_LOCK_NONE;
  for (const File* h : it->second) {
    if (h != self && h->alive()) level = std::max(level, h->lock);
  }
  return level;
}

}  // namespace sim
