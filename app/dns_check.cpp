#include "app/dns_check.hpp"

#include <algorithm>
#include <array>

#include <boost/json.hpp>

namespace portcullis::app {

std::vector<DnsCheckRow> check_endpoints(const std::vector<domain::EndpointConfig>& endpoints,
                                         std::string_view zone, const RecordCheck& check) {
  std::vector<DnsCheckRow> rows;
  for (const auto& endpoint : endpoints) {
    for (const auto& record : domain::records_for_endpoint(endpoint, zone)) {
      const auto seen = check(record);
      rows.push_back(DnsCheckRow{.endpoint = endpoint.id,
                                 .hostname = record.hostname,
                                 .name = record.name,
                                 .type = record.type,
                                 .expected = record.target,
                                 .state = seen.state,
                                 .found = seen.state == domain::RecordState::ok ? std::string() : seen.found});
    }
    // A name in the platform zone needs no record: said in a row of its own, so that every
    // hostname appears in the report.
    for (const auto& hostname : endpoint.hostnames) {
      if (!domain::in_platform_zone(hostname, zone)) continue;
      rows.push_back(DnsCheckRow{.endpoint = endpoint.id,
                                 .hostname = hostname,
                                 .name = hostname,
                                 .type = "-",
                                 .expected = std::string(in_zone_note),
                                 .state = domain::RecordState::ok,
                                 .found = {}});
    }
  }
  return rows;
}

std::vector<DnsCheckRow> check_endpoints(const std::vector<domain::EndpointConfig>& endpoints,
                                         std::string_view zone, const dns::DelegationChecker& checker) {
  return check_endpoints(endpoints, zone, [&](const domain::RequiredRecord& record) { return checker.check(record); });
}

bool all_ok(const std::vector<DnsCheckRow>& rows) noexcept {
  return std::all_of(rows.begin(), rows.end(), [](const DnsCheckRow& row) {
    return row.state == domain::RecordState::ok || row.state == domain::RecordState::unchecked;
  });
}

std::string render_table(const std::vector<DnsCheckRow>& rows) {
  constexpr std::size_t columns = 7;
  using Line = std::array<std::string, columns>;
  std::vector<Line> lines{{"ENDPOINT", "HOSTNAME", "RECORD", "TYPE", "EXPECTED", "STATE", "FOUND"}};
  for (const auto& row : rows)
    lines.push_back({row.endpoint, row.hostname, row.name, row.type, row.expected,
                     std::string(domain::to_string(row.state)), row.found});
  std::array<std::size_t, columns> width{};
  for (auto& line : lines)
    for (std::size_t c = 0; c < columns; ++c) {
      if (line[c].empty()) line[c].push_back('-');
      width[c] = std::max(width[c], line[c].size());
    }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (std::size_t c = 0; c < columns; ++c) {
      text += line[c];
      if (c + 1 < columns) text += std::string(width[c] - line[c].size() + 2, ' ');
    }
    out += text + "\n";
  }
  if (rows.empty()) out += "(no endpoints)\n";
  return out;
}

std::string render_json(const std::vector<DnsCheckRow>& rows) {
  boost::json::array records;
  for (const auto& row : rows) {
    records.push_back(boost::json::object{{"endpoint", row.endpoint},
                                          {"hostname", row.hostname},
                                          {"name", row.name},
                                          {"type", row.type},
                                          {"expected", row.expected},
                                          {"state", domain::to_string(row.state)},
                                          {"found", row.found}});
  }
  return boost::json::serialize(boost::json::object{{"ok", all_ok(rows)}, {"records", std::move(records)}});
}

}  // namespace portcullis::app
