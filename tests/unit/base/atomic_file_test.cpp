#include "base/atomic_file.hpp"

#include <filesystem>
#include <fstream>

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"

using namespace portcullis::base;
namespace fs = std::filesystem;

namespace {

using portcullis::testing::file_mode;
using portcullis::testing::TempDir;

}  // namespace

TEST_CASE("a secret file is written with mode 0600 whatever the umask", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "key.pem";
  mode_t old = ::umask(0);
  auto st = write_secret_file(file, SecretBytes("secret material"));
  ::umask(old);
  REQUIRE(st);
  CHECK(file_mode(file) == 0600);
  auto back = read_secret_file(file);
  REQUIRE(back);
  CHECK(back->reveal() == "secret material");
}

TEST_CASE("an atomic write replaces the file and leaves no temporary behind", "[unit][certstore]") {
  TempDir dir;
  auto file = dir.path() / "cert.pem";
  mode_t old = ::umask(077);
  REQUIRE(write_file_atomic(file, "first", 0644));
  ::umask(old);
  CHECK(file_mode(file) == 0644);
  REQUIRE(write_file_atomic(file, "second, longer", 0644));
  auto back = read_file(file);
  REQUIRE(back);
  CHECK(*back == "second, longer");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("file errors name the path and the system's reason", "[unit][certstore]") {
  TempDir dir;
  SECTION("reading a missing file") {
    auto missing = dir.path() / "missing.pem";
    auto r = read_file(missing);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == portcullis::Errc::io);
    CHECK(r.error().message() == missing.string() + ": No such file or directory");
  }
  SECTION("writing into a missing directory") {
    auto target = dir.path() / "nope" / "key.pem";
    auto st = write_secret_file(target, SecretBytes("do not print me"));
    REQUIRE_FALSE(st);
    CHECK_THAT(st.error().message(), Catch::Contains((dir.path() / "nope").string()) &&
                                         Catch::Contains("No such file or directory"));
    CHECK(st.error().message().find("do not print me") == std::string::npos);
  }
  SECTION("reading a directory") {
    auto r = read_file(dir.path());
    REQUIRE_FALSE(r);
    CHECK(r.error().message() == dir.path().string() + ": is a directory");
  }
}

TEST_CASE("empty and large files round-trip", "[unit][certstore]") {
  TempDir dir;
  REQUIRE(write_file_atomic(dir.path() / "empty", "", 0644));
  CHECK(read_file(dir.path() / "empty").value().empty());
  std::string big(1 << 20, 'x');
  REQUIRE(write_file_atomic(dir.path() / "big", big, 0644));
  CHECK(read_file(dir.path() / "big").value() == big);
}
