#include "certstore/sqlite_storage.hpp"

#include <filesystem>

#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"
#include "tests/support/test_certs.hpp"

using namespace portcullis;
using namespace portcullis::base;
using namespace portcullis::certstore;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using portcullis::testing::file_mode;
using portcullis::testing::TempDir;

std::unique_ptr<SqliteStorage> open_ok(const fs::path& file) {
  auto storage = SqliteStorage::open(file);
  if (!storage) FAIL(storage.error().message());
  return std::move(*storage);
}

// Reads or writes PRAGMA user_version behind the storage's back, as another build would.
int raw_user_version(const fs::path& file, int set = -1) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  if (set >= 0) {
    REQUIRE(sqlite3_exec(db, ("PRAGMA user_version = " + std::to_string(set)).c_str(), nullptr, nullptr, nullptr) ==
            SQLITE_OK);
  }
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  int version = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return version;
}

// What schema versions 6 and 7 added, dropped by the tests that take a database back to an older version.
constexpr const char* drop_version_6 =
    "DROP TABLE endpoint_tombstones;"  // schema version 7
    "ALTER TABLE certificates DROP COLUMN cert_names;"
    "ALTER TABLE certificates DROP COLUMN not_before;"
    "ALTER TABLE certificates DROP COLUMN issuer_cn;";

std::string pragma_text(const fs::path& file, const char* pragma) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, pragma, -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  std::string value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

}  // namespace

TEST_CASE("a new database is private, in WAL mode and at the current schema version", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  mode_t old = ::umask(022);
  auto storage = open_ok(file);
  REQUIRE(storage->put_value("probe", SecretBytes("x")));  // makes SQLite create -wal and -shm
  ::umask(old);
  CHECK(file_mode(file) == 0600);
  REQUIRE(fs::exists(file.string() + "-wal"));
  CHECK(file_mode(file.string() + "-wal") == 0600);
  REQUIRE(fs::exists(file.string() + "-shm"));
  CHECK(file_mode(file.string() + "-shm") == 0600);
  CHECK(pragma_text(file, "PRAGMA journal_mode") == "wal");
  CHECK(raw_user_version(file) == SqliteStorage::schema_version);
}

TEST_CASE("a database left world-readable is narrowed to 0600 on open", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  open_ok(file).reset();
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  auto storage = open_ok(file);
  CHECK(file_mode(file) == 0600);
}

TEST_CASE("certificates round-trip and survive a reopen", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  auto ca = testing::TestCa::create("Storage Test Root");
  auto cert = ca.issue({"app.example.com", "www.example.com"});

  StoredCertificate managed;
  managed.name_key = "elb-1";
  managed.endpoint_id = "elb-1";
  managed.source = CertSource::managed;
  managed.names = {"app.example.com", "www.example.com"};
  managed.chain_pem = cert.chain_pem;
  managed.key_pem = cert.key_pem;
  managed.serial_hex = cert.serial_hex;
  managed.not_after_unix = 1900000000;
  managed.created_unix = 1700000000;
  managed.set_facts(*cert.bundle());
  StoredCertificate transitional = managed;
  transitional.cert_names.clear();  // written without its facts, as before schema version 6
  transitional.name_key = "transitional:elb-1";
  transitional.source = CertSource::transitional;
  transitional.names = {"app.example.com"};
  transitional.created_unix = 0;  // the store stamps it

  {
    auto storage = open_ok(file);
    REQUIRE(storage->put_certificate(managed));
    REQUIRE(storage->put_certificate(transitional));
  }
  auto storage = open_ok(file);
  auto loaded = storage->load_certificates();
  REQUIRE(loaded);
  REQUIRE(loaded->size() == 2);
  const auto& m = (*loaded)[0];
  CHECK(m.name_key == "elb-1");
  CHECK(m.endpoint_id == "elb-1");
  CHECK(m.source == CertSource::managed);
  CHECK(m.names == managed.names);
  CHECK(m.chain_pem == managed.chain_pem);
  CHECK(m.key_pem == managed.key_pem);
  CHECK(m.serial_hex == managed.serial_hex);
  CHECK(m.not_after_unix == managed.not_after_unix);
  CHECK(m.created_unix == 1700000000);
  // The certificate's own facts, as the bundle gives them.
  REQUIRE(m.has_facts());
  CHECK(m.facts() == cert.bundle()->facts());
  CHECK(m.cert_names == std::vector<std::string>{"app.example.com", "www.example.com"});
  CHECK(m.issuer_cn == "Storage Test Root");
  const auto& t = (*loaded)[1];
  CHECK(t.name_key == "transitional:elb-1");
  CHECK(t.source == CertSource::transitional);
  CHECK(t.names == std::vector<std::string>{"app.example.com"});
  CHECK(t.created_unix > 1700000000);
  CHECK_FALSE(t.has_facts());
  CHECK(t.not_before_unix == 0);
  CHECK(t.issuer_cn.empty());
  // What was stored makes a working bundle again.
  CHECK(CertBundle::from_pem(m.chain_pem, m.key_pem, m.source, "store:" + m.name_key));

  SECTION("put replaces the row with the same name_key") {
    StoredCertificate renewed = managed;
    renewed.serial_hex = "ABCDEF";
    REQUIRE(storage->put_certificate(renewed));
    auto again = storage->load_certificates();
    REQUIRE(again);
    REQUIRE(again->size() == 2);
    CHECK((*again)[0].serial_hex == "ABCDEF");
  }
  SECTION("one certificate is read by its name_key") {
    auto one = storage->get_certificate("transitional:elb-1");
    REQUIRE(one);
    REQUIRE(one->has_value());
    CHECK((*one)->source == CertSource::transitional);
    CHECK((*one)->key_pem == managed.key_pem);
    auto none = storage->get_certificate("not-there");
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
  }
  SECTION("a certificate marked removed is kept for audit but no longer loaded") {
    REQUIRE(storage->mark_certificate_removed("elb-1", 1800000000));
    auto live = storage->load_certificates();
    REQUIRE(live);
    REQUIRE(live->size() == 1);
    CHECK((*live)[0].name_key == "transitional:elb-1");
    auto kept = storage->get_certificate("elb-1");
    REQUIRE(kept);
    REQUIRE(kept->has_value());
    CHECK((*kept)->removed_unix == 1800000000);
    CHECK((*kept)->key_pem == managed.key_pem);
    // Marking again keeps the first time; a new certificate for the name is live again.
    REQUIRE(storage->mark_certificate_removed("elb-1", 1800000999));
    CHECK((*storage->get_certificate("elb-1"))->removed_unix == 1800000000);
    REQUIRE(storage->mark_certificate_removed("not-there", 1800000000));
    REQUIRE(storage->put_certificate(managed));
    CHECK((*storage->get_certificate("elb-1"))->removed_unix == 0);
    CHECK(storage->load_certificates()->size() == 2);
  }
  SECTION("delete removes only that certificate") {
    REQUIRE(storage->delete_certificate("elb-1"));
    REQUIRE(storage->delete_certificate("not-there"));
    auto again = storage->load_certificates();
    REQUIRE(again);
    REQUIRE(again->size() == 1);
    CHECK((*again)[0].name_key == "transitional:elb-1");
  }
}

TEST_CASE("values, orders and renewal state round-trip", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  {
    auto storage = open_ok(file);
    REQUIRE(storage->put_value("acme.account_key", SecretBytes("key bytes")));
    REQUIRE(storage->put_value("acme.account_url", SecretBytes("https://ca/acct/1")));
    REQUIRE(storage->put_value("acme.account_url", SecretBytes("https://ca/acct/2")));

    StoredOrder order;
    order.endpoint_id = "elb-1";
    order.order_url = "https://ca/order/7";
    order.names = {"*.example.com", "example.com"};
    order.status = "pending";
    order.cert_key_pem = SecretBytes("order key");
    order.replaces = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    order.created_unix = 100;
    order.updated_unix = 200;
    REQUIRE(storage->put_order(order));
    order.endpoint_id = "elb-2";
    order.replaces.clear();
    REQUIRE(storage->put_order(order));

    RenewalState state;
    state.endpoint_id = "elb-1";
    state.next_attempt_unix = 1234;
    state.consecutive_failures = 3;
    state.last_error = "acme: finalize: 403 unauthorized";
    state.last_success_unix = 99;
    REQUIRE(storage->put_renewal_state(state));
    state.consecutive_failures = 4;
    REQUIRE(storage->put_renewal_state(state));
  }
  auto storage = open_ok(file);

  auto account = storage->get_value("acme.account_key");
  REQUIRE(account);
  REQUIRE(account->has_value());
  CHECK((*account)->reveal() == "key bytes");
  CHECK(storage->get_value("acme.account_url").value()->reveal() == "https://ca/acct/2");
  auto missing = storage->get_value("nothing");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());

  auto orders = storage->load_orders();
  REQUIRE(orders);
  REQUIRE(orders->size() == 2);
  const auto& o = (*orders)[0];
  CHECK(o.endpoint_id == "elb-1");
  CHECK(o.order_url == "https://ca/order/7");
  CHECK(o.names == std::vector<std::string>{"*.example.com", "example.com"});
  CHECK(o.status == "pending");
  CHECK(o.cert_key_pem.reveal() == "order key");
  CHECK(o.replaces == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  CHECK(o.created_unix == 100);
  CHECK(o.updated_unix == 200);
  CHECK((*orders)[1].replaces.empty());
  REQUIRE(storage->delete_order("elb-1"));
  CHECK(storage->load_orders().value().size() == 1);

  auto states = storage->load_renewal_states();
  REQUIRE(states);
  REQUIRE(states->size() == 1);
  CHECK((*states)[0].endpoint_id == "elb-1");
  CHECK((*states)[0].next_attempt_unix == 1234);
  CHECK((*states)[0].consecutive_failures == 4);
  CHECK((*states)[0].last_error == "acme: finalize: 403 unauthorized");
  CHECK((*states)[0].last_success_unix == 99);
}

TEST_CASE("an issuance lease has one holder until it is released or expires", "[unit][certstore]") {
  TempDir dir;
  auto storage = open_ok(dir.path() / "portcullis.db");
  REQUIRE(storage->try_acquire_lease("app.example.com", "node-a", 60s).value());
  SECTION("another holder is refused while it is live") {
    CHECK_FALSE(storage->try_acquire_lease("app.example.com", "node-b", 60s).value());
    // Other names are independent.
    CHECK(storage->try_acquire_lease("www.example.com", "node-b", 60s).value());
  }
  SECTION("the holder may take it again (renewing it)") {
    CHECK(storage->try_acquire_lease("app.example.com", "node-a", 60s).value());
  }
  SECTION("release frees it; a release by someone else does not") {
    REQUIRE(storage->release_lease("app.example.com", "node-b"));
    CHECK_FALSE(storage->try_acquire_lease("app.example.com", "node-b", 60s).value());
    REQUIRE(storage->release_lease("app.example.com", "node-a"));
    CHECK(storage->try_acquire_lease("app.example.com", "node-b", 60s).value());
  }
  SECTION("an expired lease is taken over") {
    // A zero ttl expires at once.
    REQUIRE(storage->try_acquire_lease("expiring.example.com", "node-a", 0s).value());
    CHECK(storage->try_acquire_lease("expiring.example.com", "node-b", 60s).value());
    CHECK_FALSE(storage->try_acquire_lease("expiring.example.com", "node-a", 60s).value());
  }
}

TEST_CASE("a lease is visible to a second connection on the same file", "[unit][certstore]") {
  TempDir dir;
  auto a = open_ok(dir.path() / "portcullis.db");
  auto b = open_ok(dir.path() / "portcullis.db");
  REQUIRE(a->try_acquire_lease("app.example.com", "node-a", 60s).value());
  CHECK_FALSE(b->try_acquire_lease("app.example.com", "node-b", 60s).value());
}

TEST_CASE("certificates stored before removal was recorded are live after the migration", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  open_ok(file).reset();
  // Back to schema version 1 by hand, with a certificate row written as that version wrote it.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  const std::string downgrade = std::string(drop_version_6) +
      "DROP TABLE certificate_swaps;"
      "DROP TABLE alert_deliveries;"
      "DROP TABLE alerts;"
      "DROP TABLE endpoints;"
      "ALTER TABLE certificates DROP COLUMN removed;"
      "INSERT INTO certificates (name_key, endpoint_id, source, names, chain_pem, key_pem, serial_hex, not_after, "
      "created) VALUES ('elb-1', 'elb-1', 'managed', 'app.example.com', 'chain', X'6B6579', '01', 1900000000, 1);"
      "PRAGMA user_version = 1;";
  REQUIRE(sqlite3_exec(db, downgrade.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);

  auto storage = open_ok(file);
  CHECK(raw_user_version(file) == SqliteStorage::schema_version);
  auto loaded = storage->load_certificates();
  REQUIRE(loaded);
  REQUIRE(loaded->size() == 1);
  CHECK((*loaded)[0].name_key == "elb-1");
  CHECK((*loaded)[0].removed_unix == 0);
}

TEST_CASE("endpoints created at run time are stored, replaced, listed by id and deleted", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  {
    auto storage = open_ok(file);
    certstore::StoredEndpoint e;
    e.id = "ep-b";
    e.hostnames = {"app.example.com", "*.app.example.com"};
    e.scope = "internal";
    e.upstreams = {"127.0.0.1:9901", "[::1]:9902"};
    e.ip_allowlist = {"10.0.0.0/8"};
    e.managed_https = false;
    REQUIRE(storage->put_endpoint(e));
    e.id = "ep-a";
    e.ip_allowlist.clear();
    REQUIRE(storage->put_endpoint(e));
    e.upstreams = {"127.0.0.1:1"};
    REQUIRE(storage->put_endpoint(e));  // replaces ep-a
  }
  auto storage = open_ok(file);
  auto loaded = storage->load_endpoints();
  REQUIRE(loaded);
  REQUIRE(loaded->size() == 2);
  CHECK((*loaded)[0].id == "ep-a");
  CHECK((*loaded)[0].upstreams == std::vector<std::string>{"127.0.0.1:1"});
  CHECK((*loaded)[0].ip_allowlist.empty());
  CHECK((*loaded)[1].id == "ep-b");
  CHECK((*loaded)[1].hostnames == std::vector<std::string>{"app.example.com", "*.app.example.com"});
  CHECK((*loaded)[1].scope == "internal");
  CHECK((*loaded)[1].upstreams == std::vector<std::string>{"127.0.0.1:9901", "[::1]:9902"});
  CHECK((*loaded)[1].ip_allowlist == std::vector<std::string>{"10.0.0.0/8"});
  CHECK_FALSE((*loaded)[1].managed_https);
  CHECK((*loaded)[1].created_unix > 0);
  REQUIRE(storage->delete_endpoint("ep-a"));
  CHECK(storage->load_endpoints().value().size() == 1);
}

TEST_CASE("tombstones of deleted endpoint ids survive a reopen and the old ones are pruned", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  {
    auto storage = open_ok(file);
    REQUIRE(storage->put_endpoint_tombstone({"shop", 1000}));
    REQUIRE(storage->put_endpoint_tombstone({"old", 10}));
    REQUIRE(storage->put_endpoint_tombstone({"api", 2000}));
    REQUIRE(storage->put_endpoint_tombstone({"api", 3000}));  // replaces
  }
  auto storage = open_ok(file);
  auto loaded = storage->load_endpoint_tombstones(500);
  REQUIRE(loaded);
  REQUIRE(loaded->size() == 2);
  CHECK((*loaded)[0].id == "api");
  CHECK((*loaded)[0].deleted_unix == 3000);
  CHECK((*loaded)[1].id == "shop");
  CHECK((*loaded)[1].deleted_unix == 1000);
  CHECK(storage->load_endpoint_tombstones(0).value().size() == 2);  // "old" was pruned
}

TEST_CASE("a schema version 2 database gains the endpoints table", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  open_ok(file).reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, (std::string(drop_version_6) +
                           "DROP TABLE certificate_swaps; DROP TABLE alert_deliveries; DROP TABLE alerts; "
                           "DROP TABLE endpoints; PRAGMA user_version = 2;")
                              .c_str(),
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto storage = open_ok(file);
  CHECK(raw_user_version(file) == SqliteStorage::schema_version);
  CHECK(storage->load_endpoints().value().empty());
}

TEST_CASE("a schema version 3 database gains the certificate timeline, which keeps the newest of each endpoint",
          "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  open_ok(file).reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, (std::string(drop_version_6) +
                           "DROP TABLE certificate_swaps; DROP TABLE alert_deliveries; DROP TABLE alerts; "
                           "PRAGMA user_version = 3;")
                              .c_str(),
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  {
    auto storage = open_ok(file);
    CHECK(raw_user_version(file) == SqliteStorage::schema_version);
    CHECK(storage->load_certificate_swaps().value().empty());
    auto swap = [](std::string endpoint, CertSource source, std::string serial, std::string reason) {
      return CertificateSwap{std::move(endpoint), {"app.example.com", "www.example.com"}, source, std::move(serial),
                             1900000000, 1800000000, std::move(reason)};
    };
    REQUIRE(storage->append_certificate_swap(swap("shop", CertSource::default_cert, "01", "endpoint added"), 2));
    REQUIRE(storage->append_certificate_swap(swap("app", CertSource::default_cert, "01", "endpoint added"), 2));
    REQUIRE(storage->append_certificate_swap(swap("app", CertSource::transitional, "0A", "transitional uploaded"), 2));
    REQUIRE(storage->append_certificate_swap(swap("app", CertSource::managed, "0B", "issued"), 2));
  }
  // Reopened: kept, the oldest of "app" trimmed, by endpoint then in the order appended.
  auto loaded = open_ok(file)->load_certificate_swaps();
  REQUIRE(loaded);
  REQUIRE(loaded->size() == 3);
  CHECK((*loaded)[0].endpoint_id == "app");
  CHECK((*loaded)[0].source == CertSource::transitional);
  CHECK((*loaded)[0].reason == "transitional uploaded");
  CHECK((*loaded)[1].source == CertSource::managed);
  CHECK((*loaded)[1].serial_hex == "0B");
  CHECK((*loaded)[1].hostnames == std::vector<std::string>{"app.example.com", "www.example.com"});
  CHECK((*loaded)[1].not_after_unix == 1900000000);
  CHECK((*loaded)[1].at_unix == 1800000000);
  CHECK((*loaded)[2].endpoint_id == "shop");
}

TEST_CASE("a schema version 5 database keeps every certificate row, without facts, and takes facts from then on",
          "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  auto ca = testing::TestCa::create("Storage Test Root");
  auto cert = ca.issue({"app.example.com"});
  open_ok(file).reset();
  // Back to schema version 5, with the rows written as that version wrote them: live and removed,
  // managed and transitional.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, (std::string(drop_version_6) + "PRAGMA user_version = 5;").c_str(), nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  sqlite3_stmt* insert = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "INSERT INTO certificates (name_key, endpoint_id, source, names, chain_pem, key_pem, "
                             "serial_hex, not_after, created, removed) VALUES (?1, ?2, ?3, 'app.example.com', ?4, "
                             "X'6B6579', ?5, 1900000000, 1700000000, ?6)",
                             -1, &insert, nullptr) == SQLITE_OK);
  struct Row {
    const char *name_key, *endpoint, *source, *serial;
    int removed;
  };
  for (const Row& r : {Row{"elb-1", "elb-1", "managed", "01", 0}, Row{"transitional:elb-1", "elb-1", "transitional", "02", 0},
                       Row{"elb-2", "elb-2", "managed", "03", 1800000000}}) {
    sqlite3_bind_text(insert, 1, r.name_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, r.endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, r.source, -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 4, cert.chain_pem.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 5, r.serial, -1, SQLITE_STATIC);
    sqlite3_bind_int64(insert, 6, r.removed);
    REQUIRE(sqlite3_step(insert) == SQLITE_DONE);
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);

  auto storage = open_ok(file);
  CHECK(raw_user_version(file) == SqliteStorage::schema_version);
  auto live = storage->load_certificates();
  REQUIRE(live);
  REQUIRE(live->size() == 2);
  CHECK((*live)[0].name_key == "elb-1");
  CHECK((*live)[0].serial_hex == "01");
  CHECK((*live)[0].chain_pem == cert.chain_pem);
  CHECK((*live)[0].key_pem == SecretBytes("key"));
  CHECK((*live)[0].names == std::vector<std::string>{"app.example.com"});
  CHECK((*live)[0].not_after_unix == 1900000000);
  CHECK((*live)[0].created_unix == 1700000000);
  CHECK((*live)[1].name_key == "transitional:elb-1");
  CHECK((*live)[1].source == CertSource::transitional);
  for (const auto& c : *live) CHECK_FALSE(c.has_facts());  // no parse in the migration
  auto removed = storage->get_certificate("elb-2");
  REQUIRE(removed);
  REQUIRE(removed->has_value());
  CHECK((*removed)->removed_unix == 1800000000);
  CHECK_FALSE((*removed)->has_facts());

  // A row put again (a renewal) keeps its facts from now on.
  StoredCertificate renewed = (*live)[0];
  renewed.set_facts(*cert.bundle());
  REQUIRE(storage->put_certificate(renewed));
  auto again = storage->get_certificate("elb-1");
  REQUIRE(again);
  REQUIRE(again->has_value());
  CHECK((*again)->facts() == cert.bundle()->facts());
}

TEST_CASE("a database from a newer build is refused", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  open_ok(file).reset();
  raw_user_version(file, SqliteStorage::schema_version + 6);
  auto storage = SqliteStorage::open(file);
  REQUIRE_FALSE(storage);
  CHECK(storage.error().code() == Errc::storage);
  CHECK_THAT(storage.error().message(),
             Catch::Contains("schema version " + std::to_string(SqliteStorage::schema_version + 6) +
                             " is newer than this build (" + std::to_string(SqliteStorage::schema_version) + ")"));
}

TEST_CASE("reopening a current database does not migrate again", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "portcullis.db";
  {
    auto storage = open_ok(file);
    REQUIRE(storage->put_value("k", SecretBytes("v")));
  }
  CHECK(raw_user_version(file) == SqliteStorage::schema_version);
  auto storage = open_ok(file);
  CHECK(storage->get_value("k").value()->reveal() == "v");
  CHECK(raw_user_version(file) == SqliteStorage::schema_version);
}

TEST_CASE("opening a database in a missing directory names the file", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "missing" / "portcullis.db";
  auto storage = SqliteStorage::open(file);
  REQUIRE_FALSE(storage);
  CHECK_THAT(storage.error().message(), Catch::StartsWith(file.string()));
}
