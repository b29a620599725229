// image/layer.cc -- see layer.h. Organised as: the path checks, the two chained libarchive
// readers (raw -> digest -> tar), the entry loop that checks and writes, then copy_tree().
// libarchive handles live in small RAII owners; its error strings are copied into Statuses.
#include "agent/image/layer.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <memory>
#include <set>

#include "hal/crypto.h"

namespace image {

namespace {

struct ReadCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteCloser {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadCloser>;
using WriteArchive = std::unique_ptr<archive, WriteCloser>;


std::string digest_text(const hal::crypto::Digest& d) { return "sha256:" + base::hex(base::ByteSpan(d.data(), d.size())); }

std::string archive_text(archive* a) {
  const char* s = archive_error_string(a);
  return s != nullptr ? s : "libarchive error";
}

// The outer reader's callback: the source's next piece, hashed (the compressed digest).
struct OuterState {
  Source* source;
  hal::crypto::Sha256 sha;
  base::Status status;
};

la_ssize_t outer_read(archive* a, void* client, const void** buffer) {
  auto* st = static_cast<OuterState*>(client);
  auto piece = st->source->next();
  if (!piece.is_ok()) {
    st->status = piece.status();
    archive_set_error(a, EIO, "%s", piece.status().message().c_str());
    return -1;
  }
  st->sha.update(*piece);
  *buffer = piece->data();
  return static_cast<la_ssize_t>(piece->size());
}

// The inner (tar) reader's callback: the outer reader's decompressed data, hashed (diff_id).
struct InnerState {
  archive* outer;
  hal::crypto::Sha256 sha;
  uint64_t bytes = 0;
  bool eof = false;
};

la_ssize_t inner_read(archive* a, void* client, const void** buffer) {
  auto* st = static_cast<InnerState*>(client);
  if (st->eof) return 0;
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block(st->outer, &block, &size, &offset);
  if (r == ARCHIVE_EOF) {
    st->eof = true;
    return 0;
  }
  if (r < ARCHIVE_WARN) {
    archive_set_error(a, EIO, "%s", archive_text(st->outer).c_str());
    return -1;
  }
  st->sha.update(base::ByteSpan(static_cast<const uint8_t*>(block), size));
  st->bytes += size;
  *buffer = block;
  return static_cast<la_ssize_t>(size);
}

base::Status refuse(std::string_view entry, const char* why) {
  return base::error(base::Code::kInvalidArgument, "entry \"%.*s\": %s", static_cast<int>(std::min<size_t>(entry.size(), 200)),
                     entry.data(), why);
}

// Whether any proper prefix of `path` is a symlink this stream made.
bool through_symlink(const std::set<std::string>& symlinks, const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    if (symlinks.count(path.substr(0, slash)) != 0) return true;
  }
  return false;
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// Copies the current entry's data from reader `in` to disk writer `out`, block by block (sparse
// files keep their holes: each block carries its offset).
base::Status copy_data(archive* in, archive* out, const std::string& path) {
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r;
  while ((r = archive_read_data_block(in, &block, &size, &offset)) == ARCHIVE_OK) {
    if (archive_write_data_block(out, block, size, offset) < ARCHIVE_WARN) {
      return base::error(base::Code::kIo, "writing \"%s\": %s", path.c_str(), archive_text(out).c_str());
    }
  }
  if (r != ARCHIVE_EOF) return base::error(base::Code::kInvalidArgument, "reading \"%s\": %s", path.c_str(), archive_text(in).c_str());
  return base::Status::ok();
}

std::string join(const std::string& dir, const std::string& rel) { return rel.empty() ? dir : dir + "/" + rel; }

}  // namespace

base::Result<base::ByteSpan> FileSource::next() {
  AGENT_ASSIGN_OR_RETURN(chunk_, fs_.read_range(path_, offset_, kChunkBytes));
  offset_ += chunk_.size();
  return base::as_bytes(chunk_);
}

base::Result<std::string> clean_path(std::string_view name) {
  if (name.size() > kNameBytesMax) return refuse(name.substr(0, 64), "name longer than 4096 bytes");
  if (name.find('\0') != std::string_view::npos) return refuse(name, "name holds a NUL byte");
  if (!name.empty() && name[0] == '/') return refuse(name, "absolute path");
  std::string out;
  size_t i = 0;
  while (i <= name.size()) {
    size_t end = name.find('/', i);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(i, end - i);
    if (part == "..") return refuse(name, "path with a \"..\" component");
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out.append(part);
    }
    i = end + 1;
  }
  return out;
}

bool link_escapes(std::string_view at, std::string_view target) {
  if (target.empty() || target.size() > kNameBytesMax || target.find('\0') != std::string_view::npos) return true;
  // Depth below the root of where resolution starts: the link's directory, or the root itself.
  int64_t depth = 0;
  if (target[0] != '/') {
    for (char c : at) depth += c == '/';
  }
  size_t i = 0;
  while (i <= target.size()) {
    size_t end = target.find('/', i);
    if (end == std::string_view::npos) end = target.size();
    std::string_view part = target.substr(i, end - i);
    if (part == "..") {
      if (--depth < 0) return true;
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    i = end + 1;
  }
  return false;
}

base::Result<UnpackResult> unpack(Source& source, TarKind kind, const UnpackTarget& target, const UnpackLimits& limits) {
  const bool write = !target.dir.empty();
  OuterState outer_state{&source, {}, {}};
  ReadArchive outer(archive_read_new());
  ReadArchive inner(archive_read_new());
  if (!outer || !inner) return base::error(base::Code::kResourceExhausted, "libarchive: out of memory");
  archive_read_support_filter_gzip(outer.get());
  archive_read_support_format_raw(outer.get());
  archive_read_support_format_empty(outer.get());
  if (archive_read_open(outer.get(), &outer_state, nullptr, outer_read, nullptr) != ARCHIVE_OK) {
    if (!outer_state.status.is_ok()) return outer_state.status;
    return base::error(base::Code::kInvalidArgument, "not a tar stream: %s", archive_text(outer.get()).c_str());
  }
  InnerState inner_state{outer.get(), {}};
  archive_entry* raw_entry = nullptr;
  int r = archive_read_next_header(outer.get(), &raw_entry);
  if (r == ARCHIVE_EOF) {
    inner_state.eof = true;  // an empty stream: no entries
  } else if (r != ARCHIVE_OK) {
    if (!outer_state.status.is_ok()) return outer_state.status;
    return base::error(base::Code::kInvalidArgument, "unreadable stream: %s", archive_text(outer.get()).c_str());
  }
  archive_read_support_format_tar(inner.get());
  archive_read_support_format_empty(inner.get());
  if (archive_read_open(inner.get(), &inner_state, nullptr, inner_read, nullptr) != ARCHIVE_OK) {
    if (!outer_state.status.is_ok()) return outer_state.status;
    return base::error(base::Code::kInvalidArgument, "not a tar stream: %s", archive_text(inner.get()).c_str());
  }

  WriteArchive disk;
  if (write) {
    disk.reset(archive_write_disk_new());
    if (!disk) return base::error(base::Code::kResourceExhausted, "libarchive: out of memory");
    // The checks below come first; these flags are the second line of defence. Absolute paths
    // are ours (target.dir + a checked relative name), so _NOABSOLUTEPATHS is not set.
    archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                                   ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  }

  UnpackResult result;
  std::set<std::string> symlinks;  // made by this stream, relative
  archive_entry* e = nullptr;
  for (;;) {
    r = archive_read_next_header(inner.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (!outer_state.status.is_ok()) return outer_state.status;
      return base::error(base::Code::kInvalidArgument, "malformed tar: %s", archive_text(inner.get()).c_str());
    }
    if (++result.entries > limits.entries_max) {
      return base::error(base::Code::kResourceExhausted, "more than %llu entries", static_cast<unsigned long long>(limits.entries_max));
    }
    const char* name_c = archive_entry_pathname(e);
    if (name_c == nullptr) return base::error(base::Code::kInvalidArgument, "entry %llu has no name",
                                              static_cast<unsigned long long>(result.entries));
    std::string_view name(name_c);
    AGENT_ASSIGN_OR_RETURN(std::string path, clean_path(name));
    const auto type = archive_entry_filetype(e);
    const char* hardlink_c = archive_entry_hardlink(e);
    if (through_symlink(symlinks, path)) return refuse(name, "path through a symlink");

    if (kind == TarKind::kLayer) {
      std::string parent = parent_of(path);
      std::string base_name = path.substr(parent.empty() ? 0 : parent.size() + 1);
      if (base_name.rfind(".wh.", 0) == 0) {
        std::string deleted;
        if (base_name == ".wh..wh..opq") {
          result.opaque_dirs.push_back(parent);
        } else {
          deleted = base_name.substr(4);
          if (deleted.empty() || deleted == "." || deleted == "..") return refuse(name, "whiteout without a name");
          result.whiteouts.push_back(join(parent, deleted));
        }
        if (write && result.overlay_ready) {
          std::string dir = join(target.dir, parent);
          AGENT_TRY(target.fs->make_dirs(dir, 0755));
          base::Status s = target.mounts == nullptr ? base::error(base::Code::kUnimplemented, "no mounts")
                           : deleted.empty()       ? target.mounts->set_opaque(dir)
                                                   : target.mounts->make_whiteout(join(dir, deleted));
          if (!s.is_ok()) result.overlay_ready = false;  // copy_tree() still works from the lists
        }
        archive_read_data_skip(inner.get());
        continue;
      }
    }

    std::string link_path;
    if (hardlink_c != nullptr) {
      AGENT_ASSIGN_OR_RETURN(link_path, clean_path(hardlink_c));
      if (link_path.empty() || through_symlink(symlinks, link_path)) return refuse(name, "hard link target escapes the root");
    } else if (type == AE_IFREG) {
      int64_t size = archive_entry_size(e);
      if (size < 0) return refuse(name, "negative size");
      result.size_bytes += static_cast<uint64_t>(size);
      if (result.size_bytes > limits.unpacked_bytes_max) {
        return base::error(base::Code::kResourceExhausted, "unpacks to more than %llu bytes (at entry \"%s\")",
                           static_cast<unsigned long long>(limits.unpacked_bytes_max), path.c_str());
      }
    } else if (type == AE_IFLNK) {
      const char* to = archive_entry_symlink(e);
      if (to == nullptr || link_escapes(path, to)) return refuse(name, "symlink target escapes the root");
    } else if (type != AE_IFDIR) {
      return refuse(name, "device node, FIFO or socket");
    }
    if (type == AE_IFLNK && hardlink_c == nullptr) {
      symlinks.insert(path);
    } else {
      symlinks.erase(path);
    }
    if (path.empty() || !write) {
      archive_read_data_skip(inner.get());
      continue;
    }

    archive_entry_set_pathname(e, join(target.dir, path).c_str());
    if (hardlink_c != nullptr) archive_entry_set_hardlink(e, join(target.dir, link_path).c_str());
    r = archive_write_header(disk.get(), e);
    if (r < ARCHIVE_WARN) return base::error(base::Code::kIo, "writing \"%s\": %s", path.c_str(), archive_text(disk.get()).c_str());
    if (archive_entry_size(e) > 0) {
      base::Status s = copy_data(inner.get(), disk.get(), path);
      if (!s.is_ok()) return outer_state.status.is_ok() ? s : outer_state.status;
    }
    if (archive_write_finish_entry(disk.get()) < ARCHIVE_WARN) {
      return base::error(base::Code::kIo, "writing \"%s\": %s", path.c_str(), archive_text(disk.get()).c_str());
    }
  }
  // Directory modes and times are set last (libarchive's fixups), when the disk writer closes.
  if (write && archive_write_close(disk.get()) != ARCHIVE_OK) {
    return base::error(base::Code::kIo, "finishing the unpack: %s", archive_text(disk.get()).c_str());
  }
  // The digests cover the whole stream: what the tar reader did not need (the end-of-archive
  // blocks' padding), and any source bytes after the gzip stream.
  const void* block = nullptr;
  while (!inner_state.eof) {
    if (inner_read(inner.get(), &inner_state, &block) < 0) {
      if (!outer_state.status.is_ok()) return outer_state.status;
      return base::error(base::Code::kInvalidArgument, "unreadable stream: %s", archive_text(outer.get()).c_str());
    }
  }
  for (;;) {
    auto piece = source.next();
    if (!piece.is_ok()) return piece.status();
    if (piece->empty()) break;
    outer_state.sha.update(*piece);
  }
  result.compressed_digest = digest_text(outer_state.sha.finish());
  result.diff_id = digest_text(inner_state.sha.finish());
  return result;
}

base::Status copy_tree(const std::string& from, const std::string& to) {
  ReadArchive disk_in(archive_read_disk_new());
  WriteArchive disk_out(archive_write_disk_new());
  if (!disk_in || !disk_out) return base::error(base::Code::kResourceExhausted, "libarchive: out of memory");
  archive_read_disk_set_symlink_physical(disk_in.get());
  archive_read_disk_set_behavior(disk_in.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
  archive_write_disk_set_options(disk_out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                                     ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                     ARCHIVE_EXTRACT_UNLINK);
  if (archive_read_disk_open(disk_in.get(), from.c_str()) != ARCHIVE_OK) {
    return base::error(base::Code::kIo, "reading %s: %s", from.c_str(), archive_text(disk_in.get()).c_str());
  }
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(disk_in.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return base::error(base::Code::kIo, "reading %s: %s", from.c_str(), archive_text(disk_in.get()).c_str());
    archive_read_disk_descend(disk_in.get());
    std::string path = archive_entry_pathname(e);
    AGENT_ASSERT(path.compare(0, from.size(), from) == 0);
    std::string rel = path.substr(from.size());
    const auto type = archive_entry_filetype(e);
    if (type == AE_IFCHR && archive_entry_rdev(e) == 0) continue;  // a whiteout: the caller applied it
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) continue;
    if (rel.empty() && type == AE_IFDIR) continue;  // `to` exists and keeps its own mode
    archive_entry_set_pathname(e, (to + rel).c_str());
    const char* hardlink = archive_entry_hardlink(e);
    if (hardlink != nullptr) {
      std::string h = hardlink;
      if (h.compare(0, from.size(), from) == 0) archive_entry_set_hardlink(e, (to + h.substr(from.size())).c_str());
    }
    if (archive_write_header(disk_out.get(), e) < ARCHIVE_WARN) {
      return base::error(base::Code::kIo, "copying %s: %s", path.c_str(), archive_text(disk_out.get()).c_str());
    }
    if (type == AE_IFREG && archive_entry_size(e) > 0 && hardlink == nullptr) AGENT_TRY(copy_data(disk_in.get(), disk_out.get(), path));
    if (archive_write_finish_entry(disk_out.get()) < ARCHIVE_WARN) {
      return base::error(base::Code::kIo, "copying %s: %s", path.c_str(), archive_text(disk_out.get()).c_str());
    }
  }
  if (archive_write_close(disk_out.get()) != ARCHIVE_OK) {
    return base::error(base::Code::kIo, "copying into %s: %s", to.c_str(), archive_text(disk_out.get()).c_str());
  }
  return base::Status::ok();
}

}  // namespace image
