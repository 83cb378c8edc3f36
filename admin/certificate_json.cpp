#include "admin/certificate_json.hpp"

#include <ctime>

#include <boost/json/array.hpp>
#include <fmt/format.h>

namespace portcullis::admin {
namespace {

namespace json = boost::json;

constexpr std::string_view upload_fields = "certificate, private_key, allow_untrusted";

}  // namespace

Read<TransitionalUpload> read_transitional_upload(const json::object& body) {
  Read<TransitionalUpload> read;
  for (const auto& [key, value] : body) {
    if (key != "certificate" && key != "private_key" && key != "allow_untrusted") {
      read.problems.push_back({std::string(key), fmt::format("unknown field (known: {})", upload_fields)});
    }
  }
  if (const auto* v = body.if_contains("certificate"); v && v->is_string()) {
    read.value.certificate = std::string(v->as_string());
  } else {
    read.problems.push_back(
        {"certificate", "expected the PEM chain as a string (the leaf first, then each issuer), got " +
                            (v ? describe(*v) : std::string("nothing (the field is required)"))});
  }
  if (const auto* v = body.if_contains("private_key"); v && v->is_string()) {
    read.value.private_key = base::SecretBytes(std::string(v->as_string()));
  } else {
    // Whatever was sent in its place is not repeated: it may be key material.
    read.problems.push_back({"private_key", v ? "expected the PEM private key as a string"
                                              : "expected the PEM private key as a string, got nothing (the field "
                                                "is required)"});
  }
  if (const auto* v = body.if_contains("allow_untrusted")) {
    if (v->is_bool()) {
      read.value.allow_untrusted = v->as_bool();
    } else {
      read.problems.push_back({"allow_untrusted", "expected true or false, got " + describe(*v)});
    }
  }
  return read;
}

json::object to_json(const control::CertificateSummary& s) {
  json::array names, warnings;
  for (const auto& n : s.names) names.emplace_back(n);
  for (const auto& w : s.warnings) warnings.emplace_back(w);
  return json::object{{"names", std::move(names)},
                      {"issuer", s.issuer},
                      {"serial", s.serial_hex},
                      {"not_after", certstore::format_time(s.not_after)},
                      {"sha256_fingerprint", s.sha256_fingerprint},
                      {"warnings", std::move(warnings)}};
}

json::object to_json(const certstore::CertificateSwap& swap) {
  json::array hostnames;
  for (const auto& h : swap.hostnames) hostnames.emplace_back(h);
  return json::object{{"at", certstore::format_time(certstore::Clock::from_time_t(swap.at_unix))},
                      {"reason", swap.reason},
                      {"source", std::string(certstore::to_string(swap.source))},
                      {"hostnames", std::move(hostnames)},
                      {"serial", swap.serial_hex},
                      {"not_after", certstore::format_time(certstore::Clock::from_time_t(swap.not_after_unix))}};
}

}  // namespace portcullis::admin
