#include "pg/row_result.h"

#include <libpq-fe.h>

#include <string>

namespace kw::pg {
namespace {

// Type OIDs whose text form is the value itself (pg_type.h; stable across versions).
constexpr Oid kTextOids[] = {25 /*text*/,  1043 /*varchar*/, 1042 /*bpchar*/,
                             114 /*json*/, 3802 /*jsonb*/,   19 /*name*/};

std::string oneLine(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\t')
      c = ' ';
  return out;
}

}  // namespace

RowOutcome interpretResult(const PGresult* result, const std::string& conn_error) {
  RowOutcome out;
  if (!result) {
    out.kind = RowOutcome::Kind::kUnavailable;
    out.error = conn_error.empty() ? "connection failed" : conn_error;
    return out;
  }
  const ExecStatusType st = PQresultStatus(result);
  if (st != PGRES_TUPLES_OK) {
    out.kind = RowOutcome::Kind::kQueryError;
    out.error = oneLine(PQresultErrorMessage(result));
    if (out.error.empty())
      out.error = PQresStatus(st);
    return out;
  }
  const int rows = PQntuples(result);
  if (rows == 0) {
    out.kind = RowOutcome::Kind::kMissing;
    return out;
  }
  out.kind = RowOutcome::Kind::kBadData;
  if (PQnfields(result) < 1) {
    out.error = "the query returned no column";
    return out;
  }
  if (rows > 1) {
    out.error = "the query returned " + std::to_string(rows) + " rows (expected 0 or 1)";
    return out;
  }
  const Oid type = PQftype(result, 0);
  bool text = false;
  for (Oid t : kTextOids)
    text |= t == type;
  if (!text) {
    out.error =
        "the first column is not text (type oid " + std::to_string(type) + "; cast it with ::text)";
    return out;
  }
  if (PQgetisnull(result, 0, 0)) {
    out.error = "the first column is NULL";
    return out;
  }
  out.kind = RowOutcome::Kind::kFound;
  out.value.assign(PQgetvalue(result, 0, 0), static_cast<size_t>(PQgetlength(result, 0, 0)));
  return out;
}

const char* kindName(RowOutcome::Kind kind) {
  switch (kind) {
  case RowOutcome::Kind::kFound:
    return "found";
  case RowOutcome::Kind::kMissing:
    return "missing";
  case RowOutcome::Kind::kUnavailable:
    return "unavailable";
  case RowOutcome::Kind::kTimeout:
    return "timeout";
  case RowOutcome::Kind::kBadData:
    return "bad_data";
  case RowOutcome::Kind::kQueryError:
    return "query_error";
  }
  return "?";
}

}  // namespace kw::pg
