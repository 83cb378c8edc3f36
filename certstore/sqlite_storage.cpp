#include "certstore/sqlite_storage.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iterator>
#include <optional>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sqlite3.h>

#include "base/logging.hpp"

namespace portcullis::certstore {
namespace {

namespace fs = std::filesystem;

// How long a statement waits for another connection's lock (another process on the same file,
// e.g. `portcullis` and an operator's sqlite3 shell) before failing with SQLITE_BUSY.
constexpr int busy_timeout_ms = 5000;

// Schema migrations, applied in order inside one transaction each; entry i brings the schema
// from version i to i + 1. Never edit a released entry: append a new one.
//
// Name lists (certificates.names, orders.names) are stored newline-joined: a DNS name cannot
// contain a newline, and the text stays readable in the sqlite3 shell. Times are unix seconds.
// Key material (certificates.key_pem, orders.cert_key_pem, kv.value) is a BLOB.
constexpr const char* migrations[] = {
    R"sql(
    CREATE TABLE certificates (
      name_key     TEXT PRIMARY KEY,
      endpoint_id  TEXT NOT NULL,
      source       TEXT NOT NULL,
      names        TEXT NOT NULL,
      chain_pem    TEXT NOT NULL,
      key_pem      BLOB NOT NULL,
      serial_hex   TEXT NOT NULL,
      not_after    INTEGER NOT NULL,
      created      INTEGER NOT NULL
    );
    CREATE INDEX certificates_endpoint ON certificates(endpoint_id);
    CREATE TABLE kv (
      key    TEXT PRIMARY KEY,
      value  BLOB NOT NULL
    );
    CREATE TABLE orders (
      endpoint_id   TEXT PRIMARY KEY,
      order_url     TEXT NOT NULL,
      names         TEXT NOT NULL,
      status        TEXT NOT NULL,
      cert_key_pem  BLOB NOT NULL,
      replaces      TEXT NOT NULL DEFAULT '',
      created       INTEGER NOT NULL,
      updated       INTEGER NOT NULL
    );
    CREATE TABLE renewal_state (
      endpoint_id           TEXT PRIMARY KEY,
      next_attempt          INTEGER NOT NULL,
      consecutive_failures  INTEGER NOT NULL,
      last_error            TEXT NOT NULL,
      last_success          INTEGER NOT NULL
    );
    CREATE TABLE leases (
      name     TEXT PRIMARY KEY,
      holder   TEXT NOT NULL,
      expires  INTEGER NOT NULL
    );
    )sql",
    // 2: certificates of removed endpoints are kept for audit, marked with the time of removal.
    R"sql(
    ALTER TABLE certificates ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 3: endpoints created through the admin API (lists newline-joined, as names above).
    R"sql(
    CREATE TABLE endpoints (
      id             TEXT PRIMARY KEY,
      hostnames      TEXT NOT NULL,
      scope          TEXT NOT NULL,
      upstreams      TEXT NOT NULL,
      ip_allowlist   TEXT NOT NULL,
      managed_https  INTEGER NOT NULL,
      created        INTEGER NOT NULL,
      updated        INTEGER NOT NULL
    );
    )sql",
    // 4: alerts, one row per episode, and the outbox of their webhook notifications.
    R"sql(
    CREATE TABLE alerts (
      id           INTEGER PRIMARY KEY,
      key          TEXT NOT NULL,
      check_name   TEXT NOT NULL,
      kind         TEXT NOT NULL,
      severity     TEXT NOT NULL,
      endpoint_id  TEXT NOT NULL,
      subject      TEXT NOT NULL,
      expected     TEXT NOT NULL,
      found        TEXT NOT NULL,
      fix          TEXT NOT NULL,
      firing       INTEGER NOT NULL,
      first_seen   INTEGER NOT NULL,
      last_seen    INTEGER NOT NULL,
      resolved     INTEGER NOT NULL,
      count        INTEGER NOT NULL
    );
    CREATE INDEX alerts_key ON alerts(key);
    CREATE TABLE alert_deliveries (
      alert_id  INTEGER NOT NULL,
      event     TEXT NOT NULL,
      webhook   TEXT NOT NULL,
      payload   TEXT NOT NULL,
      state     TEXT NOT NULL,
      attempts  INTEGER NOT NULL,
      created   INTEGER NOT NULL,
      updated   INTEGER NOT NULL,
      PRIMARY KEY (alert_id, event, webhook)
    );
    CREATE INDEX alert_deliveries_state ON alert_deliveries(state);
    )sql",
    // 5: the certificate timeline: each change of the certificate served for an endpoint's names,
    // in the order recorded (seq), the newest 50 or so of each endpoint.
    R"sql(
    CREATE TABLE certificate_swaps (
      seq          INTEGER PRIMARY KEY AUTOINCREMENT,
      endpoint_id  TEXT NOT NULL,
      hostnames    TEXT NOT NULL,
      source       TEXT NOT NULL,
      serial_hex   TEXT NOT NULL,
      not_after    INTEGER NOT NULL,
      at           INTEGER NOT NULL,
      reason       TEXT NOT NULL
    );
    CREATE INDEX certificate_swaps_endpoint ON certificate_swaps(endpoint_id, seq);
    )sql",
    // 6: the rest of a certificate's facts beside serial_hex and not_after, so that a start indexes
    // a row without parsing its PEM: the certificate's own DNS names (newline-joined, as
    // CertBundle::names() gives them; `names` holds what it was stored for), its notBefore and its
    // issuer's CN. NULL in the rows written before: their facts come from the PEM.
    R"sql(
    ALTER TABLE certificates ADD COLUMN cert_names TEXT;
    ALTER TABLE certificates ADD COLUMN not_before INTEGER;
    ALTER TABLE certificates ADD COLUMN issuer_cn TEXT;
    )sql",
    // 7: ids deleted through the admin API, kept for a while so that no other endpoint takes one
    // (and the platform host a customer's CNAME may still point at) soon after.
    R"sql(
    CREATE TABLE endpoint_tombstones (
      id       TEXT PRIMARY KEY,
      deleted  INTEGER NOT NULL
    );
    )sql",
};
static_assert(std::size(migrations) == SqliteStorage::schema_version,
              "one migration per schema version");

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += '\n';
    out += n;
  }
  return out;
}

std::vector<std::string> split_names(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view part = text.substr(0, nl);
    if (!part.empty()) out.emplace_back(part);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::optional<CertSource> parse_source(std::string_view text) {
  for (auto s : {CertSource::managed, CertSource::transitional, CertSource::fallback, CertSource::default_cert}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

using StmtPtr = std::unique_ptr<sqlite3_stmt, decltype([](sqlite3_stmt* s) { sqlite3_finalize(s); })>;

// A prepared statement with positional binds (1-based, in call order) and typed column reads.
// Binds of secrets use SQLITE_STATIC: SQLite reads them during step() without keeping a copy
// in its own (never wiped) heap; the caller's SecretBytes outlives the statement.
class Statement {
 public:
  Statement(sqlite3* db, const fs::path& file, std::string_view sql) : db_(db), file_(file) {
    sqlite3_stmt* raw = nullptr;
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    stmt_.reset(raw);
  }

  Statement& bind(std::string_view text) {
    ok(sqlite3_bind_text(stmt_.get(), ++index_, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind_secret(const base::SecretBytes& secret) {
    auto view = secret.reveal();
    ok(sqlite3_bind_blob(stmt_.get(), ++index_, view.data(), static_cast<int>(view.size()), SQLITE_STATIC));
    return *this;
  }
  Statement& bind(std::int64_t value) {
    ok(sqlite3_bind_int64(stmt_.get(), ++index_, value));
    return *this;
  }
  Statement& bind_null() {
    ok(sqlite3_bind_null(stmt_.get(), ++index_));
    return *this;
  }

  // True while a row is available; errors are kept and reported by status().
  bool next_row() {
    if (rc_ != SQLITE_OK && rc_ != SQLITE_ROW) return false;
    rc_ = sqlite3_step(stmt_.get());
    return rc_ == SQLITE_ROW;
  }
  Status run(std::string_view what) {
    while (next_row()) {
    }
    return status(what);
  }
  Status status(std::string_view what) const {
    if (rc_ == SQLITE_OK || rc_ == SQLITE_ROW || rc_ == SQLITE_DONE) return {};
    return fail(Errc::storage, fmt::format("{}: {}: {}", file_.string(), what, sqlite3_errmsg(db_)));
  }

  std::string text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col))) : std::string();
  }
  base::SecretBytes secret(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_.get(), col));
    return base::SecretBytes(p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
                         : std::string());
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  bool null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }

 private:
  void ok(int rc) {
    if (rc_ == SQLITE_OK && rc != SQLITE_OK) rc_ = rc;
  }
  sqlite3* db_;
  const fs::path& file_;
  StmtPtr stmt_;
  int rc_ = SQLITE_OK;
  int index_ = 0;
};

Status exec(sqlite3* db, const fs::path& file, const char* sql, std::string_view what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    return fail(Errc::storage, fmt::format("{}: {}: {}", file.string(), what, text));
  }
  return {};
}

// The database and its WAL companions hold private keys: 0600 before the first byte is written.
// SQLite gives -wal and -shm the mode of the main file, so the main file is created first, with
// 0600, and existing files are narrowed in case an older run or a copy left them wider.
Status secure_files(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(Errc::storage, fmt::format("{}: create: {}", file.string(), std::strerror(errno)));
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) return fail(Errc::storage, fmt::format("{}: chmod: {}", file.string(), std::strerror(err)));
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    fs::path companion = file.string() + suffix;
    if (::chmod(companion.c_str(), 0600) != 0 && errno != ENOENT) {
      return fail(Errc::storage, fmt::format("{}: chmod: {}", companion.string(), std::strerror(errno)));
    }
  }
  return {};
}

Result<int> user_version(sqlite3* db, const fs::path& file) {
  Statement q(db, file, "PRAGMA user_version");
  if (!q.next_row()) {
    if (auto st = q.status("reading schema version"); !st) return tl::unexpected(st.error());
    return fail(Errc::storage, file.string() + ": reading schema version: no row");
  }
  return static_cast<int>(q.integer(0));
}

Status migrate(sqlite3* db, const fs::path& file) {
  auto version = user_version(db, file);
  if (!version) return tl::unexpected(version.error());
  if (*version > SqliteStorage::schema_version) {
    return fail(Errc::storage, fmt::format("{}: schema version {} is newer than this build ({}); "
                                           "run a newer portcullis or restore a backup",
                                           file.string(), *version, SqliteStorage::schema_version));
  }
  for (int v = *version; v < SqliteStorage::schema_version; ++v) {
    // IMMEDIATE: take the write lock up front so two processes cannot both migrate.
    if (auto st = exec(db, file, "BEGIN IMMEDIATE", "migration"); !st) return st;
    // Re-read under the lock: another process may have migrated meanwhile.
    auto now = user_version(db, file);
    if (!now) {
      exec(db, file, "ROLLBACK", "migration");
      return tl::unexpected(now.error());
    }
    if (*now > v) {
      if (auto st = exec(db, file, "COMMIT", "migration"); !st) return st;
      v = *now - 1;
      continue;
    }
    std::string pragma = fmt::format("PRAGMA user_version = {}", v + 1);
    Status st = exec(db, file, migrations[v], fmt::format("migration to schema version {}", v + 1));
    if (st) st = exec(db, file, pragma.c_str(), "migration");
    if (st) st = exec(db, file, "COMMIT", "migration");
    if (!st) {
      exec(db, file, "ROLLBACK", "migration");
      return st;
    }
    log::certstore()->info("migrated database file={} schema_version={}", file.string(), v + 1);
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const fs::path& file) {
  if (auto st = secure_files(file); !st) return tl::unexpected(st.error());

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  // From here the handle is owned, even on failure (sqlite3_open_v2 may allocate one anyway).
  std::unique_ptr<SqliteStorage> storage(new SqliteStorage(raw, file));
  if (rc != SQLITE_OK) {
    return fail(Errc::storage, fmt::format("{}: open: {}", file.string(), raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);

  {
    // journal_mode answers with the mode in effect; anything but "wal" (e.g. a file system
    // without shared memory) would silently lose the durability/concurrency we count on.
    Statement q(raw, file, "PRAGMA journal_mode=WAL");
    if (!q.next_row()) {
      if (auto st = q.status("journal_mode"); !st) return tl::unexpected(st.error());
    }
    if (q.text(0) != "wal") {
      return fail(Errc::storage, fmt::format("{}: journal_mode: expected \"wal\", got \"{}\"", file.string(), q.text(0)));
    }
  }
  // FULL: a committed certificate or order survives power loss (design §6).
  for (const char* pragma : {"PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (auto st = exec(raw, file, pragma, pragma); !st) return tl::unexpected(st.error());
  }
  if (auto st = migrate(raw, file); !st) return tl::unexpected(st.error());
  // The WAL and shared-memory files exist now: make sure they did not come out wider.
  if (auto st = secure_files(file); !st) return tl::unexpected(st.error());
  return storage;
}

SqliteStorage::SqliteStorage(sqlite3* db, fs::path file) : db_(db), file_(std::move(file)) {}

SqliteStorage::~SqliteStorage() { sqlite3_close_v2(db_); }

Status SqliteStorage::put_certificate(const StoredCertificate& cert) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "INSERT OR REPLACE INTO certificates "
              "(name_key, endpoint_id, source, names, chain_pem, key_pem, serial_hex, not_after, created, removed, "
              "cert_names, not_before, issuer_cn) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(cert.name_key)
      .bind(cert.endpoint_id)
      .bind(to_string(cert.source))
      .bind(join_names(cert.names))
      .bind(cert.chain_pem)
      .bind_secret(cert.key_pem)
      .bind(cert.serial_hex)
      .bind(cert.not_after_unix)
      .bind(cert.created_unix != 0 ? cert.created_unix : unix_now())
      .bind(cert.removed_unix);
  if (cert.has_facts()) {
    q.bind(join_names(cert.cert_names)).bind(cert.not_before_unix).bind(cert.issuer_cn);
  } else {
    q.bind_null().bind_null().bind_null();
  }
  return q.run("put certificate " + cert.name_key);
}

namespace {

constexpr const char* certificate_columns =
    "SELECT name_key, endpoint_id, source, names, chain_pem, key_pem, serial_hex, not_after, created, removed, "
    "cert_names, not_before, issuer_cn FROM certificates ";

Result<StoredCertificate> read_certificate_row(Statement& q, const fs::path& file) {
  StoredCertificate c;
  c.name_key = q.text(0);
  c.endpoint_id = q.text(1);
  auto source = parse_source(q.text(2));
  if (!source) {
    return fail(Errc::storage, fmt::format("{}: certificate {}: unknown source \"{}\"", file.string(), c.name_key,
                                           q.text(2)));
  }
  c.source = *source;
  c.names = split_names(q.text(3));
  c.chain_pem = q.text(4);
  c.key_pem = q.secret(5);
  c.serial_hex = q.text(6);
  c.not_after_unix = q.integer(7);
  c.created_unix = q.integer(8);
  c.removed_unix = q.integer(9);
  if (!q.null(10)) {
    c.cert_names = split_names(q.text(10));
    c.not_before_unix = q.integer(11);
    c.issuer_cn = q.text(12);
  }
  return c;
}

}  // namespace

Result<std::vector<StoredCertificate>> SqliteStorage::load_certificates() {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, std::string(certificate_columns) + "WHERE removed = 0 ORDER BY name_key");
  std::vector<StoredCertificate> out;
  while (q.next_row()) {
    auto c = read_certificate_row(q, file_);
    if (!c) return tl::unexpected(c.error());
    out.push_back(std::move(*c));
  }
  if (auto st = q.status("load certificates"); !st) return tl::unexpected(st.error());
  return out;
}

Result<std::optional<StoredCertificate>> SqliteStorage::get_certificate(const std::string& name_key) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, std::string(certificate_columns) + "WHERE name_key = ?");
  q.bind(name_key);
  std::optional<StoredCertificate> out;
  if (q.next_row()) {
    auto c = read_certificate_row(q, file_);
    if (!c) return tl::unexpected(c.error());
    out = std::move(*c);
  }
  if (auto st = q.status("get certificate " + name_key); !st) return tl::unexpected(st.error());
  return out;
}

Status SqliteStorage::delete_certificate(const std::string& name_key) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "DELETE FROM certificates WHERE name_key = ?");
  q.bind(name_key);
  return q.run("delete certificate " + name_key);
}

Status SqliteStorage::mark_certificate_removed(const std::string& name_key, std::int64_t when_unix) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "UPDATE certificates SET removed = ? WHERE name_key = ? AND removed = 0");
  q.bind(when_unix).bind(name_key);
  return q.run("mark certificate removed " + name_key);
}

Status SqliteStorage::put_value(const std::string& key, const base::SecretBytes& value) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)");
  q.bind(key).bind_secret(value);
  return q.run("put value " + key);
}

Result<std::optional<base::SecretBytes>> SqliteStorage::get_value(const std::string& key) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "SELECT value FROM kv WHERE key = ?");
  q.bind(key);
  if (q.next_row()) return std::optional<base::SecretBytes>(q.secret(0));
  if (auto st = q.status("get value " + key); !st) return tl::unexpected(st.error());
  return std::optional<base::SecretBytes>();
}

Status SqliteStorage::put_endpoint(const StoredEndpoint& endpoint) {
  std::lock_guard lock(mutex_);
  const std::int64_t now = unix_now();
  Statement q(db_, file_,
              "INSERT OR REPLACE INTO endpoints "
              "(id, hostnames, scope, upstreams, ip_allowlist, managed_https, created, updated) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(endpoint.id)
      .bind(join_names(endpoint.hostnames))
      .bind(endpoint.scope)
      .bind(join_names(endpoint.upstreams))
      .bind(join_names(endpoint.ip_allowlist))
      .bind(static_cast<std::int64_t>(endpoint.managed_https ? 1 : 0))
      .bind(endpoint.created_unix != 0 ? endpoint.created_unix : now)
      .bind(endpoint.updated_unix != 0 ? endpoint.updated_unix : now);
  return q.run("put endpoint " + endpoint.id);
}

Result<std::vector<StoredEndpoint>> SqliteStorage::load_endpoints() {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "SELECT id, hostnames, scope, upstreams, ip_allowlist, managed_https, created, updated "
              "FROM endpoints ORDER BY id");
  std::vector<StoredEndpoint> out;
  while (q.next_row()) {
    StoredEndpoint e;
    e.id = q.text(0);
    e.hostnames = split_names(q.text(1));
    e.scope = q.text(2);
    e.upstreams = split_names(q.text(3));
    e.ip_allowlist = split_names(q.text(4));
    e.managed_https = q.integer(5) != 0;
    e.created_unix = q.integer(6);
    e.updated_unix = q.integer(7);
    out.push_back(std::move(e));
  }
  if (auto st = q.status("load endpoints"); !st) return tl::unexpected(st.error());
  return out;
}

Status SqliteStorage::delete_endpoint(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "DELETE FROM endpoints WHERE id = ?");
  q.bind(id);
  return q.run("delete endpoint " + id);
}

Status SqliteStorage::put_endpoint_tombstone(const EndpointTombstone& tombstone) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "INSERT OR REPLACE INTO endpoint_tombstones (id, deleted) VALUES (?, ?)");
  q.bind(tombstone.id).bind(tombstone.deleted_unix);
  return q.run("put endpoint tombstone " + tombstone.id);
}

Result<std::vector<EndpointTombstone>> SqliteStorage::load_endpoint_tombstones(std::int64_t since_unix) {
  std::lock_guard lock(mutex_);
  {
    Statement prune(db_, file_, "DELETE FROM endpoint_tombstones WHERE deleted < ?");
    prune.bind(since_unix);
    if (auto st = prune.run("prune endpoint tombstones"); !st) return tl::unexpected(st.error());
  }
  Statement q(db_, file_, "SELECT id, deleted FROM endpoint_tombstones ORDER BY id");
  std::vector<EndpointTombstone> out;
  while (q.next_row()) out.push_back({q.text(0), q.integer(1)});
  if (auto st = q.status("load endpoint tombstones"); !st) return tl::unexpected(st.error());
  return out;
}

Status SqliteStorage::put_order(const StoredOrder& order) {
  std::lock_guard lock(mutex_);
  std::int64_t now = unix_now();
  Statement q(db_, file_,
              "INSERT OR REPLACE INTO orders "
              "(endpoint_id, order_url, names, status, cert_key_pem, replaces, created, updated) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(order.endpoint_id)
      .bind(order.order_url)
      .bind(join_names(order.names))
      .bind(order.status)
      .bind_secret(order.cert_key_pem)
      .bind(order.replaces)
      .bind(order.created_unix != 0 ? order.created_unix : now)
      .bind(order.updated_unix != 0 ? order.updated_unix : now);
  return q.run("put order " + order.endpoint_id);
}

Result<std::vector<StoredOrder>> SqliteStorage::load_orders() {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "SELECT endpoint_id, order_url, names, status, cert_key_pem, replaces, created, updated "
              "FROM orders ORDER BY endpoint_id");
  std::vector<StoredOrder> out;
  while (q.next_row()) {
    StoredOrder o;
    o.endpoint_id = q.text(0);
    o.order_url = q.text(1);
    o.names = split_names(q.text(2));
    o.status = q.text(3);
    o.cert_key_pem = q.secret(4);
    o.replaces = q.text(5);
    o.created_unix = q.integer(6);
    o.updated_unix = q.integer(7);
    out.push_back(std::move(o));
  }
  if (auto st = q.status("load orders"); !st) return tl::unexpected(st.error());
  return out;
}

Status SqliteStorage::delete_order(const std::string& endpoint_id) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "DELETE FROM orders WHERE endpoint_id = ?");
  q.bind(endpoint_id);
  return q.run("delete order " + endpoint_id);
}

Status SqliteStorage::put_renewal_state(const RenewalState& state) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "INSERT OR REPLACE INTO renewal_state "
              "(endpoint_id, next_attempt, consecutive_failures, last_error, last_success) VALUES (?, ?, ?, ?, ?)");
  q.bind(state.endpoint_id)
      .bind(state.next_attempt_unix)
      .bind(static_cast<std::int64_t>(state.consecutive_failures))
      .bind(state.last_error)
      .bind(state.last_success_unix);
  return q.run("put renewal state " + state.endpoint_id);
}

Result<std::vector<RenewalState>> SqliteStorage::load_renewal_states() {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "SELECT endpoint_id, next_attempt, consecutive_failures, last_error, last_success "
              "FROM renewal_state ORDER BY endpoint_id");
  std::vector<RenewalState> out;
  while (q.next_row()) {
    RenewalState s;
    s.endpoint_id = q.text(0);
    s.next_attempt_unix = q.integer(1);
    s.consecutive_failures = static_cast<int>(q.integer(2));
    s.last_error = q.text(3);
    s.last_success_unix = q.integer(4);
    out.push_back(std::move(s));
  }
  if (auto st = q.status("load renewal states"); !st) return tl::unexpected(st.error());
  return out;
}

Status SqliteStorage::append_certificate_swap(const CertificateSwap& swap, std::size_t keep) {
  std::lock_guard lock(mutex_);
  if (auto st = exec(db_, file_, "BEGIN IMMEDIATE", "append certificate swap"); !st) return st;
  Status st = [&]() -> Status {
    Statement insert(db_, file_,
                     "INSERT INTO certificate_swaps (endpoint_id, hostnames, source, serial_hex, not_after, at, reason) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)");
    insert.bind(swap.endpoint_id)
        .bind(join_names(swap.hostnames))
        .bind(to_string(swap.source))
        .bind(swap.serial_hex)
        .bind(swap.not_after_unix)
        .bind(swap.at_unix)
        .bind(swap.reason);
    if (auto ran = insert.run("append certificate swap " + swap.endpoint_id); !ran) return ran;
    Statement trim(db_, file_,
                   "DELETE FROM certificate_swaps WHERE endpoint_id = ?1 AND seq NOT IN "
                   "(SELECT seq FROM certificate_swaps WHERE endpoint_id = ?1 ORDER BY seq DESC LIMIT ?2)");
    trim.bind(swap.endpoint_id).bind(static_cast<std::int64_t>(keep));
    return trim.run("trim certificate swaps " + swap.endpoint_id);
  }();
  if (!st) {
    exec(db_, file_, "ROLLBACK", "append certificate swap");
    return st;
  }
  return exec(db_, file_, "COMMIT", "append certificate swap");
}

Result<std::vector<CertificateSwap>> SqliteStorage::load_certificate_swaps() {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "SELECT endpoint_id, hostnames, source, serial_hex, not_after, at, reason "
              "FROM certificate_swaps ORDER BY endpoint_id, seq");
  std::vector<CertificateSwap> out;
  while (q.next_row()) {
    CertificateSwap s;
    s.endpoint_id = q.text(0);
    s.hostnames = split_names(q.text(1));
    auto source = parse_source(q.text(2));
    if (!source) {
      return fail(Errc::storage, fmt::format("{}: certificate swap of {}: unknown source \"{}\"", file_.string(),
                                             s.endpoint_id, q.text(2)));
    }
    s.source = *source;
    s.serial_hex = q.text(3);
    s.not_after_unix = q.integer(4);
    s.at_unix = q.integer(5);
    s.reason = q.text(6);
    out.push_back(std::move(s));
  }
  if (auto st = q.status("load certificate swaps"); !st) return tl::unexpected(st.error());
  return out;
}

Result<bool> SqliteStorage::try_acquire_lease(const std::string& name, const std::string& holder,
                                              std::chrono::seconds ttl) {
  std::lock_guard lock(mutex_);
  std::int64_t now = unix_now();
  // One statement, so the check and the take are atomic even across processes sharing the file:
  // the row is taken when it is free, expired, or already ours (which renews it).
  Statement q(db_, file_,
              "INSERT INTO leases (name, holder, expires) VALUES (?1, ?2, ?3) "
              "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
              "WHERE leases.holder = excluded.holder OR leases.expires <= ?4");
  q.bind(name).bind(holder).bind(now + static_cast<std::int64_t>(ttl.count())).bind(now);
  if (auto st = q.run("acquire lease " + name); !st) return tl::unexpected(st.error());
  return sqlite3_changes(db_) == 1;
}

Status SqliteStorage::release_lease(const std::string& name, const std::string& holder) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_, "DELETE FROM leases WHERE name = ? AND holder = ?");
  q.bind(name).bind(holder);
  return q.run("release lease " + name);
}

Status SqliteStorage::put_alert(const StoredAlert& a) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "INSERT OR REPLACE INTO alerts (id, key, check_name, kind, severity, endpoint_id, subject, expected, "
              "found, fix, firing, first_seen, last_seen, resolved, count) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(a.id)
      .bind(a.key)
      .bind(a.check)
      .bind(a.kind)
      .bind(a.severity)
      .bind(a.endpoint_id)
      .bind(a.subject)
      .bind(a.expected)
      .bind(a.found)
      .bind(a.fix)
      .bind(static_cast<std::int64_t>(a.firing ? 1 : 0))
      .bind(a.first_seen_unix)
      .bind(a.last_seen_unix)
      .bind(a.resolved_unix)
      .bind(a.count);
  return q.run(fmt::format("put alert {}", a.id));
}

Result<std::vector<StoredAlert>> SqliteStorage::load_alerts() {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "SELECT id, key, check_name, kind, severity, endpoint_id, subject, expected, found, fix, firing, "
              "first_seen, last_seen, resolved, count FROM alerts ORDER BY id");
  std::vector<StoredAlert> out;
  while (q.next_row()) {
    StoredAlert a;
    a.id = q.integer(0);
    a.key = q.text(1);
    a.check = q.text(2);
    a.kind = q.text(3);
    a.severity = q.text(4);
    a.endpoint_id = q.text(5);
    a.subject = q.text(6);
    a.expected = q.text(7);
    a.found = q.text(8);
    a.fix = q.text(9);
    a.firing = q.integer(10) != 0;
    a.first_seen_unix = q.integer(11);
    a.last_seen_unix = q.integer(12);
    a.resolved_unix = q.integer(13);
    a.count = q.integer(14);
    out.push_back(std::move(a));
  }
  if (auto st = q.status("load alerts"); !st) return tl::unexpected(st.error());
  return out;
}

Status SqliteStorage::prune_alerts(std::int64_t resolved_before_unix, std::int64_t keep_resolved) {
  std::lock_guard lock(mutex_);
  if (auto st = exec(db_, file_, "BEGIN IMMEDIATE", "prune alerts"); !st) return st;
  constexpr const char* doomed =
      "SELECT id FROM alerts WHERE firing = 0 AND (resolved < ?1 OR id NOT IN "
      "(SELECT id FROM alerts WHERE firing = 0 ORDER BY resolved DESC, id DESC LIMIT ?2))";
  Statement deliveries(db_, file_, fmt::format("DELETE FROM alert_deliveries WHERE alert_id IN ({})", doomed));
  deliveries.bind(resolved_before_unix).bind(keep_resolved);
  Status st = deliveries.run("prune alert deliveries");
  if (st) {
    Statement alerts(db_, file_, fmt::format("DELETE FROM alerts WHERE id IN ({})", doomed));
    alerts.bind(resolved_before_unix).bind(keep_resolved);
    st = alerts.run("prune alerts");
  }
  if (st) st = exec(db_, file_, "COMMIT", "prune alerts");
  if (!st) exec(db_, file_, "ROLLBACK", "prune alerts");
  return st;
}

Status SqliteStorage::put_delivery(const StoredDelivery& d) {
  std::lock_guard lock(mutex_);
  const std::int64_t now = unix_now();
  Statement q(db_, file_,
              "INSERT OR REPLACE INTO alert_deliveries "
              "(alert_id, event, webhook, payload, state, attempts, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(d.alert_id)
      .bind(d.event)
      .bind(d.webhook)
      .bind(d.payload)
      .bind(d.state)
      .bind(d.attempts)
      .bind(d.created_unix != 0 ? d.created_unix : now)
      .bind(d.updated_unix != 0 ? d.updated_unix : now);
  return q.run(fmt::format("put delivery {} {}", d.alert_id, d.event));
}

Result<std::vector<StoredDelivery>> SqliteStorage::load_deliveries(const std::string& state) {
  std::lock_guard lock(mutex_);
  Statement q(db_, file_,
              "SELECT alert_id, event, webhook, payload, state, attempts, created, updated FROM alert_deliveries "
              "WHERE state = ? ORDER BY created, alert_id, event DESC");
  q.bind(state);
  std::vector<StoredDelivery> out;
  while (q.next_row()) {
    StoredDelivery d;
    d.alert_id = q.integer(0);
    d.event = q.text(1);
    d.webhook = q.text(2);
    d.payload = q.text(3);
    d.state = q.text(4);
    d.attempts = q.integer(5);
    d.created_unix = q.integer(6);
    d.updated_unix = q.integer(7);
    out.push_back(std::move(d));
  }
  if (auto st = q.status("load deliveries"); !st) return tl::unexpected(st.error());
  return out;
}

}  // namespace portcullis::certstore
