#include "base/quote.hpp"

#include <fmt/format.h>

namespace portcullis::base {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

namespace {

// The length of the escaped sequence starting at s[i] (0: none), for the multi-byte ones: C1
// controls (U+0080..U+009F, C2 80..C2 9F) and the line/paragraph separators (E2 80 A8/A9).
std::size_t unicode_control_at(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  if (b(i) == 0xC2 && i + 1 < s.size() && b(i + 1) >= 0x80 && b(i + 1) <= 0x9F) return 2;
  if (b(i) == 0xE2 && i + 2 < s.size() && b(i + 1) == 0x80 && (b(i + 2) == 0xA8 || b(i + 2) == 0xA9)) return 3;
  return 0;
}

bool is_c0(unsigned char c) noexcept { return c < 0x20 || c == 0x7F; }

}  // namespace

bool is_log_safe(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_c0(c) || ((c == 0xC2 || c == 0xE2) && unicode_control_at(s, i) != 0)) return false;
  }
  return true;
}

void append_log_safe(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (is_c0(c)) {
      out += fmt::format("\\x{:02X}", c);
    } else if (std::size_t n = unicode_control_at(s, i); n == 2) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned char>(s[i + 1]));
      i += 1;
    } else if (n == 3) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
}

std::string log_safe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_log_safe(out, s);
  return out;
}

}  // namespace portcullis::base
