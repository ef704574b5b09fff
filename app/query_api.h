// The HTTP query API (DESIGN §10): /v1/learners/{learner_id}, /v1/cohorts/{cohort_id} and
// /v1/cohorts[?struggling=true|false][&limit=N], answered from the live state (StateQueries).
//
//   HttpServerOptions http;
//   http.routes = QueryRoutes(queries);
//
// Ids are the whole rest of the path, percent-decoded ("/v1/learners/mailto%3Aada%40example.org");
// with privacy.pseudonymize_learner_ids, learner ids are the pseudonyms found in the output
// topics. Answers: 200 with a JSON object; 400 {"error":"bad_request","message":...} naming the
// bad parameter; 404 {"error":"not_found",...} when this instance holds no state for the id;
// 500 {"error":"internal",...} when the store fails. docs/operations.md shows every response.
//
// Thread-safety: the handlers run on the HTTP server's threads and only read the store.
// `queries` is borrowed and must outlive the server.
#pragma once

#include <cstddef>
#include <vector>

#include "connectors/http_server.h"
#include "stream/state_queries.h"

namespace learnflow {

inline constexpr size_t kDefaultCohortListLimit = 1000;
inline constexpr size_t kMaxCohortListLimit = 10000;
inline constexpr size_t kMaxQueryIdBytes = 1024;

std::vector<HttpRoute> QueryRoutes(const StateQueries& queries);

}  // namespace learnflow
