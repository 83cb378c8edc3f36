#include "admin/admin_api.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <fmt/format.h>

#include "admin/alert_json.hpp"
#include "admin/certificate_json.hpp"
#include "admin/dashboard.hpp"
#include "admin/endpoint_json.hpp"
#include "base/quote.hpp"
#include "dns/delegation_check.hpp"
#include "domain/records.hpp"

namespace portcullis::admin {
namespace {

namespace json = boost::json;

// "1 min", "90 s", "500 ms": an interval as a message says it.
std::string interval_text(domain::Millis interval) {
  const auto ms = interval.count();
  if (ms % 60'000 == 0) return fmt::format("{} min", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{} s", ms / 1000);
  return fmt::format("{} ms", ms);
}
using base::quote;

Response problem(const Request& req, ProblemDetails p) { return problem_response(p, req.version(), req.keep_alive()); }

Response ok_json(const Request& req, http::status status, const json::value& body) {
  return json_response(status, body, req.version(), req.keep_alive());
}

// A request body must be JSON (RFC 8259 media type); the check is on the type, not parameters.
bool is_json(const Request& req) {
  std::string_view type = req[http::field::content_type];
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return type.size() == 16 && std::equal(type.begin(), type.end(), "application/json", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// The body as a JSON object, or the problem to answer.
tl::expected<json::object, ProblemDetails> body_object(const Request& req) {
  if (!is_json(req)) {
    return tl::unexpected(ProblemDetails{http::status::unsupported_media_type, "about:blank", "",
                                         "expected Content-Type: application/json, got " +
                                             quote(req[http::field::content_type]),
                                         {}});
  }
  auto object = parse_object(req.body());
  if (!object) {
    return tl::unexpected(ProblemDetails{http::status::bad_request, std::string(problem_type::bad_json),
                                         "The body is not a JSON object", object.error().message(), {}});
  }
  return std::move(*object);
}

ProblemDetails invalid(std::vector<control::FieldProblem> problems) {
  ProblemDetails p{http::status::unprocessable_entity, std::string(problem_type::validation),
                   "The request breaks a rule", "", std::move(problems)};
  p.detail = fmt::format("{} problem{}: see errors", p.errors.size(), p.errors.size() == 1 ? "" : "s");
  return p;
}

ProblemDetails no_endpoint(const std::string& id) {
  return {http::status::not_found, "about:blank", "", fmt::format("no endpoint with id {}", quote(id)), {}};
}

// Browsers ask for /favicon.ico by themselves, without the token: a plain 404, not a 401 that
// reads like a failed sign-in in the log.
boost::asio::awaitable<Response> no_favicon(const Request& req, const RouteParams&) {
  co_return problem(req, {http::status::not_found, "about:blank", "", "no icon", {}});
}

// A dashboard file: the same for everyone, so no token (the page asks for it and sends it itself).
boost::asio::awaitable<Response> dashboard_file(const Request& req, DashboardFile file) {
  co_return dashboard_response(file, req.version(), req.keep_alive());
}

}  // namespace

AdminApi::AdminApi(ApiServices services) : services_(std::move(services)) {
  // Bound to member functions: each handler's frame refers to this API, which outlives the server.
  auto bind = [this](auto method) {
    return [this, method](const Request& req, const RouteParams& params) { return (this->*method)(req, params); };
  };
  using v = http::verb;
  router_.add(v::get, "/healthz", false, bind(&AdminApi::healthz));
  router_.add(v::get, "/readyz", false, bind(&AdminApi::readyz));
  router_.add(v::get, "/api/v1/openapi.json", true, bind(&AdminApi::openapi));
  router_.add(v::get, "/metrics", !services_.metrics_public, bind(&AdminApi::metrics));
  for (const auto& file : dashboard_files()) {
    router_.add(v::get, std::string(file.path), false,
                [file](const Request& req, const RouteParams&) { return dashboard_file(req, file); });
  }
  router_.add(v::get, "/favicon.ico", false, no_favicon);
  router_.add(v::get, "/api/v1/endpoints", true, bind(&AdminApi::list_endpoints));
  router_.add(v::post, "/api/v1/endpoints", true, bind(&AdminApi::create_endpoint));
  router_.add(v::get, "/api/v1/endpoints/{id}", true, bind(&AdminApi::get_endpoint));
  router_.add(v::patch, "/api/v1/endpoints/{id}", true, bind(&AdminApi::patch_endpoint));
  router_.add(v::delete_, "/api/v1/endpoints/{id}", true, bind(&AdminApi::delete_endpoint));
  router_.add(v::get, "/api/v1/endpoints/{id}/dns", true, bind(&AdminApi::endpoint_dns));
  router_.add(v::get, "/api/v1/endpoints/{id}/certificate", true, bind(&AdminApi::endpoint_certificate));
  router_.add(v::post, "/api/v1/endpoints/{id}/renew", true, bind(&AdminApi::renew));
  router_.add(v::put, "/api/v1/endpoints/{id}/transitional-certificate", true, bind(&AdminApi::put_transitional));
  router_.add(v::get, "/api/v1/alerts", true, bind(&AdminApi::list_alerts));
  router_.add(v::delete_, "/api/v1/endpoints/{id}/transitional-certificate", true,
              bind(&AdminApi::delete_transitional));
}

boost::asio::awaitable<Response> AdminApi::healthz(const Request& req, const RouteParams&) {
  co_return ok_json(req, http::status::ok, json::object{{"status", "ok"}});
}

boost::asio::awaitable<Response> AdminApi::readyz(const Request& req, const RouteParams&) {
  if (!services_.ready()) {
    co_return problem(req, {http::status::service_unavailable, "about:blank", "",
                            "not serving: starting or draining", {}});
  }
  co_return ok_json(req, http::status::ok, json::object{{"status", "ready"}});
}

boost::asio::awaitable<Response> AdminApi::openapi(const Request& req, const RouteParams&) {
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = std::string(openapi_document());
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

boost::asio::awaitable<Response> AdminApi::metrics(const Request& req, const RouteParams&) {
  if (!services_.metrics) {
    co_return problem(req, {http::status::service_unavailable, "about:blank", "", "no metrics in this process", {}});
  }
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, base::MetricsWriter::content_type);
  res.body() = services_.metrics->scrape();
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

boost::asio::awaitable<Response> AdminApi::list_endpoints(const Request& req, const RouteParams&) {
  json::array items;
  for (const auto& entry : services_.endpoints.list()) items.push_back(endpoint_json(entry));
  co_return ok_json(req, http::status::ok, json::object{{"endpoints", std::move(items)}});
}

boost::asio::awaitable<Response> AdminApi::create_endpoint(const Request& req, const RouteParams&) {
  auto body = body_object(req);
  if (!body) co_return problem(req, body.error());
  auto read = read_endpoint_spec(*body);
  if (!read.problems.empty()) {
    // Every problem at once: the endpoint rules too, on what could be read, for the fields the
    // reader did not already report (an absent id is generated, so not a problem here).
    for (const auto& p : domain::validate(read.value).problems) {
      const std::string field(p.place.field);
      if (p.place.field == "id" && !read.value.id) continue;
      const bool reported = std::any_of(read.problems.begin(), read.problems.end(),
                                        [&](const auto& r) { return r.field.starts_with(field); });
      if (!reported) read.problems.push_back({p.place.path(), p.message});
    }
    co_return problem(req, invalid(std::move(read.problems)));
  }
  auto created = co_await services_.endpoints.create(std::move(read.value));
  if (!created) co_return problem(req, from_change_error(created.error()));
  auto res = ok_json(req, http::status::created, to_json(*created));
  res.set(http::field::location, "/api/v1/endpoints/" + created->endpoint.id);
  co_return res;
}

boost::asio::awaitable<Response> AdminApi::get_endpoint(const Request& req, const RouteParams& params) {
  const auto& id = params["id"];
  auto entry = services_.endpoints.find(id);
  if (!entry) co_return problem(req, no_endpoint(id));
  co_return ok_json(req, http::status::ok, endpoint_json(*entry));
}

boost::asio::awaitable<Response> AdminApi::patch_endpoint(const Request& req, const RouteParams& params) {
  std::string id = params["id"];
  auto body = body_object(req);
  if (!body) co_return problem(req, body.error());
  auto read = read_endpoint_patch(*body, id);
  if (!read.problems.empty()) co_return problem(req, invalid(std::move(read.problems)));
  auto updated = co_await services_.endpoints.update(std::move(id), std::move(read.value));
  if (!updated) co_return problem(req, from_change_error(updated.error()));
  co_return ok_json(req, http::status::ok, to_json(*updated));
}

boost::asio::awaitable<Response> AdminApi::delete_endpoint(const Request& req, const RouteParams& params) {
  std::string id = params["id"];
  auto removed = co_await services_.endpoints.remove(std::move(id));
  if (!removed) co_return problem(req, from_change_error(removed.error()));
  Response res{http::status::no_content, req.version()};
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

boost::asio::awaitable<Response> AdminApi::put_transitional(const Request& req, const RouteParams& params) {
  const auto& id = params["id"];
  auto entry = services_.endpoints.find(id);
  if (!entry) co_return problem(req, no_endpoint(id));
  auto body = body_object(req);
  if (!body) co_return problem(req, body.error());
  auto read = read_transitional_upload(*body);
  if (!read.problems.empty()) co_return problem(req, invalid(std::move(read.problems)));
  auto stored = co_await services_.transitional.put(std::move(entry->endpoint), std::move(read.value.certificate),
                                                    std::move(read.value.private_key), read.value.allow_untrusted);
  if (!stored) {
    auto p = from_change_error(stored.error());
    if (stored.error().code == Errc::invalid_input) {
      p.title = "The certificate cannot be used";
      p.detail = fmt::format("{} problem{}: see errors", p.errors.size(), p.errors.size() == 1 ? "" : "s");
    }
    co_return problem(req, std::move(p));
  }
  if (services_.certificates_changed) services_.certificates_changed();
  auto doc = to_json(*stored);
  doc["endpoint"] = id;
  co_return ok_json(req, http::status::created, doc);
}

boost::asio::awaitable<Response> AdminApi::delete_transitional(const Request& req, const RouteParams& params) {
  std::string id = params["id"];
  if (!services_.endpoints.find(id)) co_return problem(req, no_endpoint(id));
  auto removed = co_await services_.transitional.remove(std::move(id));
  if (!removed) co_return problem(req, from_change_error(removed.error()));
  if (services_.certificates_changed) services_.certificates_changed();
  Response res{http::status::no_content, req.version()};
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

boost::asio::awaitable<Response> AdminApi::endpoint_dns(const Request& req, const RouteParams& params) {
  const auto& id = params["id"];
  auto entry = services_.endpoints.find(id);
  if (!entry) co_return problem(req, no_endpoint(id));
  auto settings = services_.dns();
  if (!settings) {
    co_return problem(req, {http::status::conflict, "about:blank", "",
                            "no [dns] section: the records customers create point into the platform zone; set "
                            "[dns] zone",
                            {}});
  }
  const auto records = domain::records_for_endpoint(entry->endpoint, settings->zone);
  dns::DelegationChecker checker({.address = settings->resolver});
  // Each check is a few DNS queries, each bounded by the checker's timeout: on the pool.
  auto seen = co_await services_.pool.run([&] {
    std::vector<domain::Observation> out;
    for (const auto& record : records) out.push_back(checker.check(record));
    return out;
  });
  if (!seen) {
    co_return problem(req, {http::status::internal_server_error, "about:blank", "", seen.error().message(), {}});
  }
  json::array items;
  bool ok = true;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    const auto& o = (*seen)[i];
    if (o.state != domain::RecordState::ok && o.state != domain::RecordState::unchecked) ok = false;
    items.push_back(json::object{{"hostname", r.hostname},
                                 {"purpose", domain::to_string(r.purpose)},
                                 {"name", r.name},
                                 {"type", r.type},
                                 {"target", r.target},
                                 {"checkable", r.checkable},
                                 {"note", r.note},
                                 {"state", domain::to_string(o.state)},
                                 {"found", o.state == domain::RecordState::ok ? std::string() : o.found}});
  }
  co_return ok_json(req, http::status::ok,
                    json::object{{"endpoint", id},
                                 {"zone", settings->zone},
                                 {"resolver", settings->resolver.to_string()},
                                 {"ok", ok},
                                 {"records", std::move(items)}});
}

boost::asio::awaitable<Response> AdminApi::endpoint_certificate(const Request& req, const RouteParams& params) {
  const auto& id = params["id"];
  auto entry = services_.endpoints.find(id);
  if (!entry) co_return problem(req, no_endpoint(id));
  const auto now = certstore::Clock::now();
  auto snapshot = services_.catalog.current();
  json::array served;
  for (const auto& hostname : entry->endpoint.hostnames) {
    // A wildcard is shown by one name it covers.
    const std::string probe = hostname.starts_with("*.") ? "wildcard-name" + hostname.substr(1) : hostname;
    const auto* bundle = snapshot->select(probe);
    if (!bundle) continue;
    auto summary = control::summarize(*bundle, now);
    auto item = to_json(summary);
    item["hostname"] = hostname;
    item["source"] = std::string(certstore::to_string(bundle->source()));
    item["covers_hostname"] = bundle->covers(probe);
    served.push_back(std::move(item));
  }
  json::object managed{{"enabled", false}};
  const auto status = services_.certificates.status(id);
  if (status.managed) {
    managed["enabled"] = true;
    managed["in_flight"] = status.in_flight;
    managed["challenge"] = status.challenge;
    if (status.renewal) {
      const auto& r = *status.renewal;
      // 0: never (a time in the store is unix seconds).
      auto when = [](std::int64_t unix) {
        return unix ? json::value(certstore::format_time(certstore::Clock::from_time_t(unix))) : json::value(nullptr);
      };
      managed["next_renewal"] = when(r.next_attempt_unix);
      managed["consecutive_failures"] = r.consecutive_failures;
      managed["last_error"] = r.last_error;
      managed["last_success"] = when(r.last_success_unix);
    }
    if (const auto* stored = services_.catalog.stored(id)) {
      managed["certificate"] = to_json(control::summarize(*stored->bundle, now));
    }
  }
  json::value transitional = nullptr;
  if (auto t = services_.transitional.current(id)) transitional = to_json(*t);
  json::array timeline;
  for (const auto& swap : services_.timeline.swaps(id)) timeline.push_back(to_json(swap));
  co_return ok_json(req, http::status::ok,
                    json::object{{"endpoint", id},
                                 {"served", std::move(served)},
                                 {"managed", std::move(managed)},
                                 {"transitional", std::move(transitional)},
                                 {"timeline", std::move(timeline)}});
}

boost::asio::awaitable<Response> AdminApi::renew(const Request& req, const RouteParams& params) {
  const auto& id = params["id"];
  if (!services_.endpoints.find(id)) co_return problem(req, no_endpoint(id));
  bool force = false;
  if (auto it = params.query.find("force"); it != params.query.end()) {
    if (it->second != "true" && it->second != "false") {
      co_return problem(req, invalid({{"force", "expected true or false, got " + quote(it->second)}}));
    }
    force = it->second == "true";
  }
  const auto now = services_.now ? services_.now() : RenewThrottle::Clock::now();
  const domain::Millis interval = services_.renew_now_interval ? services_.renew_now_interval() : std::chrono::minutes(1);
  if (auto wait = renew_throttle_.admit(id, now, interval)) {
    auto res = problem(req, {http::status::too_many_requests, "about:blank", "",
                             fmt::format("endpoint {} was asked to renew less than {} ago (limits.renew_now_interval); "
                                         "ask again in {} s",
                                         quote(id), interval_text(interval), wait->count()),
                             {}});
    res.set(http::field::retry_after, std::to_string(wait->count()));
    co_return res;
  }
  auto st = services_.certificates.renew_now(id, force);
  if (!st) {
    const auto status = st.error().code() == Errc::not_found || st.error().code() == Errc::conflict
                            ? http::status::conflict
                            : http::status::internal_server_error;
    co_return problem(req, {status, "about:blank", "", st.error().message(), {}});
  }
  co_return ok_json(req, http::status::accepted,
                    json::object{{"endpoint", id}, {"status", "scheduled"}, {"force", force}});
}

json::object AdminApi::endpoint_json(const control::EndpointEntry& entry) const {
  auto doc = to_json(entry);
  doc["alerts_firing"] = services_.alerts ? services_.alerts->firing_count(entry.endpoint.id) : 0;
  return doc;
}

boost::asio::awaitable<Response> AdminApi::list_alerts(const Request& req, const RouteParams& params) {
  auto filter = control::AlertBook::StateFilter::firing;
  if (auto it = params.query.find("state"); it != params.query.end()) {
    if (it->second == "firing") filter = control::AlertBook::StateFilter::firing;
    else if (it->second == "resolved") filter = control::AlertBook::StateFilter::resolved;
    else if (it->second == "all") filter = control::AlertBook::StateFilter::all;
    else co_return problem(req, invalid({{"state", "expected firing, resolved or all, got " + quote(it->second)}}));
  }
  std::string endpoint;
  if (auto it = params.query.find("endpoint"); it != params.query.end()) endpoint = it->second;
  json::array items;
  if (services_.alerts) {
    for (const auto& a : services_.alerts->list(filter, endpoint)) items.push_back(to_json(a));
  }
  co_return ok_json(req, http::status::ok, json::object{{"alerts", std::move(items)}});
}

}  // namespace portcullis::admin
