#include "control/cert_timeline.hpp"

#include <catch2/catch.hpp>

#include "tests/support/test_certs.hpp"
#include "tests/unit/acme/memory_storage.hpp"

namespace {

using portcullis::certstore::CertSnapshot;
using portcullis::certstore::CertSource;
using portcullis::control::CertTimeline;
using portcullis::control::swap_reason;
using portcullis::testing::TestCa;

portcullis::domain::EndpointConfig endpoint(std::string id, std::vector<std::string> names) {
  portcullis::domain::EndpointConfig ep;
  ep.id = std::move(id);
  ep.hostnames = std::move(names);
  return ep;
}

// "reason source" of each swap, newest first.
std::vector<std::string> reasons(const CertTimeline& timeline, std::string_view id) {
  std::vector<std::string> out;
  for (const auto& s : timeline.swaps(id)) out.push_back(s.reason + " " + std::string(to_string(s.source)));
  return out;
}

}  // namespace

TEST_CASE("a swap's reason follows from the source before and after", "[unit][control]") {
  using S = CertSource;
  CHECK(swap_reason(std::nullopt, S::default_cert, false) == "endpoint added");
  CHECK(swap_reason(S::default_cert, S::transitional, false) == "transitional uploaded");
  CHECK(swap_reason(S::fallback, S::transitional, false) == "transitional uploaded");
  CHECK(swap_reason(S::transitional, S::transitional, false) == "transitional replaced");
  CHECK(swap_reason(S::transitional, S::managed, false) == "issued");
  CHECK(swap_reason(S::default_cert, S::managed, false) == "issued");
  CHECK(swap_reason(S::managed, S::managed, false) == "renewed");
  CHECK(swap_reason(S::transitional, S::default_cert, false) == "transitional removed");
  CHECK(swap_reason(S::transitional, S::fallback, true) == "transitional expired");
  CHECK(swap_reason(S::managed, S::transitional, false) == "managed removed");
  CHECK(swap_reason(S::managed, S::fallback, true) == "managed expired");
  CHECK(swap_reason(S::default_cert, S::fallback, false) == "platform certificate changed");
}

TEST_CASE("the timeline records each change of the served certificate once, newest first, and reads it back",
          "[unit][control]") {
  auto ca = TestCa::create("Timeline Test Root");
  const auto def = ca.issue({"default.invalid"}).bundle(CertSource::default_cert);
  const auto old = ca.issue({"app.example.com", "www.example.com"}).bundle(CertSource::transitional);
  const auto managed = ca.issue({"app.example.com", "www.example.com"}).bundle(CertSource::managed);
  const auto renewed = ca.issue({"app.example.com", "www.example.com"}).bundle(CertSource::managed);
  const std::vector endpoints{endpoint("app", {"app.example.com", "www.example.com"})};
  const auto now = portcullis::certstore::Clock::now();

  portcullis::testing::MemoryStorage storage;
  {
    portcullis::base::BlockingPool pool;
    CertTimeline timeline(storage, pool);
    REQUIRE(timeline.load());
    timeline.observe(*CertSnapshot::Builder().default_cert(def).build(), endpoints, now);
    // The same again: no swap.
    timeline.observe(*CertSnapshot::Builder().default_cert(def).build(), endpoints, now);
    timeline.observe(*CertSnapshot::Builder().add(old).default_cert(def).build(), endpoints, now);
    timeline.observe(*CertSnapshot::Builder().add(old).add(managed).default_cert(def).build(), endpoints, now);
    timeline.observe(*CertSnapshot::Builder().add(old).add(renewed).default_cert(def).build(), endpoints, now);
    CHECK(reasons(timeline, "app") == std::vector<std::string>{"renewed managed", "issued managed",
                                                                "transitional uploaded transitional",
                                                                "endpoint added default"});
    const auto newest = timeline.swaps("app").front();
    CHECK(newest.hostnames == std::vector<std::string>{"app.example.com", "www.example.com"});
    CHECK(newest.serial_hex == renewed->serial_hex());
    CHECK(timeline.swaps("other").empty());
    pool.finish();  // the writes behind are in the store
  }
  CHECK(storage.swaps["app"].size() == 4);

  portcullis::base::BlockingPool pool;
  CertTimeline again(storage, pool);
  REQUIRE(again.load());
  // Read back, and what is served now is what was recorded last: nothing new.
  again.observe(*CertSnapshot::Builder().add(old).add(renewed).default_cert(def).build(), endpoints, now);
  CHECK(reasons(again, "app").size() == 4);
  // Hostnames that move to different certificates are recorded apart: app.example.com to a
  // certificate of its own, www.example.com back to the transitional one.
  const auto app_only = ca.issue({"app.example.com"}).bundle(CertSource::managed);
  again.observe(*CertSnapshot::Builder().add(old).add(app_only).default_cert(def).build(), endpoints, now);
  const auto swaps = again.swaps("app");
  REQUIRE(swaps.size() == 6);
  CHECK(swaps[0].hostnames == std::vector<std::string>{"www.example.com"});
  CHECK(swaps[0].reason == "managed removed");
  CHECK(swaps[0].serial_hex == old->serial_hex());
  CHECK(swaps[1].hostnames == std::vector<std::string>{"app.example.com"});
  CHECK(swaps[1].reason == "renewed");
  CHECK(swaps[1].serial_hex == app_only->serial_hex());
  pool.finish();
}

TEST_CASE("the timeline keeps the newest entries of each endpoint", "[unit][control]") {
  auto ca = TestCa::create("Timeline Bound Root");
  const auto def = ca.issue({"default.invalid"}).bundle(CertSource::default_cert);
  const std::vector endpoints{endpoint("app", {"app.example.com"})};
  portcullis::testing::MemoryStorage storage;
  portcullis::base::BlockingPool pool;
  CertTimeline timeline(storage, pool);
  const auto now = portcullis::certstore::Clock::now();
  std::string last_serial;
  for (std::size_t i = 0; i < CertTimeline::capacity + 5; ++i) {
    const auto cert = ca.issue({"app.example.com"}).bundle(CertSource::managed);
    last_serial = cert->serial_hex();
    timeline.observe(*CertSnapshot::Builder().add(cert).default_cert(def).build(), endpoints, now);
  }
  pool.finish();
  CHECK(timeline.swaps("app").size() == CertTimeline::capacity);
  CHECK(timeline.swaps("app").front().serial_hex == last_serial);
  CHECK(storage.swaps["app"].size() == CertTimeline::capacity);
}

TEST_CASE("after one certificate's publish only its names are looked at, and a wildcard looks at every endpoint",
          "[unit][control]") {
  auto ca = TestCa::create("Timeline Changed Root");
  const auto def = ca.issue({"default.invalid"}).bundle(CertSource::default_cert);
  const auto app = ca.issue({"app.example.com"}).bundle(CertSource::managed);
  const auto api = ca.issue({"api.example.com"}).bundle(CertSource::managed);
  const auto wild = ca.issue({"*.example.net"}).bundle(CertSource::transitional);
  const std::vector endpoints{endpoint("app", {"app.example.com"}), endpoint("api", {"api.example.com"}),
                              endpoint("net", {"shop.example.net"})};
  const auto now = portcullis::certstore::Clock::now();
  portcullis::testing::MemoryStorage storage;
  portcullis::base::BlockingPool pool;
  CertTimeline timeline(storage, pool);
  REQUIRE(timeline.load());
  timeline.observe(*CertSnapshot::Builder().default_cert(def).build(), endpoints, now);

  // Both certificates are in the snapshot, but the publish says only app's moved: api's move is
  // not looked for (it is seen at the next full observe).
  const auto both = CertSnapshot::Builder().add(app).add(api).default_cert(def).build();
  timeline.observe_changed(*both, {"app.example.com", "app.example.com"}, now);
  CHECK(reasons(timeline, "app") == std::vector<std::string>{"issued managed", "endpoint added default"});
  CHECK(reasons(timeline, "api") == std::vector<std::string>{"endpoint added default"});
  // A name no endpoint has: nothing.
  timeline.observe_changed(*both, {"nobody.example.org"}, now);
  CHECK(timeline.swaps("app").size() == 2);
  // A full observe catches up.
  timeline.observe(*both, endpoints, now);
  CHECK(reasons(timeline, "api") == std::vector<std::string>{"issued managed", "endpoint added default"});

  // A wildcard covers names of other spellings: every endpoint of the last observe is looked at.
  const auto with_wild = CertSnapshot::Builder().add(app).add(api).add(wild).default_cert(def).build();
  timeline.observe_changed(*with_wild, {"*.example.net"}, now);
  CHECK(reasons(timeline, "net") == std::vector<std::string>{"transitional uploaded transitional",
                                                              "endpoint added default"});
  CHECK(timeline.swaps("app").size() == 2);
  pool.finish();
}
