#include "admin/problem.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

namespace portcullis::admin {

boost::json::object to_json(const ProblemDetails& problem) {
  boost::json::object doc;
  doc["type"] = problem.type;
  doc["title"] = problem.title.empty() ? std::string(http::obsolete_reason(problem.status)) : problem.title;
  doc["status"] = static_cast<int>(problem.status);
  doc["detail"] = problem.detail;
  if (!problem.errors.empty()) {
    boost::json::array errors;
    for (const auto& e : problem.errors) {
      errors.push_back(boost::json::object{{"field", e.field}, {"detail", e.detail}});
    }
    doc["errors"] = std::move(errors);
  }
  return doc;
}

Response problem_response(const ProblemDetails& problem, unsigned version, bool keep_alive) {
  Response res{problem.status, version};
  res.set(http::field::content_type, "application/problem+json");
  res.set(http::field::cache_control, "no-store");
  res.body() = boost::json::serialize(to_json(problem)) + "\n";
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

ProblemDetails from_change_error(const control::ChangeError& error) {
  ProblemDetails p;
  p.detail = error.detail;
  p.errors = error.problems;
  switch (error.code) {
    case Errc::invalid_input:
      p.status = http::status::unprocessable_entity;
      p.type = problem_type::validation;
      p.title = "The request breaks a rule";
      break;
    case Errc::not_found:
      p.status = http::status::not_found;
      break;
    case Errc::conflict:
      p.status = http::status::conflict;
      if (error.read_only) {
        p.type = problem_type::read_only;
        p.title = "The endpoint is read-only";
      } else {
        p.type = problem_type::conflict;
        p.title = "The request conflicts with what exists";
      }
      break;
    case Errc::cancelled:
      p.status = http::status::service_unavailable;
      break;
    default:
      p.status = http::status::internal_server_error;
      break;
  }
  return p;
}

Response json_response(http::status status, const boost::json::value& body, unsigned version, bool keep_alive) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = boost::json::serialize(body) + "\n";
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace portcullis::admin
