// The shared error vocabulary: control-plane functions return Result<T> (tl::expected<T, Error>)
// and never throw across a folder boundary. An Error says what failed, where, and quotes the other
// side's words (an ACME problem document is kept whole).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace portcullis::base {

enum class Errc {
  invalid_input,  // malformed PEM, bad CSR
  config,         // configuration file rejected
  crypto,         // OpenSSL refused an operation
  io,             // file system
  storage,        // SQLite / PostgreSQL
  network,        // connect, TLS, read/write to a peer
  timeout,        // a named deadline expired
  acme,           // the CA answered with a problem document
  not_found,
  conflict,
  internal,       // a broken invariant caught at a boundary
  cancelled,      // the task was stopped (shutdown): not a failure, nothing to retry or report
};

std::string_view to_string(Errc code) noexcept;

// RFC 8555 §6.7 / RFC 7807 problem document, as the CA sent it.
struct AcmeProblem {
  std::string type;    // e.g. "urn:ietf:params:acme:error:rateLimited"
  std::string detail;  // the CA's own words
  int status = 0;      // HTTP status of the response that carried it
  std::string identifier;  // for subproblems: the identifier value
  std::vector<AcmeProblem> subproblems;
};

class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(Errc code, std::string message, AcmeProblem problem)
      : code_(code), message_(std::move(message)), problem_(std::move(problem)) {}

  Errc code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const std::optional<AcmeProblem>& problem() const noexcept { return problem_; }

  // Prefixes the message with where it happened: "portcullis.toml:12: " + message.
  Error with_context(std::string_view context) const {
    Error copy = *this;
    copy.message_ = std::string(context) + ": " + message_;
    return copy;
  }

 private:
  Errc code_;
  std::string message_;
  std::optional<AcmeProblem> problem_;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

}  // namespace portcullis::base

namespace portcullis {
using base::Errc;
using base::Error;
using base::fail;
using base::Result;
using base::Status;
}  // namespace portcullis
