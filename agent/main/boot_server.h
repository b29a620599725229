// agent::BootServer -- a foundation serves PXE boot files on its API port (issue 7 item 5), so a
// rack of workers boots from the fleet itself, as Matchbox serves them:
//
//   GET /boot.ipxe                  "chain boot/mac/${mac:hexhyp}.ipxe": iPXE asks again by its MAC
//   GET /boot/mac/<mac>.ipxe        the script of the MAC's profile: <boot.dir>/macs/<mac> names
//                                   it (one word), else boot.default_profile
//   GET /boot/<profile>/boot.ipxe   that profile's script: its kernel and initramfs from here, the
//                                   serial console, and agent.retry_join=<this node's address>
//   GET /boot/<profile>/vmlinuz, /boot/<profile>/initramfs.gz   the files of
//                                   <boot.dir>/<profile>/ (tools/mkimage --format pxe --out ...)
//
// <mac> is 12 hex digits in six hyphenated pairs (iPXE's ${mac:hexhyp}), a profile 1..32 of
// [a-z0-9-]; anything else is 404. Files are read whole (at most kBootFileBytesMax) on the loop
// thread: boots are rare, and the files are a few MB. No secrets go in the scripts (they are
// served in the clear): a gossip key or certificates come from the image's config or a CIDATA
// volume, not from here.
// Threading: the loop thread.
#pragma once

#include <string>

#include "agent/http/router.h"
#include "hal/fs.h"

namespace agent {

inline constexpr size_t kBootFileBytesMax = 256 << 20;

class BootServer {
 public:
  BootServer(hal::Fs& fs, std::string dir, std::string default_profile, std::string join_address)
      : fs_(fs), dir_(std::move(dir)), default_profile_(std::move(default_profile)), join_(std::move(join_address)) {}
  void add_routes(http::Router& router);

  // The pieces, for tests: is `s` a profile name; a MAC in ${mac:hexhyp} form; a profile's script.
  static bool valid_profile(std::string_view s);
  static bool valid_mac(std::string_view s);
  std::string script(const std::string& profile) const;

 private:
  void handle(http::Request& q, http::Responder r);
  hal::Fs& fs_;
  std::string dir_, default_profile_, join_;
};

}  // namespace agent
