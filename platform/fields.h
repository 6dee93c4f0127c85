// Splitting text into fields: lines of the Korean data and evaluation files (TSV, CoNLL-U,
// `+`-joined morphemes), and the cgroup and mount files the memory budget reads.
#pragma once

#include <string_view>
#include <vector>

namespace ondo::platform {

// The pieces of `s` between occurrences of `sep`, empty ones included: "a\t\tb" gives "a", "",
// "b"; "" gives one empty piece. The pieces point into `s`.
inline std::vector<std::string_view> SplitFields(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t b = 0;
  for (;;) {
    const size_t e = s.find(sep, b);
    if (e == std::string_view::npos) {
      out.push_back(s.substr(b));
      return out;
    }
    out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
}

}  // namespace ondo::platform
