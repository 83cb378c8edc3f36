// Problem documents (RFC 9457, application/problem+json): every error the admin API answers, with
// the HTTP status, a type, a title, a detail that says what to change and, for a request that
// breaks a rule, every problem with the path of its field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include "control/endpoint_service.hpp"

namespace portcullis::admin {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Problem types of this API; a status without a type of its own is "about:blank" (RFC 9457 §4.2.1).
namespace problem_type {
inline constexpr std::string_view validation = "urn:portcullis:problem:validation";
inline constexpr std::string_view read_only = "urn:portcullis:problem:read-only";
inline constexpr std::string_view conflict = "urn:portcullis:problem:conflict";
inline constexpr std::string_view bad_json = "urn:portcullis:problem:bad-json";
}  // namespace problem_type

struct ProblemDetails {
  http::status status = http::status::internal_server_error;
  std::string type = "about:blank";
  std::string title;   // empty: the status's reason phrase
  std::string detail;
  std::vector<control::FieldProblem> errors;  // validation: {field, detail} each
};

// True for a status whose detail is internal (every 5xx but 503, whose details are fixed texts).
bool is_internal(http::status status) noexcept;
// What the client may see: for an internal error, the detail (a SQLite message, a file path...)
// is logged with a new random reference and replaced by a generic text naming that reference;
// anything else (422's problems, 404, 409...) unchanged. problem_response() applies it.
// The document then carries "reference" too (an RFC 9457 §3.2 extension member).
boost::json::object for_client(ProblemDetails problem);

// The document as JSON: type, title, status, detail, and errors when there are any.
boost::json::object to_json(const ProblemDetails& problem);
// The response carrying for_client(problem) (Content-Type: application/problem+json).
Response problem_response(const ProblemDetails& problem, unsigned version, bool keep_alive);
// A refused endpoint change as a problem: invalid_input 422, not_found 404, conflict 409 (with the
// read-only type when the endpoint comes from the configuration file), anything else 500.
ProblemDetails from_change_error(const control::ChangeError& error);

// A JSON response (Content-Type: application/json).
Response json_response(http::status status, const boost::json::value& body, unsigned version, bool keep_alive);

}  // namespace portcullis::admin
