#include <libpq-fe.h>

#include <string>
#include <vector>

#include <doctest.h>

#include "pg/row_result.h"

namespace kw::pg {
namespace {

// A PGresult made by libpq itself (no server): one column of `type`, `rows` values.
PGresult* makeResult(Oid type, const std::vector<const char*>& rows) {
  PGresult* r = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  PGresAttDesc att{};
  att.name = const_cast<char*>("v");
  att.typid = type;
  att.typlen = -1;
  att.atttypmod = -1;
  REQUIRE(PQsetResultAttrs(r, 1, &att));
  for (size_t i = 0; i < rows.size(); ++i) {
    const char* v = rows[i];
    REQUIRE(PQsetvalue(r, static_cast<int>(i), 0, const_cast<char*>(v),
                       v ? static_cast<int>(std::string(v).size()) : -1));
  }
  return r;
}

TEST_CASE("read-through rows: zero rows is missing, one text value is found") {
  PGresult* none = makeResult(25, {});
  CHECK(interpretResult(none, "").kind == RowOutcome::Kind::kMissing);
  PQclear(none);
  PGresult* one = makeResult(114 /*json*/, {"{\"a\":1}"});
  RowOutcome o = interpretResult(one, "");
  CHECK(o.kind == RowOutcome::Kind::kFound);
  CHECK(o.value == "{\"a\":1}");
  PQclear(one);
}

TEST_CASE("read-through rows: NULL, two rows, a non-text column are bad data, never a crash") {
  PGresult* null = makeResult(25, {nullptr});
  RowOutcome o = interpretResult(null, "");
  CHECK(o.kind == RowOutcome::Kind::kBadData);
  CHECK(o.error == "the first column is NULL");
  PQclear(null);
  PGresult* two = makeResult(25, {"a", "b"});
  o = interpretResult(two, "");
  CHECK(o.kind == RowOutcome::Kind::kBadData);
  CHECK(o.error == "the query returned 2 rows (expected 0 or 1)");
  PQclear(two);
  PGresult* num = makeResult(23 /*int4*/, {"42"});
  o = interpretResult(num, "");
  CHECK(o.kind == RowOutcome::Kind::kBadData);
  CHECK(o.error.find("not text") != std::string::npos);
  PQclear(num);
}

TEST_CASE("read-through rows: no result is the connection's error, a server error is a query "
          "error") {
  RowOutcome o = interpretResult(nullptr, "server closed the connection unexpectedly");
  CHECK(o.kind == RowOutcome::Kind::kUnavailable);
  CHECK(o.error == "server closed the connection unexpectedly");
  PGresult* err = PQmakeEmptyPGresult(nullptr, PGRES_FATAL_ERROR);
  o = interpretResult(err, "");
  CHECK(o.kind == RowOutcome::Kind::kQueryError);
  CHECK_FALSE(o.error.empty());
  PQclear(err);
}

}  // namespace
}  // namespace kw::pg
