#include "control/webhooks.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using portcullis::control::webhook_slack;
namespace json = boost::json;

TEST_CASE("a Slack message escapes every value so none becomes a mention or a link", "[unit][control][alerts]") {
  const json::object event{{"event", "firing"},
                           {"kind", "caa_forbids_issuance"},
                           {"severity", "critical"},
                           {"endpoint", "ep-1"},
                           {"subject", "app.example.com"},
                           {"expected", "a CAA record allowing the CA"},
                           {"found", "issue \"<!channel> <http://evil.example|click> & <@U123>\""},
                           {"fix", "ask <!here>"}};
  const auto message = json::parse(webhook_slack(json::serialize(event))).as_object();
  const std::string text(message.at("text").as_string());
  INFO(text);
  CHECK(text.find('<') == std::string::npos);
  CHECK(text.find('>') == std::string::npos);
  CHECK(text.find("&lt;!channel&gt; &lt;http://evil.example|click&gt; &amp; &lt;@U123&gt;") != std::string::npos);
  CHECK(text.find("ask &lt;!here&gt;") != std::string::npos);
  const std::string block(message.at("blocks").as_array().at(0).at("text").at("text").as_string());
  CHECK(block == text);
}
