#include "certstore/cert_snapshot.hpp"

#include <algorithm>

#include <catch2/catch.hpp>

#include "certstore/cert_registry.hpp"
#include "tests/support/test_certs.hpp"

using namespace portcullis;
using namespace portcullis::base;
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

namespace {

// The names every overlay test probes: exact names, names under wildcards, and names nothing covers.
const std::vector<std::string> probe_names = {
    "app.example.com", "other.example.com", "a.example.com",  "expired.example.com", "shop.example.org",
    "x.shop.example.org", "shop2.example.org", "b.example.org", "x.c.example.org", "elb-1.edge.example.net",
    "unknown.example.net", "example.com", ""};

// A snapshot reached through with_changes must select exactly as one built from scratch with the
// same bundles in the same order (base survivors first, then the additions).
void check_same_selection(const CertSnapshot& incremental, const CertSnapshot& rebuilt) {
  for (const auto& name : probe_names) {
    INFO("sni " << name);
    CHECK(incremental.select(name) == rebuilt.select(name));
  }
  CHECK(incremental.size() == rebuilt.size());
}

CertSnapshotPtr rebuild(const std::vector<CertBundlePtr>& bundles, const CertBundlePtr& fallback,
                        const CertBundlePtr& def, Clock::time_point now) {
  CertSnapshot::Builder b(now);
  for (const auto& x : bundles) b.add(x);
  return b.fallback(fallback).default_cert(def).build();
}

}  // namespace

TEST_CASE("a snapshot with changes selects as one rebuilt from scratch", "[unit][certstore]") {
  const auto& f = fx();
  const auto now = Clock::now();
  auto shop = make({"shop.example.org", "*.shop.example.org"}, CertSource::transitional);
  auto shop_renewed = make({"shop.example.org", "*.shop.example.org"}, CertSource::transitional, Validity::days(120));
  auto shop_short = make({"shop.example.org"}, CertSource::transitional, Validity::days(5));
  auto multi = make({"b.example.org", "*.c.example.org"}, CertSource::managed);
  std::vector<CertBundlePtr> base_set = {f.trans_exact, f.trans_wild, shop, f.expired_trans, multi};
  auto base = rebuild(base_set, f.fallback, f.def, now);

  auto expect = [&](const std::vector<CertBundlePtr>& removed, const std::vector<CertBundlePtr>& added) {
    std::vector<CertBundlePtr> after;
    for (const auto& b : base_set) {
      if (std::find(removed.begin(), removed.end(), b) == removed.end()) after.push_back(b);
    }
    after.insert(after.end(), added.begin(), added.end());
    return rebuild(after, f.fallback, f.def, now);
  };

  SECTION("an added exact name") {
    auto next = base->with_changes({}, {f.managed_exact}, now);
    CHECK(next->overlay_size() == 1);
    CHECK(next->select("app.example.com") == f.managed_exact.get());
    check_same_selection(*next, *expect({}, {f.managed_exact}));
  }
  SECTION("an added managed wildcard outranks transitional certificates, exact or wildcard") {
    auto next = base->with_changes({}, {f.managed_wild}, now);
    CHECK(next->select("other.example.com") == f.managed_wild.get());
    CHECK(next->select("app.example.com") == f.managed_wild.get());
    check_same_selection(*next, *expect({}, {f.managed_wild}));
  }
  SECTION("a removed certificate leaves its names to the wildcard, the fallback or the default") {
    auto next = base->with_changes({f.trans_exact, shop}, {}, now);
    CHECK(next->select("app.example.com") == f.trans_wild.get());
    CHECK(next->select("shop.example.org") == f.def.get());
    CHECK(next->select("x.shop.example.org") == f.def.get());
    check_same_selection(*next, *expect({f.trans_exact, shop}, {}));
    auto no_wild = next->with_changes({f.trans_wild}, {}, now);
    CHECK(no_wild->select("other.example.com") == f.def.get());
    check_same_selection(*no_wild, *expect({f.trans_exact, shop, f.trans_wild}, {}));
  }
  SECTION("a replaced certificate serves the new one for every name") {
    auto next = base->with_changes({shop}, {shop_renewed}, now);
    CHECK(next->select("shop.example.org") == shop_renewed.get());
    CHECK(next->select("x.shop.example.org") == shop_renewed.get());
    check_same_selection(*next, *expect({shop}, {shop_renewed}));
  }
  SECTION("a removal finds the next best certificate of the base for the name") {
    auto both = rebuild({shop, shop_short}, f.fallback, f.def, now);
    CHECK(both->select("shop.example.org") == shop.get());
    auto next = both->with_changes({shop}, {}, now);
    CHECK(next->select("shop.example.org") == shop_short.get());
    CHECK(next->select("x.shop.example.org") == f.def.get());
    check_same_selection(*next, *rebuild({shop_short}, f.fallback, f.def, now));
  }
  SECTION("an expired addition yields to the fallback as in a fresh build") {
    auto expired_wild = make({"*.edge.example.net"}, CertSource::transitional, Validity::expired());
    auto next = base->with_changes({}, {expired_wild}, now);
    CHECK(next->select("elb-1.edge.example.net") == f.fallback.get());
    check_same_selection(*next, *expect({}, {expired_wild}));
  }
  SECTION("changes pile up in the overlay and a bundle added then removed leaves no trace") {
    auto a = base->with_changes({shop}, {shop_renewed}, now);
    auto b = a->with_changes({}, {f.managed_exact}, now);
    auto c = b->with_changes({shop_renewed}, {shop_short}, now);
    auto d = c->with_changes({f.managed_exact}, {}, now);
    check_same_selection(*d, *expect({shop}, {shop_short}));
    CHECK(d->overlay_size() == 2);  // shop removed from the base, shop_short added
    CHECK(d->select("app.example.com") == f.trans_exact.get());
    // The earlier snapshots are unchanged: handshakes holding them see what they saw.
    CHECK(a->select("shop.example.org") == shop_renewed.get());
    CHECK(b->select("app.example.com") == f.managed_exact.get());
  }
  SECTION("a bundle that is not in the snapshot is not removed") {
    auto next = base->with_changes({f.managed_exact}, {}, now);
    CHECK(next->overlay_size() == 0);
    check_same_selection(*next, *base);
  }
  SECTION("past the overlay bound the base is rebuilt") {
    auto next = base->with_changes({shop}, {shop_renewed, f.managed_exact}, now, 2);
    CHECK(next->overlay_size() == 0);
    check_same_selection(*next, *expect({shop}, {shop_renewed, f.managed_exact}));
  }
  SECTION("once a certificate of the base has expired the base is rebuilt") {
    REQUIRE(base->next_expiry());
    auto later = *base->next_expiry() + std::chrono::seconds(1);
    auto next = base->with_changes({}, {f.managed_wild}, later);
    CHECK(next->overlay_size() == 0);
    std::vector<CertBundlePtr> after = base_set;
    after.push_back(f.managed_wild);
    check_same_selection(*next, *rebuild(after, f.fallback, f.def, later));
  }
}

TEST_CASE("random changes through the overlay select as a rebuild at every step", "[unit][certstore]") {
  const auto& f = fx();
  const auto now = Clock::now();
  // A pool whose names overlap, so removals and replacements fall back on one another.
  std::vector<CertBundlePtr> pool = {
      f.managed_exact, f.managed_wild, f.trans_exact, f.trans_wild, f.expired_trans, f.expired_trans_wild,
      make({"shop.example.org", "*.shop.example.org"}, CertSource::transitional),
      make({"shop.example.org"}, CertSource::transitional, Validity::days(10)),
      make({"*.shop.example.org", "b.example.org"}, CertSource::managed),
      make({"app.example.com", "a.example.com"}, CertSource::transitional, Validity::days(30)),
  };
  std::vector<CertBundlePtr> live = {pool[2], pool[3], pool[6]};
  auto snap = rebuild(live, f.fallback, f.def, now);
  std::uint32_t seed = 12345;
  auto next_random = [&] {
    seed = seed * 1103515245 + 12345;
    return (seed >> 16) & 0x7fff;
  };
  for (int step = 0; step < 200; ++step) {
    std::vector<CertBundlePtr> removed, added;
    if (!live.empty() && next_random() % 2 == 0) {
      auto it = live.begin() + static_cast<long>(next_random() % live.size());
      removed.push_back(*it);
      live.erase(it);
    }
    auto candidate = pool[next_random() % pool.size()];
    if (std::find(live.begin(), live.end(), candidate) == live.end() && next_random() % 3 != 0) {
      added.push_back(candidate);
      live.push_back(candidate);
    }
    snap = snap->with_changes(removed, added, now, 16);
    INFO("step " << step);
    check_same_selection(*snap, *rebuild(live, f.fallback, f.def, now));
  }
}

TEST_CASE("a new fallback is swapped in over the same index, ranking as a built one", "[unit][certstore]") {
  const auto& f = fx();
  CertSnapshot::Builder b;
  b.add(f.trans_exact).add(f.managed_exact).default_cert(f.def);
  auto before = b.build()->with_changes({}, {f.trans_wild});
  REQUIRE(before->select("x.edge.example.net") == f.def.get());

  auto after = before->with_fallback(f.fallback);
  CHECK(after->fallback() == f.fallback);
  CHECK(after->select("x.edge.example.net") == f.fallback.get());
  CHECK(after->select("a.b.edge.example.net") == f.def.get());  // one label only
  // The index and its overlay are shared, and still outrank the fallback.
  CHECK(after->size() == before->size());
  CHECK(after->overlay_size() == before->overlay_size());
  CHECK(after->select("app.example.com") == f.managed_exact.get());
  CHECK(after->select("other.example.com") == f.trans_wild.get());
  REQUIRE(after->next_expiry());
  CHECK(*after->next_expiry() <= f.fallback->not_after());
  // The snapshot it came from is unchanged (readers may hold it).
  CHECK(before->fallback() == nullptr);
  CHECK(after->with_fallback(nullptr)->select("x.edge.example.net") == f.def.get());
}
