#include "admin/problem.hpp"

#include <array>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <openssl/rand.h>

#include "base/logging.hpp"

namespace portcullis::admin {
namespace {

// 64 random bits in hex: enough to find one line in a log, nothing to guess from.
std::string new_reference() {
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return "unavailable";
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace

bool is_internal(http::status status) noexcept {
  const auto code = static_cast<unsigned>(status);
  return code >= 500 && status != http::status::service_unavailable;
}

boost::json::object for_client(ProblemDetails problem) {
  if (!is_internal(problem.status)) return to_json(problem);
  const std::string reference = new_reference();
  // The text may hold a SQLite message, a file path, a peer's address: for the operator only.
  log::admin()->error("internal error answered reference={} status={} detail={}", reference,
                      static_cast<unsigned>(problem.status), problem.detail);
  problem.detail = fmt::format("the server failed to complete the request; the server log has the reason under "
                               "reference {}",
                               reference);
  problem.errors.clear();
  auto doc = to_json(problem);
  doc["reference"] = reference;
  return doc;
}

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
  res.body() = boost::json::serialize(for_client(problem)) + "\n";
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
      // 503 details are shown as written: a fixed text, not the error's.
      p.status = http::status::service_unavailable;
      p.detail = "the server is stopping; try again";
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
