// The endpoint resources as JSON: request bodies read into a domain::EndpointSpec or a
// control::EndpointPatch (unknown fields and wrong types reported with their field path, in the
// words the TOML reader uses), and endpoints written out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "base/error.hpp"
#include "control/endpoint_service.hpp"
#include "domain/endpoint.hpp"

namespace portcullis::admin {

// The body as one JSON object. Errors (Errc::invalid_input): "invalid JSON at byte 12: ..." or
// "expected a JSON object, got an array".
Result<boost::json::object> parse_object(std::string_view body);

// The fields a request may give, each with what it expects.
inline constexpr std::string_view endpoint_fields[] = {"id", "hostnames", "scope", "upstreams", "ip_allowlist",
                                                       "managed_https"};

template <class T>
struct Read {
  T value;
  std::vector<control::FieldProblem> problems;  // unknown fields, wrong types; empty = usable
};

// POST /api/v1/endpoints: every field of an endpoint; id optional (generated when absent).
Read<domain::EndpointSpec> read_endpoint_spec(const boost::json::object& body);
// PATCH /api/v1/endpoints/{id}: any of the fields but id (which may be given only unchanged).
Read<control::EndpointPatch> read_endpoint_patch(const boost::json::object& body, std::string_view id);

boost::json::object to_json(const control::EndpointEntry& entry);

// A JSON value as a message shows it: strings quoted, numbers as written, containers by kind.
std::string describe(const boost::json::value& v);

}  // namespace portcullis::admin
