// The DNS record check's report: every record the endpoints need (domain/records), checked
// through a recursive resolver (dns::DelegationChecker) and rendered for a person (an aligned
// table) or a program (JSON). The zone and the resolver are arguments: nothing here reads the
// configuration.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/delegation_check.hpp"
#include "domain/endpoint.hpp"
#include "domain/records.hpp"

namespace portcullis::app {

struct DnsCheckRow {
  std::string endpoint;   // id
  std::string hostname;   // the endpoint's hostname the record serves
  std::string name;       // the record's owner
  std::string type;       // "CNAME"
  std::string expected;   // the target, with the trailing dot
  domain::RecordState state = domain::RecordState::unchecked;
  std::string found;      // what was there instead, the error, or why it is not checked; "" when ok
};

// How one record is checked; the DelegationChecker's check() in the command, a table in tests.
using RecordCheck = std::function<domain::Observation(const domain::RequiredRecord&)>;

// What the EXPECTED column says for a hostname inside the platform zone, which needs no record.
inline constexpr std::string_view in_zone_note = "nothing to create: in the platform zone";

// One row per record of each endpoint, in endpoint then record order (records_for_endpoint), then
// one row (type "-", state ok, `expected` = in_zone_note) per hostname inside the platform zone.
// Blocking for as long as `check` blocks.
std::vector<DnsCheckRow> check_endpoints(const std::vector<domain::EndpointConfig>& endpoints,
                                         std::string_view zone, const RecordCheck& check);

// The same through a recursive resolver. BLOCKS (a few DNS queries per record, each bounded by
// the checker's timeout and attempts): not for the control thread.
std::vector<DnsCheckRow> check_endpoints(const std::vector<domain::EndpointConfig>& endpoints,
                                         std::string_view zone, const dns::DelegationChecker& checker);

// True when no row is missing, wrong or in error (rows not checkable do not count).
bool all_ok(const std::vector<DnsCheckRow>& rows) noexcept;

// Columns ENDPOINT HOSTNAME RECORD TYPE EXPECTED STATE FOUND, left-aligned, two spaces apart,
// one line per row, each line ending in "\n"; "-" in an empty cell. No rows: a header and
// "(no endpoints)".
std::string render_table(const std::vector<DnsCheckRow>& rows);

// {"ok": bool, "records": [{"endpoint", "hostname", "name", "type", "expected", "state", "found"}]}
// through Boost.JSON; `state` as domain::to_string(RecordState) ("ok", "wrong_target", ...).
std::string render_json(const std::vector<DnsCheckRow>& rows);

}  // namespace portcullis::app
