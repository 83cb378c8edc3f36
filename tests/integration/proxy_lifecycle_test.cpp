// The process seen from outside: certificate hot swap under load, SIGHUP reloads (good and bad),
// SIGTERM draining, and the check-config / version commands.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace fs = std::filesystem;
using boost::beast::http::verb;

FixtureOptions standard_options(const StandardCerts& certs, const UpstreamServer& upstream) {
  FixtureOptions o;
  o.default_cert = certs.default_cert;
  o.fallback_cert = certs.fallback;
  o.certificates = {certs.app, certs.api};
  o.endpoints = {
      {"app", {"app.example.com"}, {upstream.address()}},
      {"api", {"api.example.com"}, {upstream.address()}},
  };
  return o;
}

// Copies a certificate's files over another's paths (key first; the reload happens later).
void install(const CertFiles& from, const CertFiles& over) {
  replace_file(over.key, read_file(from.key));
  replace_file(over.cert, read_file(from.cert));
}

// 1-based line of the first line of `text` that contains `needle`; 0 when none does.
int line_of(const std::string& text, std::string_view needle) {
  int line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (std::string_view(text).substr(start, end - start).find(needle) != std::string_view::npos) return line;
    start = end + 1;
    ++line;
  }
  return 0;
}

int get_status(std::uint16_t port, const std::string& host, const std::string& target) {
  TlsClient client(port, TlsClient::Options{host});
  if (client.connect()) return 0;
  auto req = make_request(verb::get, target, host);
  StringResponse res;
  if (client.request(req, res)) return 0;
  return res.result_int();
}

}  // namespace

// --- hot swap ------------------------------------------------------------------------------------

TEST_CASE("a certificate file replaced and SIGHUP swaps the certificate under a running client loop",
          "[integration][proxy]") {
  StandardCerts certs;
  const auto next = certs.ca.issue({"app.example.com"}, "2002", "app-next");
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));
  REQUIRE(px.served_serial("app.example.com") == certs.app.serial);

  // The loop: connections of 1 or 10 keep-alive requests, bounded in count and time.
  constexpr std::size_t wanted = 2400;
  constexpr auto loop_deadline = 180s;
  std::atomic<bool> swapped{false};
  std::atomic<std::size_t> done{0};
  struct SerialTally {
    std::size_t old_serial_before = 0, new_serial_after = 0, old_serial_after = 0, other_serial = 0;
  } seen;
  LoopTally tally;
  const auto port = px.https_port();
  const auto old_serial = certs.app.serial, new_serial = next.serial;

  std::thread loop([&] {
    tally = run_swap_loop(port, "app.example.com", wanted, loop_deadline, swapped, done,
                          [&](const std::string& serial, bool after_swap) {
                            if (serial == old_serial) {
                              after_swap ? ++seen.old_serial_after : ++seen.old_serial_before;
                            } else if (serial == new_serial) {
                              ++seen.new_serial_after;
                            } else {
                              ++seen.other_serial;
                            }
                          });
  });

  // Swap when a quarter of the loop has run, so that plenty runs before and after.
  const bool started = wait_until([&] { return done.load() >= wanted / 4; }, 60s);
  install(next, certs.app);
  const auto outcome = px.reload();
  swapped = true;
  loop.join();

  INFO("log:\n" << px.log().substr(0, 4000));
  REQUIRE(started);
  REQUIRE(outcome == ReloadOutcome::applied);
  INFO("requests " << tally.requests << ", failures " << tally.failures << ", handshakes " << tally.handshakes
                   << ", keep-alive reuses " << tally.keepalive_reuses << ", old before " << seen.old_serial_before
                   << ", new after " << seen.new_serial_after << ", old after " << seen.old_serial_after
                   << ", other " << seen.other_serial);
  for (std::size_t i = 0; i < std::min<std::size_t>(tally.errors.size(), 5); ++i) INFO(tally.errors[i]);
  CHECK(tally.requests >= 2000);
  CHECK(tally.failures == 0);
  CHECK(tally.keepalive_reuses > 1000);
  CHECK(seen.old_serial_before > 0);
  CHECK(seen.new_serial_after > 0);
  CHECK(seen.old_serial_after == 0);
  CHECK(seen.other_serial == 0);
  CHECK(px.served_serial("app.example.com") == new_serial);
}

// --- reload --------------------------------------------------------------------------------------

TEST_CASE("SIGHUP with a broken config is rejected with file:line and the old config keeps serving",
          "[integration][proxy]") {
  StandardCerts certs;
  const auto next = certs.ca.issue({"app.example.com"}, "3003", "app-next");
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  PortcullisFixture px(options);
  REQUIRE(get_status(px.https_port(), "app.example.com", "/before") == 200);

  // A new endpoint, a new certificate on disk, and one bad value: nothing of it may go live.
  install(next, certs.app);
  // The fixture's own config (its ports) plus one endpoint.
  auto good_text = px.render_config();
  const std::string fresh_endpoint = "[[endpoint]]\nid = \"fresh\"\nhostnames = [\"fresh.example.com\"]\n"
                                     "scope = \"external\"\nupstreams = [\"" + upstream.address() +
                                     "\"]\nip_allowlist = []\nmanaged_https = false\n\n";
  good_text.insert(good_text.find("[demo]"), fresh_endpoint);
  auto broken_text = good_text;
  const auto workers_at = broken_text.find("workers = ");
  broken_text.replace(workers_at, broken_text.find('\n', workers_at) - workers_at, "workers = \"many\"");
  const int bad_line = line_of(broken_text, "workers = \"many\"");
  REQUIRE(bad_line > 0);
  replace_file(px.config_path(), broken_text);

  REQUIRE(px.reload() == ReloadOutcome::rejected);
  const auto log = px.log();
  INFO(log.substr(log.rfind("reload rejected") == std::string::npos ? 0 : log.rfind("reload rejected")));
  const auto where = "portcullis.toml:" + std::to_string(bad_line) + ":";
  CHECK(log.find(where) != std::string::npos);
  CHECK(px.process().running());
  CHECK(get_status(px.https_port(), "app.example.com", "/after-bad-reload") == 200);
  CHECK(get_status(px.https_port(), "fresh.example.com", "/not-yet") == 404);
  CHECK(px.served_serial("app.example.com") == certs.app.serial);

  SECTION("a certificate file that does not parse is rejected too") {
    replace_file(px.config_path(), good_text);
    write_file(certs.app.cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    CHECK(px.reload() == ReloadOutcome::rejected);
    CHECK(get_status(px.https_port(), "fresh.example.com", "/still-not") == 404);
    CHECK(px.served_serial("app.example.com") == certs.app.serial);
    CHECK(get_status(px.https_port(), "app.example.com", "/after-bad-cert") == 200);
  }
  SECTION("fixing the file and SIGHUP again applies all of it") {
    replace_file(px.config_path(), good_text);
    REQUIRE(px.reload() == ReloadOutcome::applied);
    CHECK(get_status(px.https_port(), "fresh.example.com", "/now") == 200);
    CHECK(px.served_serial("app.example.com") == next.serial);
  }
  CHECK(px.process().running());
}

// --- drain ---------------------------------------------------------------------------------------

TEST_CASE("SIGTERM stops accepting and lets an in-flight slow request complete and exits 0", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.limits["drain_timeout"] = "\"20s\"";
  PortcullisFixture px(options);
  const auto port = px.https_port();

  // Connected and handshaken before SIGTERM; the request is in flight at the upstream.
  TlsClient client(port, TlsClient::Options{"app.example.com"});
  REQUIRE(!client.connect());
  auto req = make_request(verb::get, "/slow?ms=3000", "app.example.com");
  REQUIRE(!client.write(req));
  REQUIRE(wait_until([&] { return upstream.head_count() == 1; }, 10s));

  px.process().signal(SIGTERM);
  // Stops accepting while the request is still running.
  CHECK(wait_until([&] { return !can_connect("127.0.0.1", port, 200ms); }, 2s));
  CHECK(px.process().running());

  StringResponse res;
  auto ec = client.read(res);
  INFO("read: " << ec.message());
  CHECK(!ec);
  CHECK(res.result_int() == 200);
  const auto code = px.process().wait_exit(PortcullisFixture::stop_deadline);
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("SIGTERM past drain_timeout still exits 0 without waiting for a stuck request", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.limits["drain_timeout"] = "\"1s\"";
  PortcullisFixture px(options);

  TlsClient client(px.https_port(), TlsClient::Options{"app.example.com"});
  REQUIRE(!client.connect());
  auto req = make_request(verb::get, "/slow?ms=30000", "app.example.com");
  REQUIRE(!client.write(req));
  REQUIRE(wait_until([&] { return upstream.head_count() == 1; }, 10s));

  const auto start = Clock::now();
  const auto code = px.stop(15s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(Clock::now() - start < 10s);
}

TEST_CASE("an idle keep-alive connection does not hold up SIGTERM", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.limits["drain_timeout"] = "\"20s\"";
  PortcullisFixture px(options);

  TlsClient client(px.https_port(), TlsClient::Options{"app.example.com"});
  REQUIRE(!client.connect());
  auto req = make_request(verb::get, "/then-idle", "app.example.com");
  StringResponse res;
  REQUIRE(!client.request(req, res));
  REQUIRE(res.result_int() == 200);

  const auto start = Clock::now();
  const auto code = px.stop(30s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(Clock::now() - start < 10s);
}

// --- commands ------------------------------------------------------------------------------------

TEST_CASE("portcullis check-config accepts every example config", "[integration][proxy]") {
  std::vector<fs::path> examples;
  for (const auto& entry : fs::recursive_directory_iterator(source_dir() / "examples")) {
    if (entry.is_regular_file() && entry.path().extension() == ".toml") examples.push_back(entry.path());
  }
  REQUIRE(!examples.empty());
  for (const auto& file : examples) {
    auto r = run_command({portcullis_binary().string(), "check-config", file.string()}, 30s);
    INFO(file.string() << "\n" << r.err << r.out);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("portcullis check-config rejects a broken file with file:line and exit code 2", "[integration][proxy]") {
  TempDir dir;
  const auto file = dir / "broken.toml";
  struct Case {
    const char* name;
    std::string text;
    int line;
    const char* mentions;
  };
  const std::vector<Case> cases = {
      {"a value of the wrong type", "[server]\ndata_dir = \"var\"\nworkers = \"many\"\n", 3, "workers"},
      {"an unknown key", "[server]\ndata_dir = \"var\"\n\ncolour = \"blue\"\n", 4, "colour"},
      {"an unknown section", "[server]\nworkers = 1\n[surprise]\nx = 1\n", 3, "surprise"},
      {"an address without a port",
       "[[listener]]\nname = \"https\"\naddress = \"80\"\nprotocol = \"https\"\n", 3, "host:port"},
      {"a duration without a unit", "[limits]\nidle_timeout = \"10\"\n", 2, "idle_timeout"},
      {"a CIDR with host bits set",
       "[[endpoint]]\nid = \"app\"\nhostnames = [\"app.example.com\"]\nupstreams = [\"127.0.0.1:9\"]\n"
       "ip_allowlist = [\"10.0.0.1/8\"]\n",
       5, "10.0.0.1/8"},
      {"TOML that does not parse", "[server]\nworkers = = 2\n", 2, ""},
      {"an upstream in the deny list",
       "[[endpoint]]\nid = \"app\"\nhostnames = [\"app.example.com\"]\n\nupstreams = [\"169.254.169.254:80\"]\n", 5,
       "denied by 169.254.0.0/16 of upstreams.deny"},
      {"an upstream at the admin listener",
       "[admin]\nlisten = \"127.0.0.1:9900\"\n[[endpoint]]\nid = \"app\"\nhostnames = [\"app.example.com\"]\n"
       "upstreams = [\"127.0.0.1:9900\"]\n",
       6, "denied by the admin listener 127.0.0.1:9900"},
      {"a wildcard over a public suffix",
       "[[endpoint]]\nid = \"app\"\nhostnames = [\"*.co.uk\"]\nupstreams = [\"127.0.0.1:9\"]\n", 3, "public suffix"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    write_file(file, c.text);
    auto r = run_command({portcullis_binary().string(), "check-config", file.string()}, 30s);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("broken.toml:" + std::to_string(c.line) + ":") != std::string::npos);
    CHECK(r.err.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("portcullis run with a broken config exits 2 before listening", "[integration][proxy]") {
  TempDir dir;
  const auto file = dir / "broken.toml";
  write_file(file, "[server]\nworkers = \"many\"\n");
  auto r = run_command({portcullis_binary().string(), "run", "--config", file.string()}, 30s);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("broken.toml:2:") != std::string::npos);
}

TEST_CASE("a reload that changes start-only settings keeps them and logs that they wait for a restart",
          "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  auto options = standard_options(certs, upstream);
  options.default_cert.reset();  // self-signed, generated in the data folder
  PortcullisFixture px(options);
  const auto before = px.served_serial("unknown.example.org");
  REQUIRE(before);

  TempDir elsewhere("portcullis-other-data");
  options.data_dir = elsewhere / "data";
  options.workers = 3;
  px.rewrite_config(options);
  REQUIRE(px.reload() == ReloadOutcome::applied);
  CHECK(px.log().find("changes take effect after a restart settings=server.data_dir,server.workers") !=
        std::string::npos);
  // The default certificate still comes from the folder in use, and nothing was written elsewhere.
  CHECK(px.served_serial("unknown.example.org") == before);
  CHECK_FALSE(fs::exists(elsewhere / "data"));
  CHECK(get_status(px.https_port(), "app.example.com", "/after-reload") == 200);
}

// --- one process per data folder and per address ------------------------------------------------

TEST_CASE("a second portcullis on the same data folder exits 1 naming the folder and the PID holding it",
          "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  auto second = run_command({portcullis_binary().string(), "run", "--config", px.config_path().string()}, 15s);
  INFO(second.err);
  CHECK_FALSE(second.timed_out);
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("data folder " + (px.dir() / "data").string() + " is in use") != std::string::npos);
  CHECK(second.err.find("pid " + std::to_string(px.process().pid())) != std::string::npos);
  // The first one goes on serving every request alone.
  for (int i = 0; i < 20; ++i) CHECK(get_status(px.https_port(), "app.example.com", "/still-mine") == 200);
}

TEST_CASE("an address another process listens on is refused at start-up, not shared", "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  PortcullisFixture px(standard_options(certs, upstream));

  // The same listeners with a data folder of its own: only the ports are in the way.
  TempDir other("portcullis-second");
  auto config = read_file(px.config_path());
  const auto data_line = config.find("data_dir = ");
  REQUIRE(data_line != std::string::npos);
  config.replace(data_line, config.find('\n', data_line) - data_line,
                 "data_dir = \"" + (other / "data").string() + "\"");
  write_file(other / "second.toml", config);

  auto second = run_command({portcullis_binary().string(), "run", "--config", (other / "second.toml").string()}, 15s);
  INFO(second.err);
  CHECK_FALSE(second.timed_out);
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("127.0.0.1:" + std::to_string(px.https_port()) +
                        ": Address already in use: another process listens there") != std::string::npos);
  for (int i = 0; i < 20; ++i) CHECK(get_status(px.https_port(), "app.example.com", "/still-mine") == 200);
}

TEST_CASE("portcullis version prints the version", "[integration][proxy]") {
  auto r = run_command({portcullis_binary().string(), "version"}, 30s);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(PORTCULLIS_VERSION) != std::string::npos);
}
