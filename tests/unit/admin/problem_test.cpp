#include "admin/problem.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

using namespace portcullis;
using namespace portcullis::admin;

TEST_CASE("an internal error's text is logged, and the client gets a generic detail with a reference",
          "[unit][admin]") {
  const std::string internal = "/var/lib/portcullis/portcullis.db: insert endpoint: database is locked";
  auto res = problem_response(from_change_error({Errc::storage, internal, {}}), 11, true);
  CHECK(res.result_int() == 500);
  CHECK(res[http::field::content_type] == "application/problem+json");
  CHECK(res.body().find("portcullis.db") == std::string::npos);
  CHECK(res.body().find("database is locked") == std::string::npos);
  auto doc = boost::json::parse(res.body()).as_object();
  const std::string reference(doc.at("reference").as_string());
  CHECK(reference.size() == 16);
  CHECK(std::string(doc.at("detail").as_string()).find(reference) != std::string::npos);
  // A new reference each time.
  auto again = boost::json::parse(problem_response(from_change_error({Errc::storage, internal, {}}), 11, true).body());
  CHECK(again.at("reference") != doc.at("reference"));

  SECTION("a validation error keeps its useful text") {
    auto invalid = problem_response(
        from_change_error({Errc::invalid_input, "1 problem", {{"hostnames[0]", "expected a DNS name"}}}), 11, true);
    CHECK(invalid.result_int() == 422);
    CHECK(invalid.body().find("expected a DNS name") != std::string::npos);
    CHECK(invalid.body().find("reference") == std::string::npos);
  }
  SECTION("503 answers with fixed texts, never the error's") {
    auto stopping = problem_response(from_change_error({Errc::cancelled, internal, {}}), 11, true);
    CHECK(stopping.result_int() == 503);
    CHECK(stopping.body().find("portcullis.db") == std::string::npos);
  }
}
