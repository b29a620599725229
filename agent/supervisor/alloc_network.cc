// See alloc_network.h.
#include "agent/supervisor/alloc_network.h"

#include "agent/http/json.h"
#include "hal/net.h"

namespace supervisor {

namespace {

constexpr size_t kNetworkJsonBytesMax = 16 << 10;
// Random draws for a dynamic port before the scan from the bottom of the range.
constexpr int kPortDraws = 32;

}  // namespace

std::string ipv4_text(uint32_t a) {
  return hal::SockAddr::ipv4(static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16), static_cast<uint8_t>(a >> 8),
                             static_cast<uint8_t>(a), 0)
      .host_string();
}

bool parse_ipv4(const std::string& text, uint32_t* out) {
  auto addr = hal::SockAddr::parse(text, 1);
  if (!addr.is_ok() || addr->family != hal::AddrFamily::kIpv4 || text.find(':') != std::string::npos) return false;
  *out = (uint32_t{addr->ip[0]} << 24) | (uint32_t{addr->ip[1]} << 16) | (uint32_t{addr->ip[2]} << 8) | addr->ip[3];
  return true;
}

const PortAssignment* AllocNetwork::port(const std::string& label) const {
  for (const PortAssignment& p : ports) {
    if (p.label == label) return &p;
  }
  return nullptr;
}

base::Result<AllocNetwork> assign_network(const sched::Network& want, const NetworkUse& used, const hal::Bridge& bridge,
                                          base::Prng& prng) {
  AllocNetwork n;
  n.mode = want.mode;
  std::set<int32_t> taken = used.ports;
  for (const sched::Port& p : want.reserved_ports) {
    if (!taken.insert(p.value).second) {
      return base::error(base::Code::kResourceExhausted, "port %d (%s) is held by another allocation on this node", p.value,
                         p.label.c_str());
    }
    n.ports.push_back({p.label, p.value, p.to});
  }
  for (const sched::Port& p : want.dynamic_ports) {
    int32_t value = 0;
    for (int i = 0; i < kPortDraws && value == 0; ++i) {
      const auto v = static_cast<int32_t>(prng.range(kDynamicPortMin, kDynamicPortMax));
      if (taken.count(v) == 0) value = v;
    }
    for (int32_t v = kDynamicPortMin; v <= kDynamicPortMax && value == 0; ++v) {
      if (taken.count(v) == 0) value = v;
    }
    if (value == 0) return base::error(base::Code::kResourceExhausted, "no dynamic port left for %s", p.label.c_str());
    taken.insert(value);
    n.ports.push_back({p.label, value, p.to});
  }
  if (n.mode == "bridge") {
    if (bridge.prefix_len < 8 || bridge.prefix_len > 30) {
      return base::error(base::Code::kInvalidArgument, "bridge prefix /%u: want 8..30", bridge.prefix_len);
    }
    const uint32_t mask = ~uint32_t{0} << (32 - bridge.prefix_len);
    const uint32_t network = bridge.gateway & mask, broadcast = network | ~mask;
    for (uint32_t a = network + 1; a < broadcast; ++a) {
      if (a != bridge.gateway && used.addresses.count(a) == 0) {
        n.address = a;
        break;
      }
    }
    if (n.address == 0) {
      return base::error(base::Code::kResourceExhausted, "no address left on the bridge's subnet %s/%u",
                         ipv4_text(network).c_str(), bridge.prefix_len);
    }
  }
  return n;
}

std::string encode_alloc_network(const AllocNetwork& n) {
  if (n.mode.empty()) return "";
  http::Json doc = http::Json::object();
  doc.add_string("Mode", n.mode);
  if (n.address != 0) doc.add_string("IP", ipv4_text(n.address));
  cJSON* ports = doc.add_array(doc.get(), "Ports");
  for (const PortAssignment& p : n.ports) {
    cJSON* o = doc.add_object(ports, "");
    doc.add_string(o, "Label", p.label);
    doc.add_i64(o, "Value", p.value);
    doc.add_i64(o, "To", p.to);
  }
  auto text = doc.dump();
  return text.is_ok() ? *text : std::string();
}

base::Result<AllocNetwork> decode_alloc_network(const std::string& text) {
  AllocNetwork n;
  if (text.empty()) return n;
  AGENT_ASSIGN_OR_RETURN(http::Json doc, http::Json::parse(text, kNetworkJsonBytesMax));
  auto bad = [](const char* what) { return base::error(base::Code::kInvalidArgument, "allocation network: %s", what); };
  if (!http::json_get_string(doc.get(), "Mode", &n.mode) || (n.mode != "host" && n.mode != "bridge")) return bad("Mode");
  std::string ip;
  if (http::json_get_string(doc.get(), "IP", &ip) && !parse_ipv4(ip, &n.address)) return bad("IP");
  if (n.mode == "bridge" && n.address == 0) return bad("no IP for a bridge");
  const cJSON* ports = cJSON_GetObjectItemCaseSensitive(doc.get(), "Ports");
  const cJSON* p = nullptr;
  cJSON_ArrayForEach(p, ports) {
    if (n.ports.size() >= 2 * sched::kPortsMax) return bad("too many ports");
    PortAssignment a;
    int64_t value = 0, to = 0;
    if (!http::json_get_string(p, "Label", &a.label) || !http::json_get_i64(p, "Value", &value) || value < 1 ||
        value > 65535 || !http::json_get_i64(p, "To", &to) || to < 0 || to > 65535) {
      return bad("Ports");
    }
    a.value = static_cast<int32_t>(value);
    a.to = static_cast<int32_t>(to);
    n.ports.push_back(std::move(a));
  }
  return n;
}

std::vector<hal::PortMapping> port_mappings(const AllocNetwork& n) {
  std::vector<hal::PortMapping> out;
  if (n.mode != "bridge") return out;
  for (const PortAssignment& p : n.ports) {
    for (bool udp : {false, true}) {
      out.push_back({udp, static_cast<uint16_t>(p.value), n.address, static_cast<uint16_t>(p.inside())});
    }
  }
  return out;
}

}  // namespace supervisor
