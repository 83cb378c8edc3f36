#include "base/error.hpp"

namespace portcullis::base {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_input: return "invalid input";
    case Errc::config: return "configuration";
    case Errc::crypto: return "crypto";
    case Errc::io: return "i/o";
    case Errc::storage: return "storage";
    case Errc::network: return "network";
    case Errc::timeout: return "timeout";
    case Errc::acme: return "acme";
    case Errc::not_found: return "not found";
    case Errc::conflict: return "conflict";
    case Errc::internal: return "internal";
    case Errc::cancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace portcullis::base
