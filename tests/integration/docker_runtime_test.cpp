// The container image's runtime stage installs every Debian package whose shared library the
// binary loads: `ldd` on the built binary, `dpkg -S` for each library's package, and the
// Dockerfile's runtime `apt-get install` line (with what those packages depend on, and what the
// base image ships). No container engine is needed.
#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tests/support/process.hpp"

namespace portcullis::testing {
namespace {

constexpr Millis command_deadline = 20s;

// What debian:12-slim has before any apt-get install (its essential set) that a C++ binary loads.
const std::set<std::string> base_image_packages = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1",
                                                   "liblzma5", "libbz2-1.0", "libselinux1", "libpcre2-8-0"};

// The words of the `apt-get install` command in the last stage (FROM ... after the last FROM),
// joined across continuation lines; options (-y, --no-install-recommends) left out.
std::set<std::string> runtime_stage_packages(const std::string& dockerfile) {
  const auto last_from = dockerfile.rfind("\nFROM ");
  REQUIRE(last_from != std::string::npos);
  std::string stage = dockerfile.substr(last_from);
  // Continuations: "\\\n" joins two lines.
  stage = std::regex_replace(stage, std::regex("\\\\\n"), " ");
  std::set<std::string> out;
  std::istringstream lines(stage);
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("apt-get install");
    if (at == std::string::npos) continue;
    std::istringstream words(line.substr(at + std::string_view("apt-get install").size()));
    for (std::string word; words >> word;) {
      if (word == "&&" || word == ";") break;
      if (!word.starts_with("-")) out.insert(word);
    }
  }
  return out;
}

// The packages `packages` need, installed here (dpkg's Depends and Pre-Depends, recursively): apt
// installs them with the named ones.
std::set<std::string> with_dependencies(std::set<std::string> packages) {
  std::vector<std::string> todo(packages.begin(), packages.end());
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    auto res = run_command({"dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", name}, command_deadline);
    if (res.exit_code != 0) continue;  // not installed on this host: nothing more to learn
    // "libc6 (>= 2.34), libssl3 (>= 3.0.0) | libfoo, ..." -> every alternative's name.
    static const std::regex name_re("(^|[,|]\\s*)([a-z0-9][a-z0-9+.-]+)");
    for (auto it = std::sregex_iterator(res.out.begin(), res.out.end(), name_re); it != std::sregex_iterator(); ++it) {
      std::string dep = (*it)[2].str();
      if (packages.insert(dep).second) todo.push_back(dep);
    }
  }
  return packages;
}

// "libldns.so.3 => /lib/x86_64-linux-gnu/libldns.so.3 (0x...)" -> {libldns.so.3, path}.
std::vector<std::pair<std::string, std::string>> linked_libraries(const std::filesystem::path& binary) {
  auto res = run_command({"ldd", binary.string()}, command_deadline);
  REQUIRE(res.exit_code == 0);
  std::vector<std::pair<std::string, std::string>> out;
  static const std::regex line_re("^\\s*(\\S+) => (/\\S+) \\(");
  std::istringstream lines(res.out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, line_re)) out.emplace_back(m[1].str(), m[2].str());
  }
  return out;
}

// The package owning `path` ("libldns3:amd64: /usr/lib/..." -> "libldns3"); with merged /usr a
// library found under /lib is known to dpkg under /usr/lib, or the other way round.
std::string owning_package(const std::string& path) {
  std::vector<std::string> candidates{path, std::filesystem::weakly_canonical(path).string()};
  if (path.starts_with("/lib")) candidates.push_back("/usr" + path);
  if (path.starts_with("/usr/lib")) candidates.push_back(path.substr(4));
  for (const auto& candidate : candidates) {
    auto res = run_command({"dpkg", "-S", candidate}, command_deadline);
    if (res.exit_code != 0) continue;
    const auto colon = res.out.find_first_of(":");
    if (colon != std::string::npos) return res.out.substr(0, colon);
  }
  return {};
}

}  // namespace

TEST_CASE("the container's runtime stage installs the package of every library the binary loads",
          "[integration][docker]") {
  const auto dockerfile = read_file(source_dir() / "Dockerfile");
  const auto listed = runtime_stage_packages(dockerfile);
  REQUIRE(!listed.empty());
  auto installed = with_dependencies(listed);
  installed.insert(base_image_packages.begin(), base_image_packages.end());

  const auto libraries = linked_libraries(portcullis_binary());
  REQUIRE(libraries.size() >= 5);
  std::vector<std::string> missing;
  for (const auto& [soname, path] : libraries) {
    const std::string package = owning_package(path);
    INFO(soname << " at " << path);
    CHECK(!package.empty());
    if (!package.empty() && !installed.contains(package)) missing.push_back(package + " (" + soname + ")");
  }
  INFO("the Dockerfile's runtime stage does not install: " << fmt::format("{}", fmt::join(missing, ", ")));
  CHECK(missing.empty());
}

TEST_CASE("the container runs as a non-root user with the capability to bind ports below 1024",
          "[integration][docker]") {
  const auto dockerfile = read_file(source_dir() / "Dockerfile");
  const auto stage = dockerfile.substr(dockerfile.rfind("\nFROM "));
  CHECK(stage.find("setcap cap_net_bind_service=+ep /usr/local/bin/portcullis") != std::string::npos);
  CHECK(stage.find("\nUSER portcullis") != std::string::npos);
  CHECK(runtime_stage_packages(dockerfile).contains("libcap2-bin"));
}

}  // namespace portcullis::testing
