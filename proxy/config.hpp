// Config: portcullis.toml as typed values. Parsing is strict: an unknown key, a wrong type or a bad
// value is an error "file:line: key: expected ..., got ...", never silently ignored. The reference
// is docs/configuration.md; every file in examples/ must pass `portcullis check-config`.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "proxy/cidr.hpp"

namespace portcullis::proxy {

using Millis = std::chrono::milliseconds;

enum class Scope { external, internal };
enum class Protocol { https, http };

struct HostPort {
  std::string host;  // "127.0.0.1", "::1" (brackets removed), or a DNS name for upstreams
  std::uint16_t port = 0;
  std::string to_string() const;  // "[::1]:443" for v6
};
// "host:port", "[v6]:port". Error text: expected "host:port", got "...".
Result<HostPort> parse_host_port(std::string_view text);

struct ServerConfig {
  std::filesystem::path data_dir = "var";
  unsigned workers = 0;             // 0 = one per core
  std::string log_level = "info";   // trace, debug, info, warn, error
};

struct ListenerConfig {
  std::string name;
  HostPort address;
  Protocol protocol = Protocol::https;
  Scope scope = Scope::external;
};

struct TlsConfig {
  std::string min_version = "1.2";  // "1.2" | "1.3"
  std::filesystem::path default_cert, default_key;    // empty: self-signed, generated in data_dir
  std::filesystem::path fallback_cert, fallback_key;  // empty: none (the platform wildcard)
};

// A static ("transitional") certificate for the names it covers.
struct CertificateConfig {
  std::filesystem::path cert_file, key_file;
};

// A folder of certificates: every "*.pem" in it holds a chain and its private key, served as a
// transitional certificate for the names it covers; watched for changes while running.
struct CertificateDirConfig {
  std::filesystem::path path;
};

struct LimitsConfig {
  Millis handshake_timeout{10'000};
  Millis header_timeout{30'000};         // a request's header must arrive within this
  Millis idle_timeout{60'000};           // keep-alive between requests, and a body stalled this long
  Millis upstream_connect_timeout{5'000};
  Millis upstream_timeout{60'000};       // upstream's response header; 504 past it
  Millis drain_timeout{30'000};          // SIGTERM: in-flight requests get this long
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 20'000;  // per process; beyond it a new connection is closed at once
};

struct EndpointConfig {
  std::string id;                       // DNS-safe: [a-z0-9-]{1,63}
  std::vector<std::string> hostnames;   // lower-cased, no trailing dot; one may be "*.x.y"
  Scope scope = Scope::external;
  std::vector<HostPort> upstreams;
  std::vector<Cidr> ip_allowlist;       // empty = open
  bool managed_https = true;
};

struct AcmeConfig {
  bool enabled = false;                 // true when [acme] is present with a directory
  std::string directory;                // e.g. https://acme-v02.api.letsencrypt.org/directory
  std::filesystem::path ca_bundle;      // empty: system trust store
  std::string email;
  std::string eab_kid;
  std::string eab_hmac_key;             // base64url
  std::string profile;
  std::string preferred_chain;          // issuer CN of the alternate chain to prefer
  double renew_before_ratio = 1.0 / 3;  // renew when this fraction of the lifetime is left
};

// A built-in HTTP upstream answering a small page: what `make run` proxies to out of the box.
struct DemoConfig {
  bool enabled = false;
  HostPort listen{"127.0.0.1", 9901};
};

struct Config {
  std::filesystem::path source;         // the file it came from ("<embedded>" for defaults)
  ServerConfig server;
  std::vector<ListenerConfig> listeners;
  TlsConfig tls;
  std::vector<CertificateConfig> certificates;
  std::vector<CertificateDirConfig> certificate_dirs;
  LimitsConfig limits;
  std::vector<EndpointConfig> endpoints;
  AcmeConfig acme;
  DemoConfig demo;

  // Resolves a path from the config relative to the config file's directory.
  std::filesystem::path resolve(const std::filesystem::path& p) const;
};

// Blocking (reads the file). Relative paths in the file are resolved against its directory.
Result<Config> load_config(const std::filesystem::path& file);
// Parses TOML text; `filename` is used in messages only.
Result<Config> parse_config(std::string_view text, std::string_view filename);
// The embedded defaults `portcullis run` uses without --config (see examples/portcullis.toml).
std::string_view embedded_config_text();

}  // namespace portcullis::proxy
