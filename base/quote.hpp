// A value quoted for an error message: "..." with \" and \\ escaped and control characters as
// \uXXXX, so a value taken from a file or a peer shows as it was and cannot forge a second line.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::base {

std::string quote(std::string_view s);

}  // namespace portcullis::base
