// UTF-8 checking for text that leaves the process in a format that requires it: JSON log lines
// (RFC 8259 §8.1) and Prometheus label values. Bytes that are not valid UTF-8 (a peer's host name,
// a CA's message) are replaced, never passed through.
#pragma once

#include <cstddef>
#include <string_view>

namespace portcullis::base {

// The length (1 to 4) of the well-formed UTF-8 sequence that starts at `text[i]` (RFC 3629 §4:
// no overlong forms, no surrogates, nothing past U+10FFFF), or 0 when it is not one. `i` < size.
// Pure, noexcept.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept;

// U+FFFD REPLACEMENT CHARACTER, which stands in for each byte that does not start a valid sequence.
inline constexpr std::string_view utf8_replacement = "\xEF\xBF\xBD";

}  // namespace portcullis::base
