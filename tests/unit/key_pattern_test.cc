#include "policy/key_pattern.h"

#include <doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "policy/namespace_index.h"

using kw::KeyPattern;
using kw::NamespaceDef;
using kw::NamespaceIndex;
using kw::Resolution;
using kw::SegmentType;

namespace {

using namespace std::string_literals;

KeyPattern pat(std::string_view text) {
  std::string error;
  auto p = KeyPattern::parse(text, &error);
  INFO("pattern: ", std::string(text), " error: ", error);
  REQUIRE(p.has_value());
  return *p;
}

std::string parseError(std::string_view text) {
  std::string error;
  auto p = KeyPattern::parse(text, &error);
  CHECK_FALSE(p.has_value());
  return error;
}

NamespaceIndex makeIndex(const std::vector<std::pair<std::string, std::string>>& specs) {
  std::vector<NamespaceDef> defs;
  for (const auto& [name, text] : specs)
    defs.push_back({name, pat(text)});
  std::string error;
  auto index = NamespaceIndex::build(std::move(defs), &error);
  INFO(error);
  REQUIRE(index.has_value());
  return std::move(*index);
}

// The resolution rules, spelled out the slow way.
Resolution referenceResolve(const NamespaceIndex& index, std::string_view key) {
  Resolution best;
  for (uint32_t i = 0; i < index.size(); ++i) {
    const KeyPattern& p = index.at(i).pattern;
    if (!p.matches(key))
      continue;
    if (!best.found() || p.specificity() > index.at(best.ns).pattern.specificity()) {
      best = {i, true};
    }
  }
  if (best.found())
    return best;
  size_t best_len = 0;
  for (uint32_t i = 0; i < index.size(); ++i) {
    const KeyPattern& p = index.at(i).pattern;
    const std::string_view prefix = p.literalPrefix();
    if (prefix.empty() || !key.starts_with(prefix))
      continue;
    if (prefix.size() > best_len ||
        (prefix.size() == best_len && p.specificity() > index.at(best.ns).pattern.specificity())) {
      best = {i, false};
      best_len = prefix.size();
    }
  }
  return best;
}

const std::vector<std::pair<std::string, std::string>> kPlatform = {
    {"session", "session:{user_id:uuid}:{session_id}"},
    {"profile", "profile:{user_id:uuid}"},
    {"blacklist_access", "blacklist:access:{jti}"},
    {"blacklist_refresh", "blacklist:refresh:{jti}"},
    {"doc_processing", "doc:processing:{document_id:uuid}"},
    {"rate_limit", "rl:{identifier}"},
    {"user_by_id", "user:id:{user_id}"},
    {"user_by_email", "user:email:{email}"},
    {"tenant_cache", "{tenant}:cache:{rest...}"},
};

constexpr std::string_view kUuid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

}  // namespace

TEST_CASE("key pattern: parses segments, prefix and escapes") {
  KeyPattern p = pat("session:{user_id:uuid}:{session_id}");
  CHECK(p.text() == "session:{user_id:uuid}:{session_id}");
  CHECK(p.literalPrefix() == "session:");
  CHECK(p.placeholderCount() == 2);
  CHECK_FALSE(p.hasRest());
  const auto& segs = p.segments();
  REQUIRE(segs.size() == 4);
  CHECK(
      (segs[0].type == SegmentType::kLiteral && segs[0].text == "session:" && segs[0].column == 1));
  CHECK((segs[1].type == SegmentType::kUuid && segs[1].text == "user_id" && segs[1].column == 9));
  CHECK((segs[2].type == SegmentType::kLiteral && segs[2].text == ":"));
  CHECK((segs[3].type == SegmentType::kAny && segs[3].text == "session_id"));

  KeyPattern t = pat("{tenant}:cache:{rest...}");
  CHECK(t.literalPrefix().empty());
  CHECK(t.hasRest());
  CHECK(t.segments().back().type == SegmentType::kRest);
  CHECK(t.segments().back().text == "rest");

  CHECK(pat("{a:any}").segments()[0].type == SegmentType::kAny);
  CHECK(pat("n:{n:int}").segments()[1].type == SegmentType::kInt);

  KeyPattern lit = pat("config:global");
  CHECK(lit.literalPrefix() == "config:global");
  CHECK(lit.placeholderCount() == 0);

  KeyPattern tag = pat("cart:{{{user_id}}}:items");
  CHECK(tag.literalPrefix() == "cart:{");
  REQUIRE(tag.segments().size() == 3);
  CHECK(tag.segments()[2].text == "}:items");
  CHECK(pat("{{}}").literalPrefix() == "{}");
  CHECK(pat("}}}}{{{{").literalPrefix() == "}}{{");

  // Literals are binary-safe.
  KeyPattern bin = pat("a\0b\r\n\xff:{x}"s);
  CHECK(bin.literalPrefix() == "a\0b\r\n\xff:"s);
  CHECK(bin.matches("a\0b\r\n\xff:v"s));
}

TEST_CASE("key pattern: parse errors name the column") {
  CHECK(parseError("") == "column 1: empty pattern");
  CHECK(parseError("session:{user_id") == "column 9: unclosed '{' (write '{{' for a literal '{')");
  CHECK(parseError("{{{") == "column 3: unclosed '{' (write '{{' for a literal '{')");
  CHECK(parseError("a}b") == "column 2: unmatched '}' (write '}}' for a literal '}')");
  CHECK(parseError("a:{b}}") == "column 6: unmatched '}' (write '}}' for a literal '}')");
  CHECK(parseError("x:{a{b}}") ==
        "column 5: '{' inside a placeholder (write '{{' for a literal '{')");
  CHECK(parseError("x:{}") == "column 3: empty placeholder name");
  CHECK(parseError("x:{:uuid}") == "column 3: empty placeholder name");
  CHECK(parseError("x:{...}") == "column 3: empty placeholder name");
  CHECK(parseError("x:{a b}") ==
        "column 5: invalid character ' ' in placeholder name (allowed: letters, digits, '_', "
        "'-')");
  CHECK(parseError("x:{a\0}"s) ==
        "column 5: invalid character '\\x00' in placeholder name (allowed: letters, digits, "
        "'_', '-')");
  CHECK(parseError("x:{a....}") ==
        "column 5: invalid character '.' in placeholder name (allowed: letters, digits, '_', "
        "'-')");
  CHECK(parseError("session:{user_id:uid}") ==
        "column 18: unknown placeholder type 'uid' (expected any, uuid or int)");
  CHECK(parseError("x:{a:UUID}") ==
        "column 6: unknown placeholder type 'UUID' (expected any, uuid or int)");
  CHECK(parseError("x:{a:\r\n}") ==
        "column 6: unknown placeholder type '\\r\\n' (expected any, uuid or int)");
  CHECK(parseError("x:{a:}") == "column 6: empty placeholder type (expected any, uuid or int)");
  CHECK(parseError("x:{a...:int}") ==
        "column 9: a rest placeholder takes no type: write {name...}");
  CHECK(parseError("x:{a:int...}") ==
        "column 6: a rest placeholder takes no type: write {name...}");
  CHECK(parseError("{a}:{b:int}:{a:uuid}") == "column 13: duplicate placeholder name 'a'");
  CHECK(parseError("{rest...}:x") == "column 1: rest placeholder {rest...} must end the pattern");
  CHECK(parseError("a:{r...}:{b}") == "column 3: rest placeholder {r...} must end the pattern");
  CHECK(parseError("a:{x}{y:int}") ==
        "column 6: placeholders {x} and {y:int} need literal text between them");
  CHECK(parseError("a:{x:uuid}{r...}") ==
        "column 11: placeholders {x:uuid} and {r...} need literal text between them");
  CHECK(parseError("a:{n:int}7") ==
        "column 10: placeholder {n:int} is followed by a digit, so where the number ends is "
        "ambiguous");
  CHECK(parseError(std::string(1025, 'a')) == "column 1025: pattern longer than 1024 bytes");
  CHECK(KeyPattern::parse(std::string(1024, 'a'), nullptr).has_value());
  CHECK_FALSE(KeyPattern::parse("{", nullptr).has_value());  // null error pointer is allowed

  // A long run of braces resolves pairwise, never recursing.
  CHECK(pat(std::string(1024, '{')).literalPrefix() == std::string(512, '{'));
  CHECK(parseError(std::string(1023, '{')) ==
        "column 1023: unclosed '{' (write '{{' for a literal '{')");
}

TEST_CASE("key pattern: any segments") {
  KeyPattern p = pat("user:id:{user_id}");
  CHECK(p.matches("user:id:42"));
  CHECK(p.matches("user:id:a b\r\n\0\xff"s));
  CHECK_FALSE(p.matches("user:id:"));     // placeholders are never empty
  CHECK_FALSE(p.matches("user:id:1:2"));  // `any` holds no ':'
  CHECK_FALSE(p.matches("user:id"));
  CHECK_FALSE(p.matches("user:idx42"));
  CHECK_FALSE(p.matches(""));
  CHECK_FALSE(p.matches({}));

  KeyPattern mid = pat("session:{user_id}:{session_id}");
  CHECK(mid.matches("session:u:s"));
  CHECK_FALSE(mid.matches("session::s"));
  CHECK_FALSE(mid.matches("session:u:"));
  CHECK_FALSE(mid.matches("session:u:s:t"));

  // The literal after a placeholder is its delimiter.
  KeyPattern img = pat("img:{id}.png");
  CHECK(img.matches("img:abc.png"));
  CHECK_FALSE(img.matches("img:a.b.png"));
  CHECK_FALSE(img.matches("img:.png"));
  CHECK_FALSE(img.matches("img:a:b.png"));
  CHECK_FALSE(img.matches("img:abc.pn"));

  std::string_view caps[1];
  KeyPattern tag = pat("cart:{{{user_id}}}:items");
  REQUIRE(tag.match("cart:{42}:items", caps));
  CHECK(caps[0] == "42");
  CHECK_FALSE(tag.matches("cart:{4}2}:items"));
  CHECK_FALSE(tag.matches("cart:{}:items"));

  KeyPattern lead = pat("{tenant}-x");
  CHECK(lead.matches("acme-x"));
  CHECK_FALSE(lead.matches("-x"));
  CHECK_FALSE(lead.matches("a:b-x"));
}

TEST_CASE("key pattern: uuid segments") {
  KeyPattern p = pat("profile:{user_id:uuid}");
  CHECK(p.matches("profile:"s + std::string(kUuid)));
  CHECK(p.matches("profile:3F2504E0-4F89-11D3-9A0C-0305E82C3301"));
  CHECK(p.matches("profile:3f2504E0-4F89-11d3-9A0c-0305e82C3301"));
  CHECK(p.matches("profile:00000000-0000-0000-0000-000000000000"));
  CHECK_FALSE(p.matches("profile:3f2504e0-4f89-11d3-9a0c-0305e82c330"));    // 35
  CHECK_FALSE(p.matches("profile:3f2504e0-4f89-11d3-9a0c-0305e82c33011"));  // 37
  CHECK_FALSE(p.matches("profile:3f2504e04f8911d39a0c0305e82c3301"));       // no hyphens
  CHECK_FALSE(p.matches("profile:3f2504e0-4f8911d3-9a0c-0305e82c3301-"));   // misplaced
  CHECK_FALSE(p.matches("profile:3f2504e0_4f89-11d3-9a0c-0305e82c3301"));
  CHECK_FALSE(p.matches("profile:3g2504e0-4f89-11d3-9a0c-0305e82c3301"));
  CHECK_FALSE(p.matches("profile:{3f2504e0-4f89-11d3-9a0c-0305e82c3301}"));
  CHECK_FALSE(p.matches("profile:3f2504e0-4f89-11d3-9a0c-0305e82c330\0"s));
  CHECK_FALSE(p.matches("profile:"));

  KeyPattern s = pat("session:{user_id:uuid}:{session_id}");
  std::string_view caps[2];
  const std::string key = "session:"s + std::string(kUuid) + ":s1";
  REQUIRE(s.match(key, caps));
  CHECK(caps[0] == kUuid);
  CHECK(caps[1] == "s1");
  CHECK_FALSE(s.matches("session:abc"));
  CHECK_FALSE(s.matches("session:"s + std::string(kUuid)));
  CHECK_FALSE(s.matches("session:"s + std::string(kUuid) + ":"));

  // Fixed-width, so any literal may follow, hex digits included.
  CHECK(pat("{u:uuid}abc").matches(std::string(kUuid) + "abc"));
}

TEST_CASE("key pattern: int segments follow Redis's string2ll") {
  KeyPattern p = pat("n:{n:int}");
  for (const char* ok : {"n:0", "n:7", "n:-1", "n:42", "n:9223372036854775807",
                         "n:-9223372036854775808", "n:1000000000000000000"}) {
    INFO(ok);
    CHECK(p.matches(ok));
  }
  for (const char* bad : {"n:", "n:-", "n:-0", "n:007", "n:00", "n:+1", "n: 1", "n:1 ", "n:1a",
                          "n:0x10", "n:9223372036854775808", "n:-9223372036854775809",
                          "n:18446744073709551616", "n:99999999999999999999", "n:--1", "n:1-"}) {
    INFO(bad);
    CHECK_FALSE(p.matches(bad));
  }
  CHECK_FALSE(p.matches("n:" + std::string(1 << 20, '9')));

  KeyPattern range = pat("r:{lo:int}-{hi:int}");
  std::string_view caps[2];
  REQUIRE(range.match("r:5--3", caps));
  CHECK(caps[0] == "5");
  CHECK(caps[1] == "-3");
  CHECK(range.matches("r:-5-10"));
  CHECK_FALSE(range.matches("r:05-1"));
  CHECK_FALSE(range.matches("r:5-"));

  CHECK(pat("{n:int}:x").matches("-12:x"));
  CHECK_FALSE(pat("{n:int}:x").matches("12x:x"));
}

TEST_CASE("key pattern: rest segments and literal-only patterns") {
  KeyPattern p = pat("{tenant}:cache:{rest...}");
  std::string_view caps[2];
  REQUIRE(p.match("acme:cache:a:b:c", caps));
  CHECK(caps[0] == "acme");
  CHECK(caps[1] == "a:b:c");
  CHECK(p.matches("acme:cache::"));
  CHECK(p.matches("acme:cache:\0\r\n"s));
  CHECK_FALSE(p.matches("acme:cache:"));  // rest is one or more bytes
  CHECK_FALSE(p.matches(":cache:x"));
  CHECK_FALSE(p.matches("a:b:cache:x"));

  KeyPattern lit = pat("config:global");
  CHECK(lit.matches("config:global"));
  CHECK_FALSE(lit.matches("config:globa"));
  CHECK_FALSE(lit.matches("config:global:"));

  // Captures shorter than the placeholder list are allowed.
  std::string_view one[1];
  CHECK(p.match("t:cache:x", one));
  CHECK(one[0] == "t");
}

TEST_CASE("key pattern: huge and binary keys") {
  const std::string mib(1 << 20, 'k');
  CHECK(pat("rl:{identifier}").matches("rl:" + mib));
  CHECK_FALSE(pat("rl:{identifier}").matches("rl:" + mib + ":"));
  CHECK(pat("blob:{rest...}").matches("blob:" + mib + ":" + mib));
  CHECK_FALSE(pat("blob:{rest...}").matches(mib));
  CHECK_FALSE(pat("session:{u:uuid}:{s}").matches("session:" + mib));
  CHECK(pat(mib.substr(0, 1000) + "{x}").matches(mib));
  CHECK_FALSE(pat(mib.substr(0, 1000) + "{x}").matches(mib.substr(0, 1000)));
  CHECK_FALSE(pat(mib.substr(0, 1000) + "{x}").matches(mib + ":"));

  std::string binary;
  for (int c = 0; c < 256; ++c) {
    if (c != ':')
      binary.push_back(static_cast<char>(c));
  }
  CHECK(pat("b:{v}").matches("b:" + binary));
  CHECK_FALSE(pat("b:{v:int}").matches("b:" + binary));

  // Every delimiter byte works, NUL included.
  KeyPattern nul = pat("a:{x}\0b"s);
  CHECK(nul.matches("a:v\0b"s));
  CHECK_FALSE(nul.matches("a:v\0\0b"s));
}

TEST_CASE("key pattern: specificity orders literal bytes, then no rest, then typed") {
  CHECK(pat("blacklist:access:{jti}").specificity() > pat("blacklist:{kind}:{jti}").specificity());
  CHECK(pat("a:{x}:{y}").specificity() > pat("a:{rest...}").specificity());
  CHECK(pat("a:{x}").specificity() > pat("a:{rest...}").specificity());
  CHECK(pat("user:{id:int}").specificity() > pat("user:{name}").specificity());
  CHECK(pat("user:{id:uuid}").specificity() == pat("user:{id:int}").specificity());
  CHECK(pat("ab:{x...}").specificity() > pat("a:{x:int}").specificity());
}

TEST_CASE("namespace index: platform namespaces") {
  NamespaceIndex index = makeIndex(kPlatform);
  auto name = [&](std::string_view key) -> std::string {
    const Resolution r = index.resolve(key);
    if (!r.found())
      return "-";
    return index.at(r.ns).name + (r.shape_ok ? "" : "!");
  };
  const std::string uuid(kUuid);
  CHECK(name("session:" + uuid + ":0f3c") == "session");
  CHECK(name("profile:" + uuid) == "profile");
  CHECK(name("blacklist:access:eyJhbGciOi.x") == "blacklist_access");
  CHECK(name("blacklist:refresh:eyJhbGciOi.y") == "blacklist_refresh");
  CHECK(name("doc:processing:" + uuid) == "doc_processing");
  CHECK(name("rl:203.0.113.9") == "rate_limit");
  CHECK(name("user:id:1001") == "user_by_id");
  CHECK(name("user:email:ann@example.com") == "user_by_email");
  CHECK(name("acme:cache:page:/home") == "tenant_cache");
  CHECK(name("user:cache:1") == "tenant_cache");

  // Under a namespace prefix but the wrong shape: refused as that namespace.
  CHECK(name("session:abc") == "session!");
  CHECK(name("session:") == "session!");
  CHECK(name("session:" + uuid) == "session!");
  CHECK(name("profile:not-a-uuid") == "profile!");
  CHECK(name("blacklist:access:") == "blacklist_access!");
  CHECK(name("rl:::1") == "rate_limit!");
  CHECK(name("user:email:a:b") == "user_by_email!");
  CHECK(name("doc:processing:" + uuid + ":x") == "doc_processing!");

  // Outside every namespace.
  CHECK(name("sessions:x") == "-");
  CHECK(name("session") == "-");
  CHECK(name("blacklist:other:x") == "-");
  CHECK(name("user:name:x") == "-");
  CHECK(name("acme:cache:") == "-");  // a prefix-less pattern claims only full matches
  CHECK(name("") == "-");
  CHECK(name("\0\r\n"s) == "-");

  const Resolution r = index.resolve("session:abc");
  CHECK(index.describeMismatch("session:abc", r.ns) ==
        "key 'session:abc' does not match namespace 'session' "
        "(session:{user_id:uuid}:{session_id})");
}

TEST_CASE("namespace index: mismatch messages escape and truncate the key") {
  NamespaceIndex index = makeIndex(kPlatform);
  const std::string key = "session:\0\r\n'\\\x7f\xff\t"s;
  const Resolution r = index.resolve(key);
  REQUIRE(r.found());
  CHECK_FALSE(r.shape_ok);
  CHECK(index.describeMismatch(key, r.ns) ==
        "key 'session:\\x00\\r\\n\\'\\\\\\x7f\\xff\\t' does not match namespace 'session' "
        "(session:{user_id:uuid}:{session_id})");

  const std::string long_key = "session:" + std::string(1 << 20, 'z');
  const std::string message = index.describeMismatch(long_key, index.resolve(long_key).ns);
  CHECK(message == "key '" + long_key.substr(0, 128) +
                       "...' does not match namespace 'session' "
                       "(session:{user_id:uuid}:{session_id})");
  CHECK(kw::describeNamespaceMismatch(std::string(128, 'k'), "n", "p") ==
        "key '" + std::string(128, 'k') + "' does not match namespace 'n' (p)");
}

TEST_CASE("namespace index: most specific wins among overlapping prefixes") {
  for (bool generic_first : {true, false}) {
    std::vector<std::pair<std::string, std::string>> specs = {
        {"access", "blacklist:access:{jti}"}, {"any_kind", "blacklist:{kind}:{jti}"}};
    if (generic_first)
      std::swap(specs[0], specs[1]);
    NamespaceIndex index = makeIndex(specs);
    auto name = [&](std::string_view key) {
      const Resolution r = index.resolve(key);
      return r.found() ? index.at(r.ns).name + (r.shape_ok ? "" : "!") : "-";
    };
    CHECK(name("blacklist:access:j1") == "access");
    CHECK(name("blacklist:refresh:j1") == "any_kind");
    CHECK(name("blacklist:access:") == "access!");  // longest prefix owns the refusal
    CHECK(name("blacklist:refresh:") == "any_kind!");
    CHECK(name("blacklist:access:a:b") == "access!");
    CHECK(name("blacklist:") == "any_kind!");
    CHECK(name("blacklist") == "-");
  }

  // Equal specificity: the first declared wins, whatever the order.
  NamespaceIndex ab = makeIndex({{"first", "a:{x}"}, {"second", "a:{y:any}"}});
  CHECK(ab.at(ab.resolve("a:1").ns).name == "first");
  NamespaceIndex ba = makeIndex({{"first", "a:{y:any}"}, {"second", "a:{x}"}});
  CHECK(ba.at(ba.resolve("a:1").ns).name == "first");

  // A typed placeholder beats `any`; rest loses to a fixed shape.
  NamespaceIndex typed = makeIndex({{"name", "user:{name}"},
                                    {"id", "user:{id:int}"},
                                    {"all", "user:{rest...}"},
                                    {"tenant", "{t}:{rest...}"}});
  CHECK(typed.at(typed.resolve("user:42").ns).name == "id");
  CHECK(typed.at(typed.resolve("user:ann").ns).name == "name");
  CHECK(typed.at(typed.resolve("user:ann:x").ns).name == "all");
  CHECK(typed.at(typed.resolve("other:x").ns).name == "tenant");
  // The prefix-less pattern is less specific than user:{rest...} (5 literal bytes vs 1).
  CHECK(typed.at(typed.resolve("user:x:y").ns).name == "all");

  // A prefix-less pattern can outrank prefixed ones by literal bytes.
  NamespaceIndex prefixless = makeIndex({{"short", "t:{x...}"}, {"long", "{t}:cache:{x...}"}});
  CHECK(prefixless.at(prefixless.resolve("t:cache:1").ns).name == "long");
  CHECK(prefixless.at(prefixless.resolve("t:other").ns).name == "short");
}

TEST_CASE("namespace index: build errors") {
  std::string error;
  std::vector<NamespaceDef> dup_name{{"a", pat("a:{x}")}, {"a", pat("b:{x}")}};
  CHECK_FALSE(NamespaceIndex::build(std::move(dup_name), &error).has_value());
  CHECK(error == "duplicate namespace name 'a'");
  std::vector<NamespaceDef> dup_text{{"a", pat("a:{x}")}, {"b", pat("a:{x}")}};
  CHECK_FALSE(NamespaceIndex::build(std::move(dup_text), &error).has_value());
  CHECK(error == "namespace 'b' has the same pattern as namespace 'a' (a:{x})");
  std::vector<NamespaceDef> no_name{{"", pat("a:{x}")}};
  CHECK_FALSE(NamespaceIndex::build(std::move(no_name), &error).has_value());
  CHECK(error == "namespace #1 has no name");

  NamespaceIndex empty;
  CHECK_FALSE(empty.resolve("anything").found());
  auto built_empty = NamespaceIndex::build({}, nullptr);
  REQUIRE(built_empty.has_value());
  CHECK_FALSE(built_empty->resolve("").found());
}

TEST_CASE("namespace index: 300 namespaces agree with the reference rules") {
  std::vector<std::pair<std::string, std::string>> specs(kPlatform);
  const char* shapes[] = {"svc%d:obj:{id:int}",
                          "svc%d:{name}",
                          "svc%d:obj:{id:uuid}:{field}",
                          "app:%d:{rest...}",
                          "{t}:svc%d:{k}",
                          "svc%d:obj:{id:int}:meta",
                          "x%d",
                          "svc%d"};
  for (int i = 0; specs.size() < 300; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, shapes[i % 8], i / 8);
    specs.emplace_back("ns" + std::to_string(i), buf);
  }
  NamespaceIndex index = makeIndex(specs);
  REQUIRE(index.size() == 300);

  std::vector<std::string> keys = {"svc3:obj:17", "svc3:obj:" + std::string(kUuid) + ":f",
                                   "svc3:bob",    "app:5:a:b",
                                   "t:svc2:k",    "svc30:obj:5:meta",
                                   "x1",          "x12",
                                   "svc1",        "svc1:",
                                   "svc",         "app:",
                                   "app:9:"};
  std::mt19937 rng(12345);
  const std::string alphabet = "svcobjmetaxpp:0123456789-:";
  for (int i = 0; i < 20000; ++i) {
    std::string key;
    const int len = static_cast<int>(rng() % 24);
    for (int j = 0; j < len; ++j)
      key.push_back(alphabet[rng() % alphabet.size()]);
    keys.push_back(key);
    // Also mutate a real key from a generated pattern's shape.
    std::string k = "svc" + std::to_string(rng() % 40) + ":obj:" + std::to_string(rng() % 100);
    if (rng() % 3 == 0)
      k += ":meta";
    if (rng() % 5 == 0)
      k[rng() % k.size()] = alphabet[rng() % alphabet.size()];
    keys.push_back(k);
  }
  for (const std::string& key : keys) {
    const Resolution got = index.resolve(key);
    const Resolution want = referenceResolve(index, key);
    INFO("key: ", key);
    CHECK(got.ns == want.ns);
    CHECK(got.shape_ok == want.shape_ok);
  }
  CHECK(index.at(index.resolve("svc3:obj:17").ns).name == "ns24");
  CHECK(index.at(index.resolve("svc3:bob").ns).name == "ns25");
  CHECK(index.at(index.resolve("svc30:obj:5:meta").ns).name == "ns245");
}
