// An alert as the admin API shows it (GET /api/v1/alerts): the episode's state, times and the
// finding's fields, as documented in docs/admin-api.md.
#pragma once

#include <boost/json/object.hpp>

#include "control/alert_book.hpp"

namespace portcullis::admin {

boost::json::object to_json(const control::Alert& alert);

}  // namespace portcullis::admin
