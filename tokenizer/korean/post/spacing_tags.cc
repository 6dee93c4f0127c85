// Tag statistics of the Korean spacer (spacing_tags.h).
#include "tokenizer/korean/post/spacing_tags.h"

#include <charconv>
#include <mutex>

#include "platform/fields.h"

namespace ondo::korean {

namespace detail {
// tokenizer/korean/data/spacing_tags.tsv, embedded by tokenizer/korean/post/CMakeLists.txt.
std::string_view EmbeddedSpacingTagsBlob();
}  // namespace detail

namespace {

bool ParseCount(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Status SpacingTagStats::Create(std::string_view tsv, std::unique_ptr<SpacingTagStats>* out) {
  out->reset();
  std::unique_ptr<SpacingTagStats> st(new SpacingTagStats());
  bool seen[kNumTags * kNumTags] = {};
  size_t pos = 0, line_no = 0, pairs = 0;
  while (pos < tsv.size()) {
    size_t end = tsv.find('\n', pos);
    if (end == std::string_view::npos) end = tsv.size();
    std::string_view line = tsv.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string_view> f = platform::SplitFields(line, '\t');  // exactly four
    Tag l, r;
    uint32_t s = 0, j = 0;
    if (f.size() != 4 || !ParseTag(f[0], &l) || !ParseTag(f[1], &r) ||
        !ParseCount(f[2], &s) || !ParseCount(f[3], &j) || s > (1u << 30) || j > (1u << 30)) {
      return Corrupt("spacing tags: line {} is not LEFT RIGHT spaced joined",
                        line_no);
    }
    const size_t at = Index(l, r);
    if (seen[at]) {
      return Corrupt("spacing tags: line {} repeats the pair {} {}",
                        line_no, TagName(l), TagName(r));
    }
    seen[at] = true;
    st->spaced_[at] = s;
    st->joined_[at] = j;
    ++pairs;
  }
  if (pairs == 0) return Corrupt("spacing tags: no pair");
  double all_s = 0, all_n = 0;
  for (size_t k = 0; k < static_cast<size_t>(kNumTags * kNumTags); ++k) {
    all_s += st->spaced_[k];
    all_n += static_cast<double>(st->spaced_[k]) + st->joined_[k];
  }
  const double p0 = (all_s + 0.5) / (all_n + 1.0);
  for (int a = 0; a < kNumTags; ++a) {
    double s = 0, n = 0;
    for (int b2 = 0; b2 < kNumTags; ++b2) {
      const size_t at = static_cast<size_t>(a) * kNumTags + static_cast<size_t>(b2);
      s += st->spaced_[at];
      n += static_cast<double>(st->spaced_[at]) + st->joined_[at];
    }
    st->left_p_[a] = (s + p0) / (n + 1.0);
  }
  *out = std::move(st);
  return Status::Ok();
}

double SpacingTagStats::SpaceProbability(Tag a, Tag b) const {
  const size_t at = Index(a, b);
  const double s = spaced_[at], n = s + joined_[at];
  return (s + left_p_[static_cast<int>(a)]) / (n + 1.0);
}

Status SpacingTagStats::Shared(const SpacingTagStats** out) {
  static std::once_flag once;
  static std::unique_ptr<SpacingTagStats> stats;
  static Status status;
  std::call_once(once, [] { status = Create(detail::EmbeddedSpacingTagsBlob(), &stats); });
  *out = stats.get();
  return status;
}

}  // namespace ondo::korean
