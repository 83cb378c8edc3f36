// The whole configuration as plain values: server, listeners, TLS, certificate files and folders,
// limits, endpoints, ACME, the built-in DNS server, the demo upstream, the admin API and alerts. Filled by
// the TOML reader (app/); read by the data plane and the control plane, which therefore never see
// TOML.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "domain/endpoint.hpp"
#include "domain/endpoint_rules.hpp"
#include "domain/upstream_deny.hpp"

namespace portcullis::domain {

using Millis = std::chrono::milliseconds;

struct ServerConfig {
  std::filesystem::path data_dir = "var";
  unsigned workers = 0;             // 0 = one per core
  std::string log_level = "info";   // trace, debug, info, warn, error
  std::string log_format = "text";  // "text" | "json" (one object per line)
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
  Millis renew_now_interval{60'000};     // admin API "renew now": once per this per endpoint
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 20'000;  // per process; beyond it a new connection is closed at once
  // Per client address, on the https and http listeners together; beyond it a new connection
  // from that address is closed at accept. 0 = no cap. Generous: one address may be a NAT.
  std::uint32_t max_connections_per_ip = 1'000;
  std::size_t max_hostnames_per_endpoint = 100;
  std::size_t max_endpoints = 250'000;   // the file's and the admin API's together
};

// [upstreams]: the targets never connected to (besides the own admin and DNS listeners).
struct UpstreamsConfig {
  std::vector<Cidr> deny = default_upstream_deny();
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
  std::uint32_t max_concurrent_orders = 16;  // issuances in flight at once; the rest wait their turn
  // The CA's issuer domain names in CAA records, used when the directory gives no
  // meta.caaIdentities. The reader fills "letsencrypt.org" for Let's Encrypt's directories.
  std::vector<std::string> caa_identities;
};

// A name server of the platform zone, as its NS record and, when inside the zone, its glue.
struct NameServerConfig {
  std::string name;                    // normalised host name
  std::vector<std::string> addresses;  // IP literals; empty for a name server outside the zone
};

// [dns]: the built-in authoritative server for the platform zone. The TOML reader fills every
// default it can derive (name servers, e-mail, the scopes' addresses), so these are final values.
struct DnsConfig {
  bool enabled = false;                  // true when [dns] is present
  std::string zone;                      // the platform zone, normalised: "edge.example.net"
  std::vector<HostPort> listen;          // UDP and TCP on each
  std::vector<NameServerConfig> ns;      // default: ns1.<zone> at the listen addresses
  std::string soa_email;                 // default: hostmaster@<zone>
  std::uint32_t ttl = 300;               // every record but the validation TXT values
  std::uint32_t txt_ttl = 60;            // validation TXT values and the negative answers about them
  std::optional<HostPort> resolver;      // recursive resolver for delegation checks; none: resolv.conf's
  std::vector<std::string> external_addresses;  // A/AAAA of external platform hosts (IP literals)
  std::vector<std::string> internal_addresses;  // A/AAAA of internal platform hosts
  std::uint32_t rate_limit = 100;        // UDP responses a second per client /24 (v4) or /56 (v6); 0 = off
  // DNS over TCP (RFC 7766 §6.2.3): a connection with no query this long is closed; a connection
  // answers this many queries, then closes; an address holds this many connections at once.
  Millis tcp_idle_timeout{10'000};
  std::uint32_t tcp_max_queries = 1'000;
  std::uint32_t tcp_max_connections_per_ip = 64;
};

// [monitor]: the periodic check of customers' DNS records, the canary and CAA (control/monitor).
struct MonitorConfig {
  bool enabled = false;  // default: on when [dns] is configured
  Millis check_interval{24LL * 3600 * 1000};  // each endpoint once per interval, spread over it
  std::uint32_t pre_renewal_days = 14;        // one more check this long before expiry / the ARI window
};

// A built-in HTTP upstream answering a small page: what `make run` proxies to out of the box.
struct DemoConfig {
  bool enabled = false;
  HostPort listen{"127.0.0.1", 9901};
};

// [admin]: the admin REST API on a listener of its own. Present: it listens; absent: it does not.
struct AdminConfig {
  bool enabled = false;                       // true when [admin] is present
  HostPort listen{"127.0.0.1", 9900};
  std::string token;                          // the bearer token as written; empty: token_file
  std::filesystem::path token_file;           // empty: <data_dir>/admin-token, generated at first start
  bool metrics_public = false;                // true: GET /metrics answers without the token
  std::filesystem::path cert_file;            // PEM chain; with key_file: the listener speaks TLS
  std::filesystem::path key_file;             // PEM private key, readable by its owner only
  // Host header values accepted ("name" or "name:port"; a name alone matches any port). Empty:
  // the listen address, localhost, 127.0.0.1 and [::1], each with the listen port.
  std::vector<std::string> allowed_hosts;
  std::uint32_t max_connections_per_ip = 32;  // beyond it a new connection is closed at accept; 0 = no cap
};

// [[alerts.webhook]]: where alert events are POSTed (control/webhooks).
enum class WebhookFormat { json, slack };
struct WebhookConfig {
  std::string url;                       // http:// or https://
  WebhookFormat format = WebhookFormat::json;
  std::string secret;                    // HMAC-SHA256 key for X-Portcullis-Signature; empty: unsigned
  std::filesystem::path secret_file;     // the secret read from a file instead (trailing newline dropped)
  std::filesystem::path ca_bundle;       // PEM roots to trust for https; empty: the system trust store
};

// [alerts]: the thresholds of the certificate alerts and the webhooks (control/alert_book).
struct AlertsConfig {
  std::vector<std::uint32_t> expiring_days{14, 7, 3};  // descending; critical at the last one
  std::uint32_t renewal_failures = 3;    // consecutive failed renewals before renewal_failing fires
  std::uint32_t keep_resolved_days = 30; // resolved alerts older than this are pruned
  std::vector<WebhookConfig> webhooks;
};

struct Config {
  std::filesystem::path source;         // the file it came from ("<embedded>" for defaults)
  ServerConfig server;
  std::vector<ListenerConfig> listeners;
  TlsConfig tls;
  std::vector<CertificateConfig> certificates;
  std::vector<CertificateDirConfig> certificate_dirs;
  LimitsConfig limits;
  UpstreamsConfig upstreams;
  std::vector<EndpointConfig> endpoints;
  AcmeConfig acme;
  DnsConfig dns;
  MonitorConfig monitor;
  DemoConfig demo;
  AdminConfig admin;
  AlertsConfig alerts;

  // Resolves a path from the config relative to the config file's directory.
  std::filesystem::path resolve(const std::filesystem::path& p) const;
};

// The endpoint rules of `config`: its limits, the platform zone and its name servers, and the
// upstream deny list: upstreams.deny plus the admin listener and each DNS listener, when on. The
// one place they are built, for the reader, the endpoint service and the data plane alike.
EndpointRules endpoint_rules(const Config& config);

}  // namespace portcullis::domain
