// The include rule of docs/design-notes.md ("Layout: a room per concern"): one folder per concern,
// and an #include may only point down the list base → domain → certstore → acme → dns → control →
// admin → proxy → app, with proxy/ (the data plane) never reaching acme/, control/, admin/ or app/.
// Each folder's code lives in its own namespace, portcullis::<folder>. Reads the sources under the source tree (testing::source_dir()).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"

namespace fs = std::filesystem;

namespace {

// Folder -> the folders its files may include besides their own. The order of the table in
// docs/design-notes.md and README.md.
const std::map<std::string, std::set<std::string>>& allowed_includes() {
  static const std::map<std::string, std::set<std::string>> table{
      {"base", {}},
      {"domain", {"base"}},
      {"certstore", {"base", "domain"}},
      {"acme", {"base", "domain", "certstore"}},
      {"dns", {"base", "domain", "certstore"}},
      {"control", {"base", "domain", "certstore", "acme", "dns"}},
      {"admin", {"base", "domain", "certstore", "acme", "dns", "control"}},
      {"proxy", {"base", "domain", "certstore"}},
      {"app", {"base", "domain", "certstore", "acme", "dns", "control", "admin", "proxy"}},
  };
  return table;
}

// Namespaces a folder's files may open besides portcullis::<folder> and its nested namespaces:
// the `portcullis` aliases of Error/Result and the folder loggers live in base/.
const std::map<std::string, std::set<std::string>>& extra_namespaces() {
  static const std::map<std::string, std::set<std::string>> table{
      {"base", {"portcullis", "portcullis::log"}},
  };
  return table;
}

// Problems of one file of `folder`, each as "path:line: ...". `path` is for messages only.
std::vector<std::string> check_file(const std::string& folder, const std::string& path, const std::string& text) {
  static const std::regex include_re(R"(^\s*#\s*include\s*"([^"/]+)/[^"]*")");
  static const std::regex namespace_re(R"(^\s*namespace\s+(portcullis(::[A-Za-z_0-9]+)*)\s*\{)");
  const auto& may_include = allowed_includes().at(folder);
  const auto extra = extra_namespaces().count(folder) ? extra_namespaces().at(folder) : std::set<std::string>{};
  const std::string own_namespace = "portcullis::" + folder;

  std::vector<std::string> problems;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::smatch m;
    if (std::regex_search(line, m, include_re)) {
      const std::string target = m[1];
      if (target != folder && !may_include.count(target)) {
        std::string allowed;
        for (const auto& f : may_include) allowed += (allowed.empty() ? "" : ", ") + f + "/";
        problems.push_back(path + ":" + std::to_string(number) + ": includes " + target + "/; " + folder +
                           "/ may include " + (allowed.empty() ? "no other folder" : "only " + allowed));
      }
    }
    if (std::regex_search(line, m, namespace_re)) {
      const std::string ns = m[1];
      const bool own = ns == own_namespace || ns.rfind(own_namespace + "::", 0) == 0;
      if (!own && !extra.count(ns)) {
        problems.push_back(path + ":" + std::to_string(number) + ": opens namespace " + ns + ", expected " +
                           own_namespace);
      }
    }
  }
  return problems;
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_source(const fs::path& p) { return p.extension() == ".hpp" || p.extension() == ".cpp"; }

}  // namespace

TEST_CASE("every include in the source tree points down the layout", "[unit][layout]") {
  const fs::path root = portcullis::testing::source_dir();
  std::vector<std::string> problems;
  std::size_t files = 0;
  for (const auto& [folder, _] : allowed_includes()) {
    REQUIRE(fs::is_directory(root / folder));
    for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
      if (!entry.is_regular_file() || !is_source(entry.path())) continue;
      ++files;
      auto found = check_file(folder, fs::relative(entry.path(), root).string(), read_all(entry.path()));
      problems.insert(problems.end(), found.begin(), found.end());
    }
  }
  std::sort(problems.begin(), problems.end());
  std::string report;
  for (const auto& p : problems) report += p + "\n";
  INFO(report);
  CHECK(files > 50);
  CHECK(problems.empty());
}

TEST_CASE("every folder holding product sources is in the layout table", "[unit][layout]") {
  const fs::path root = portcullis::testing::source_dir();
  const std::set<std::string> not_product{"tests", "bench", "examples", "docs"};
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    const std::string name = dir.path().filename().string();
    if (name.starts_with(".") || name.starts_with("build") || not_product.count(name)) continue;
    bool has_sources = false;
    for (const auto& entry : fs::directory_iterator(dir.path())) has_sources |= is_source(entry.path());
    INFO(name + "/ holds sources but has no row in the layout table (tests/unit/layout_test.cpp)");
    CHECK((!has_sources || allowed_includes().count(name)));
  }
}

TEST_CASE("the layout check names the file and line of an include against the direction", "[unit][layout]") {
  SECTION("the data plane may not include the control plane") {
    auto problems = check_file("proxy", "proxy/worker.hpp",
                               "#pragma once\n\n#include \"certstore/cert_registry.hpp\"\n"
                               "#include \"control/certificate_manager.hpp\"\n");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] ==
          "proxy/worker.hpp:4: includes control/; proxy/ may include only base/, certstore/, domain/");
  }
  SECTION("base includes nothing else from the tree") {
    auto problems = check_file("base", "base/error.hpp", "#include \"base/ossl.hpp\"\n#include \"domain/cidr.hpp\"\n");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] == "base/error.hpp:2: includes domain/; base/ may include no other folder");
  }
  SECTION("app may include everything; system headers are not checked") {
    CHECK(check_file("app", "app/server.cpp",
                     "#include <boost/asio.hpp>\n#include \"acme/issuer.hpp\"\n#include \"control/dir_watcher.hpp\"\n"
                     "#include \"proxy/worker.hpp\"\n")
              .empty());
  }
  SECTION("a file opens only its own folder's namespace") {
    auto problems = check_file("control", "control/dir_watcher.cpp",
                               "namespace portcullis::control {\n}\nnamespace portcullis::proxy {\n}\n");
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] == "control/dir_watcher.cpp:3: opens namespace portcullis::proxy, expected portcullis::control");
  }
}
