// A value quoted for an error message: "..." with \" and \\ escaped and control characters as
// \uXXXX, so a value taken from a file or a peer shows as it was and cannot forge a second line.
#pragma once

#include <string>
#include <string_view>

namespace portcullis::base {

std::string quote(std::string_view s);

// `s` for one line of a text log: CR, LF, tab, every other C0 control, DEL, the C1 controls and
// U+2028/U+2029 written as escapes (\r \n \t \xHH \uHHHH), everything else as is. So a value from
// a customer or a peer (a hostname, a TXT value, a Host header) cannot start a forged log line or
// drive a terminal. Appends to `out`; the log formatter applies it to every text line's message.
void append_log_safe(std::string& out, std::string_view s);
std::string log_safe(std::string_view s);
// True when log_safe(s) == s (nothing to escape): the formatter's fast path.
bool is_log_safe(std::string_view s) noexcept;

}  // namespace portcullis::base
