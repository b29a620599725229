// See boot_server.h.
#include "agent/main/boot_server.h"

#include <cctype>

namespace agent {

bool BootServer::valid_profile(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return true;
}

bool BootServer::valid_mac(std::string_view s) {
  if (s.size() != 17) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 3 == 2 ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::string BootServer::script(const std::string& profile) const {
  return "#!ipxe\n"
         "kernel /boot/" + profile + "/vmlinuz console=tty0 console=ttyS0 panic=-1" +
         (join_.empty() ? std::string() : " agent.retry_join=" + join_) +
         "\n"
         "initrd /boot/" + profile + "/initramfs.gz\n"
         "boot\n";
}

void BootServer::add_routes(http::Router& router) {
  router.add("GET", "/boot.ipxe", [](http::Request&, http::Responder r) {
    r.send(http::Response::text(200, "#!ipxe\nchain boot/mac/${mac:hexhyp}.ipxe\n"));
  });
  router.add_prefix("GET", "/boot/", [this](http::Request& q, http::Responder r) { handle(q, std::move(r)); });
}

void BootServer::handle(http::Request& q, http::Responder r) {
  const std::string rest(q.path_rest());
  const size_t slash = rest.find('/');
  if (slash == std::string::npos || rest.find('/', slash + 1) != std::string::npos) {
    return r.send(http::Response::error(404, "no such boot file"));
  }
  const std::string first = rest.substr(0, slash), file = rest.substr(slash + 1);
  if (first == "mac") {
    const std::string mac = file.size() > 5 ? file.substr(0, file.size() - 5) : "";
    if (file.size() <= 5 || file.compare(file.size() - 5, 5, ".ipxe") != 0 || !valid_mac(mac)) {
      return r.send(http::Response::error(404, "want /boot/mac/<aa-bb-cc-dd-ee-ff>.ipxe"));
    }
    std::string lower;
    for (char c : mac) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string profile = default_profile_;
    auto chosen = fs_.read_file(dir_ + "/macs/" + lower, 256);
    if (chosen.is_ok()) {
      std::string p = *chosen;
      while (!p.empty() && (p.back() == '\n' || p.back() == ' ' || p.back() == '\r')) p.pop_back();
      if (valid_profile(p)) profile = p;
    }
    return r.send(http::Response::text(200, script(profile)));
  }
  if (!valid_profile(first)) return r.send(http::Response::error(404, "no such profile"));
  if (file == "boot.ipxe") return r.send(http::Response::text(200, script(first)));
  if (file != "vmlinuz" && file != "initramfs.gz") return r.send(http::Response::error(404, "no such boot file"));
  auto bytes = fs_.read_file(dir_ + "/" + first + "/" + file, kBootFileBytesMax);
  if (!bytes.is_ok()) {
    const bool absent = bytes.status().code() == base::Code::kNotFound;
    return r.send(http::Response::error(absent ? 404 : 500, absent ? "no such boot file" : bytes.status().message()));
  }
  http::Response resp;
  resp.status = 200;
  resp.headers.push_back(http::Header{"Content-Type", "application/octet-stream"});
  resp.body = std::move(bytes).value();
  r.send(std::move(resp));
}

}  // namespace agent
