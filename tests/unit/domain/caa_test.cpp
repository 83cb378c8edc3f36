#include "domain/caa.hpp"

#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace portcullis;
using namespace portcullis::domain;

namespace {

CaaRrset at(std::string owner, std::vector<CaaRecord> records) { return {std::move(owner), std::move(records)}; }
CaaRecord issue(std::string value) { return {0, "issue", std::move(value)}; }
CaaRecord issuewild(std::string value) { return {0, "issuewild", std::move(value)}; }

const std::string account = "https://acme.example/acct/42";

CaaContext ours(std::string method = "dns-01") {
  return {.ca_identities = {"letsencrypt.org"}, .account_uri = account, .validation_method = std::move(method)};
}

bool permits(std::string_view name, const CaaRrset& rrset, const CaaContext& context = ours()) {
  return evaluate_caa(name, rrset, context).permitted;
}

}  // namespace

TEST_CASE("caa: no records, or none about issuance, let any CA issue", "[unit][domain][monitor]") {
  CHECK(permits("app.example.com", {}));
  CHECK(permits("app.example.com", at("example.com", {{0, "iodef", "mailto:sec@example.com"}})));
}

TEST_CASE("caa: issue names the CA by its issuer domain, compared without case or trailing dot",
          "[unit][domain][monitor]") {
  CHECK(permits("app.example.com", at("example.com", {issue("letsencrypt.org")})));
  CHECK(permits("app.example.com", at("example.com", {issue("  LetsEncrypt.ORG. ")})));
  CHECK(permits("app.example.com", at("example.com", {issue("other-ca.example"), issue("letsencrypt.org")})));

  auto verdict = evaluate_caa("app.example.com", at("example.com", {issue("other-ca.example")}), ours());
  CHECK_FALSE(verdict.permitted);
  CHECK(verdict.found == "example.com CAA 0 issue \"other-ca.example\"");
  CHECK(verdict.reason.find("names another CA") != std::string::npos);
  CHECK(verdict.reason.find("letsencrypt.org") != std::string::npos);
}

TEST_CASE("caa: an empty issuer (\";\") forbids every CA", "[unit][domain][monitor]") {
  CHECK_FALSE(permits("app.example.com", at("example.com", {issue(";")})));
  CHECK_FALSE(permits("app.example.com", at("example.com", {issue("")})));
  auto verdict = evaluate_caa("app.example.com", at("example.com", {issue(";")}), ours());
  CHECK(verdict.reason.find("forbids every CA") != std::string::npos);
}

TEST_CASE("caa: issuewild decides for a wildcard name when present, else issue does", "[unit][domain][monitor]") {
  const auto both = at("example.com", {issue("letsencrypt.org"), issuewild(";")});
  CHECK(permits("app.example.com", both));
  CHECK_FALSE(permits("*.example.com", both));
  CHECK(permits("*.example.com", at("example.com", {issue("letsencrypt.org")})));
  CHECK_FALSE(permits("*.example.com", at("example.com", {issue("other-ca.example")})));
  CHECK(permits("*.example.com", at("example.com", {issue(";"), issuewild("letsencrypt.org")})));
  // issuewild says nothing about a name that is not a wildcard.
  CHECK(permits("app.example.com", at("example.com", {issuewild("other-ca.example")})));
}

TEST_CASE("caa: a critical property with an unknown tag forbids; a known or non-critical one does not",
          "[unit][domain][monitor]") {
  auto verdict =
      evaluate_caa("app.example.com", at("example.com", {issue("letsencrypt.org"), {128, "tbs", "x"}}), ours());
  CHECK_FALSE(verdict.permitted);
  CHECK(verdict.reason.find("\"tbs\" is unknown") != std::string::npos);
  CHECK(permits("app.example.com", at("example.com", {issue("letsencrypt.org"), {0, "tbs", "x"}})));
  CHECK(permits("app.example.com", at("example.com", {{128, "issue", "letsencrypt.org"}})));
}

TEST_CASE("caa: accounturi must be our account's URL (RFC 8657)", "[unit][domain][monitor]") {
  CHECK(permits("app.example.com", at("example.com", {issue("letsencrypt.org; accounturi=" + account)})));
  CHECK_FALSE(
      permits("app.example.com", at("example.com", {issue("letsencrypt.org; accounturi=https://acme.example/acct/7")})));
  auto unknown = ours();
  unknown.account_uri.clear();
  CHECK_FALSE(permits("app.example.com", at("example.com", {issue("letsencrypt.org; accounturi=" + account)}), unknown));
}

TEST_CASE("caa: validationmethods must list the challenge we would use (RFC 8657)", "[unit][domain][monitor]") {
  const auto dns_only = at("example.com", {issue("letsencrypt.org; validationmethods=dns-01")});
  CHECK(permits("app.example.com", dns_only, ours("dns-01")));
  CHECK_FALSE(permits("app.example.com", dns_only, ours("http-01")));
  const auto both = at("example.com", {issue("letsencrypt.org; accounturi=" + account + "; validationmethods=dns-01,http-01")});
  CHECK(permits("app.example.com", both, ours("http-01")));
  auto verdict = evaluate_caa("app.example.com", dns_only, ours("http-01"));
  CHECK(verdict.reason.find("does not allow the http-01 challenge") != std::string::npos);
}

TEST_CASE("caa: the relevant RRset is the first found climbing from the name to its parents, never the root",
          "[unit][domain][monitor]") {
  std::map<std::string, std::vector<CaaRecord>> zone = {
      {"example.com", {issue("other-ca.example")}},
      {"shop.example.com", {issue("letsencrypt.org")}},
  };
  std::vector<std::string> asked;
  CaaLookup lookup = [&](const std::string& name) -> Result<std::vector<CaaRecord>> {
    asked.push_back(name);
    auto it = zone.find(name);
    return it == zone.end() ? std::vector<CaaRecord>{} : it->second;
  };

  SECTION("a name below a parent with CAA gets the parent's") {
    auto rrset = find_relevant_caa("a.b.example.com", lookup);
    REQUIRE(rrset);
    CHECK(rrset->owner == "example.com");
    CHECK(asked == std::vector<std::string>{"a.b.example.com", "b.example.com", "example.com"});
    CHECK_FALSE(evaluate_caa("a.b.example.com", *rrset, ours()).permitted);
  }
  SECTION("a closer RRset wins") {
    auto rrset = find_relevant_caa("www.shop.example.com", lookup);
    REQUIRE(rrset);
    CHECK(rrset->owner == "shop.example.com");
    CHECK(evaluate_caa("www.shop.example.com", *rrset, ours()).permitted);
  }
  SECTION("a wildcard starts at its base domain") {
    auto rrset = find_relevant_caa("*.shop.example.com", lookup);
    REQUIRE(rrset);
    CHECK(asked.front() == "shop.example.com");
  }
  SECTION("none anywhere: an empty set, the top-level domain asked last") {
    auto rrset = find_relevant_caa("app.example.org", lookup);
    REQUIRE(rrset);
    CHECK(rrset->records.empty());
    CHECK(asked == std::vector<std::string>{"app.example.org", "example.org", "org"});
  }
  SECTION("a top-level domain that does not answer has none") {
    CaaLookup no_tld = [&](const std::string& name) -> Result<std::vector<CaaRecord>> {
      if (name == "org") return fail(Errc::network, "resolver 127.0.0.1:53: SERVFAIL for org CAA");
      return lookup(name);
    };
    auto rrset = find_relevant_caa("app.example.org", no_tld);
    REQUIRE(rrset);
    CHECK(rrset->records.empty());
  }
  SECTION("a lookup error is returned") {
    CaaLookup failing = [](const std::string&) -> Result<std::vector<CaaRecord>> {
      return fail(Errc::network, "resolver 127.0.0.1:53: SERVFAIL for example.com CAA");
    };
    auto rrset = find_relevant_caa("example.com", failing);
    REQUIRE_FALSE(rrset);
    CHECK(rrset.error().message().find("SERVFAIL") != std::string::npos);
  }
}
