// Fuzzes service registration decoding (agent/catalog/service.h), the body of
// PUT /v1/agent/service/register: nothing may crash; an error is kInvalidArgument or
// kResourceExhausted with a message; a registration that decodes encodes (as services.json keeps
// it) to JSON that decodes back to the same service, and encodes as an AgentService.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/catalog/service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto s = catalog::decode_registration(body, 128 * 1024);
  if (!s.is_ok()) {
    const base::Code c = s.status().code();
    if ((c != base::Code::kInvalidArgument && c != base::Code::kResourceExhausted) || s.status().message().empty()) abort();
    return 0;
  }
  http::Json doc = http::Json::object();
  catalog::fill_registration(doc, doc.get(), *s);
  auto text = doc.dump();
  if (!text.is_ok()) abort();
  auto again = catalog::decode_registration(*text, 1 << 20);
  if (!again.is_ok() || !(*again == *s)) abort();
  http::Json svc = http::Json::object();
  catalog::fill_agent_service(svc, svc.get(), *s, "dc1");
  if (!svc.dump().is_ok()) abort();
  return 0;
}
