#include "control/alert_book.hpp"

#include <catch2/catch.hpp>

#include "base/blocking_pool.hpp"
#include "certstore/sqlite_storage.hpp"
#include "control/certificate_alerts.hpp"
#include "control/webhooks.hpp"
#include "tests/support/process.hpp"

using namespace portcullis;
using namespace portcullis::control;
using domain::AlertFinding;
using domain::AlertKind;
using domain::AlertSeverity;
using namespace std::chrono_literals;

namespace {

struct Recorder final : AlertNotifier {
  std::vector<std::pair<std::int64_t, AlertEvent>> events;
  void notify(const Alert& alert, AlertEvent event) override { events.emplace_back(alert.id, event); }
};

AlertFinding missing_cname(std::string endpoint, std::string found = "NXDOMAIN") {
  return AlertFinding{AlertKind::dns_record_missing, AlertSeverity::warning, std::move(endpoint),
                      "app.example.com CNAME", "CNAME ep-1.edge.example.net.", std::move(found),
                      "Create the CNAME."};
}

// A store, its pool and a book over them, as Server wires them, with a clock the test moves.
struct Book {
  explicit Book(const std::filesystem::path& file) {
    auto opened = certstore::SqliteStorage::open(file);
    REQUIRE(opened);
    storage = std::move(*opened);
    AlertBookOptions options;
    options.now = [this] { return now; };
    book = std::make_unique<AlertBook>(*storage, pool, options);
    REQUIRE(book->load());
    book->set_notifier(&recorder);
  }
  // Lets the write-behind reach the store.
  void flush() { pool.finish(); }

  std::int64_t now = 1'800'000'000;
  std::unique_ptr<certstore::SqliteStorage> storage;
  base::BlockingPool pool{1};
  Recorder recorder;
  std::unique_ptr<AlertBook> book;
};

}  // namespace

TEST_CASE("an alert fires, counts its repeats, resolves when its check stops reporting it and fires again as "
          "a new episode",
          "[unit][control][alerts]") {
  portcullis::testing::TempDir dir;
  Book b(dir.path() / "portcullis.db");
  auto& book = *b.book;

  book.report("monitor.dns", "ep-1", {missing_cname("ep-1")});
  auto firing = book.list(AlertBook::StateFilter::firing);
  REQUIRE(firing.size() == 1);
  const auto first_id = firing[0].id;
  CHECK(firing[0].count == 1);
  CHECK(firing[0].first_seen == b.now);
  CHECK(b.recorder.events == std::vector<std::pair<std::int64_t, AlertEvent>>{{first_id, AlertEvent::firing}});

  b.now += 60;
  book.report("monitor.dns", "ep-1", {missing_cname("ep-1", "CNAME elsewhere.example.")});
  firing = book.list(AlertBook::StateFilter::firing);
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].id == first_id);
  CHECK(firing[0].count == 2);
  CHECK(firing[0].last_seen == b.now);
  CHECK(firing[0].finding.found == "CNAME elsewhere.example.");  // the latest words
  CHECK(b.recorder.events.size() == 1);                          // a repeat notifies nobody
  CHECK(book.firing_count("ep-1") == 1);

  // Another check's report for the endpoint leaves it alone.
  book.report("certificates", "ep-1", {});
  CHECK(book.firing_count("ep-1") == 1);

  b.now += 60;
  book.report("monitor.dns", "ep-1", {});
  CHECK(book.list(AlertBook::StateFilter::firing).empty());
  auto resolved = book.list(AlertBook::StateFilter::resolved);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].resolved_at == b.now);
  CHECK(b.recorder.events.back() == std::pair<std::int64_t, AlertEvent>{first_id, AlertEvent::resolved});

  b.now += 60;
  book.report("monitor.dns", "ep-1", {missing_cname("ep-1")});
  firing = book.list(AlertBook::StateFilter::firing);
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].id != first_id);
  CHECK(firing[0].count == 1);
  CHECK(book.list(AlertBook::StateFilter::all).size() == 2);
  CHECK(b.recorder.events.size() == 3);
}

TEST_CASE("forgetting an endpoint resolves its alerts whatever check raised them, and only its",
          "[unit][control][alerts]") {
  portcullis::testing::TempDir dir;
  Book b(dir.path() / "portcullis.db");
  auto& book = *b.book;
  book.report("monitor.dns", "ep-1", {missing_cname("ep-1")});
  book.report("certificates", "ep-1",
              {AlertFinding{AlertKind::issuance_failed, AlertSeverity::critical, "ep-1", "app.example.com", "", "x", ""}});
  book.report("monitor.dns", "ep-2", {missing_cname("ep-2")});
  book.report("certificates", "",
              {AlertFinding{AlertKind::ca_unreachable, AlertSeverity::critical, "", "https://ca/dir", "", "down", ""}});
  CHECK(book.firing_count() == 4);

  book.forget_endpoint("ep-1");
  CHECK(book.firing_count("ep-1") == 0);
  CHECK(book.firing_count("ep-2") == 1);
  CHECK(book.firing_count("") == 1);
  CHECK(book.list(AlertBook::StateFilter::resolved, "ep-1").size() == 2);
  // Firing first, critical before warning.
  auto all = book.list(AlertBook::StateFilter::all);
  REQUIRE(all.size() == 4);
  CHECK(all[0].finding.kind == AlertKind::ca_unreachable);
  CHECK(all[1].finding.endpoint_id == "ep-2");
  CHECK(!all[2].firing);
}

TEST_CASE("alerts survive a reopen of the store: firing ones keep their episode and count, resolved ones are "
          "kept for a bounded time",
          "[unit][control][alerts]") {
  portcullis::testing::TempDir dir;
  const auto file = dir.path() / "portcullis.db";
  std::int64_t firing_id = 0;
  std::int64_t now = 0;
  {
    Book b(file);
    b.book->report("monitor.dns", "ep-1", {missing_cname("ep-1")});
    b.book->report("monitor.dns", "ep-1", {missing_cname("ep-1")});
    b.book->report("monitor.dns", "ep-2", {missing_cname("ep-2")});
    b.now += 10;
    b.book->report("monitor.dns", "ep-2", {});
    firing_id = b.book->list(AlertBook::StateFilter::firing).at(0).id;
    now = b.now;
    b.flush();
  }
  {
    Book b(file);
    b.now = now + 60;
    auto firing = b.book->list(AlertBook::StateFilter::firing);
    REQUIRE(firing.size() == 1);
    CHECK(firing[0].id == firing_id);
    CHECK(firing[0].count == 2);
    CHECK(b.book->list(AlertBook::StateFilter::resolved).size() == 1);
    // Reported again after the restart: the same episode goes on, nobody is told again.
    b.book->report("monitor.dns", "ep-1", {missing_cname("ep-1")});
    CHECK(b.book->list(AlertBook::StateFilter::firing).at(0).count == 3);
    CHECK(b.recorder.events.empty());
    // A new alert gets an id the store has not used.
    b.book->report("monitor.dns", "ep-3", {missing_cname("ep-3")});
    CHECK(b.book->list(AlertBook::StateFilter::firing, "ep-3").at(0).id > firing_id);
    now = b.now;
    b.flush();
  }
  {
    // 31 days later the resolved episode is gone, from memory and from the store.
    Book b(file);
    CHECK(b.book->list(AlertBook::StateFilter::resolved).size() == 1);
  }
  {
    auto opened = certstore::SqliteStorage::open(file);
    REQUIRE(opened);
    base::BlockingPool pool{1};
    AlertBookOptions options;
    options.now = [now] { return now + 31 * 24 * 3600; };
    AlertBook book(**opened, pool, options);
    REQUIRE(book.load());
    CHECK(book.list(AlertBook::StateFilter::resolved).empty());
    CHECK(book.firing_count() == 2);
    auto stored = (*opened)->load_alerts();
    REQUIRE(stored);
    CHECK(stored->size() == 2);
  }
}

TEST_CASE("the certificate findings follow the thresholds", "[unit][control][alerts]") {
  const auto now = certstore::Clock::now();
  const auto days = [&](int d) { return now + std::chrono::hours(24 * d) + 1min; };
  CertificateThresholds t;  // [14, 7, 3], 3 failures
  CertificateFacts f;
  f.endpoint_id = "ep-1";
  f.hostnames = {"app.example.com"};
  auto kinds = [&] {
    std::vector<std::pair<AlertKind, AlertSeverity>> out;
    for (const auto& finding : certificate_findings(f, t, now)) out.emplace_back(finding.kind, finding.severity);
    return out;
  };
  using V = std::vector<std::pair<AlertKind, AlertSeverity>>;

  SECTION("a served certificate expiring: a warning within the first threshold, critical within the last") {
    f.managed = true;
    f.managed_not_after = days(20);
    f.served = {{certstore::CertSource::managed, {"app.example.com"}, days(20)}};
    CHECK(kinds().empty());
    f.served[0].not_after = days(13);
    CHECK(kinds() == V{{AlertKind::certificate_expiring, AlertSeverity::warning}});
    f.served[0].not_after = days(2);
    CHECK(kinds() == V{{AlertKind::certificate_expiring, AlertSeverity::critical}});
  }
  SECTION("renewal failing: after N failures, or after one within 7 days of the expiry") {
    f.managed = true;
    f.managed_not_after = days(30);
    f.renewal = certstore::RenewalState{"ep-1", 0, 2, "acme: finalize: 500", 0};
    CHECK(kinds().empty());
    f.renewal->consecutive_failures = 3;
    CHECK(kinds() == V{{AlertKind::renewal_failing, AlertSeverity::warning}});
    f.renewal->consecutive_failures = 1;
    f.managed_not_after = days(6);
    CHECK(kinds() == V{{AlertKind::renewal_failing, AlertSeverity::critical}});
  }
  SECTION("no certificate yet: issuance failed, or rate limited with the retry time, or the CA unreachable") {
    f.managed = true;
    f.renewal = certstore::RenewalState{"ep-1", 1'800'000'000, 1, "acme: new-order: 403 unauthorized", 0};
    auto findings = certificate_findings(f, t, now);
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].kind == AlertKind::issuance_failed);
    CHECK(findings[0].found == "acme: new-order: 403 unauthorized");
    f.renewal->last_error = "acme: new-order: 429 urn:ietf:params:acme:error:rateLimited \"too many\"";
    findings = certificate_findings(f, t, now);
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].kind == AlertKind::rate_limited);
    CHECK(findings[0].found.starts_with("retry after 2027-01-15T08:00:00Z"));
    f.renewal->last_error = "acme: directory: connect refused";
    f.last_failure = Errc::network;
    CHECK(kinds().empty());  // ca_unreachable is platform-wide, reported apart
  }
  SECTION("a transitional certificate expiring with no managed one") {
    f.transitional_not_after = days(10);
    f.served = {{certstore::CertSource::transitional, {"app.example.com"}, days(10)}};
    CHECK(kinds() == V{{AlertKind::certificate_expiring, AlertSeverity::warning},
                       {AlertKind::transitional_expiring_unmanaged, AlertSeverity::warning}});
    f.managed_not_after = days(80);
    f.served = {{certstore::CertSource::managed, {"app.example.com"}, days(80)}};
    CHECK(kinds().empty());
  }
}

TEST_CASE("a firing alert whose severity rises is escalated once, in the same episode; a fall back is only recorded",
          "[unit][control][alerts]") {
  portcullis::testing::TempDir dir;
  Book b(dir.path() / "portcullis.db");
  auto& book = *b.book;
  auto expiring = [](AlertSeverity severity, std::string found) {
    return AlertFinding{AlertKind::certificate_expiring, severity, "ep-1", "app.example.com",
                        "a certificate valid for more than 14 days", std::move(found), "Renew it."};
  };
  using Events = std::vector<std::pair<std::int64_t, AlertEvent>>;

  book.report("certificates", "ep-1", {expiring(AlertSeverity::warning, "10 days left")});
  const auto id = book.list(AlertBook::StateFilter::firing).at(0).id;
  b.now += 60;
  book.report("certificates", "ep-1", {expiring(AlertSeverity::critical, "2 days left")});
  CHECK(b.recorder.events == Events{{id, AlertEvent::firing}, {id, AlertEvent::escalated}});
  auto firing = book.list(AlertBook::StateFilter::firing);
  REQUIRE(firing.size() == 1);
  CHECK(firing[0].id == id);
  CHECK(firing[0].finding.severity == AlertSeverity::critical);

  // Critical again: a repeat. Back to a warning: recorded, nobody told.
  b.now += 60;
  book.report("certificates", "ep-1", {expiring(AlertSeverity::critical, "1 day left")});
  book.report("certificates", "ep-1", {expiring(AlertSeverity::warning, "renewed elsewhere?")});
  CHECK(b.recorder.events.size() == 2);
  CHECK(book.list(AlertBook::StateFilter::firing).at(0).finding.severity == AlertSeverity::warning);

  // The webhook bodies say what happened.
  const auto now_firing = book.list(AlertBook::StateFilter::firing);
  const auto& alert = now_firing.at(0);
  const auto body = webhook_json(alert, AlertEvent::escalated);
  CHECK(body.find("\"event\":\"escalated\"") != std::string::npos);
  CHECK(webhook_slack(body).find("Escalated: certificate_expiring on endpoint ep-1") != std::string::npos);
  CHECK(webhook_slack(webhook_json(alert, AlertEvent::firing)).find("Escalated") == std::string::npos);
}
