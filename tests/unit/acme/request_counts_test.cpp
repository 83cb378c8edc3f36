#include "acme/request_counts.hpp"

#include <string>

#include <catch2/catch.hpp>

using portcullis::acme::AcmeRequestCounts;

TEST_CASE("ACME requests are counted by RFC 8555 resource and HTTP status", "[unit][acme][metrics]") {
  CHECK(AcmeRequestCounts::type_of("new-nonce") == "newNonce");
  CHECK(AcmeRequestCounts::type_of("poll-authorization") == "authorization");
  CHECK(AcmeRequestCounts::type_of("download-certificate") == "certificate");
  CHECK(AcmeRequestCounts::type_of("renewal-info") == "renewalInfo");
  CHECK(AcmeRequestCounts::type_of("something-new") == "other");

  AcmeRequestCounts counts;
  portcullis::base::MetricsWriter empty;
  counts.write_metrics(empty);
  CHECK(empty.text().find("# TYPE portcullis_acme_requests_total counter\n") != std::string::npos);

  counts.count("new-order", 201);
  counts.count("get-order", 200);
  counts.count("poll-order", 200);
  counts.count("finalize", 0);
  portcullis::base::MetricsWriter w;
  counts.write_metrics(w);
  const std::string text = w.text();
  CHECK(text.find("portcullis_acme_requests_total{type=\"newOrder\",status=\"201\"} 1\n") != std::string::npos);
  CHECK(text.find("portcullis_acme_requests_total{type=\"order\",status=\"200\"} 2\n") != std::string::npos);
  CHECK(text.find("portcullis_acme_requests_total{type=\"finalize\",status=\"error\"} 1\n") != std::string::npos);
}
