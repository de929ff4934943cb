// The payload of a read-through notification: the key's parameter values. With one parameter
// the payload is the value itself (pg_notify('profile_changed', OLD.user_id::text)); with
// several it is a JSON array of strings in params order (json_build_array(a, b)::text).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kw::pg {

// False when the payload does not hold exactly `count` values.
bool parseNotifyPayload(std::string_view payload, size_t count, std::vector<std::string>* values);

}  // namespace kw::pg
