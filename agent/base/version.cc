#include "agent/base/version.h"

namespace base {

std::string_view version() {
#ifdef WEFT_VERSION
  return WEFT_VERSION;
#else
  return "0.0.0-unknown";
#endif
}

}  // namespace base
