// Keeps tests/data/gen-certs.sh and its README honest: every identity it makes parses as a
// CertBundle with the names, serial and issuer the README lists.
#include <cstdlib>
#include <filesystem>

#include <catch2/catch.hpp>

#include "base/atomic_file.hpp"
#include "certstore/cert_bundle.hpp"
#include "tests/support/process.hpp"

using namespace portcullis::base;
using namespace portcullis::certstore;
namespace fs = std::filesystem;

namespace {

struct Identity {
  const char* file;
  std::vector<std::string> names;
  const char* serial;  // nullptr: random
  const char* issuer_cn;
  bool expired;
};

}  // namespace

TEST_CASE("the test PKI script makes every identity its README names", "[unit][certstore]") {
  const portcullis::testing::TempDir temp("portcullis-pki");
  const fs::path& dir = temp.path();

  std::string command = std::string("sh '") + portcullis::testing::source_dir().string() + "/tests/data/gen-certs.sh' '" + dir.string() +
                        "' > '" + (dir / "log").string() + "' 2>&1";
  int rc = std::system(command.c_str());
  INFO(read_file(dir / "log").value_or("(no log)"));
  REQUIRE(rc == 0);

  const std::vector<Identity> identities = {
      {"root-ca", {"portcullis test root ca"}, nullptr, "Portcullis Test Root CA", false},
      {"intermediate", {"portcullis test intermediate"}, "1000", "Portcullis Test Root CA", false},
      {"app.example.com", {"app.example.com"}, "1001", "Portcullis Test Intermediate", false},
      {"wildcard.example.com", {"*.example.com"}, "1002", "Portcullis Test Intermediate", false},
      {"fallback", {"*.edge.example.net"}, "1003", "Portcullis Test Intermediate", false},
      {"expired.example.com", {"expired.example.com"}, "1004", "Portcullis Test Intermediate", true},
      {"rsa.example.com", {"rsa.example.com"}, "1005", "Portcullis Test Intermediate", false},
  };
  auto now = Clock::now();
  for (const auto& id : identities) {
    INFO("identity " << id.file);
    auto chain = read_file(dir / (std::string(id.file) + ".crt"));
    auto key = read_secret_file(dir / (std::string(id.file) + ".key"));
    REQUIRE(chain);
    REQUIRE(key);
    auto bundle = CertBundle::from_pem(*chain, *key, CertSource::transitional, id.file);
    REQUIRE(bundle);
    CHECK((*bundle)->names() == id.names);
    if (id.serial != nullptr) CHECK((*bundle)->serial_hex() == id.serial);
    CHECK((*bundle)->issuer_cn() == id.issuer_cn);
    CHECK((*bundle)->expired(now) == id.expired);
    bool is_leaf = std::string(id.file) != "root-ca" && std::string(id.file) != "intermediate";
    if (is_leaf) {
      CHECK((*bundle)->intermediates().size() == 1);
      auto st = (*bundle)->validate(now, id.names);
      CHECK(bool(st) == !id.expired);
    }
  }
}
