// The admin listener's own defences, against the real binary: TLS with the configured certificate
// under the project's TLS policy, the Host check against DNS rebinding (421), the token file's and
// key file's permissions and the token's length checked at start, and an internal error answered
// without its internal text (the SQLite message and the store's path stay in the log).
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace fs = std::filesystem;
namespace json = boost::json;

constexpr Millis curl_deadline = 15s;

FixtureOptions admin_options(const StandardCerts& certs, const UpstreamServer& upstream) {
  FixtureOptions o;
  o.admin = true;
  o.log_level = "info";
  o.default_cert = certs.default_cert;
  o.endpoints = {{"app", {"app.example.com"}, {upstream.address()}}};
  return o;
}

// The text of the exception a fixture that does not come up throws (its stderr included).
std::string start_failure(FixtureOptions options) {
  try {
    PortcullisFixture px(std::move(options));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(it started)";
}

// curl https://admin.test:<port><path>, resolved to 127.0.0.1, trusting `ca`; "<status>\n<body>".
CommandResult curl_admin_tls(std::uint16_t port, const std::string& path, const fs::path& ca,
                             std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "10", "--cacert", ca.string(), "--resolve",
                                fmt::format("admin.test:{}:127.0.0.1", port), "-w", "\n%{http_code}"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(fmt::format("https://admin.test:{}{}", port, path));
  return run_command(argv, curl_deadline);
}

int status_of(const CommandResult& r) {
  const auto nl = r.out.rfind('\n');
  return nl == std::string::npos ? 0 : std::atoi(r.out.c_str() + nl + 1);
}

}  // namespace

TEST_CASE("the admin API speaks TLS with its configured certificate and the project's TLS policy",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  CertFiles admin_cert = certs.ca.issue({"admin.test"}, "2001", "admin");
  fs::permissions(admin_cert.key, fs::perms::owner_read | fs::perms::owner_write);
  auto options = admin_options(certs, upstream);
  options.extra_toml = fmt::format("cert_file = \"{}\"\nkey_file = \"{}\"\nallowed_hosts = [\"admin.test\"]\n",
                                   admin_cert.cert.string(), admin_cert.key.string());
  PortcullisFixture px(options);
  const std::string token = px.admin_token();

  auto health = curl_admin_tls(px.admin_port(), "/healthz", certs.ca.cert());
  INFO(health.out << health.err);
  CHECK(status_of(health) == 200);
  auto list = curl_admin_tls(px.admin_port(), "/api/v1/endpoints", certs.ca.cert(),
                             {"-H", "Authorization: Bearer " + token});
  CHECK(status_of(list) == 200);
  CHECK(list.out.find("\"app\"") != std::string::npos);
  // The listener's policy: nothing below TLS 1.2.
  CHECK(curl_admin_tls(px.admin_port(), "/healthz", certs.ca.cert(), {"--tls-max", "1.1"}).exit_code != 0);
  // Plain HTTP gets no answer.
  CHECK(px.admin("GET", "/healthz", std::nullopt).status == 0);
  // allowed_hosts replaces the defaults: 127.0.0.1 is not a name this listener answers for.
  auto by_address = curl_admin_tls(px.admin_port(), "/healthz", certs.ca.cert(),
                                   {"-H", fmt::format("Host: 127.0.0.1:{}", px.admin_port())});
  CHECK(status_of(by_address) == 421);
  const auto log = px.log();
  CHECK(log.find(fmt::format("admin API listening url=https://127.0.0.1:{}", px.admin_port())) != std::string::npos);
  CHECK(log.find("without TLS") == std::string::npos);
}

TEST_CASE("an admin key file the group or others can read is refused at start, naming the file and the fix",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  CertFiles admin_cert = certs.ca.issue({"admin.test"}, "2002", "admin");
  fs::permissions(admin_cert.key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                      fs::perms::others_read);
  auto options = admin_options(certs, upstream);
  options.extra_toml =
      fmt::format("cert_file = \"{}\"\nkey_file = \"{}\"\n", admin_cert.cert.string(), admin_cert.key.string());
  const auto failure = start_failure(options);
  CHECK_THAT(failure, Catch::Contains(fmt::format("admin.key_file: {}: mode 0644 lets the group or others read it",
                                                  admin_cert.key.string())));
  CHECK_THAT(failure, Catch::Contains("chmod 600 " + admin_cert.key.string()));
}

TEST_CASE("a Host the admin listener does not answer for is refused with 421, even with the token (DNS rebinding)",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(admin_options(certs, upstream));
  const std::string token = px.admin_token();
  const std::string port = std::to_string(px.admin_port());

  // The defaults: the listen address and the loopback names, with the port.
  CHECK(px.admin("GET", "/api/v1/endpoints", token).status == 200);
  CHECK(px.admin("GET", "/api/v1/endpoints", token, {}, {"-H", "Host: localhost:" + port}).status == 200);
  for (const std::string& host : std::vector<std::string>{"rebind.attacker.example:" + port, "127.0.0.1:1", "localhost",
                                                           "127.0.0.1"}) {
    INFO(host);
    auto refused = px.admin("GET", "/api/v1/endpoints", token, {}, {"-H", "Host: " + host});
    CHECK(refused.status == 421);
    CHECK(refused.header("content-type") == std::optional<std::string>("application/problem+json"));
    CHECK(refused.body.find("allowed_hosts") != std::string::npos);
    CHECK(refused.body.find("\"app\"") == std::string::npos);
  }
  // The dashboard's page too: a rebinding page cannot read it.
  CHECK(px.admin("GET", "/", std::nullopt, {}, {"-H", "Host: rebind.attacker.example:" + port}).status == 421);
  // The refused value is logged escaped: a line separator in it does not start a new line.
  px.admin("GET", "/healthz", std::nullopt, {}, {"-H", "Host: evil.example\xE2\x80\xA8" "forged=1"});
  const auto log = px.log();
  CHECK(log.find("host=evil.example\\u2028forged=1") != std::string::npos);
  CHECK(log.find("evil.example\xE2\x80\xA8") == std::string::npos);
  CHECK(log.find(token) == std::string::npos);
}

TEST_CASE("a token_file others can read, or shorter than 32 characters, is refused at start with the fix",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  TempDir dir{"portcullis-token"};
  const auto file = dir.path() / "admin.token";
  auto options = admin_options(certs, upstream);
  options.extra_toml = fmt::format("token_file = \"{}\"\n", file.string());

  SECTION("readable by others") {
    write_file(file, std::string(48, 'a') + "\n");
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
    const auto failure = start_failure(options);
    CHECK_THAT(failure, Catch::Contains(fmt::format("admin.token_file: {}: mode 0644 lets the group or others read "
                                                    "it; expected 0600 (run: chmod 600 {})",
                                                    file.string(), file.string())));
    CHECK_THAT(failure, !Catch::Contains(std::string(48, 'a')));
  }
  SECTION("too short") {
    write_file(file, "short-token\n");
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    const auto failure = start_failure(options);
    CHECK_THAT(failure, Catch::Contains(fmt::format(
                            "admin.token_file: {}: expected a token of at least 32 characters, got 11", file.string())));
    CHECK_THAT(failure, !Catch::Contains("short-token\n"));
  }
  SECTION("owner-only and long enough: it starts and the token works") {
    const std::string token(40, 'k');
    write_file(file, token + "\n");
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
    PortcullisFixture px(options);
    CHECK(px.admin("GET", "/api/v1/endpoints", token).status == 200);
  }
}

TEST_CASE("a storage failure is answered 500 with a reference; the SQLite message and the path stay in the log",
          "[integration][admin]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(admin_options(certs, upstream));
  const std::string token = px.admin_token();
  const auto store = px.data_dir() / "portcullis.db";
  REQUIRE(fs::exists(store));

  // Another connection holds the store's write lock past the binary's busy timeout (5 s): its
  // insert fails with SQLite's "database is locked".
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(store.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const std::string body = json::serialize(json::object{{"id", "locked"},
                                                        {"hostnames", json::array{"locked.example.com"}},
                                                        {"upstreams", json::array{upstream.address()}},
                                                        {"managed_https", false}});
  auto failed = px.admin("POST", "/api/v1/endpoints", token, body);
  sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);

  INFO(failed.body);
  REQUIRE(failed.status == 500);
  auto doc = json::parse(failed.body).as_object();
  const std::string reference(doc.at("reference").as_string());
  CHECK(reference.size() == 16);
  CHECK(failed.body.find("locked") == std::string::npos);
  CHECK(failed.body.find(px.data_dir().string()) == std::string::npos);
  CHECK(failed.body.find("portcullis.db") == std::string::npos);
  // The operator finds the reason under the reference.
  const auto lines = lines_with(px.log(), "reference=" + reference);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("database is locked") != std::string::npos);
  // Validation errors keep their useful text.
  auto invalid = px.admin("POST", "/api/v1/endpoints", token, R"({"hostnames": ["bad name"]})");
  CHECK(invalid.status == 422);
  CHECK(invalid.body.find("reference") == std::string::npos);
}
