// An endpoint as a plain value: the names it answers, where it is reachable (scope), the upstreams
// it forwards to and who may connect. Read by the data plane (routing, allowlists) and the control
// plane (managed certificates). Also the endpoint's rules: validate() turns what a person wrote
// (EndpointSpec, from TOML today, JSON later) into an EndpointConfig and every problem with its path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "domain/cidr.hpp"

namespace portcullis::domain {

enum class Scope { external, internal };
enum class Protocol { https, http };

struct HostPort {
  std::string host;  // "127.0.0.1", "::1" (brackets removed), or a DNS name for upstreams
  std::uint16_t port = 0;
  std::string to_string() const;  // "[::1]:443" for v6
};
// "host:port", "[v6]:port". Error text: expected "host:port", got "...".
Result<HostPort> parse_host_port(std::string_view text);

struct EndpointConfig {
  std::string id;                       // DNS-safe: [a-z0-9-]{1,63}
  std::vector<std::string> hostnames;   // lower-cased, no trailing dot; one may be "*.x.y"
  Scope scope = Scope::external;
  std::vector<HostPort> upstreams;
  std::vector<Cidr> ip_allowlist;       // empty = open
  bool managed_https = true;
};

// What each field expects, in the words of every message about it (readers use them for their
// own type errors, so a wrong type and a wrong value read alike).
namespace expects {
inline constexpr std::string_view id = "an id of 1 to 63 characters a-z, 0-9 and \"-\" (not first or last)";
inline constexpr std::string_view hostname = "a hostname such as \"app.example.com\" or \"*.example.com\"";
inline constexpr std::string_view hostnames = "an array of hostnames";
inline constexpr std::string_view upstream = "\"host:port\"";
inline constexpr std::string_view upstreams = "an array of \"host:port\"";
inline constexpr std::string_view cidr = "a CIDR such as \"10.0.0.0/8\"";
inline constexpr std::string_view cidrs = "an array of CIDRs";
}  // namespace expects

// An endpoint as written, before any check. std::nullopt = the field is absent. Lists hold only
// the items the reader could read as strings; a reader maps an item's index back to its source.
struct EndpointSpec {
  std::optional<std::string> id;
  std::optional<std::vector<std::string>> hostnames;
  Scope scope = Scope::external;
  std::optional<std::vector<std::string>> upstreams;
  std::vector<std::string> ip_allowlist;
  bool managed_https = true;
};

// A field of the endpoint at `endpoint` in a list, or an item of it: where a problem is.
struct Place {
  std::size_t endpoint = 0;          // index in the list (0 for a lone endpoint)
  std::string_view field;            // "id", "hostnames", "upstreams", "ip_allowlist"; empty: the endpoint
  std::optional<std::size_t> item;   // the list item, for a problem with one item
  std::string path() const;          // "hostnames[1]": relative to the endpoint
};

struct Problem {
  Place place;
  std::string message;  // "expected ..., got ..." with the other side's words quoted
  std::string text() const { return place.path() + ": " + message; }
};

// One endpoint checked: the values that passed, normalised (hostnames lower-case without the
// trailing dot), and every problem. The endpoint is usable only when `problems` is empty.
struct EndpointCheck {
  EndpointConfig endpoint;
  std::vector<std::size_t> hostname_items;  // endpoint.hostnames[i] came from spec.hostnames[hostname_items[i]]
  std::vector<std::size_t> upstream_items;  // endpoint.upstreams[i] came from spec.upstreams[upstream_items[i]]
  std::vector<Problem> problems;
  bool ok() const noexcept { return problems.empty(); }
};

// Every rule of one endpoint: id (a DNS label), hostnames (at least one, each a valid name, at most
// one wildcard), upstreams (at least one "host:port"), ip_allowlist (CIDRs without host bits).
// Pure; problems in field order, each with place.endpoint = 0.
EndpointCheck validate(const EndpointSpec& spec);

bool valid_endpoint_id(std::string_view id) noexcept;

// How a message names another place: the default is its path in the list ("endpoint[0].id"); the
// TOML reader names it by its path in the file, and gives an id's line.
using Cite = std::function<std::string(const Place&)>;
std::string list_path(const Place& place);

// The rules across endpoints, over the checked endpoints in list order: ids are unique, and a
// hostname belongs to one endpoint and is listed once in it. The first occurrence wins; each later
// one is a problem at its own place (checks[i].hostname_items map hostnames back to their items).
std::vector<Problem> validate_together(const std::vector<EndpointCheck>& checks, const Cite& cite = list_path);

}  // namespace portcullis::domain
