// What a read-through query answered, in the terms the stage replies with. interpretResult()
// applies the rules of a read-through query: zero rows (the record does not exist) or one row
// whose first column is a non-NULL text value; anything else is bad data, never a crash.
#pragma once

#include <string>

typedef struct pg_result PGresult;

namespace kw::pg {

struct RowOutcome {
  enum class Kind : uint8_t {
    kFound,        // value: the text to cache
    kMissing,      // no row
    kUnavailable,  // the source cannot be reached, or its circuit is open (error: cause)
    kTimeout,      // past query_timeout_ms
    kBadData,      // NULL, two rows, a non-text column (error: what)
    kQueryError,   // the server refused the query (error: its message)
  };
  Kind kind = Kind::kUnavailable;
  std::string value;  // kFound
  std::string error;  // otherwise
};

// `result` may be nullptr (the connection failed; `conn_error` says why).
RowOutcome interpretResult(const PGresult* result, const std::string& conn_error);

const char* kindName(RowOutcome::Kind kind);

}  // namespace kw::pg
