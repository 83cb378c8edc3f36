// JsonLogFormatter: spdlog's formatter for `[server] log_format = "json"`: one JSON object per
// line, {"time":"2026-12-01T10:02:41.123Z","level":"info","logger":"acme","message":"..."}, the time
// in RFC 3339 UTC to the millisecond. The message keeps its key=value text; it is escaped for JSON
// (RFC 8259 §7) and any byte that is not valid UTF-8 becomes U+FFFD, so every line parses.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

namespace portcullis::base {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// `text` as the contents of a JSON string (no quotes): `"` `\` and control characters escaped,
// invalid UTF-8 replaced by U+FFFD. Pure.
void append_json_string_content(std::string& out, std::string_view text);

}  // namespace portcullis::base
