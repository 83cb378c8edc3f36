// The DNS test chain itself: a real Knot (the customer's DNS provider) behind a real Unbound (the
// recursive resolver a CA would use). A record changed in Knot by an RFC 2136 update is what
// Unbound answers next, so the delegation tests can change records mid-test.
#include <catch2/catch.hpp>

#include "tests/support/kdig.hpp"
#include "tests/support/knot.hpp"
#include "tests/support/unbound.hpp"

namespace {

using namespace portcullis::testing;

}  // namespace

TEST_CASE("a CNAME added to Knot with knsupdate is answered by Unbound at once, and removed likewise",
          "[integration][dns]") {
  const bool forward = GENERATE(false, true);  // Unbound iterates to Knot (stub) or forwards to it
  KnotFixture knot({.zones = {{"example.com", {"www 0 A 192.0.2.10"}}}});
  UnboundFixture unbound({.zones = {{"example.com", knot.host(), knot.port(), forward}}});
  INFO((forward ? "forward-zone" : "stub-zone") << "\nknot log:\n" << knot.log() << "\nunbound log:\n"
                                                << unbound.log());

  auto ask = [&](const std::string& name, const std::string& type) {
    return kdig(unbound.host(), unbound.port(), name, type);
  };
  // A zone-file record is served through the resolver, and the resolver is not authoritative.
  const auto www = ask("www.example.com", "A");
  CHECK(www.status == "NOERROR");
  CHECK_FALSE(www.authoritative);
  CHECK(www.answers == std::vector<std::string>{"192.0.2.10"});
  CHECK(ask("app.example.com", "CNAME").status == "NXDOMAIN");

  knot.set_cname("example.com", "app.example.com", "elb-1.edge.example.net.");
  unbound.flush();
  auto added = ask("app.example.com", "CNAME");
  CHECK(added.status == "NOERROR");
  CHECK(added.answers == std::vector<std::string>{"elb-1.edge.example.net."});

  knot.set_cname("example.com", "app.example.com", "elb-2.edge.example.net.");
  unbound.flush();
  CHECK(ask("app.example.com", "CNAME").answers == std::vector<std::string>{"elb-2.edge.example.net."});

  knot.remove("example.com", "app.example.com", "CNAME");
  unbound.flush();
  auto removed = ask("app.example.com", "CNAME");
  CHECK(removed.status == "NXDOMAIN");
  CHECK(removed.answers.empty());
}

TEST_CASE("Knot refuses an update for a zone it does not serve, and the fixture says so", "[integration][dns]") {
  KnotFixture knot;
  CHECK_THROWS_WITH(knot.update("example.org", {"add a.example.org. 0 CNAME b.example.net."}),
                    Catch::Contains("NOTAUTH"));
}
