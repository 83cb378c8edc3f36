#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "base/logging.hpp"
#include "base/quote.hpp"

using portcullis::base::is_log_safe;
using portcullis::base::log_safe;

TEST_CASE("a value for a text log has its line breaks and control characters escaped", "[unit][base][logging]") {
  CHECK(log_safe("app.example.com") == "app.example.com");
  CHECK(is_log_safe("caa value issue \"letsencrypt.org\""));
  CHECK(log_safe("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(log_safe(std::string("nul\0bell\x07" "esc\x1b[31m del\x7f", 22)) == "nul\\x00bell\\x07esc\\x1B[31m del\\x7F");
  // C1 controls (NEL) and U+2028/U+2029 break lines in some viewers too; other UTF-8 stays.
  CHECK(log_safe("nel\xC2\x85 ls\xE2\x80\xA8 ps\xE2\x80\xA9 caf\xC3\xA9") == "nel\\u0085 ls\\u2028 ps\\u2029 caf\xC3\xA9");
  CHECK_FALSE(is_log_safe("x\xC2\x85"));
  CHECK(is_log_safe("caf\xC3\xA9 \xE2\x80\x94"));
  // A lone lead byte at the end is left as it is (nothing to escape, no read past the end).
  CHECK(log_safe("end\xC2") == "end\xC2");
}

TEST_CASE("a forged line in a logged value stays on the one line of the text log", "[unit][base][logging]") {
  std::ostringstream text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(text);
  spdlog::logger logger("dns", sink);
  logger.set_formatter(portcullis::log::text_formatter());
  const std::string txt = "v\n2026-12-08T00:00:00.000Z error admin: token=forged";
  logger.info("validation value name={} txt={}", "_acme-challenge.app.example.com", txt);
  const std::string out = text.str();
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(out.find(" info dns: validation value name=_acme-challenge.app.example.com "
                 "txt=v\\n2026-12-08T00:00:00.000Z error admin: token=forged\n") != std::string::npos);
}
