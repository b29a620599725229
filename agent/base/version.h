// The version of this build ("0.1.0"), set by CMake from the project version.
#pragma once

#include <string_view>

namespace base {
std::string_view version();
}  // namespace base
