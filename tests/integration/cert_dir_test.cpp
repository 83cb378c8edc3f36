// Certificate folders ([[certificate_dir]]) seen from outside: files served by SNI at start, then
// replaced by rename, deleted, broken and added while the binary runs, each change picked up by
// inotify with no signal, checked with openssl s_client and curl.
#define CATCH_CONFIG_ENABLE_OPTIONAL_STRINGMAKER
#include <catch2/catch.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "tests/support/portcullis_fixture.hpp"
#include "tests/support/test_certs.hpp"
#include "tests/support/upstream_server.hpp"

namespace {

using namespace portcullis::testing;
namespace fs = std::filesystem;

// How long a change to a watched folder may take to be served (it is one inotify wake-up; the
// deadline covers a slow machine).
constexpr Millis folder_change_deadline = 10s;

// The chain and the key of `files` in one PEM text, as a certificate folder holds them.
std::string combined(const CertFiles& files) { return read_file(files.cert) + read_file(files.key); }

struct FolderSetup {
  StandardCerts certs;
  UpstreamServer upstream;
  TempDir folder{"portcullis-certdir"};
  CertFiles one = certs.ca.issue({"one.example.com"}, "2001", "one");
  CertFiles two = certs.ca.issue({"two.example.com", "two-alias.example.com"}, "2002", "two");
  CertFiles three = certs.ca.issue({"*.three.example.com"}, "2003", "three");

  FolderSetup() {
    write_file(folder.path() / "one.pem", combined(one));
    // Key first: blocks may come in any order.
    write_file(folder.path() / "two.pem", read_file(two.key) + read_file(two.cert));
    write_file(folder.path() / "three.pem", combined(three));
    write_file(folder.path() / "README.txt", "not a certificate: ignored\n");
  }

  FixtureOptions options() const {
    FixtureOptions o;
    o.default_cert = certs.default_cert;
    o.fallback_cert = certs.fallback;
    o.certificates = {certs.app};
    o.certificate_dirs = {folder.path()};
    o.endpoints = {{"one", {"one.example.com"}, {upstream.address()}}};
    return o;
  }
};

}  // namespace

TEST_CASE("a certificate folder is served by SNI and follows files renamed in, deleted and added",
          "[integration][proxy]") {
  FolderSetup s;
  PortcullisFixture px(s.options());
  INFO("log:\n" << px.log().substr(0, 6000));
  CHECK(px.served_serial("one.example.com") == s.one.serial);
  CHECK(px.served_serial("two-alias.example.com") == s.two.serial);
  CHECK(px.served_serial("x.three.example.com") == s.three.serial);
  CHECK(px.served_serial("app.example.com") == s.certs.app.serial);  // [[certificate]] still served

  // A real client verifies the chain served from the folder against the CA.
  auto res = px.curl("one.example.com", "/", {"--cacert", s.certs.ca.cert().string()});
  CHECK(res.exit_code == 0);
  CHECK(res.status == 200);

  SECTION("a file replaced by rename serves the new certificate") {
    const auto next = s.certs.ca.issue({"one.example.com"}, "2011", "one-next");
    replace_file(s.folder.path() / "one.pem", combined(next));
    CHECK(wait_until([&] { return px.served_serial("one.example.com") == next.serial; }, folder_change_deadline));
    CHECK(px.served_serial("two.example.com") == s.two.serial);
  }
  SECTION("a deleted file's names fall back to the default certificate") {
    fs::remove(s.folder.path() / "two.pem");
    CHECK(wait_until([&] { return px.served_serial("two.example.com") == s.certs.default_cert.serial; },
                     folder_change_deadline));
    CHECK(px.served_serial("two-alias.example.com") == s.certs.default_cert.serial);
    CHECK(px.served_serial("one.example.com") == s.one.serial);
  }
  SECTION("a file added to the folder is served") {
    const auto four = s.certs.ca.issue({"four.example.com"}, "2004", "four");
    replace_file(s.folder.path() / "four.pem", combined(four));
    CHECK(wait_until([&] { return px.served_serial("four.example.com") == four.serial; }, folder_change_deadline));
  }
  SECTION("a file written in place is served once it is closed") {
    const auto next = s.certs.ca.issue({"*.three.example.com"}, "2013", "three-next");
    write_file(s.folder.path() / "three.pem", combined(next));
    CHECK(wait_until([&] { return px.served_serial("a.three.example.com") == next.serial; },
                     folder_change_deadline));
  }
  SECTION("SIGHUP reads the folder again and keeps serving it") {
    REQUIRE(px.reload() == ReloadOutcome::applied);
    CHECK(px.served_serial("one.example.com") == s.one.serial);
    CHECK(px.served_serial("x.three.example.com") == s.three.serial);
  }
}

TEST_CASE("a broken file in a certificate folder is logged with its path and the previous certificate stays",
          "[integration][proxy]") {
  FolderSetup s;
  PortcullisFixture px(s.options());
  const auto file = (s.folder.path() / "two.pem").string();
  REQUIRE(px.served_serial("two.example.com") == s.two.serial);

  SECTION("a malformed file") {
    std::string text = combined(s.two);
    text.resize(text.size() / 2);  // cut inside a block
    replace_file(file, text);
    CHECK(wait_until([&] { return px.log().find("certificate file rejected file=" + file) != std::string::npos; },
                     folder_change_deadline));
    INFO("log:\n" << px.log());
    CHECK(px.log().find("has no END line") != std::string::npos);
  }
  SECTION("a key that does not match the certificate") {
    replace_file(file, read_file(s.two.cert) + read_file(s.one.key));
    CHECK(wait_until([&] { return px.log().find("certificate file rejected file=" + file) != std::string::npos; },
                     folder_change_deadline));
    INFO("log:\n" << px.log());
    CHECK(px.log().find(file + ": private key does not match the certificate") != std::string::npos);
  }
  // The broken file's previous certificate and every other file keep serving.
  CHECK(px.served_serial("two.example.com") == s.two.serial);
  CHECK(px.served_serial("one.example.com") == s.one.serial);
  CHECK(px.served_serial("x.three.example.com") == s.three.serial);
  // A later good version of the same file is picked up.
  const auto next = s.certs.ca.issue({"two.example.com"}, "2012", "two-next");
  replace_file(file, combined(next));
  CHECK(wait_until([&] { return px.served_serial("two.example.com") == next.serial; }, folder_change_deadline));
}

TEST_CASE("portcullis does not start when a file of a certificate folder is broken, and says which and why",
          "[integration][proxy]") {
  FolderSetup s;
  const auto file = (s.folder.path() / "three.pem").string();
  write_file(file, read_file(s.three.cert));  // no key
  std::string error;
  try {
    PortcullisFixture px(s.options());
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  INFO(error);
  CHECK(error.find("certificate_dir: " + file + ": no private key in input") != std::string::npos);
}

// A folder this large is read deferred: facts at start, the full parse in the background after it
// (CertBundle::from_combined_pem_deferred). A file whose key does not match its certificate no
// longer stops the start: the background check reports it and it is never served.
using portcullis::testing::IssueOptions;
using portcullis::testing::TestCa;

TEST_CASE("a large certificate folder starts from the certificates' facts and checks every file in the background",
          "[integration][proxy]") {
  StandardCerts certs;
  UpstreamServer upstream;
  TempDir folder{"portcullis-certdir-large"};
  const auto ca = TestCa::create("Large Folder Test CA");
  constexpr int files = 300;
  constexpr int broken = 150;
  std::vector<std::string> serials;
  for (int i = 0; i < files; ++i) {
    IssueOptions o;
    o.names = {fmt::format("h{:03}.large.example.com", i)};
    auto cert = ca.issue(o);
    serials.push_back(cert.serial_hex);
    std::string key(cert.key_pem.reveal());
    if (i == broken) key = std::string(ca.issue(o).key_pem.reveal());  // another certificate's key
    write_file(folder.path() / fmt::format("{:03}.pem", i), cert.chain_pem + key);
  }
  FixtureOptions o;
  o.default_cert = certs.default_cert;
  o.certificate_dirs = {folder.path()};
  o.endpoints = {{"large", {"*.large.example.com"}, {upstream.address()}}};
  PortcullisFixture px(o);
  INFO("log:\n" << px.log().substr(0, 6000));

  const std::string broken_file = (folder.path() / fmt::format("{:03}.pem", broken)).string();
  CHECK(wait_until([&] { return px.log().find(fmt::format("certificates verified count={} failed=1", files)) !=
                                std::string::npos; },
                   30s));
  CHECK(px.log().find("certificate unusable origin=" + broken_file +
                      " error=\"" + broken_file + ": private key does not match the certificate\"") != std::string::npos);
  auto digits = [](std::optional<std::string> serial) {  // as hex digits without leading zeros
    std::string s = serial.value_or("none");
    s.erase(0, std::min(s.find_first_not_of('0'), s.size() - 1));
    return s;
  };
  CHECK(digits(px.served_serial("h000.large.example.com")) == digits(serials[0]));
  CHECK(digits(px.served_serial("h299.large.example.com")) == digits(serials[299]));
  CHECK(digits(px.served_serial(fmt::format("h{:03}.large.example.com", broken))) ==
        digits(certs.default_cert.serial));
  // The key is never in the log.
  CHECK(px.log().find("PRIVATE KEY") == std::string::npos);
}
