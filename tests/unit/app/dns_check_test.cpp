#include "app/dns_check.hpp"

#include <map>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace portcullis;
using domain::RecordState;

namespace {

domain::EndpointConfig endpoint(std::string id, std::vector<std::string> hostnames, domain::Scope scope) {
  domain::EndpointConfig e;
  e.id = std::move(id);
  e.hostnames = std::move(hostnames);
  e.scope = scope;
  return e;
}

std::vector<domain::EndpointConfig> endpoints() {
  return {endpoint("elb-1", {"app.example.com", "*.example.com"}, domain::Scope::external),
          endpoint("elb-2", {"svc.example.com"}, domain::Scope::internal)};
}

// What the "resolver" says, by record name; anything else is missing.
app::RecordCheck canned(std::map<std::string, domain::Observation> answers) {
  return [answers = std::move(answers)](const domain::RequiredRecord& record) -> domain::Observation {
    if (!record.checkable) return {RecordState::unchecked, "not checkable"};
    auto it = answers.find(record.name);
    return it == answers.end() ? domain::Observation{RecordState::missing, "NXDOMAIN"} : it->second;
  };
}

}  // namespace

TEST_CASE("dns-check lists every record of every endpoint with what was found", "[unit][app]") {
  auto rows = app::check_endpoints(endpoints(), "edge.example.net",
                                   canned({{"app.example.com", {RecordState::ok, "ignored for ok"}},
                                           {"_acme-challenge.app.example.com",
                                            {RecordState::wrong_target, "CNAME acme.other.example."}},
                                           {"_acme-challenge.svc.example.com", {RecordState::error, "SERVFAIL"}}}));
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].endpoint == "elb-1");
  CHECK(rows[0].name == "app.example.com");
  CHECK(rows[0].expected == "elb-1.edge.example.net.");
  CHECK(rows[0].state == RecordState::ok);
  CHECK(rows[0].found.empty());
  CHECK(rows[1].found == "CNAME acme.other.example.");
  CHECK(rows[2].hostname == "*.example.com");
  CHECK(rows[2].state == RecordState::unchecked);
  CHECK(rows[3].name == "_acme-challenge.example.com");
  CHECK(rows[3].state == RecordState::missing);
  CHECK(rows[4].endpoint == "elb-2");
  CHECK(rows[4].expected == "acme.elb-2.edge.example.net.");
  CHECK_FALSE(app::all_ok(rows));
}

TEST_CASE("dns-check says a name in the platform zone needs no record, and checks nothing for it", "[unit][app]") {
  std::vector<std::string> asked;
  auto rows = app::check_endpoints({endpoint("wiki", {"wiki.edge.example.net", "svc.example.com"}, domain::Scope::internal)},
                                   "edge.example.net", [&](const domain::RequiredRecord& record) {
                                     asked.push_back(record.name);
                                     return domain::Observation{RecordState::ok, ""};
                                   });
  CHECK(asked == std::vector<std::string>{"_acme-challenge.svc.example.com"});
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].hostname == "wiki.edge.example.net");
  CHECK(rows[1].type == "-");
  CHECK(rows[1].expected == app::in_zone_note);
  CHECK(rows[1].state == RecordState::ok);
  CHECK(app::all_ok(rows));
}

TEST_CASE("dns-check renders an aligned table", "[unit][app]") {
  std::vector<app::DnsCheckRow> rows{
      {"elb-1", "app.example.com", "app.example.com", "CNAME", "elb-1.edge.example.net.", RecordState::ok, ""},
      {"elb-1", "app.example.com", "_acme-challenge.app.example.com", "CNAME", "acme.elb-1.edge.example.net.",
       RecordState::wrong_target, "CNAME acme.other.example."},
  };
  CHECK(app::render_table(rows) ==
        "ENDPOINT  HOSTNAME         RECORD                           TYPE   EXPECTED                      STATE         FOUND\n"
        "elb-1     app.example.com  app.example.com                  CNAME  elb-1.edge.example.net.       ok            -\n"
        "elb-1     app.example.com  _acme-challenge.app.example.com  CNAME  acme.elb-1.edge.example.net.  wrong_target  CNAME acme.other.example.\n");
  CHECK(app::render_table({}) == "ENDPOINT  HOSTNAME  RECORD  TYPE  EXPECTED  STATE  FOUND\n(no endpoints)\n");
}

TEST_CASE("dns-check renders JSON with every field and an overall verdict", "[unit][app]") {
  std::vector<app::DnsCheckRow> rows{
      {"elb-1", "*.example.com", "*.example.com", "CNAME", "elb-1.edge.example.net.", RecordState::unchecked,
       "a wildcard \"CNAME\" is allowed"},
      {"elb-1", "*.example.com", "_acme-challenge.example.com", "CNAME", "acme.elb-1.edge.example.net.",
       RecordState::ok, ""},
  };
  auto json = boost::json::parse(app::render_json(rows));
  CHECK(json.at("ok") == true);
  const auto& records = json.at("records").as_array();
  REQUIRE(records.size() == 2);
  CHECK(records[0].at("endpoint") == "elb-1");
  CHECK(records[0].at("hostname") == "*.example.com");
  CHECK(records[0].at("name") == "*.example.com");
  CHECK(records[0].at("type") == "CNAME");
  CHECK(records[0].at("expected") == "elb-1.edge.example.net.");
  CHECK(records[0].at("state") == "unchecked");
  CHECK(records[0].at("found") == "a wildcard \"CNAME\" is allowed");
  CHECK(records[1].at("state") == "ok");

  rows[1].state = RecordState::missing;
  CHECK(boost::json::parse(app::render_json(rows)).at("ok") == false);
  CHECK(app::render_json({}) == R"({"ok":true,"records":[]})");
}
