#include "control/certificate_manager.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "base/blocking_pool.hpp"
#include "certstore/challenge_board.hpp"
#include "certstore/cert_registry.hpp"
#include "control/cert_catalog.hpp"
#include "domain/config.hpp"
#include "tests/unit/acme/memory_storage.hpp"

namespace {

using namespace portcullis;

domain::Config managed_config(bool acme_on) {
  domain::Config config;
  config.acme.enabled = acme_on;
  if (acme_on) config.acme.directory = "https://127.0.0.1:1/dir";
  domain::EndpointConfig ep;
  ep.id = "app";
  ep.hostnames = {"app.example.com"};
  ep.upstreams = {domain::HostPort{"127.0.0.1", 8080}};
  ep.managed_https = true;
  config.endpoints.push_back(ep);
  return config;
}

}  // namespace

TEST_CASE("a reload that turns ACME on schedules from the renewal state read at start, not from the store",
          "[unit][control]") {
  boost::asio::io_context io;
  testing::MemoryStorage storage;
  certstore::RenewalState failing;
  failing.endpoint_id = "app";
  failing.consecutive_failures = 2;
  failing.last_error = "urn:ietf:params:acme:error:dns";
  storage.renewal_states["app"] = failing;
  base::BlockingPool pool;
  certstore::CertRegistry registry;
  control::CertCatalog catalog(io, storage, pool, registry);
  certstore::ChallengeBoard challenges;
  control::CertificateManager manager(io, storage, pool, challenges, catalog);

  // Start-up, ACME off: the caller reads the state (before the control loop runs) and hands it over.
  auto states = storage.load_renewal_states();
  REQUIRE(states);
  manager.adopt_renewal_states(std::move(*states));
  REQUIRE(manager.configure(managed_config(false)));
  CHECK_FALSE(manager.status("app").managed);

  // A reload turns ACME on: the schedule carries the stored failures, and the store was not read again.
  const int loads_before = storage.renewal_state_loads;
  REQUIRE(manager.configure(managed_config(true)));
  auto status = manager.status("app");
  REQUIRE(status.managed);
  REQUIRE(status.renewal);
  CHECK(status.renewal->consecutive_failures == 2);
  CHECK(status.renewal->last_error == "urn:ietf:params:acme:error:dns");
  CHECK(storage.renewal_state_loads == loads_before);

  // Without a hand-over the first configure with ACME on reads the store itself.
  testing::MemoryStorage other;
  other.renewal_states["app"] = failing;
  certstore::CertRegistry other_registry;
  control::CertCatalog other_catalog(io, other, pool, other_registry);
  control::CertificateManager direct(io, other, pool, challenges, other_catalog);
  REQUIRE(direct.configure(managed_config(true)));
  CHECK(other.renewal_state_loads == 1);
  REQUIRE(direct.status("app").renewal);
  CHECK(direct.status("app").renewal->consecutive_failures == 2);
}
