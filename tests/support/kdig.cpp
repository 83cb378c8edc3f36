#include "tests/support/kdig.hpp"

#include <sstream>

#include "tests/support/process.hpp"

namespace portcullis::testing {
namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

DigResult kdig(const std::string& host, std::uint16_t port, const std::string& name, const std::string& type,
               const std::string& qclass, int timeout_seconds) {
  const auto run = run_command({"kdig", "@" + host, "-p", std::to_string(port), "+time=" + std::to_string(timeout_seconds),
                                "+retry=0", "-c", qclass, "-t", type, name},
                               std::chrono::seconds(timeout_seconds + 5));
  DigResult result;
  result.output = run.out + run.err;
  // ";; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 36939"
  const auto status = run.out.find("status: ");
  if (status == std::string::npos) return result;
  result.answered = true;
  result.status = run.out.substr(status + 8, run.out.find(';', status) - status - 8);
  // ";; Flags: qr aa rd; QUERY: 1; ..."
  const auto flags = run.out.find(";; Flags:");
  if (flags != std::string::npos) {
    const auto line = run.out.substr(flags, run.out.find('\n', flags) - flags);
    result.authoritative = line.find(" aa") != std::string::npos;
  }
  // ";; ANSWER SECTION:" then "owner ttl class type rdata..." lines up to a blank line.
  const auto section = run.out.find(";; ANSWER SECTION:");
  if (section == std::string::npos) return result;
  std::istringstream in(run.out.substr(section));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && !line.empty()) {
    std::istringstream fields(line);
    std::string owner, ttl, cls, rtype;
    fields >> owner >> ttl >> cls >> rtype;
    if (upper(rtype) != upper(type)) continue;
    std::string rdata;
    std::getline(fields >> std::ws, rdata);
    result.answers.push_back(rdata);
  }
  return result;
}

}  // namespace portcullis::testing
