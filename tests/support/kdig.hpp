// kdig (Knot's dig) for tests: one query to a DNS server on loopback, with its status and answer
// records parsed out. Used by the DNS fixtures to wait for readiness and by tests to look at what
// a server answers. Blocking, bounded by the query's own timeout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace portcullis::testing {

struct DigResult {
  bool answered = false;             // a DNS reply came back
  std::string status;                // "NOERROR", "NXDOMAIN", "SERVFAIL", ... ("" without a reply)
  bool authoritative = false;        // the AA flag
  std::vector<std::string> answers;  // rdata of the answer records of the asked type: "app.example.net."
  std::string output;                // kdig's whole output, for messages
};

// `kdig @host -p port name type [class]`, one UDP try of at most `timeout_seconds` (>= 1).
DigResult kdig(const std::string& host, std::uint16_t port, const std::string& name, const std::string& type,
               const std::string& qclass = "IN", int timeout_seconds = 1);

}  // namespace portcullis::testing
