#include "certstore/cert_snapshot.hpp"

#include <catch2/catch.hpp>

#include "certstore/cert_registry.hpp"
#include "tests/support/test_certs.hpp"

using namespace portcullis;
using namespace portcullis::certstore;
using portcullis::testing::TestCa;
using portcullis::testing::Validity;

namespace {

const TestCa& ca() {
  static TestCa c = TestCa::create("Snapshot Test Root").intermediate("Snapshot Test Intermediate");
  return c;
}

CertBundlePtr make(std::vector<std::string> names, CertSource source, Validity validity = Validity::days(90)) {
  return ca().issue(std::move(names), validity).bundle(source);
}

// The bundles of one scenario, made once: key generation is the slow part.
struct Fixture {
  CertBundlePtr managed_exact = make({"app.example.com"}, CertSource::managed);
  CertBundlePtr managed_wild = make({"*.example.com"}, CertSource::managed);
  CertBundlePtr trans_exact = make({"app.example.com"}, CertSource::transitional);
  CertBundlePtr trans_wild = make({"*.example.com"}, CertSource::transitional);
  CertBundlePtr fallback = make({"*.edge.example.net"}, CertSource::fallback);
  CertBundlePtr fallback_wide = make({"*.example.com"}, CertSource::fallback);
  CertBundlePtr def = make({"portcullis.invalid"}, CertSource::default_cert);
  CertBundlePtr expired_trans = make({"expired.example.com"}, CertSource::transitional, Validity::expired());
  CertBundlePtr expired_trans_wild = make({"*.example.com"}, CertSource::transitional, Validity::expired());
};

const Fixture& fx() {
  static Fixture f;
  return f;
}

}  // namespace

TEST_CASE("sni selection follows managed exact, managed wildcard, transitional, fallback, default", "[unit][certstore]") {
  const auto& f = fx();
  auto build = [&](std::vector<CertBundlePtr> bundles, CertBundlePtr fallback) {
    CertSnapshot::Builder b;
    for (auto& x : bundles) b.add(x);
    b.fallback(std::move(fallback)).default_cert(f.def);
    return b.build();
  };
  SECTION("managed exact wins over everything") {
    auto snap = build({f.trans_wild, f.trans_exact, f.managed_wild, f.managed_exact}, f.fallback_wide);
    CHECK(snap->select("app.example.com") == f.managed_exact.get());
    CHECK(snap->size() == 4);
  }
  SECTION("managed wildcard of the parent beats a transitional exact name") {
    auto snap = build({f.trans_wild, f.trans_exact, f.managed_wild}, f.fallback_wide);
    CHECK(snap->select("app.example.com") == f.managed_wild.get());
  }
  SECTION("transitional exact beats transitional wildcard") {
    auto snap = build({f.trans_wild, f.trans_exact}, f.fallback_wide);
    CHECK(snap->select("app.example.com") == f.trans_exact.get());
    CHECK(snap->select("other.example.com") == f.trans_wild.get());
  }
  SECTION("transitional wildcard beats the fallback") {
    auto snap = build({f.trans_wild}, f.fallback_wide);
    CHECK(snap->select("app.example.com") == f.trans_wild.get());
  }
  SECTION("the fallback answers the names it covers") {
    auto snap = build({f.managed_exact}, f.fallback);
    CHECK(snap->select("elb-1234.edge.example.net") == f.fallback.get());
    CHECK(snap->fallback() == f.fallback);
  }
  SECTION("the default answers everything else") {
    auto snap = build({f.managed_exact}, f.fallback);
    CHECK(snap->select("unknown.example.org") == f.def.get());
    CHECK(snap->select("a.b.edge.example.net") == f.def.get());
    CHECK(snap->select("") == f.def.get());
    CHECK(snap->default_cert() == f.def);
  }
}

TEST_CASE("sni lookup is case-insensitive and ignores a trailing dot", "[unit][certstore]") {
  const auto& f = fx();
  auto snap = CertSnapshot::Builder().add(f.managed_exact).add(f.trans_wild).default_cert(f.def).build();
  CHECK(snap->select("APP.Example.Com") == f.managed_exact.get());
  CHECK(snap->select("app.example.com.") == f.managed_exact.get());
  CHECK(snap->select("App.Example.Com.") == f.managed_exact.get());
  CHECK(snap->select("Other.EXAMPLE.com.") == f.trans_wild.get());
  SECTION("a name longer than DNS allows matches nothing") {
    std::string huge(300, 'a');
    CHECK(snap->select(huge + ".example.com") == f.def.get());
  }
}

TEST_CASE("sni lookup falls back to the wildcard of the parent, one label only", "[unit][certstore]") {
  const auto& f = fx();
  auto snap = CertSnapshot::Builder().add(f.managed_wild).default_cert(f.def).build();
  CHECK(snap->select("a.example.com") == f.managed_wild.get());
  CHECK(snap->select("example.com") == f.def.get());
  CHECK(snap->select("a.b.example.com") == f.def.get());
  CHECK(snap->select(".example.com") == f.def.get());
  CHECK(snap->select("com") == f.def.get());
}

TEST_CASE("an expired transitional certificate yields to anything else that covers the name", "[unit][certstore]") {
  const auto& f = fx();
  SECTION("the fallback covering the name wins over it") {
    auto fb = make({"*.example.com"}, CertSource::fallback);
    auto snap = CertSnapshot::Builder().add(f.expired_trans).fallback(fb).default_cert(f.def).build();
    CHECK(snap->select("expired.example.com") == fb.get());
  }
  SECTION("an unexpired transitional wildcard wins over it") {
    auto snap = CertSnapshot::Builder().add(f.expired_trans).add(f.trans_wild).default_cert(f.def).build();
    CHECK(snap->select("expired.example.com") == f.trans_wild.get());
  }
  SECTION("an expired wildcard yields to an unexpired fallback") {
    auto snap =
        CertSnapshot::Builder().add(f.expired_trans_wild).fallback(f.fallback_wide).default_cert(f.def).build();
    CHECK(snap->select("x.example.com") == f.fallback_wide.get());
  }
  SECTION("with nothing else covering it, it is still better than the default") {
    auto snap = CertSnapshot::Builder().add(f.expired_trans).fallback(f.fallback).default_cert(f.def).build();
    CHECK(snap->select("expired.example.com") == f.expired_trans.get());
  }
  SECTION("expiry is judged at build time") {
    auto before_expiry = f.expired_trans->not_after() - std::chrono::hours(1);
    auto fb = make({"*.example.com"}, CertSource::fallback);
    auto snap = CertSnapshot::Builder(before_expiry).add(f.expired_trans).fallback(fb).default_cert(f.def).build();
    CHECK(snap->select("expired.example.com") == f.expired_trans.get());
  }
}

TEST_CASE("the builder keeps the best certificate per name", "[unit][certstore]") {
  const auto& f = fx();
  SECTION("the one that lives longer among equals") {
    auto older = make({"app.example.com"}, CertSource::managed, Validity::days(10));
    auto newer = make({"app.example.com"}, CertSource::managed, Validity::days(80));
    auto snap = CertSnapshot::Builder().add(newer).add(older).default_cert(f.def).build();
    CHECK(snap->select("app.example.com") == newer.get());
    auto reversed = CertSnapshot::Builder().add(older).add(newer).default_cert(f.def).build();
    CHECK(reversed->select("app.example.com") == newer.get());
  }
  SECTION("an unexpired transitional over an expired managed one") {
    auto expired_managed = make({"app.example.com"}, CertSource::managed, Validity::expired());
    auto snap = CertSnapshot::Builder().add(expired_managed).add(f.trans_exact).default_cert(f.def).build();
    CHECK(snap->select("app.example.com") == f.trans_exact.get());
  }
  SECTION("a certificate with several names is found under each") {
    auto multi = make({"a.example.org", "b.example.org", "*.c.example.org"}, CertSource::managed);
    auto snap = CertSnapshot::Builder().add(multi).default_cert(f.def).build();
    CHECK(snap->select("a.example.org") == multi.get());
    CHECK(snap->select("b.example.org") == multi.get());
    CHECK(snap->select("x.c.example.org") == multi.get());
    CHECK(snap->size() == 1);
  }
}

TEST_CASE("a snapshot without a default certificate selects nothing for unknown names", "[unit][certstore]") {
  auto snap = CertSnapshot::Builder().build();
  CHECK(snap->select("app.example.com") == nullptr);
  CHECK(snap->size() == 0);
}

TEST_CASE("many certificates share one index", "[unit][certstore]") {
  // One bundle under many names stands in for many certificates: the index is what is measured.
  const auto& f = fx();
  CertSnapshot::Builder builder;
  std::vector<CertBundlePtr> keep;
  constexpr int count = 2000;
  for (int i = 0; i < 20; ++i) {
    std::vector<std::string> names;
    for (int j = 0; j < count / 20; ++j) names.push_back("n" + std::to_string(i * (count / 20) + j) + ".example.net");
    keep.push_back(ca().issue(names).bundle(CertSource::managed));
    builder.add(keep.back());
  }
  auto snap = builder.default_cert(f.def).build();
  CHECK(snap->select("n1234.example.net") == keep[1234 / (count / 20)].get());
  CHECK(snap->select("N1999.example.net.") == keep.back().get());
  CHECK(snap->select("n2000.example.net") == f.def.get());
}

TEST_CASE("the registry publishes snapshots and readers keep the one they loaded", "[unit][certstore]") {
  const auto& f = fx();
  CertRegistry registry;
  REQUIRE(registry.current() != nullptr);
  CHECK(registry.current()->select("app.example.com") == nullptr);
  auto v0 = registry.version();

  auto first = CertSnapshot::Builder().add(f.trans_exact).default_cert(f.def).build();
  registry.publish(first);
  auto held = registry.current();
  CHECK(held->select("app.example.com") == f.trans_exact.get());
  CHECK(registry.version() == v0 + 1);

  registry.publish(CertSnapshot::Builder().add(f.managed_exact).default_cert(f.def).build());
  CHECK(registry.current()->select("app.example.com") == f.managed_exact.get());
  // A handshake in flight still sees the snapshot it loaded.
  CHECK(held->select("app.example.com") == f.trans_exact.get());
  CHECK(registry.version() == v0 + 2);
}
