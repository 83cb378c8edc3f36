#include "base/json_log_formatter.hpp"

#include <regex>
#include <sstream>
#include <string>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "base/utf8.hpp"

using portcullis::base::JsonLogFormatter;
using portcullis::base::append_json_string_content;
using portcullis::base::utf8_sequence_length;

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  append_json_string_content(out, text);
  return out;
}

}  // namespace

TEST_CASE("a JSON log line has the time, level, logger and message, and parses whatever the message holds",
          "[unit][base][logging]") {
  std::ostringstream text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(text);
  spdlog::logger logger("acme", sink);
  logger.set_formatter(std::make_unique<JsonLogFormatter>());
  logger.set_level(spdlog::level::debug);
  logger.info("certificate issued endpoint={} serial={}", "app", "01AB");
  logger.warn("quote \" backslash \\ newline \n tab \t bell \x07 end");
  logger.error("bad bytes \xFF\xFE and \xC3\xA9 and \xED\xA0\x80");
  logger.debug("{}", "");

  std::istringstream lines(text.str());
  std::string line;
  std::vector<boost::json::object> parsed;
  while (std::getline(lines, line)) {
    INFO(line);
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(v.is_object());
    parsed.push_back(v.as_object());
  }
  REQUIRE(parsed.size() == 4);
  const std::regex rfc3339_ms(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (const auto& o : parsed) {
    CHECK(o.size() == 4);
    CHECK(std::regex_match(std::string(o.at("time").as_string()), rfc3339_ms));
    CHECK(o.at("logger") == "acme");
  }
  CHECK(parsed[0].at("level") == "info");
  CHECK(parsed[0].at("message") == "certificate issued endpoint=app serial=01AB");
  CHECK(parsed[1].at("level") == "warning");
  CHECK(parsed[1].at("message") == "quote \" backslash \\ newline \n tab \t bell \x07 end");
  CHECK(parsed[2].at("level") == "error");
  CHECK(parsed[2].at("message") == "bad bytes \xEF\xBF\xBD\xEF\xBF\xBD and \xC3\xA9 and \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(parsed[3].at("message") == "");
}

TEST_CASE("JSON string content escapes quotes, backslashes and control characters", "[unit][base][logging]") {
  CHECK(escaped("plain key=value") == "plain key=value");
  CHECK(escaped("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(escaped("\n\r\t") == "\\n\\r\\t");
  CHECK(escaped(std::string_view("\x00\x1F\x7F", 3)) == "\\u0000\\u001f\\u007f");
  CHECK(escaped("\xF0\x9F\x94\x92") == "\xF0\x9F\x94\x92");  // a four-byte sequence passes
}

TEST_CASE("UTF-8 sequences are checked as RFC 3629 defines them", "[unit][base][logging]") {
  CHECK(utf8_sequence_length("a", 0) == 1);
  CHECK(utf8_sequence_length("\xC3\xA9", 0) == 2);
  CHECK(utf8_sequence_length("\xE2\x82\xAC", 0) == 3);
  CHECK(utf8_sequence_length("\xF0\x9F\x94\x92", 0) == 4);
  CHECK(utf8_sequence_length("\xC3", 0) == 0);              // cut short
  CHECK(utf8_sequence_length("\xC1\xBF", 0) == 0);          // overlong
  CHECK(utf8_sequence_length("\xE0\x80\xAF", 0) == 0);      // overlong
  CHECK(utf8_sequence_length("\xED\xA0\x80", 0) == 0);      // a surrogate
  CHECK(utf8_sequence_length("\xF4\x90\x80\x80", 0) == 0);  // past U+10FFFF
  CHECK(utf8_sequence_length("\x80", 0) == 0);              // a lone continuation byte
}
