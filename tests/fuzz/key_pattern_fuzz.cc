// Input: up to 16 patterns, one per line, then an empty line, then the key (any bytes). Checks
// that parsing and matching never crash, that a match's captures and literals rebuild the key
// exactly, and that the index resolves as the brute-force rules say.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/key_pattern.h"
#include "policy/namespace_index.h"

#include "fuzz_check.h"

namespace {

using kw::KeyPattern;
using kw::Resolution;
using kw::SegmentType;

constexpr size_t kMaxPatterns = 16;

void checkPattern(const KeyPattern& p, std::string_view key) {
  std::vector<std::string_view> captures(p.placeholderCount());
  const bool matched = p.match(key, captures);
  FUZZ_CHECK(matched == p.matches(key));
  if (!matched)
    return;
  FUZZ_CHECK(key.starts_with(p.literalPrefix()));
  std::string rebuilt;
  size_t capture = 0;
  for (const kw::PatternSegment& seg : p.segments()) {
    if (seg.type == SegmentType::kLiteral) {
      rebuilt += seg.text;
      continue;
    }
    const std::string_view value = captures[capture++];
    FUZZ_CHECK(!value.empty());
    if (seg.type != SegmentType::kRest)
      FUZZ_CHECK(value.find(':') == std::string_view::npos);
    if (seg.type == SegmentType::kUuid)
      FUZZ_CHECK(value.size() == 36);
    rebuilt += value;
  }
  FUZZ_CHECK(capture == p.placeholderCount());
  FUZZ_CHECK(rebuilt == key);
}

Resolution reference(const std::vector<kw::NamespaceDef>& defs, std::string_view key) {
  Resolution best;
  for (uint32_t i = 0; i < defs.size(); ++i) {
    if (defs[i].pattern.matches(key) &&
        (!best.found() || defs[i].pattern.specificity() > defs[best.ns].pattern.specificity())) {
      best = {i, true};
    }
  }
  if (best.found())
    return best;
  size_t best_len = 0;
  for (uint32_t i = 0; i < defs.size(); ++i) {
    const std::string_view prefix = defs[i].pattern.literalPrefix();
    if (prefix.empty() || !key.starts_with(prefix))
      continue;
    if (prefix.size() > best_len ||
        (prefix.size() == best_len &&
         defs[i].pattern.specificity() > defs[best.ns].pattern.specificity())) {
      best = {i, false};
      best_len = prefix.size();
    }
  }
  return best;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n\n");
  const std::string_view head = split == std::string_view::npos ? input : input.substr(0, split);
  const std::string_view key = split == std::string_view::npos ? input : input.substr(split + 2);

  std::vector<kw::NamespaceDef> defs;
  size_t line_start = 0;
  for (size_t n = 0; n < kMaxPatterns && line_start <= head.size(); ++n) {
    size_t end = head.find('\n', line_start);
    if (end == std::string_view::npos)
      end = head.size();
    const std::string_view text = head.substr(line_start, end - line_start);
    line_start = end + 1;
    std::string error;
    std::optional<KeyPattern> p = KeyPattern::parse(text, &error);
    if (!p) {
      FUZZ_CHECK(!error.empty());
      FUZZ_CHECK(error.find_first_of("\r\n") == std::string::npos);
      continue;
    }
    FUZZ_CHECK(p->text() == text);
    // Parsing is a function of the text alone.
    std::optional<KeyPattern> again = KeyPattern::parse(p->text(), nullptr);
    FUZZ_CHECK(again && again->specificity() == p->specificity());
    checkPattern(*p, key);
    checkPattern(*p, text);
    bool duplicate = false;
    for (const kw::NamespaceDef& def : defs)
      duplicate |= def.pattern.text() == text;
    if (!duplicate)
      defs.push_back({"ns" + std::to_string(n), std::move(*p)});
  }

  std::string error;
  std::optional<kw::NamespaceIndex> index = kw::NamespaceIndex::build(defs, &error);
  FUZZ_CHECK(index.has_value());
  for (std::string_view k : {key, head, key.substr(0, key.size() / 2)}) {
    const Resolution got = index->resolve(k);
    const Resolution want = reference(defs, k);
    FUZZ_CHECK(got.ns == want.ns && got.shape_ok == want.shape_ok);
    if (got.found() && !got.shape_ok) {
      const std::string message = index->describeMismatch(k, got.ns);
      FUZZ_CHECK(message.find_first_of("\r\n") == std::string::npos);
    }
  }
  return 0;
}
