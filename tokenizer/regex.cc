// Regex: parser (pattern -> AST), compiler (AST -> backtracking program) and the VM.
#include "tokenizer/regex.h"

#include <algorithm>

namespace ondo::tokenizer {
namespace {

constexpr int kMaxDepth = 64;          // group nesting
constexpr int kMaxRepeat = 1000;       // {n,m} bounds
constexpr size_t kMaxProgram = 100000;  // instructions after expansion

using unicode::CategoryMask;

bool IsWordChar(uint32_t cp) {
  if (cp < 128) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_';
  }
  const CategoryMask m = unicode::CategoryBit(cp);
  return (m & (unicode::kMaskL | unicode::kMaskM | unicode::Bit(unicode::Category::kNd) |
               unicode::Bit(unicode::Category::kPc))) != 0;
}

// Simple case variants (ASCII letters plus the two non-ASCII code points that fold to ASCII).
void CaseVariants(uint32_t cp, std::vector<uint32_t>* out) {
  out->clear();
  out->push_back(cp);
  uint32_t lower = cp;
  if (cp >= 'A' && cp <= 'Z') lower = cp + 32;
  if (cp == 0x17F) lower = 's';
  if (cp == 0x212A) lower = 'k';
  if (lower >= 'a' && lower <= 'z') {
    for (uint32_t v : {lower, lower - 32}) {
      if (v != cp) out->push_back(v);
    }
    if (lower == 's' && cp != 0x17F) out->push_back(0x17F);
    if (lower == 'k' && cp != 0x212A) out->push_back(0x212A);
  }
}

struct Node {
  enum class Kind { kEmpty, kChar, kClass, kAny, kConcat, kAlt, kRepeat, kLook, kAtomic, kAssert };
  Kind kind = Kind::kEmpty;
  uint32_t c = 0;
  bool icase = false;
  int cls = -1;
  std::vector<std::unique_ptr<Node>> kids;
  int min = 0, max = 0;  // max -1: unbounded
  bool greedy = true, possessive = false;
  bool negate = false;
  Regex::AssertKind assert_kind = Regex::AssertKind::kBol;
};
using NodePtr = std::unique_ptr<Node>;

NodePtr MakeNode(Node::Kind kind) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  return n;
}

bool Nullable(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kChar:
    case Node::Kind::kClass:
    case Node::Kind::kAny:
      return false;
    case Node::Kind::kConcat:
      for (const auto& k : n.kids) {
        if (!Nullable(*k)) return false;
      }
      return true;
    case Node::Kind::kAlt:
      for (const auto& k : n.kids) {
        if (Nullable(*k)) return true;
      }
      return n.kids.empty();
    case Node::Kind::kRepeat:
      return n.min == 0 || Nullable(*n.kids[0]);
    case Node::Kind::kAtomic:
      return Nullable(*n.kids[0]);
    default:
      return true;
  }
}

}  // namespace

class RegexCompiler {
 public:
  explicit RegexCompiler(Regex* re) : re_(re) {}

  Status Compile(std::string_view pattern) {
    size_t pos = 0;
    while (pos < pattern.size()) {
      uint32_t cp = 0;
      if (!unicode::DecodeOne(pattern, &pos, &cp)) {
        return InvalidArgument("regex: pattern is not valid UTF-8");
      }
      pat_.push_back(cp);
    }
    bool icase = false;
    NodePtr root;
    ONDO_RETURN_IF_ERROR(ParseAlt(&icase, 0, &root));
    if (i_ != pat_.size()) return Err("unbalanced ')'");
    ONDO_RETURN_IF_ERROR(Emit(*root));
    Inst(Regex::Op::kMatch);
    if (re_->prog_.size() > kMaxProgram) return Err("pattern too large");
    for (auto& cls : re_->classes_) cls.Finalize();
    return Status::Ok();
  }

 private:
  using Op = Regex::Op;

  Status Err(std::string_view what) const {
    return Unsupported("regex: {} at code point {}", what, i_);
  }
  bool AtEnd() const { return i_ >= pat_.size(); }
  uint32_t Peek(size_t ahead = 0) const {
    return i_ + ahead < pat_.size() ? pat_[i_ + ahead] : 0xFFFFFFFFu;
  }

  Status ParseAlt(bool* icase, int depth, NodePtr* out) {
    if (depth > kMaxDepth) return Err("nesting too deep");
    auto alt = MakeNode(Node::Kind::kAlt);
    for (;;) {
      NodePtr branch;
      ONDO_RETURN_IF_ERROR(ParseConcat(icase, depth, &branch));
      alt->kids.push_back(std::move(branch));
      if (Peek() == '|') {
        ++i_;
        continue;
      }
      break;
    }
    if (alt->kids.size() == 1) {
      *out = std::move(alt->kids[0]);
    } else {
      *out = std::move(alt);
    }
    return Status::Ok();
  }

  Status ParseConcat(bool* icase, int depth, NodePtr* out) {
    auto cat = MakeNode(Node::Kind::kConcat);
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      NodePtr atom;
      bool flags_only = false;
      ONDO_RETURN_IF_ERROR(ParseAtom(icase, depth, &atom, &flags_only));
      if (flags_only) continue;
      ONDO_RETURN_IF_ERROR(ParseQuantifiers(&atom));
      cat->kids.push_back(std::move(atom));
    }
    *out = std::move(cat);
    return Status::Ok();
  }

  // Parses a decimal number; returns false if none.
  bool ParseNumber(size_t* at, int* value) const {
    size_t j = *at;
    long v = 0;
    bool any = false;
    while (j < pat_.size() && pat_[j] >= '0' && pat_[j] <= '9') {
      v = v * 10 + (pat_[j] - '0');
      if (v > 1000000) v = 1000000;
      ++j;
      any = true;
    }
    if (!any) return false;
    *at = j;
    *value = static_cast<int>(v);
    return true;
  }

  // {n}, {n,}, {n,m}, {,m}: returns false (and consumes nothing) if not a valid interval,
  // in which case '{' is a literal, as in Oniguruma.
  bool ParseInterval(int* min, int* max) {
    size_t j = i_ + 1;
    int lo = 0, hi = -1;
    const bool has_lo = ParseNumber(&j, &lo);
    if (j < pat_.size() && pat_[j] == ',') {
      ++j;
      if (!ParseNumber(&j, &hi)) hi = -1;
      if (!has_lo && hi < 0) return false;
    } else {
      if (!has_lo) return false;
      hi = lo;
    }
    if (j >= pat_.size() || pat_[j] != '}') return false;
    i_ = j + 1;
    *min = lo;
    *max = hi;
    return true;
  }

  Status ParseQuantifiers(NodePtr* atom) {
    for (int stacked = 0;; ++stacked) {
      if (stacked > 4) return Err("too many stacked quantifiers");
      int min = 0, max = 0;
      bool interval = false;
      const uint32_t c = Peek();
      if (c == '*') {
        min = 0, max = -1, ++i_;
      } else if (c == '+') {
        min = 1, max = -1, ++i_;
      } else if (c == '?') {
        min = 0, max = 1, ++i_;
      } else if (c == '{' && ParseInterval(&min, &max)) {
        interval = true;
      } else {
        return Status::Ok();
      }
      if (min > kMaxRepeat || max > kMaxRepeat || (max >= 0 && max < min)) {
        return Err("bad repetition bounds");
      }
      auto rep = MakeNode(Node::Kind::kRepeat);
      rep->min = min;
      rep->max = max;
      if (Peek() == '?') {
        rep->greedy = false;
        ++i_;
      } else if (Peek() == '+' && !interval) {  // Ruby syntax: "{n,m}+" is not possessive
        rep->possessive = true;
        ++i_;
      }
      const Node::Kind k = (*atom)->kind;
      if (k == Node::Kind::kAssert || k == Node::Kind::kLook) return Err("nothing to repeat");
      if (max < 0 && Nullable(**atom)) return Err("unbounded repetition of an empty match");
      rep->kids.push_back(std::move(*atom));
      *atom = std::move(rep);
    }
  }

  Status ParseAtom(bool* icase, int depth, NodePtr* out, bool* flags_only) {
    const uint32_t c = pat_[i_];
    switch (c) {
      case '(':
        return ParseGroup(icase, depth, out, flags_only);
      case '[': {
        auto n = MakeNode(Node::Kind::kClass);
        ONDO_RETURN_IF_ERROR(ParseClass(*icase, &n->cls));
        *out = std::move(n);
        return Status::Ok();
      }
      case '.':
        ++i_;
        *out = MakeNode(Node::Kind::kAny);
        return Status::Ok();
      case '^':
      case '$': {
        ++i_;
        auto n = MakeNode(Node::Kind::kAssert);
        n->assert_kind = c == '^' ? Regex::AssertKind::kBol : Regex::AssertKind::kEol;
        *out = std::move(n);
        return Status::Ok();
      }
      case '*':
      case '+':
      case '?':
        return Err("nothing to repeat");
      case '\\':
        return ParseEscape(*icase, out);
      default:
        ++i_;
        *out = Literal(c, *icase);
        return Status::Ok();
    }
  }

  NodePtr Literal(uint32_t c, bool icase) {
    auto n = MakeNode(Node::Kind::kChar);
    n->c = c;
    n->icase = icase;
    return n;
  }

  Status ParseGroup(bool* icase, int depth, NodePtr* out, bool* flags_only) {
    ++i_;  // '('
    bool inner_icase = *icase;
    Node::Kind wrap = Node::Kind::kEmpty;
    bool negate = false;
    if (Peek() == '?') {
      ++i_;
      const uint32_t k = Peek();
      if (k == ':') {
        ++i_;
      } else if (k == '=' || k == '!') {
        ++i_;
        wrap = Node::Kind::kLook;
        negate = k == '!';
      } else if (k == '>') {
        ++i_;
        wrap = Node::Kind::kAtomic;
      } else if (k == '#') {
        while (!AtEnd() && Peek() != ')') ++i_;
        if (AtEnd()) return Err("unterminated comment");
        ++i_;
        *flags_only = true;
        return Status::Ok();
      } else if (k == '<' && (Peek(1) == '=' || Peek(1) == '!')) {
        return Err("lookbehind");
      } else if (k == '<' || k == 'P' || k == '\'') {
        // Named group: skip the name.
        const uint32_t close = k == '\'' ? '\'' : '>';
        while (!AtEnd() && Peek() != close) ++i_;
        if (AtEnd()) return Err("unterminated group name");
        ++i_;
      } else {
        // Flags: (?i) (?-i) (?i:...) (?i-x:...)
        bool on = true;
        bool value = inner_icase;
        for (;;) {
          const uint32_t f = Peek();
          if (f == '-') {
            on = false;
          } else if (f == 'i') {
            value = on;
          } else if (f == 'x' || f == 'm' || f == 's' || f == 'a' || f == 'u') {
            if (on && f != 'u') return Err("unsupported regex flag");
          } else {
            break;
          }
          ++i_;
        }
        if (Peek() == ')') {
          ++i_;
          *icase = value;  // applies to the rest of the enclosing group
          *flags_only = true;
          return Status::Ok();
        }
        if (Peek() != ':') return Err("bad group syntax");
        ++i_;
        inner_icase = value;
      }
    }
    NodePtr body;
    ONDO_RETURN_IF_ERROR(ParseAlt(&inner_icase, depth + 1, &body));
    if (Peek() != ')') return Err("missing ')'");
    ++i_;
    if (wrap == Node::Kind::kEmpty) {
      *out = std::move(body);
    } else {
      auto n = MakeNode(wrap);
      n->negate = negate;
      n->kids.push_back(std::move(body));
      *out = std::move(n);
    }
    return Status::Ok();
  }

  // Parses hex digits for \x.., \x{..}, \u....; i_ is after the 'x'/'u'.
  Status ParseHex(size_t max_digits, bool braces_ok, uint32_t* cp) {
    uint32_t v = 0;
    size_t n = 0;
    const bool braces = braces_ok && Peek() == '{';
    if (braces) ++i_;
    while (!AtEnd() && (braces || n < max_digits)) {
      const uint32_t h = Peek();
      int d;
      if (h >= '0' && h <= '9') {
        d = static_cast<int>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        d = static_cast<int>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        d = static_cast<int>(h - 'A' + 10);
      } else {
        break;
      }
      v = v * 16 + static_cast<uint32_t>(d);
      if (v > 0x10FFFF) return Err("code point out of range");
      ++i_;
      ++n;
    }
    if (braces) {
      if (Peek() != '}') return Err("bad \\x{...}");
      ++i_;
    }
    if (n == 0) return Err("bad hex escape");
    *cp = v;
    return Status::Ok();
  }

  // Parses \p{Name}, \pL, \P{Name}; i_ is after the 'p'/'P'.
  Status ParseProperty(CategoryMask* mask, bool* negated) {
    std::string name;
    if (Peek() == '{') {
      ++i_;
      if (Peek() == '^') {
        *negated = !*negated;
        ++i_;
      }
      while (!AtEnd() && Peek() != '}') {
        if (Peek() >= 128) return Err("bad property name");
        name.push_back(static_cast<char>(Peek()));
        ++i_;
      }
      if (AtEnd()) return Err("unterminated \\p{");
      ++i_;
    } else {
      if (AtEnd() || Peek() >= 128) return Err("bad \\p");
      name.push_back(static_cast<char>(Peek()));
      ++i_;
    }
    std::string clean;
    for (char ch : name) {
      if (ch != ' ') clean.push_back(ch);
    }
    if (!unicode::ParseCategoryName(clean, mask)) return Err("unsupported Unicode property");
    return Status::Ok();
  }

  // A single-character escape shared by classes and atoms; returns true if handled.
  bool SimpleEscape(uint32_t e, uint32_t* cp) const {
    switch (e) {
      case 'n': *cp = '\n'; return true;
      case 'r': *cp = '\r'; return true;
      case 't': *cp = '\t'; return true;
      case 'f': *cp = '\f'; return true;
      case 'v': *cp = '\v'; return true;
      case 'a': *cp = 7; return true;
      case 'e': *cp = 27; return true;
      case '0': *cp = 0; return true;
      default:
        break;
    }
    if (e < 128 && !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))) {
      *cp = e;  // escaped punctuation or space
      return true;
    }
    if (e >= 128) {
      *cp = e;
      return true;
    }
    return false;
  }

  Status ParseEscape(bool icase, NodePtr* out) {
    ++i_;  // '\\'
    if (AtEnd()) return Err("trailing backslash");
    const uint32_t e = pat_[i_++];
    auto assert_node = [&](Regex::AssertKind k) {
      auto n = MakeNode(Node::Kind::kAssert);
      n->assert_kind = k;
      *out = std::move(n);
      return Status::Ok();
    };
    switch (e) {
      case 'A': return assert_node(Regex::AssertKind::kBos);
      case 'z': return assert_node(Regex::AssertKind::kEos);
      case 'Z': return assert_node(Regex::AssertKind::kEosNewline);
      case 'b': return assert_node(Regex::AssertKind::kWordB);
      case 'B': return assert_node(Regex::AssertKind::kNotWordB);
      case 'p':
      case 'P':
      case 's':
      case 'S':
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 'h':
      case 'H': {
        Regex::CharClass cls;
        --i_;
        ONDO_RETURN_IF_ERROR(ParseClassEscape(&cls));
        auto n = MakeNode(Node::Kind::kClass);
        n->cls = static_cast<int>(re_->classes_.size());
        re_->classes_.push_back(std::move(cls));
        *out = std::move(n);
        return Status::Ok();
      }
      case 'x':
      case 'u': {
        uint32_t cp = 0;
        ONDO_RETURN_IF_ERROR(ParseHex(e == 'x' ? 2 : 4, e == 'x', &cp));
        *out = Literal(cp, icase);
        return Status::Ok();
      }
      default: {
        uint32_t cp = 0;
        if (!SimpleEscape(e, &cp)) return Err("unsupported escape");
        *out = Literal(cp, icase);
        return Status::Ok();
      }
    }
  }

  // Class escapes (\p \P \s \S \d \D \w \W \h \H) into cls; i_ is at the letter.
  Status ParseClassEscape(Regex::CharClass* cls) {
    const uint32_t e = pat_[i_++];
    switch (e) {
      case 'p':
      case 'P': {
        CategoryMask mask = 0;
        bool negated = e == 'P';
        ONDO_RETURN_IF_ERROR(ParseProperty(&mask, &negated));
        if (negated) {
          cls->neg_cats.push_back(mask);
        } else {
          cls->cats |= mask;
        }
        return Status::Ok();
      }
      case 's': cls->space = true; return Status::Ok();
      case 'S': cls->not_space = true; return Status::Ok();
      case 'd': cls->cats |= unicode::Bit(unicode::Category::kNd); return Status::Ok();
      case 'D': cls->neg_cats.push_back(unicode::Bit(unicode::Category::kNd)); return Status::Ok();
      case 'w': cls->word = true; return Status::Ok();
      case 'W': cls->not_word = true; return Status::Ok();
      case 'h':  // hex digit (Oniguruma)
        cls->ranges.push_back({'0', '9'});
        cls->ranges.push_back({'a', 'f'});
        cls->ranges.push_back({'A', 'F'});
        return Status::Ok();
      default:
        return Err("unsupported class escape");
    }
  }

  // One class member character (literal or escape); *is_set when it was a set escape.
  Status ParseClassChar(Regex::CharClass* cls, uint32_t* cp, bool* is_set) {
    *is_set = false;
    const uint32_t c = pat_[i_];
    if (c != '\\') {
      if (c == '[') {
        if (Peek(1) == ':') return Err("POSIX bracket");
        return Err("nested class");
      }
      ++i_;
      *cp = c;
      return Status::Ok();
    }
    ++i_;
    if (AtEnd()) return Err("trailing backslash");
    const uint32_t e = Peek();
    if (e == 'p' || e == 'P' || e == 's' || e == 'S' || e == 'd' || e == 'D' || e == 'w' ||
        e == 'W' || e == 'h') {
      *is_set = true;
      return ParseClassEscape(cls);
    }
    ++i_;
    if (e == 'x' || e == 'u') return ParseHex(e == 'x' ? 2 : 4, e == 'x', cp);
    if (e == 'b') {
      *cp = 8;
      return Status::Ok();
    }
    if (!SimpleEscape(e, cp)) return Err("unsupported escape in class");
    return Status::Ok();
  }

  Status ParseClass(bool icase, int* index) {
    ++i_;  // '['
    Regex::CharClass cls;
    if (Peek() == '^') {
      cls.negated = true;
      ++i_;
    }
    bool first = true;
    for (;;) {
      if (AtEnd()) return Err("unterminated class");
      const uint32_t c = Peek();
      if (c == ']' && !first) {
        ++i_;
        break;
      }
      if (c == '&' && Peek(1) == '&') return Err("class intersection");
      first = false;
      uint32_t lo = 0;
      bool is_set = false;
      ONDO_RETURN_IF_ERROR(ParseClassChar(&cls, &lo, &is_set));
      if (is_set) continue;
      uint32_t hi = lo;
      if (Peek() == '-' && Peek(1) != ']' && Peek(1) != 0xFFFFFFFFu) {
        ++i_;
        bool hi_set = false;
        ONDO_RETURN_IF_ERROR(ParseClassChar(&cls, &hi, &hi_set));
        if (hi_set) return Err("bad class range");
        if (hi < lo) return Err("reversed class range");
      }
      cls.ranges.push_back({lo, hi});
    }
    if (icase) {
      std::vector<uint32_t> variants;
      const size_t n = cls.ranges.size();
      for (size_t r = 0; r < n; ++r) {
        const auto range = cls.ranges[r];
        const uint32_t lo = std::max<uint32_t>(range.first, 'A');
        const uint32_t hi = std::min<uint32_t>(range.second, 'z');
        for (uint32_t cp = lo; cp <= hi; ++cp) {
          CaseVariants(cp, &variants);
          for (uint32_t v : variants) cls.ranges.push_back({v, v});
        }
        for (uint32_t special : {0x17Fu, 0x212Au}) {
          if (range.first <= special && special <= range.second) {
            CaseVariants(special, &variants);
            for (uint32_t v : variants) cls.ranges.push_back({v, v});
          }
        }
      }
    }
    *index = static_cast<int>(re_->classes_.size());
    re_->classes_.push_back(std::move(cls));
    return Status::Ok();
  }

  // --- code generation ---------------------------------------------------------------------
  int32_t Inst(Op op) {
    re_->prog_.emplace_back();
    re_->prog_.back().op = op;
    return static_cast<int32_t>(re_->prog_.size() - 1);
  }
  int32_t Here() const { return static_cast<int32_t>(re_->prog_.size()); }

  Status Emit(const Node& n) {
    if (re_->prog_.size() > kMaxProgram) return Err("pattern too large");
    switch (n.kind) {
      case Node::Kind::kEmpty:
        return Status::Ok();
      case Node::Kind::kChar: {
        std::vector<uint32_t> variants;
        if (n.icase) CaseVariants(n.c, &variants);
        if (variants.size() > 1) {
          Regex::CharClass cls;
          for (uint32_t v : variants) cls.ranges.push_back({v, v});
          const int32_t pc = Inst(Op::kClass);
          re_->prog_[pc].c = static_cast<uint32_t>(re_->classes_.size());
          re_->classes_.push_back(std::move(cls));
        } else {
          re_->prog_[Inst(Op::kChar)].c = n.c;
        }
        return Status::Ok();
      }
      case Node::Kind::kClass:
        re_->prog_[Inst(Op::kClass)].c = static_cast<uint32_t>(n.cls);
        return Status::Ok();
      case Node::Kind::kAny:
        Inst(Op::kAny);
        return Status::Ok();
      case Node::Kind::kAssert:
        re_->prog_[Inst(Op::kAssert)].assert_kind = n.assert_kind;
        return Status::Ok();
      case Node::Kind::kConcat:
        for (const auto& k : n.kids) ONDO_RETURN_IF_ERROR(Emit(*k));
        return Status::Ok();
      case Node::Kind::kAlt: {
        std::vector<int32_t> jumps;
        for (size_t k = 0; k < n.kids.size(); ++k) {
          if (k + 1 < n.kids.size()) {
            const int32_t split = Inst(Op::kSplit);
            re_->prog_[split].x = split + 1;
            ONDO_RETURN_IF_ERROR(Emit(*n.kids[k]));
            jumps.push_back(Inst(Op::kJmp));
            re_->prog_[split].y = Here();
          } else {
            ONDO_RETURN_IF_ERROR(Emit(*n.kids[k]));
          }
        }
        for (int32_t j : jumps) re_->prog_[j].x = Here();
        return Status::Ok();
      }
      case Node::Kind::kLook:
      case Node::Kind::kAtomic: {
        const int32_t pc = Inst(n.kind == Node::Kind::kLook ? Op::kLook : Op::kAtomic);
        re_->prog_[pc].negate = n.negate;
        ONDO_RETURN_IF_ERROR(Emit(*n.kids[0]));
        Inst(Op::kMatch);
        re_->prog_[pc].x = Here();
        return Status::Ok();
      }
      case Node::Kind::kRepeat: {
        if (n.possessive) {
          const int32_t pc = Inst(Op::kAtomic);
          ONDO_RETURN_IF_ERROR(EmitRepeat(n));
          Inst(Op::kMatch);
          re_->prog_[pc].x = Here();
          return Status::Ok();
        }
        return EmitRepeat(n);
      }
    }
    return Status::Ok();
  }

  Status EmitRepeat(const Node& n) {
    const Node& body = *n.kids[0];
    for (int k = 0; k < n.min; ++k) ONDO_RETURN_IF_ERROR(Emit(body));
    if (n.max < 0) {
      const int32_t split = Inst(Op::kSplit);
      ONDO_RETURN_IF_ERROR(Emit(body));
      re_->prog_[Inst(Op::kJmp)].x = split;
      SetSplit(split, split + 1, Here(), n.greedy);
      return Status::Ok();
    }
    std::vector<int32_t> splits;
    for (int k = n.min; k < n.max; ++k) {
      splits.push_back(Inst(Op::kSplit));
      ONDO_RETURN_IF_ERROR(Emit(body));
      if (re_->prog_.size() > kMaxProgram) return Err("pattern too large");
    }
    for (int32_t s : splits) SetSplit(s, s + 1, Here(), n.greedy);
    return Status::Ok();
  }

  void SetSplit(int32_t split, int32_t body, int32_t out, bool greedy) {
    re_->prog_[split].x = greedy ? body : out;
    re_->prog_[split].y = greedy ? out : body;
  }

  Regex* re_;
  std::vector<uint32_t> pat_;
  size_t i_ = 0;
};

bool Regex::CharClass::MatchesSlow(uint32_t cp) const {
  bool in = false;
  for (const auto& r : ranges) {
    if (cp < r.first) break;
    if (cp <= r.second) {
      in = true;
      break;
    }
  }
  if (!in && (cats != 0 || !neg_cats.empty())) {
    const CategoryMask bit = unicode::CategoryBit(cp);
    if (bit & cats) in = true;
    for (size_t k = 0; !in && k < neg_cats.size(); ++k) {
      if ((bit & neg_cats[k]) == 0) in = true;
    }
  }
  if (!in && space && unicode::IsWhitespace(cp)) in = true;
  if (!in && not_space && !unicode::IsWhitespace(cp)) in = true;
  if (!in && word && IsWordChar(cp)) in = true;
  if (!in && not_word && !IsWordChar(cp)) in = true;
  return in != negated;
}

void Regex::CharClass::Finalize() {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges = std::move(merged);
  ascii[0] = ascii[1] = 0;
  for (uint32_t cp = 0; cp < 128; ++cp) {
    if (MatchesSlow(cp)) ascii[cp >> 6] |= uint64_t{1} << (cp & 63);
  }
}

Status Regex::Compile(std::string_view pattern, std::unique_ptr<Regex>* out) {
  std::unique_ptr<Regex> re(new Regex());
  RegexCompiler compiler(re.get());
  ONDO_RETURN_IF_ERROR(compiler.Compile(pattern));
  *out = std::move(re);
  return Status::Ok();
}

bool Regex::CheckAssert(AssertKind kind, const uint32_t* cps, uint32_t n, uint32_t pos) const {
  switch (kind) {
    case AssertKind::kBol:
      return pos == 0 || cps[pos - 1] == '\n';
    case AssertKind::kEol:  // Ruby syntax: end of line
      return pos == n || cps[pos] == '\n';
    case AssertKind::kBos:
      return pos == 0;
    case AssertKind::kEos:
      return pos == n;
    case AssertKind::kEosNewline:
      return pos == n || (pos + 1 == n && cps[pos] == '\n');
    case AssertKind::kWordB:
    case AssertKind::kNotWordB: {
      const bool before = pos > 0 && IsWordChar(cps[pos - 1]);
      const bool after = pos < n && IsWordChar(cps[pos]);
      return (before != after) == (kind == AssertKind::kWordB);
    }
  }
  return false;
}

int64_t Regex::Run(int32_t start_pc, uint32_t start_pos, const uint32_t* cps, uint32_t n,
                   Scratch* scratch, int64_t* budget) const {
  auto& stack = scratch->stack;
  const size_t base = stack.size();
  stack.emplace_back(start_pc, start_pos);
  while (stack.size() > base) {
    int32_t pc = stack.back().first;
    uint32_t pos = stack.back().second;
    stack.pop_back();
    for (;;) {
      if (--*budget < 0) {
        stack.resize(base);
        return -2;
      }
      const Inst& in = prog_[static_cast<size_t>(pc)];
      bool ok = true;
      switch (in.op) {
        case Op::kChar:
          ok = pos < n && cps[pos] == in.c;
          if (ok) ++pos, ++pc;
          break;
        case Op::kClass:
          ok = pos < n && classes_[in.c].Matches(cps[pos]);
          if (ok) ++pos, ++pc;
          break;
        case Op::kAny:
          ok = pos < n && cps[pos] != '\n';
          if (ok) ++pos, ++pc;
          break;
        case Op::kSplit:
          stack.emplace_back(in.y, pos);
          pc = in.x;
          break;
        case Op::kJmp:
          pc = in.x;
          break;
        case Op::kMatch:
          stack.resize(base);
          return pos;
        case Op::kAssert:
          ok = CheckAssert(in.assert_kind, cps, n, pos);
          if (ok) ++pc;
          break;
        case Op::kLook: {
          const int64_t r = Run(pc + 1, pos, cps, n, scratch, budget);
          if (r == -2) {
            stack.resize(base);
            return -2;
          }
          ok = (r >= 0) != in.negate;
          if (ok) pc = in.x;
          break;
        }
        case Op::kAtomic: {
          const int64_t r = Run(pc + 1, pos, cps, n, scratch, budget);
          if (r == -2) {
            stack.resize(base);
            return -2;
          }
          ok = r >= 0;
          if (ok) {
            pos = static_cast<uint32_t>(r);
            pc = in.x;
          }
          break;
        }
      }
      if (!ok) break;
    }
  }
  return -1;
}

Regex::FindResult Regex::Find(const uint32_t* cps, size_t n, size_t from, size_t* match_begin,
                              size_t* match_end, Scratch* scratch, int64_t* budget) const {
  if (n > UINT32_MAX - 1) return FindResult::kNotFound;
  const Inst& first = prog_[0];
  for (size_t start = from; start <= n; ++start) {
    // Cheap rejection when the pattern must start with a given character or class.
    if (first.op == Op::kChar && (start == n || cps[start] != first.c)) continue;
    if (first.op == Op::kClass && (start == n || !classes_[first.c].Matches(cps[start]))) continue;
    const int64_t r = Run(0, static_cast<uint32_t>(start), cps, static_cast<uint32_t>(n), scratch,
                          budget);
    if (r == -2) return FindResult::kBudgetExhausted;
    if (r >= 0) {
      *match_begin = start;
      *match_end = static_cast<size_t>(r);
      return FindResult::kFound;
    }
  }
  return FindResult::kNotFound;
}

}  // namespace ondo::tokenizer
