// The names of the platform zone that belong to an endpoint by its id: its platform host
// <id>.<zone> and its validation host acme.<id>.<zone> (docs/dns.md). Used by the endpoint rules
// and by the endpoint service, which keeps a deleted id's names from other endpoints.
#pragma once

#include <string_view>

namespace portcullis::domain {

// The endpoint id whose platform host (<id>.<zone>) or validation host (acme.<id>.<zone>) `name`
// is, or whose validation host the wildcard `name` covers (*.<id>.<zone>); empty when none. The
// view points into `name`. Pure.
std::string_view platform_owner(std::string_view name, std::string_view zone);

}  // namespace portcullis::domain
