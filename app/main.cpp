// portcullis: run | check-config | dns-check | version.
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "app/dns_check.hpp"
#include "app/server.hpp"
#include "app/toml_config.hpp"
#include "base/logging.hpp"
#include "dns/delegation_check.hpp"
#include "dns/resolver_address.hpp"

namespace {

// Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.
constexpr int exit_config_error = 2;

void print_try_next(const portcullis::domain::Config& config) {
  const std::string admin = config.admin.listen.to_string();
  std::fprintf(stderr,
               "\nPortcullis is running on its embedded defaults (data in %s/).\n"
               "Try:\n"
               "  curl -k https://localhost:8443/          # proxied to the demo upstream\n"
               "  curl -i http://localhost:8080/           # redirected to https\n"
               "  openssl s_client -connect 127.0.0.1:8443 -servername localhost </dev/null\n"
               "  kdig @127.0.0.1 -p 8053 wiki.portcullis.test A   # the demo platform zone, served here\n"
               "  curl -H \"Authorization: Bearer $(cat %s/admin-token)\" http://%s/api/v1/endpoints\n"
               "Dashboard: http://%s/ (it asks for the token in %s/admin-token)\n"
               "Stop with Ctrl-C (drains in-flight requests). There is no file to reload: for a configuration\n"
               "of your own, start from examples/portcullis.toml and run with --config FILE.\n\n",
               config.server.data_dir.string().c_str(), config.server.data_dir.string().c_str(), admin.c_str(),
               admin.c_str(), config.server.data_dir.string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace portcullis;
  CLI::App app{"Portcullis: an edge proxy with managed HTTPS", "portcullis"};
  app.require_subcommand(1);

  std::string config_file;
  auto* run = app.add_subcommand("run", "Run the proxy (embedded defaults without --config)");
  run->add_option("-c,--config", config_file, "Configuration file (TOML)")->check(CLI::ExistingFile);
  std::string acme_directory, acme_ca_bundle;
  run->add_option("--acme-directory", acme_directory,
                  "ACME directory URL; overrides [acme] directory and enables managed certificates");
  run->add_option("--acme-ca-bundle", acme_ca_bundle, "PEM file of roots that sign the ACME server's TLS certificate")
      ->check(CLI::ExistingFile);

  std::string check_file;
  auto* check = app.add_subcommand("check-config", "Validate a configuration file and exit");
  check->add_option("file", check_file, "Configuration file (TOML)")->required();

  std::string dns_config_file, dns_endpoint;
  bool dns_json = false;
  auto* dns_check = app.add_subcommand(
      "dns-check", "Check the DNS records each endpoint needs through the recursive resolver of [dns]");
  dns_check->add_option("-c,--config", dns_config_file, "Configuration file (TOML) with a [dns] section")
      ->required()
      ->check(CLI::ExistingFile);
  dns_check->add_option("--endpoint", dns_endpoint, "Only this endpoint's records");
  dns_check->add_flag("--json", dns_json, "Print JSON instead of a table");

  app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : exit_config_error;
  }

  if (app.got_subcommand("version")) {
    std::printf("portcullis %s\n", PORTCULLIS_VERSION);
    return 0;
  }
  if (app.got_subcommand("check-config")) {
    auto config = app::load_config(check_file);
    if (!config) {
      std::fprintf(stderr, "%s\n", config.error().message().c_str());
      return exit_config_error;
    }
    std::printf("%s: ok (%zu listeners, %zu endpoints)\n", check_file.c_str(), config->listeners.size(),
                config->endpoints.size());
    return 0;
  }

  if (app.got_subcommand("dns-check")) {
    auto config = app::load_config(dns_config_file);
    if (!config) {
      std::fprintf(stderr, "%s\n", config.error().message().c_str());
      return exit_config_error;
    }
    if (!config->dns.enabled) {
      std::fprintf(stderr, "%s: no [dns] section: the records point into the platform zone, set [dns] zone\n",
                   dns_config_file.c_str());
      return exit_config_error;
    }
    auto resolver = dns::resolver_address(config->dns);
    if (!resolver) {
      std::fprintf(stderr, "dns.resolver: %s\n", resolver.error().message().c_str());
      return exit_config_error;
    }
    std::vector<domain::EndpointConfig> endpoints;
    for (const auto& e : config->endpoints)
      if (dns_endpoint.empty() || e.id == dns_endpoint) endpoints.push_back(e);
    if (!dns_endpoint.empty() && endpoints.empty()) {
      std::fprintf(stderr, "%s: no endpoint with id \"%s\"\n", dns_config_file.c_str(), dns_endpoint.c_str());
      return exit_config_error;
    }
    dns::DelegationChecker checker({.address = *resolver});
    auto rows = app::check_endpoints(endpoints, config->dns.zone, checker);
    const std::string out = dns_json ? app::render_json(rows) + "\n" : app::render_table(rows);
    std::fwrite(out.data(), 1, out.size(), stdout);
    // 0: every record in place; 1: something is missing, wrong or could not be checked.
    return app::all_ok(rows) ? 0 : 1;
  }

  auto config = config_file.empty() ? app::parse_config(app::embedded_config_text(), "<embedded>")
                                    : app::load_config(config_file);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().message().c_str());
    return exit_config_error;
  }
  app::ConfigOverrides overrides;
  overrides.acme_directory = acme_directory;
  if (!acme_ca_bundle.empty()) overrides.acme_ca_bundle = std::filesystem::absolute(acme_ca_bundle);
  if (config_file.empty()) {
    config->source = "<embedded>";
    print_try_next(*config);
  }
  app::Server server(std::move(*config), std::move(overrides));
  return server.run();
}
