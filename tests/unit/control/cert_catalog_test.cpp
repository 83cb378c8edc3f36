#include "control/cert_catalog.hpp"

#include <catch2/catch.hpp>

#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "domain/platform_certificate.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/unit/acme/memory_storage.hpp"

namespace {

namespace asio = boost::asio;
using portcullis::certstore::CertBundlePtr;
using portcullis::certstore::CertRegistry;
using portcullis::certstore::CertSource;
using portcullis::certstore::StoredCertificate;
using portcullis::control::CertCatalog;
using portcullis::testing::TempDir;
using portcullis::testing::TestCa;
using portcullis::testing::TestCert;
using namespace std::chrono_literals;

// Bound on io_context::run_for: a reload's file reads end in milliseconds.
constexpr auto run_deadline = 10s;

StoredCertificate row(const std::string& name_key, const std::string& endpoint, CertSource source,
                      const TestCert& cert) {
  StoredCertificate r;
  r.name_key = name_key;
  r.endpoint_id = endpoint;
  r.source = source;
  r.names = {};
  r.chain_pem = cert.chain_pem;
  r.key_pem = cert.key_pem;
  r.serial_hex = cert.serial_hex;
  return r;
}

portcullis::domain::EndpointConfig endpoint(std::string id, std::vector<std::string> names, bool managed = true) {
  portcullis::domain::EndpointConfig ep;
  ep.id = std::move(id);
  ep.hostnames = std::move(names);
  ep.managed_https = managed;
  return ep;
}

// A catalog over an in-memory store, with the default certificate given as files in a temp dir.
struct Bench {
  TempDir dir{"portcullis-catalog"};
  TestCa ca = TestCa::create("Catalog Test Root");
  TestCert default_cert = ca.issue({"default.invalid"});
  portcullis::testing::MemoryStorage storage;
  asio::io_context io;
  portcullis::base::BlockingPool pool;
  CertRegistry registry;
  CertCatalog catalog{io, storage, pool, registry};
  portcullis::domain::Config config;

  Bench() {
    default_cert.write_files(dir / "default.crt", dir / "default.key");
    config.source = dir / "portcullis.toml";
    config.server.data_dir = dir.path();
    config.tls.default_cert = dir / "default.crt";
    config.tls.default_key = dir / "default.key";
  }
  std::string served(const std::string& name) const {
    const auto* bundle = registry.current()->select(name);
    return bundle ? bundle->serial_hex() : "";
  }
  // Runs a reload of `next` through the catalog, as the server does.
  std::size_t reload(const portcullis::domain::Config& next) {
    std::size_t served_count = 0;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto prepared = co_await catalog.prepare(next);
          REQUIRE(prepared);
          served_count = co_await catalog.commit(std::move(*prepared));
          done = true;
        },
        asio::detached);
    io.run_for(run_deadline);
    io.restart();
    REQUIRE(done);
    return served_count;
  }
};

}  // namespace

TEST_CASE("the catalog serves the stored certificates it read at start and withdraws those of removed endpoints",
          "[unit][control]") {
  Bench b;
  auto app = b.ca.issue({"app.example.com"});
  auto gone = b.ca.issue({"gone.example.com"});
  REQUIRE(b.storage.put_certificate(row("app", "app", CertSource::managed, app)));
  REQUIRE(b.storage.put_certificate(row("gone", "gone", CertSource::managed, gone)));
  b.config.endpoints = {endpoint("app", {"app.example.com"})};
  REQUIRE(b.catalog.start(b.config));

  CHECK(b.served("app.example.com") == app.serial_hex);
  CHECK(b.served("gone.example.com") == b.default_cert.serial_hex);
  REQUIRE(b.catalog.stored("app") != nullptr);
  CHECK(b.catalog.stored("gone") == nullptr);
  CHECK(b.storage.certificates.at("gone").removed_unix != 0);  // kept for audit, marked removed
  CHECK(b.storage.certificates.at("app").removed_unix == 0);
}

TEST_CASE("an issued certificate is published as one change over the live snapshot, without reading the store",
          "[unit][control]") {
  Bench b;
  auto app = b.ca.issue({"app.example.com"});
  auto api = b.ca.issue({"api.example.com"});
  REQUIRE(b.storage.put_certificate(row("app", "app", CertSource::managed, app)));
  b.config.endpoints = {endpoint("app", {"app.example.com"}), endpoint("api", {"api.example.com"})};
  REQUIRE(b.catalog.start(b.config));
  const auto before = b.registry.current();
  CHECK(before->overlay_size() == 0);

  // Were the store read again, "app" would be gone from what is served.
  b.storage.certificates.clear();
  REQUIRE(b.catalog.put_stored("api", {"api", {"api.example.com"}, api.bundle(CertSource::managed)}));
  const auto after = b.registry.current();
  CHECK(after != before);
  CHECK(after->overlay_size() == 1);  // the change alone, over the shared base
  CHECK(b.served("api.example.com") == api.serial_hex);
  CHECK(b.served("app.example.com") == app.serial_hex);

  SECTION("a renewal replaces the previous certificate of the same key") {
    auto renewed = b.ca.issue({"app.example.com"});
    REQUIRE(b.catalog.put_stored("app", {"app", {"app.example.com"}, renewed.bundle(CertSource::managed)}));
    CHECK(b.served("app.example.com") == renewed.serial_hex);
    CHECK(b.registry.current()->size() == 2);
    CHECK(b.catalog.stored("app")->bundle->serial_hex() == renewed.serial_hex);
  }
  SECTION("one for an endpoint that is no longer served is withdrawn, not published") {
    auto stray = b.ca.issue({"stray.example.com"});
    REQUIRE(b.storage.put_certificate(row("stray", "stray", CertSource::managed, stray)));
    REQUIRE(b.catalog.put_stored("stray", {"stray", {"stray.example.com"}, stray.bundle(CertSource::managed)}));
    CHECK(b.registry.current() == after);
    CHECK(b.served("stray.example.com") == b.default_cert.serial_hex);
    b.pool.finish();  // the mark queued on the store lane has run
    CHECK(b.storage.certificates.at("stray").removed_unix != 0);
  }
}

TEST_CASE("source precedence is unchanged: managed over transitional over fallback over default", "[unit][control]") {
  Bench b;
  auto fallback = b.ca.issue({"*.example.com"});
  fallback.write_files(b.dir / "fallback.crt", b.dir / "fallback.key");
  b.config.tls.fallback_cert = b.dir / "fallback.crt";
  b.config.tls.fallback_key = b.dir / "fallback.key";
  auto uploaded = b.ca.issue({"app.example.com"});
  REQUIRE(b.storage.put_certificate(row("transitional:app", "app", CertSource::transitional, uploaded)));
  b.config.endpoints = {endpoint("app", {"app.example.com"})};
  REQUIRE(b.catalog.start(b.config));

  CHECK(b.served("app.example.com") == uploaded.serial_hex);
  CHECK(b.served("other.example.com") == fallback.serial_hex);
  CHECK(b.served("elsewhere.test") == b.default_cert.serial_hex);

  auto managed = b.ca.issue({"app.example.com"});
  REQUIRE(b.catalog.put_stored("app", {"app", {"app.example.com"}, managed.bundle(CertSource::managed)}));
  CHECK(b.served("app.example.com") == managed.serial_hex);

  SECTION("removing the managed certificate serves the transitional one again") {
    CHECK(b.catalog.remove_stored("app"));
    CHECK(b.served("app.example.com") == uploaded.serial_hex);
    CHECK_FALSE(b.catalog.remove_stored("app"));
  }
  SECTION("removing both serves the fallback") {
    CHECK(b.catalog.remove_stored("app"));
    CHECK(b.catalog.remove_stored("transitional:app"));
    CHECK(b.served("app.example.com") == fallback.serial_hex);
    CHECK(b.registry.current()->overlay_size() >= 1);  // published as changes, not a rebuild
  }
  SECTION("a reload rebuilds from the bundles held, with the same precedence") {
    b.storage.certificates.clear();  // a reload does not read the store
    CHECK(b.reload(b.config) == 2);
    CHECK(b.served("app.example.com") == managed.serial_hex);
    CHECK(b.registry.current()->overlay_size() == 0);
  }
}

TEST_CASE("a reload that drops an endpoint withdraws its stored certificate and marks it removed", "[unit][control]") {
  Bench b;
  auto app = b.ca.issue({"app.example.com"});
  auto api = b.ca.issue({"api.example.com"});
  REQUIRE(b.storage.put_certificate(row("app", "app", CertSource::managed, app)));
  REQUIRE(b.storage.put_certificate(row("api", "api", CertSource::managed, api)));
  b.config.endpoints = {endpoint("app", {"app.example.com"}), endpoint("api", {"api.example.com"})};
  REQUIRE(b.catalog.start(b.config));
  REQUIRE(b.served("app.example.com") == app.serial_hex);

  auto next = b.config;
  SECTION("endpoint removed") { next.endpoints = {endpoint("api", {"api.example.com"})}; }
  SECTION("managed_https turned off") { next.endpoints[0].managed_https = false; }
  CHECK(b.reload(next) == 1);
  CHECK(b.served("app.example.com") == b.default_cert.serial_hex);
  CHECK(b.served("api.example.com") == api.serial_hex);
  CHECK(b.catalog.stored("app") == nullptr);
  CHECK(b.storage.certificates.at("app").removed_unix != 0);
  CHECK(b.storage.certificates.at("api").removed_unix == 0);
}

TEST_CASE("the platform wildcard is served in the fallback slot, hot-swapped, and yields to tls.fallback_cert",
          "[unit][control]") {
  Bench b;
  b.config.dns.enabled = true;
  b.config.dns.zone = "edge.example.net";
  const std::string platform_id(portcullis::domain::platform_certificate_id);
  auto uploaded = b.ca.issue({"app.edge.example.net"});
  REQUIRE(b.storage.put_certificate(row("transitional:app", "app", CertSource::transitional, uploaded)));
  b.config.endpoints = {endpoint("app", {"app.edge.example.net"})};
  REQUIRE(b.catalog.start(b.config));
  CHECK(b.served("anything.edge.example.net") == b.default_cert.serial_hex);  // not issued yet

  auto wildcard = b.ca.issue({"*.edge.example.net", "edge.example.net"});
  const auto before = b.registry.current();
  REQUIRE(b.catalog.put_stored(platform_id, {platform_id, {"*.edge.example.net", "edge.example.net"},
                                             wildcard.bundle(CertSource::fallback)}));
  const auto after = b.registry.current();
  CHECK(after != before);  // the next handshake sees it: no restart, no rebuild
  CHECK(after->overlay_size() == before->overlay_size());
  CHECK(after->size() == before->size());  // not in the name index
  CHECK(b.served("anything.edge.example.net") == wildcard.serial_hex);
  CHECK(b.served("edge.example.net") == wildcard.serial_hex);
  // A transitional certificate for a name outranks the platform wildcard (design §2).
  CHECK(b.served("app.edge.example.net") == uploaded.serial_hex);
  CHECK(b.served("elsewhere.test") == b.default_cert.serial_hex);

  SECTION("it is refused as a managed certificate: only the fallback slot holds it") {
    auto managed = b.catalog.put_stored(platform_id, {platform_id, {}, wildcard.bundle(CertSource::managed)});
    CHECK_FALSE(managed);
  }
  SECTION("a restart reads it from the store into the fallback slot") {
    auto stored = row(platform_id, platform_id, CertSource::fallback, wildcard);
    stored.names = {"*.edge.example.net", "edge.example.net"};
    REQUIRE(b.storage.put_certificate(stored));
    Bench restarted;
    restarted.storage.certificates = b.storage.certificates;
    restarted.config.dns = b.config.dns;
    restarted.config.endpoints = b.config.endpoints;
    REQUIRE(restarted.catalog.start(restarted.config));
    CHECK(restarted.served("anything.edge.example.net") == wildcard.serial_hex);
  }
  SECTION("an operator's tls.fallback_cert wins; the platform wildcard is withdrawn and marked removed") {
    auto stored = row(platform_id, platform_id, CertSource::fallback, wildcard);
    REQUIRE(b.storage.put_certificate(stored));
    auto own = b.ca.issue({"*.edge.example.net"});
    own.write_files(b.dir / "fallback.crt", b.dir / "fallback.key");
    auto next = b.config;
    next.tls.fallback_cert = b.dir / "fallback.crt";
    next.tls.fallback_key = b.dir / "fallback.key";
    b.reload(next);
    CHECK(b.served("anything.edge.example.net") == own.serial_hex);
    CHECK(b.catalog.stored(platform_id) == nullptr);
    CHECK(b.storage.certificates.at(platform_id).removed_unix != 0);
  }
}

TEST_CASE("stored rows are indexed by their facts without a parse, and one whose PEM disagrees is never served",
          "[unit][control]") {
  Bench b;
  auto app = b.ca.issue({"app.example.com"});
  auto lazy = b.ca.issue({"lazy.example.com"});
  auto bad = b.ca.issue({"bad.example.com"});
  auto other = b.ca.issue({"other.example.com"});
  auto legacy = b.ca.issue({"legacy.example.com"});
  auto with_facts = [](StoredCertificate r, const TestCert& facts_of) {
    r.set_facts(*facts_of.bundle());
    return r;
  };
  REQUIRE(b.storage.put_certificate(with_facts(row("app", "app", CertSource::managed, app), app)));
  // A PEM that would not even pass the structure check of a deferred read: its facts index it.
  auto unread = with_facts(row("lazy", "lazy", CertSource::managed, lazy), lazy);
  unread.chain_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  REQUIRE(b.storage.put_certificate(unread));
  // bad.example.com's facts over other.example.com's PEM and key.
  REQUIRE(b.storage.put_certificate(with_facts(row("bad", "bad", CertSource::managed, other), bad)));
  // Written before the facts were recorded: read from its PEM.
  REQUIRE(b.storage.put_certificate(row("legacy", "legacy", CertSource::managed, legacy)));
  b.config.endpoints = {endpoint("app", {"app.example.com"}), endpoint("lazy", {"lazy.example.com"}),
                        endpoint("bad", {"bad.example.com"}), endpoint("legacy", {"legacy.example.com"})};
  REQUIRE(b.catalog.start(b.config));

  for (const auto* key : {"app", "lazy", "bad", "legacy"}) {
    INFO(key);
    REQUIRE(b.catalog.stored(key) != nullptr);
    CHECK(b.catalog.stored(key)->bundle->pending());
  }
  CHECK(b.served("app.example.com") == app.serial_hex);
  CHECK(b.served("lazy.example.com") == lazy.serial_hex);
  CHECK(b.served("bad.example.com") == bad.serial_hex);
  CHECK(b.served("other.example.com") == b.default_cert.serial_hex);
  CHECK(b.served("legacy.example.com") == legacy.serial_hex);
  CHECK(b.catalog.stored("legacy")->bundle->facts() == legacy.bundle()->facts());

  // The background verification parses each in full and checks it against its facts.
  asio::co_spawn(b.io, b.catalog.verify_pending(), asio::detached);
  b.io.run_for(run_deadline);
  for (const auto* key : {"app", "lazy", "bad", "legacy"}) {
    INFO(key);
    CHECK_FALSE(b.catalog.stored(key)->bundle->pending());
  }
  CHECK(b.catalog.stored("app")->bundle->leaf() != nullptr);
  CHECK(b.catalog.stored("legacy")->bundle->leaf() != nullptr);
  // A failed bundle has no certificate to hand a handshake: the proxy serves the fallback or the
  // default instead (proxy/tls_context.cpp).
  const auto* failed = b.registry.current()->select("bad.example.com");
  REQUIRE(failed != nullptr);
  CHECK(failed->leaf() == nullptr);
  CHECK(failed->key() == nullptr);
  auto st = failed->materialize();
  REQUIRE_FALSE(st);
  CHECK_THAT(st.error().message(),
             Catch::StartsWith("store:bad: the certificate does not match the facts it was indexed by: names "
                               "other.example.com, indexed as bad.example.com; ") &&
                 Catch::Contains("; serial " + other.serial_hex + ", indexed as " + bad.serial_hex));
  CHECK(b.registry.current()->select("lazy.example.com")->leaf() == nullptr);
  auto unparsed = b.catalog.stored("lazy")->bundle->materialize();
  REQUIRE_FALSE(unparsed);
  CHECK_THAT(unparsed.error().message(), Catch::StartsWith("store:lazy: "));
}
