#include "app/query_api.h"

#include <charconv>
#include <string>

namespace learnflow {
namespace {

HttpResponse BadRequest(std::string message) {
  return HttpResponse::JsonError(400, "bad_request", message);
}

HttpResponse Internal(const Status& status) {
  return HttpResponse::JsonError(500, "internal", status.message());
}

// The id of /v1/<what>/{id}, or a 400 response.
std::optional<HttpResponse> CheckId(const HttpRequest& request, std::string_view what) {
  if (!request.query.empty()) {
    return BadRequest("unknown query parameter \"" + request.query.front().first + "\"");
  }
  if (request.path_suffix.empty()) return BadRequest("missing " + std::string(what) + " id");
  if (request.path_suffix.size() > kMaxQueryIdBytes) {
    return BadRequest(std::string(what) + " id longer than " + std::to_string(kMaxQueryIdBytes) +
                      " bytes");
  }
  return std::nullopt;
}

HttpResponse Answer(const StatusOr<std::optional<std::string>>& answer, std::string_view what,
                    std::string_view id) {
  if (!answer.ok()) return Internal(answer.status());
  if (!answer->has_value()) {
    std::string message(what);
    message += " \"";
    message += id;
    message += "\" is not in the state of this instance (unknown, or owned by another instance)";
    return HttpResponse::JsonError(404, "not_found", message);
  }
  return HttpResponse::Json(200, **answer);
}

HttpResponse ListCohorts(const StateQueries& queries, const HttpRequest& request) {
  CohortFilter filter = CohortFilter::kAll;
  size_t limit = kDefaultCohortListLimit;
  for (const auto& [name, value] : request.query) {
    if (name == "struggling") {
      if (value == "true") {
        filter = CohortFilter::kStruggling;
      } else if (value == "false") {
        filter = CohortFilter::kNotStruggling;
      } else {
        return BadRequest("struggling: expected true or false, got \"" + value + "\"");
      }
    } else if (name == "limit") {
      size_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > kMaxCohortListLimit) {
        return BadRequest("limit: expected an integer from 1 to " + std::to_string(kMaxCohortListLimit) +
                          ", got \"" + value + "\"");
      }
      limit = n;
    } else {
      return BadRequest("unknown query parameter \"" + name + "\" (known: struggling, limit)");
    }
  }
  StatusOr<std::string> answer = queries.Cohorts(filter, limit);
  if (!answer.ok()) return Internal(answer.status());
  return HttpResponse::Json(200, std::move(*answer));
}

}  // namespace

std::vector<HttpRoute> QueryRoutes(const StateQueries& queries) {
  std::vector<HttpRoute> routes;
  routes.push_back({HttpMethod::kGet, "/v1/learners/", RouteMatch::kPrefix,
                    [&queries](const HttpRequest& request) {
                      if (auto bad = CheckId(request, "learner")) return *bad;
                      return Answer(queries.Learner(request.path_suffix), "learner",
                                    request.path_suffix);
                    }});
  routes.push_back({HttpMethod::kGet, "/v1/cohorts/", RouteMatch::kPrefix,
                    [&queries](const HttpRequest& request) {
                      if (auto bad = CheckId(request, "cohort")) return *bad;
                      return Answer(queries.Cohort(request.path_suffix), "cohort",
                                    request.path_suffix);
                    }});
  routes.push_back({HttpMethod::kGet, "/v1/cohorts", RouteMatch::kExact,
                    [&queries](const HttpRequest& request) { return ListCohorts(queries, request); }});
  return routes;
}

}  // namespace learnflow
