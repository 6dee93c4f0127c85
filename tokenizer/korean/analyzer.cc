// Korean morpheme analyzer (analyzer.h): per eojeol, a lattice of lexicon entries over
// split-coda symbols plus unknown-word and non-Hangul nodes, searched with Viterbi.
#include "tokenizer/korean/analyzer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/lexicon.h"

namespace ondo::korean {

namespace detail {

// Kinds of lattice nodes.
enum NodeKind : uint8_t { kNodeBos, kNodeEntry, kNodeUnknown, kNodeRun };

struct Node {
  int32_t start = 0, end = 0;  // symbol positions
  uint32_t entry = 0;          // kNodeEntry: entry index
  int32_t back = -1;           // best predecessor
  float cost = 0;              // best total cost up to and including this node
  int32_t next_same_end = -1;  // list of nodes ending at `end`
  NodeKind kind = kNodeEntry;
  Tag tag = Tag::kNA;  // last tag (== the only tag for unknown/run nodes)
  Final final = kFinalUnknown;
  StemKind stem = kNotStem;
  Harmony harmony = kDark;
  bool uncontracted_ok = false;
  bool wrong = false;  // entered through a lenient (mismatched) particle connection
};

// Character classes of non-Hangul runs.
enum RunClass : uint8_t {
  kRunNone,
  kRunDigit,
  kRunLatin,
  kRunHanja,
  kRunJamo,
  kRunSF,
  kRunSP,
  kRunSS,
  kRunSE,
  kRunSO,
  kRunSW,
  kRunOtherLetter
};

struct Scratch {
  std::vector<uint16_t> syms;       // per position: symbol (0 = non-Hangul character)
  std::vector<int32_t> cbeg, cend;  // byte range of the character holding each position
  std::vector<uint8_t> run;         // RunClass of each non-Hangul position
  std::vector<uint8_t> composed;    // position's syllable was composed from conjoining jamo
  std::vector<int32_t> end_head;    // per position: first node ending there
  std::vector<Node> nodes;
  std::vector<int32_t> path;
  std::vector<std::pair<int32_t, int32_t>> spans;  // eojeol byte ranges
  // Sentence-level Viterbi over eojeols (state = last tag of an eojeol's path).
  struct State {
    int tag;       // last tag of the eojeol's path
    int ctx;       // state (last tag) of the eojeol before that it was decoded after
    int32_t back;  // index of that state in `states`, -1 for the first eojeol
    float cost;    // best total cost of the text up to this eojeol ending in `tag`
    float own;     // the eojeol's part of it (its path, without the previous states)
    uint32_t path_begin, path_len;  // its path in `path_store`
  };
  std::vector<State> states;         // all eojeols' states, eojeol by eojeol
  std::vector<uint32_t> state_head;  // per eojeol + 1: first state of the eojeol
  std::vector<int32_t> chosen;       // per eojeol: the state on the best sentence path
  std::vector<float> tag_cost;       // per tag: best end cost of the current lattice
  std::vector<int> tags_seen;
  std::vector<int32_t> tag_node;  // per tag: the end node of that best cost
  std::vector<Node> path_store;   // paths of the states (copies of their lattice nodes)
  std::vector<int32_t> expand;  // states of the previous eojeol to expand
};

}  // namespace detail

using detail::Entry;
using detail::Final;
using detail::Harmony;
using detail::Model;
using detail::Node;
using detail::StemKind;

struct Analyzer::Impl {
  Model model;
};

Analysis::Analysis() : scratch_(std::make_unique<detail::Scratch>()) {}
Analysis::~Analysis() = default;
Analysis::Analysis(Analysis&&) noexcept = default;
Analysis& Analysis::operator=(Analysis&&) noexcept = default;

std::string Analysis::Format(size_t eojeol_index) const {
  std::string out;
  if (eojeol_index >= eojeols.size()) return out;
  const Eojeol& e = eojeols[eojeol_index];
  for (uint32_t i = 0; i < e.morph_count; ++i) {
    const Morpheme& m = morphemes[e.morph_begin + i];
    if (i) out.push_back('+');
    out.append(Form(m));
    out.push_back('/');
    out.append(TagName(m.tag));
  }
  return out;
}

Analyzer::Analyzer() : impl_(std::make_unique<Impl>()) {}
Analyzer::~Analyzer() = default;

Status Analyzer::Create(std::unique_ptr<Analyzer>* out) {
  const std::string_view compiled = detail::EmbeddedCompiledModel();
  if (compiled.empty() || std::endian::native != std::endian::little) {
    return CreateWithParams({}, out);
  }
  // In place: the tables stay in the library's read-only data. Every offset and index is
  // checked; the CRC is not (a second pass over all 4.4 MB at every start, for bytes that are
  // part of the library itself and that the checks make memory-safe whatever they hold).
  std::unique_ptr<Analyzer> a(new Analyzer());
  ONDO_RETURN_IF_ERROR(a->impl_->model.MapInPlace(compiled, /*check_crc=*/false));
  *out = std::move(a);
  return Status::Ok();
}

Status Analyzer::Shared(const Analyzer** out) {
  struct Instance {
    Status status;
    std::unique_ptr<Analyzer> analyzer;
  };
  // Created by the first caller (C++ guarantees one initialisation even when threads race) and
  // never destroyed, so sessions still running during exit keep a valid analyzer.
  static const Instance* const instance = [] {
    auto* in = new Instance;
    in->status = Create(&in->analyzer);
    return in;
  }();
  if (!instance->status.ok()) return instance->status;
  *out = instance->analyzer.get();
  return Status::Ok();
}

Status Analyzer::CreateInPlace(std::string_view compiled, std::unique_ptr<Analyzer>* out) {
  std::unique_ptr<Analyzer> a(new Analyzer());
  ONDO_RETURN_IF_ERROR(a->impl_->model.MapInPlace(compiled, /*check_crc=*/true));
  *out = std::move(a);
  return Status::Ok();
}

Status Analyzer::CreateFromCompiled(std::string_view compiled, std::unique_ptr<Analyzer>* out) {
  std::unique_ptr<Analyzer> a(new Analyzer());
  ONDO_RETURN_IF_ERROR(a->impl_->model.Load(compiled));
  *out = std::move(a);
  return Status::Ok();
}

Status Analyzer::CreateWithParams(const std::vector<std::pair<std::string, float>>& params,
                                  std::unique_ptr<Analyzer>* out) {
  return CreateFromData(detail::EmbeddedStemsBlob(), detail::EmbeddedStatsBlob(), params, out);
}

Status Analyzer::CreateFromData(std::string_view stems_blob, std::string_view stats_blob,
                                const std::vector<std::pair<std::string, float>>& params,
                                std::unique_ptr<Analyzer>* out) {
  detail::Params p;
  for (const auto& [name, value] : params) {
    if (!p.Set(name, value)) return InvalidArgument("unknown analyzer parameter '{}'", name);
  }
  std::unique_ptr<Analyzer> a(new Analyzer());
  ONDO_RETURN_IF_ERROR(a->impl_->model.Build(stems_blob, stats_blob, p));
  *out = std::move(a);
  return Status::Ok();
}

Status Analyzer::SerializeModel(std::string* out) const { return impl_->model.Serialize(out); }

size_t Analyzer::MemoryBytes() const { return impl_->model.MemoryBytes() + sizeof(Impl); }

size_t Analyzer::HeapBytes() const { return impl_->model.HeapBytes() + sizeof(Impl); }

namespace {

using namespace detail;

constexpr float kInf = std::numeric_limits<float>::infinity();

bool IsSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x00A0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000 || c == 0x85;
}

RunClass ClassOf(char32_t c) {
  if (c >= '0' && c <= '9') return kRunDigit;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return kRunLatin;
  if (c >= 0xFF21 && c <= 0xFF3A) return kRunLatin;  // full-width Latin
  if (c >= 0xFF41 && c <= 0xFF5A) return kRunLatin;
  if (c >= 0xFF10 && c <= 0xFF19) return kRunDigit;
  if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
      (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FFFF)) {
    return kRunHanja;
  }
  if (IsCompatibilityJamo(c) || (c >= 0x1100 && c <= 0x11FF)) return kRunJamo;
  switch (c) {
    case '.':
    case '!':
    case '?':
    case 0xFF01:
    case 0xFF1F:
    case 0x3002:
      return kRunSF;
    case ',':
    case '/':
    case ':':
    case ';':
    case 0xFF0C:
    case 0x00B7:
    case 0x3001:
    case 0xFF1A:
    case 0xFF1B:
      return kRunSP;
    case '\'':
    case '"':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '<':
    case '>':
    case 0x2018:
    case 0x2019:
    case 0x201C:
    case 0x201D:
    case 0x300C:
    case 0x300D:
    case 0x300E:
    case 0x300F:
    case 0x300A:
    case 0x300B:
    case 0x3008:
    case 0x3009:
    case 0x3010:
    case 0x3011:
    case 0xFF08:
    case 0xFF09:
    case 0x00AB:
    case 0x00BB:
    case 0x3014:
    case 0x3015:
      return kRunSS;
    case 0x2026:
    case 0x2025:
    case 0x22EF:
      return kRunSE;
    case '-':
    case '~':
    case 0x2013:
    case 0x2014:
    case 0x2015:
    case 0xFF5E:
    case 0x301C:
      return kRunSO;
    default:
      break;
  }
  if (c < 0x80) return kRunSW;
  // Other scripts' letters (Cyrillic, Greek, kana, ...) read as foreign words.
  if ((c >= 0x00C0 && c <= 0x024F) || (c >= 0x0370 && c <= 0x052F) ||
      (c >= 0x3040 && c <= 0x30FF) || (c >= 0x0590 && c <= 0x06FF) ||
      (c >= 0x0E00 && c <= 0x0E7F)) {
    return kRunOtherLetter;
  }
  return kRunSW;
}

bool IsPunctTag(Tag t) {
  return t == Tag::kSF || t == Tag::kSP || t == Tag::kSS || t == Tag::kSE || t == Tag::kSO ||
         t == Tag::kSW;
}

Tag RunTag(uint8_t rc) {
  switch (rc) {
    case kRunDigit:
      return Tag::kSN;
    case kRunLatin:
      return Tag::kSL;
    case kRunOtherLetter:
      return Tag::kSL;
    case kRunHanja:
      return Tag::kSH;
    case kRunJamo:
      return Tag::kSW;
    case kRunSF:
      return Tag::kSF;
    case kRunSP:
      return Tag::kSP;
    case kRunSS:
      return Tag::kSS;
    case kRunSE:
      return Tag::kSE;
    case kRunSO:
      return Tag::kSO;
    default:
      return Tag::kSW;
  }
}

// Final sound of a digit string read in Sino-Korean (일 이 삼 사 오 육 칠 팔 구; 십 백 천 만 ...).
Final DigitFinal(char32_t last) {
  if (last >= 0xFF10 && last <= 0xFF19) last = last - 0xFF10 + '0';
  switch (last) {
    case '1':
    case '7':
    case '8':
      return kFinalRieul;
    case '2':
    case '4':
    case '5':
    case '9':
      return kFinalVowel;
    default:
      return kFinalCons;  // 3 6 0 (영, 십, 백, 천, 만)
  }
}

// Whether the previous node's right state admits an entry; adds penalties.
inline bool Connects(const Node& p, const Entry& e, const Params& params, bool lenient, float* pen,
                     bool* wrong) {
  const bool open = p.stem != kNotStem;
  const Final f = p.final;
  const int fc = e.first_consonant;
  auto josa = [&](bool ok) {
    if (open) return false;
    if (ok || f == kFinalUnknown) return true;
    if (lenient) {
      *pen += params.wrong_allomorph;
      *wrong = true;
      return true;
    }
    return false;
  };
  switch (e.left) {
    case kLcFree:
      return !open;
    case kLcJosaCons:
      return josa(f == kFinalCons || f == kFinalRieul);
    case kLcJosaConsNotL:
      return josa(f == kFinalCons);
    case kLcJosaVowel:
      return josa(f == kFinalVowel);
    case kLcJosaVowelOrL:
      return josa(f == kFinalVowel || f == kFinalRieul);
    case kLcJosaCoda:
      return !open && f == kFinalVowel && p.kind != kNodeRun;
    case kLcCopulaVowel:
      if (open || !(f == kFinalVowel || f == kFinalUnknown)) return false;
      return IsNominalTag(p.tag) || p.tag == Tag::kXSN || p.tag == Tag::kSN || p.tag == Tag::kSL ||
             p.tag == Tag::kSH || p.tag == Tag::kETN;
    default:
      break;
  }
  // Endings.
  if (!open) return false;
  const StemKind k = p.stem;
  if (e.left == kLcEndRemainder) return k == kStemFused;
  if (k == kStemFused) return false;
  const bool nbs = fc == 2 || fc == 7 || fc == 9;  // ㄴ ㅂ ㅅ
  switch (e.left) {
    case kLcEndAny:
      return (k == kStemPlain && !(f == kFinalRieul && nbs)) || k == kStemNoHarm ||
             (k == kStemRdel && nbs);
    case kLcEndConsOnly:
      return (k == kStemPlain || k == kStemNoHarm) && f == kFinalCons;
    case kLcEndEu:
      return (k == kStemPlain && f == kFinalCons) || k == kStemVreq;
    case kLcEndVowelForm:
      return (k == kStemPlain && f == kFinalVowel) || k == kStemEuOnly ||
             (k == kStemPlain && f == kFinalRieul && !nbs) || (k == kStemRdel && nbs);
    case kLcEndCoda:
      return (k == kStemPlain && f == kFinalVowel) || (k == kStemEuOnly && fc != 100 + kTPieup) ||
             (k == kStemRdel &&
              (fc == 100 + kTNieun || fc == 100 + kTRieul || fc == 100 + kTPieup));
    case kLcEndHarm:
      if (!(k == kStemPlain || k == kStemVreq)) return false;
      if (e.harmony != p.harmony) return false;
      if (k == kStemPlain && f == kFinalVowel) {
        if (!p.uncontracted_ok) return false;
        if (p.harmony != kHa) *pen += params.uncontracted;
      }
      return true;
    default:
      return false;
  }
}

// Reads text[b, e) (one eojeol) into sc.syms / cbeg / cend / run / composed.
void Symbolize(std::string_view text, size_t b, size_t e, detail::Scratch& sc) {
  sc.syms.clear();
  sc.cbeg.clear();
  sc.cend.clear();
  sc.run.clear();
  sc.composed.clear();
  size_t pos = b;
  while (pos < e) {
    const size_t at = pos;
    char32_t c;
    DecodeUtf8(text, &pos, &c);
    Syllable s;
    bool composed = false;
    if (IsConjoiningChoseong(c)) {  // NFD Hangul: L V [T]
      size_t p2 = pos;
      char32_t v;
      if (p2 < e && DecodeUtf8(text, &p2, &v) && IsConjoiningJungseong(v)) {
        s.l = static_cast<int>(c - kLBase);
        s.v = static_cast<int>(v - kVBase);
        s.t = 0;
        size_t p3 = p2;
        char32_t t;
        if (p3 < e && DecodeUtf8(text, &p3, &t) && IsConjoiningJongseong(t)) {
          s.t = static_cast<int>(t - kTBase);
          p2 = p3;
        }
        pos = p2;
        composed = true;
      }
    }
    const int32_t cb = static_cast<int32_t>(at), ce = static_cast<int32_t>(pos);
    if (composed || DecomposeSyllable(c, &s)) {
      sc.syms.push_back(SymCV(s.l, s.v));
      sc.cbeg.push_back(cb);
      sc.cend.push_back(ce);
      sc.run.push_back(kRunNone);
      sc.composed.push_back(composed);
      if (s.t) {
        sc.syms.push_back(SymCoda(s.t));
        sc.cbeg.push_back(cb);
        sc.cend.push_back(ce);
        sc.run.push_back(kRunNone);
        sc.composed.push_back(composed);
      }
    } else {
      sc.syms.push_back(0);
      sc.cbeg.push_back(cb);
      sc.cend.push_back(ce);
      sc.run.push_back(ClassOf(c));
      sc.composed.push_back(0);
    }
  }
}

// Viterbi over the symbols in sc. `ctx` is the last tag of the token before the eojeol
// (Model::kBos at the start of the text, -1 when unknown); `next` the first tag of the token
// after it (Model::kEos at the end of the text, -1 when unknown). Leaves the best path (node
// indices, in order) in sc.path and returns its cost.
// `attached` > 0 (spacing restoration, Analyzer::PrefixCosts): extra cost of a content
// morpheme attached inside the eojeol after a particle or an ending (시장에가다; an auxiliary
// after a connective ending excepted), an adverb, determiner or interjection (같이영화), or of a
// predicate stem right after a noun (밥먹었어), which the norms of spacing separate.
// `junctions` (spacing restoration, Analyzer::PrefixCosts): costs of a morpheme after the
// eojeol before (tag ctx) and of two morphemes joined inside the eojeol.
float Decode(const Model& model, std::string_view text, detail::Scratch& sc, int ctx, int next,
             bool lenient, float attached = 0,
             const Analyzer::JunctionCosts* junctions = nullptr) {
  const Params& params = model.params;
  const float w = params.cross_weight;
  const int n = static_cast<int>(sc.syms.size());
  sc.nodes.clear();
  sc.end_head.assign(static_cast<size_t>(n) + 1, -1);
  {
    Node bos;
    bos.kind = kNodeBos;
    bos.tag = Tag::kNA;
    bos.final = kFinalUnknown;
    sc.nodes.push_back(bos);
    sc.end_head[0] = 0;
  }
  // A node after which a new token starts (the eojeol start, punctuation).
  auto token_break = [](const Node& q) {
    return q.kind == kNodeBos || (q.kind == kNodeRun && IsPunctTag(q.tag));
  };
  // Tag index the next morpheme's transition is conditioned on.
  auto prev_tag = [&](const Node& q) {
    return token_break(q) ? Model::kBos : static_cast<int>(q.tag);
  };
  // Context correction for a token starting with tag t after q: P(t | last tag of the token
  // before) instead of P(t | BOS).
  auto start_delta = [&](const Node& q, int t) {
    const int c = q.kind == kNodeBos ? ctx : static_cast<int>(q.tag);
    if (c < 0 || w == 0) return 0.0f;
    return w * (model.Cross(c, t) - model.Trans(Model::kBos, t));
  };
  auto attached_cost = [&](const Node& q, Tag t) {
    if (attached == 0 || token_break(q)) return 0.0f;
    const bool predicate = t == Tag::kVV || t == Tag::kVA || t == Tag::kVX;
    const bool content = IsNominalTag(t) || predicate || t == Tag::kMM || t == Tag::kMAG ||
                         t == Tag::kMAJ || t == Tag::kIC || t == Tag::kXR || t == Tag::kXPN ||
                         t == Tag::kSL || t == Tag::kSN || t == Tag::kSH;
    if (!content) return 0.0f;
    const Tag a = q.tag;
    if (IsParticleTag(a) || IsEndingTag(a)) {
      return a == Tag::kEC && t == Tag::kVX ? 0.0f : attached;  // 먹어보다 is allowed
    }
    // An adverb, determiner or interjection before another word (같이영화, 지금어디), a noun
    // before a predicate stem (밥먹었어; derivation with 하/되 is XSV/XSA, not VV).
    if (a == Tag::kMAG || a == Tag::kMAJ || a == Tag::kMM || a == Tag::kIC) return attached;
    if (IsNominalTag(a) && predicate) return attached;
    return 0.0f;
  };
  const bool ctx_charged = junctions != nullptr && ctx >= 0 && ctx < kNumTags &&
                           ctx != static_cast<int>(Tag::kNA) && !IsPunctTag(static_cast<Tag>(ctx));
  auto junction_cost = [&](const Node& q, Tag t) {
    if (junctions == nullptr || IsPunctTag(t)) return 0.0f;
    if (q.kind == kNodeBos) {
      return ctx_charged ? junctions->spaced[ctx][static_cast<int>(t)] : 0.0f;
    }
    if (token_break(q)) return 0.0f;
    return junctions->joined[static_cast<int>(q.tag)][static_cast<int>(t)];
  };
  auto add_node = [&](Node&& nd) {
    nd.next_same_end = sc.end_head[nd.end];
    sc.end_head[nd.end] = static_cast<int32_t>(sc.nodes.size());
    sc.nodes.push_back(nd);
  };
  // Best complete predecessor for a free-standing word of tag t starting at p.
  auto best_free = [&](int p, int t, int32_t* back) {
    float best = kInf;
    for (int32_t i = sc.end_head[p]; i >= 0; i = sc.nodes[i].next_same_end) {
      const Node& q = sc.nodes[i];
      if (q.stem != kNotStem) continue;
      float cost = q.cost + model.Trans(prev_tag(q), t) + attached_cost(q, static_cast<Tag>(t)) +
                   junction_cost(q, static_cast<Tag>(t));
      if (token_break(q)) cost += start_delta(q, t);
      if (cost < best) {
        best = cost;
        *back = i;
      }
    }
    return best;
  };
  // A vocative opens its sentence (철수야, 밥 먹었니?): penalise one after anything else.
  const bool sentence_start =
      ctx == Model::kBos || ctx == static_cast<int>(Tag::kSF) || ctx == static_cast<int>(Tag::kSE);
  const float vocative_pen = sentence_start ? 0.0f : params.vocative_not_initial;
  int p = 0;
  while (p < n) {
    if (sc.end_head[p] < 0) {  // unreachable position
      ++p;
      continue;
    }
    if (sc.syms[p] == 0) {
      // Non-Hangul run: one node covering characters of the same class.
      const uint8_t rc = sc.run[p];
      int q = p + 1;
      auto is_digit = [&](int i) { return i < n && sc.syms[i] == 0 && sc.run[i] == kRunDigit; };
      while (q < n && sc.syms[q] == 0) {
        if (sc.run[q] == rc && rc != kRunSS) {
          ++q;
          continue;
        }
        const int32_t ch = sc.cbeg[q];
        // 1,696, 59.1 and the range 7.5~26.5 are one number (as in UD GSD).
        if (rc == kRunDigit && is_digit(q + 1) &&
            (text[ch] == '.' || text[ch] == ',' || text[ch] == '~')) {
          q += 2;
          continue;
        }
        // e-gima.com, www.encar.com: one foreign word.
        if (rc == kRunLatin && q + 1 < n && sc.syms[q + 1] == 0 && sc.run[q + 1] == kRunLatin &&
            (text[ch] == '.' || text[ch] == '-' || text[ch] == '_' || text[ch] == '@')) {
          q += 2;
          continue;
        }
        break;
      }
      Node nd;
      nd.kind = kNodeRun;
      nd.start = p;
      nd.end = q;
      nd.tag = RunTag(rc);
      const int t = static_cast<int>(nd.tag);
      int32_t back = -1;
      float best = kInf;
      if (IsPunctTag(nd.tag)) {  // a token of its own: the token before it ends here
        for (int32_t i = sc.end_head[p]; i >= 0; i = sc.nodes[i].next_same_end) {
          const Node& pq = sc.nodes[i];
          if (pq.stem != kNotStem) continue;
          float cost = pq.cost + model.Trans(Model::kBos, t) + start_delta(pq, t);
          if (!token_break(pq)) cost += model.Trans(static_cast<int>(pq.tag), Model::kEos);
          if (cost < best) {
            best = cost;
            back = i;
          }
        }
        best += model.Trans(t, Model::kEos);
      } else {
        best = best_free(p, t, &back);
      }
      if (back >= 0) {
        nd.back = back;
        nd.cost = best + params.nonhangul_emit;
        if (rc == kRunDigit) {
          size_t cp_pos = static_cast<size_t>(sc.cbeg[q - 1]);
          char32_t last;
          DecodeUtf8(text, &cp_pos, &last);
          nd.final = DigitFinal(last);
        }
        add_node(std::move(nd));
      }
      p = q;
      continue;
    }
    int run_end = p;
    while (run_end < n && sc.syms[run_end] != 0) ++run_end;
    // Lexicon entries starting at p.
    model.ForEachPrefix(sc.syms.data() + p, run_end - p, [&](int len, uint32_t ei) {
      const Entry& e = model.entries[ei];
      float best = kInf;
      int32_t back = -1;
      bool back_wrong = false;
      for (int32_t i = sc.end_head[p]; i >= 0; i = sc.nodes[i].next_same_end) {
        const Node& q = sc.nodes[i];
        float pen = 0;
        bool wrong = false;
        if (!Connects(q, e, params, lenient, &pen, &wrong)) continue;
        // The vocative follows a noun or a name (철수야, 얘들아), nothing else (뭐야 is 뭐+이+야).
        if (e.first_tag == Tag::kJKV && q.tag != Tag::kNNG && q.tag != Tag::kNNP &&
            q.tag != Tag::kXSN) {
          continue;
        }
        if (e.merge_id != 0 && q.kind == kNodeEntry &&
            (model.entries[q.entry].merge_bits & e.merge_id) != 0) {
          continue;  // 어+요 is the ending 어요
        }
        const int pt = prev_tag(q);
        float cost =
            q.cost + pen +
            (e.lex_row >= 0 ? model.LexCost(e.lex_row, pt)
                            : model.Trans(pt, static_cast<int>(e.first_tag)) + e.first_emit);
        if (token_break(q)) cost += start_delta(q, static_cast<int>(e.first_tag));
        cost += attached_cost(q, e.first_tag) + junction_cost(q, e.first_tag);
        if (cost < best) {
          best = cost;
          back = i;
          back_wrong = wrong;
        }
      }
      if (back < 0) return;
      Node nd;
      nd.kind = kNodeEntry;
      nd.start = p;
      nd.end = p + len;
      nd.entry = ei;
      nd.back = back;
      nd.cost = best + e.rest_cost;
      if (e.first_tag == Tag::kJKV) nd.cost += vocative_pen;
      nd.tag = e.last_tag;
      nd.final = e.final;
      nd.stem = e.stem;
      nd.harmony = e.left == kLcEndHarm ? kDark : e.harmony;
      nd.uncontracted_ok = e.uncontracted_ok;
      nd.wrong = back_wrong;
      add_node(std::move(nd));
    });
    // Unknown nominals starting at a syllable.
    if (!IsCodaSym(sc.syms[p])) {
      int32_t back_g = -1, back_p = -1;
      const float bg = best_free(p, static_cast<int>(Tag::kNNG), &back_g);
      const float bp = best_free(p, static_cast<int>(Tag::kNNP), &back_p);
      if (back_g >= 0 || back_p >= 0) {
        int q = p, syl = 0;
        float len_cost = params.unk_base;
        while (q < run_end && syl < params.unk_max_syl) {
          const uint16_t cv = sc.syms[q];
          ++q;
          int t = 0;
          if (q < run_end && IsCodaSym(sc.syms[q])) t = sc.syms[q++] - 400;
          ++syl;
          len_cost += params.unk_per_syl +
                      params.unk_syl_scale *
                          model.SyllableCost((SymL(cv) * kVCount + SymV(cv)) * kTCount + t);
          for (int which = 0; which < 2; ++which) {
            const int32_t back = which == 0 ? back_g : back_p;
            if (back < 0) continue;
            Node nd;
            nd.kind = kNodeUnknown;
            nd.start = p;
            nd.end = q;
            nd.back = back;
            nd.tag = which == 0 ? Tag::kNNG : Tag::kNNP;
            nd.cost = (which == 0 ? bg : bp + params.unk_nnp_extra) + len_cost;
            nd.final = t == 0 ? kFinalVowel : t == kTRieul ? kFinalRieul : kFinalCons;
            add_node(std::move(nd));
          }
        }
      }
    }
    ++p;
  }
  // Best complete node at the end.
  int32_t best_i = -1;
  float best = kInf;
  for (int32_t i = sc.end_head[n]; i >= 0; i = sc.nodes[i].next_same_end) {
    const Node& q = sc.nodes[i];
    if (q.stem != kNotStem || q.kind == kNodeBos) continue;
    float cost = q.cost;
    if (!token_break(q)) cost += model.Trans(static_cast<int>(q.tag), Model::kEos);
    if (next >= 0 && w != 0) {
      cost += w * (next == Model::kEos ? model.CrossEnd(static_cast<int>(q.tag))
                                       : model.Cross(static_cast<int>(q.tag), next));
    }
    if (cost < best) {
      best = cost;
      best_i = i;
    }
  }
  sc.path.clear();
  for (int32_t i = best_i; i > 0; i = sc.nodes[i].back) sc.path.push_back(i);
  std::reverse(sc.path.begin(), sc.path.end());
  return best;
}

// Per last tag, the best cost of a complete path through the lattice Decode left in sc
// (the token's end transition included, no look-ahead): sc.tag_cost, the tags in sc.tags_seen.
void EndCosts(detail::Scratch& sc, const Model& model) {
  if (sc.tag_cost.size() != static_cast<size_t>(kNumTags)) {
    sc.tag_cost.assign(kNumTags, kInf);
    sc.tag_node.assign(kNumTags, -1);
  }
  for (int t : sc.tags_seen) sc.tag_cost[t] = kInf;
  sc.tags_seen.clear();
  const int n = static_cast<int>(sc.syms.size());
  for (int32_t i = sc.end_head[n]; i >= 0; i = sc.nodes[i].next_same_end) {
    const Node& q = sc.nodes[i];
    if (q.stem != kNotStem || q.kind == kNodeBos) continue;
    const int t = static_cast<int>(q.tag);
    float cost = q.cost;
    if (!(q.kind == kNodeRun && IsPunctTag(q.tag))) cost += model.Trans(t, Model::kEos);
    if (sc.tag_cost[t] == kInf) sc.tags_seen.push_back(t);
    if (cost < sc.tag_cost[t]) {
      sc.tag_cost[t] = cost;
      sc.tag_node[t] = i;
    }
  }
}

// Sentence-level search: states within this many nats of the best are expanded, at most
// kMaxStates of them (in order) per eojeol.
constexpr float kStateBeam = 4.0f;
constexpr int kMaxStates = 3;

}  // namespace

Status Analyzer::Analyze(std::string_view text, const AnalyzeOptions& options,
                         Analysis* out) const {
  out->eojeols.clear();
  out->morphemes.clear();
  out->pool.clear();
  ONDO_RETURN_IF_ERROR(ValidateUtf8(text));
  if (text.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return InvalidArgument("text too long ({} bytes)", text.size());
  }
  if (!out->scratch_) out->scratch_ = std::make_unique<detail::Scratch>();
  detail::Scratch& sc = *out->scratch_;
  const Model& model = impl_->model;
  const bool lenient = options.lenient_particles;

  // Eojeol spans.
  sc.spans.clear();
  {
    size_t pos = 0;
    int32_t begin = -1;
    while (pos < text.size()) {
      const size_t at = pos;
      char32_t c;
      DecodeUtf8(text, &pos, &c);
      if (IsSpace(c)) {
        if (begin >= 0) sc.spans.emplace_back(begin, static_cast<int32_t>(at));
        begin = -1;
      } else if (begin < 0) {
        begin = static_cast<int32_t>(at);
      }
    }
    if (begin >= 0) sc.spans.emplace_back(begin, static_cast<int32_t>(text.size()));
  }
  const size_t n_eo = sc.spans.size();
  // Sentence-level Viterbi over the eojeols. A state is the last tag of an eojeol's path; the
  // cost of eojeol i after state c is its lattice's best path cost with c as the context of
  // its first token (Model::Cross), per last tag. Every state within `kStateBeam` nats of the
  // best (at most kMaxStates) is expanded; the text's end adds CrossEnd.
  sc.states.clear();
  sc.path_store.clear();
  sc.state_head.assign(n_eo + 1, 0);
  for (size_t i = 0; i < n_eo; ++i) {
    sc.state_head[i] = static_cast<uint32_t>(sc.states.size());
    Symbolize(text, sc.spans[i].first, sc.spans[i].second, sc);
    const uint32_t prev_begin = i == 0 ? 0 : sc.state_head[i - 1];
    const uint32_t prev_end = i == 0 ? 0 : sc.state_head[i];
    // The previous eojeol's states to expand: the best ones within the beam, best first.
    sc.expand.clear();
    for (uint32_t k = prev_begin; k < prev_end; ++k) sc.expand.push_back(static_cast<int32_t>(k));
    std::sort(sc.expand.begin(), sc.expand.end(), [&](int32_t x, int32_t y) {
      return sc.states[x].cost < sc.states[y].cost;
    });
    if (sc.expand.size() > static_cast<size_t>(kMaxStates)) sc.expand.resize(kMaxStates);
    while (sc.expand.size() > 1 &&
           sc.states[sc.expand.back()].cost > sc.states[sc.expand[0]].cost + kStateBeam) {
      sc.expand.pop_back();
    }
    // The first eojeol (or one after an eojeol without any path): the start of the text / an
    // unknown context.
    const bool virt = sc.expand.empty();
    if (virt) sc.expand.push_back(-1);
    const uint32_t first_new = static_cast<uint32_t>(sc.states.size());
    for (const int32_t k : sc.expand) {
      const int ctx = k >= 0 ? sc.states[k].tag : i == 0 ? Model::kBos : -1;
      const float base = k >= 0 ? sc.states[k].cost : 0.0f;
      Decode(model, text, sc, ctx, -1, lenient);
      EndCosts(sc, model);
      for (int t : sc.tags_seen) {
        const float own = sc.tag_cost[t];
        float c = base + own;
        if (i + 1 == n_eo && model.params.cross_weight != 0) {
          c += model.params.cross_weight * model.CrossEnd(t);
        }
        detail::Scratch::State* st = nullptr;
        for (uint32_t j = first_new; j < sc.states.size(); ++j) {
          if (sc.states[j].tag == t) st = &sc.states[j];
        }
        if (st == nullptr) {
          sc.states.push_back({t, ctx, k, kInf, 0, 0, 0});
          st = &sc.states.back();
        }
        if (!(c < st->cost)) continue;
        st->cost = c;
        st->own = own;
        st->ctx = ctx;
        st->back = k;
        // Keep the path: the lattice is overwritten by the next decode.
        st->path_begin = static_cast<uint32_t>(sc.path_store.size());
        for (int32_t nd = sc.tag_node[t]; nd > 0; nd = sc.nodes[nd].back) {
          sc.path_store.push_back(sc.nodes[nd]);
        }
        st->path_len = static_cast<uint32_t>(sc.path_store.size()) - st->path_begin;
        std::reverse(sc.path_store.begin() + st->path_begin, sc.path_store.end());
      }
    }
  }
  sc.state_head[n_eo] = static_cast<uint32_t>(sc.states.size());
  // Back-track the best sentence path.
  sc.chosen.assign(n_eo, -1);
  {
    int32_t best = -1;
    for (size_t i = n_eo; i-- > 0 && best < 0;) {
      // The last eojeol with states (an eojeol without any path keeps -1).
      for (uint32_t j = sc.state_head[i]; j < sc.state_head[i + 1]; ++j) {
        if (best < 0 || sc.states[j].cost < sc.states[best].cost) best = static_cast<int32_t>(j);
      }
      if (best >= 0) {
        // An eojeol without any path breaks the chain (back -1); the loop below handles the
        // eojeols before it.
        for (int32_t j = best, e = static_cast<int32_t>(i); j >= 0 && e >= 0; --e) {
          sc.chosen[e] = j;
          j = sc.states[j].back;
        }
      }
    }
    // Eojeols left without a choice (only after one without any path): their own best state.
    for (size_t i = 0; i < n_eo; ++i) {
      if (sc.chosen[i] >= 0) continue;
      for (uint32_t j = sc.state_head[i]; j < sc.state_head[i + 1]; ++j) {
        if (sc.chosen[i] < 0 || sc.states[j].cost < sc.states[sc.chosen[i]].cost) {
          sc.chosen[i] = static_cast<int32_t>(j);
        }
      }
    }
  }
  // Output: each eojeol's path of its chosen state.
  int last_tag = -1;
  for (size_t ei = 0; ei < n_eo; ++ei) {
    const int32_t eo_begin = sc.spans[ei].first, eo_end = sc.spans[ei].second;
    Symbolize(text, eo_begin, eo_end, sc);
    const int n = static_cast<int>(sc.syms.size());
    sc.nodes.clear();
    sc.path.clear();
    float cost = 0;
    if (sc.chosen[ei] >= 0) {
      const detail::Scratch::State& st = sc.states[sc.chosen[ei]];
      cost = st.own;
      for (uint32_t j = 0; j < st.path_len; ++j) {
        sc.nodes.push_back(sc.path_store[st.path_begin + j]);
        sc.path.push_back(static_cast<int32_t>(j));
      }
    }
    // The cost includes the transition to the next token (added to the eojeol before this one
    // here, once this eojeol's first tag is known; CrossEnd for the last eojeol).
    const float w = model.params.cross_weight;
    if (!sc.path.empty() && w != 0) {
      const Node& a = sc.nodes[sc.path.front()];
      const Node& b = sc.nodes[sc.path.back()];
      const int first = static_cast<int>(a.kind == kNodeEntry ? model.entries[a.entry].first_tag
                                                               : a.tag);
      if (ei > 0 && !out->eojeols.empty() && last_tag >= 0) {
        out->eojeols.back().cost += w * model.Cross(last_tag, first);
      }
      last_tag = static_cast<int>(b.tag);
      if (ei + 1 == n_eo) cost += w * model.CrossEnd(last_tag);
    } else {
      last_tag = -1;
    }
    Eojeol eo;
    eo.begin = eo_begin;
    eo.end = eo_end;
    eo.morph_begin = static_cast<uint32_t>(out->morphemes.size());
    eo.cost = cost;
    if (sc.path.empty()) {  // cannot happen (unknown nodes always connect); keep the text whole
      Morpheme m;
      m.form_offset = static_cast<uint32_t>(out->pool.size());
      out->pool.append(text.substr(eo_begin, eo_end - eo_begin));
      m.form_size = static_cast<uint32_t>(eo_end - eo_begin);
      m.tag = Tag::kNA;
      m.begin = eo.begin;
      m.end = eo.end;
      out->morphemes.push_back(m);
    } else {
      auto aligned = [&](int a, int b) {  // [a, b) symbol span starts and ends on characters
        if (a >= b || IsCodaSym(sc.syms[a])) return false;
        if (b < n && IsCodaSym(sc.syms[b])) return false;
        for (int i = a; i < b; ++i) {
          if (sc.composed[i]) return false;
        }
        return true;
      };
      Harmony prev_harmony = kDark;
      for (int32_t ni : sc.path) {
        const Node& nd = sc.nodes[ni];
        if (nd.kind == kNodeEntry) {
          const Entry& e = model.entries[nd.entry];
          for (uint32_t k = 0; k < e.n_morph; ++k) {
            const detail::Morph& mo = model.morphs[e.morph_begin + k];
            Morpheme m;
            const bool use_alt =
                !options.canonical_endings &&
                (mo.alt_static || (k == 0 && e.harmonic_output && prev_harmony != kDark));
            const std::string_view form =
                use_alt ? model.Str(mo.alt, mo.alt_len) : model.Str(mo.form, mo.form_len);
            m.form_offset = static_cast<uint32_t>(out->pool.size());
            m.form_size = static_cast<uint32_t>(form.size());
            out->pool.append(form);
            m.tag = mo.tag;
            if (mo.sym_begin >= 0 && aligned(nd.start + mo.sym_begin, nd.start + mo.sym_end)) {
              m.begin = sc.cbeg[nd.start + mo.sym_begin];
              m.end = sc.cend[nd.start + mo.sym_end - 1];
            }
            m.wrong_allomorph = nd.wrong && k == 0 && IsParticleTag(mo.tag);
            out->morphemes.push_back(m);
          }
          prev_harmony = nd.harmony;
        } else {
          Morpheme m;
          m.form_offset = static_cast<uint32_t>(out->pool.size());
          if (nd.kind == kNodeUnknown) {
            // NFC form from the symbols.
            for (int i = nd.start; i < nd.end; ++i) {
              const uint16_t s = sc.syms[i];
              if (IsCodaSym(s)) continue;
              int t = 0;
              if (i + 1 < nd.end && IsCodaSym(sc.syms[i + 1])) t = sc.syms[i + 1] - 400;
              AppendUtf8(ComposeSyllable(SymL(s), SymV(s), t), &out->pool);
            }
          } else {
            out->pool.append(
                text.substr(static_cast<size_t>(sc.cbeg[nd.start]),
                            static_cast<size_t>(sc.cend[nd.end - 1] - sc.cbeg[nd.start])));
          }
          m.form_size = static_cast<uint32_t>(out->pool.size() - m.form_offset);
          m.tag = nd.tag;
          m.unknown = nd.kind == kNodeUnknown;
          if (nd.kind == kNodeRun || aligned(nd.start, nd.end)) {
            m.begin = sc.cbeg[nd.start];
            m.end = sc.cend[nd.end - 1];
          }
          out->morphemes.push_back(m);
          prev_harmony = kDark;
        }
      }
    }
    eo.morph_count = static_cast<uint32_t>(out->morphemes.size()) - eo.morph_begin;
    out->eojeols.push_back(eo);
  }
  return Status::Ok();
}

Status Analyzer::PrefixCosts(std::string_view word, Tag before, float attached, Analysis* work,
                             std::vector<PrefixCost>* ends) const {
  return PrefixCosts(word, before, attached, nullptr, work, ends);
}

Status Analyzer::PrefixCosts(std::string_view word, Tag before, float attached,
                             const JunctionCosts* junctions, Analysis* work,
                             std::vector<PrefixCost>* ends) const {
  ends->clear();
  ONDO_RETURN_IF_ERROR(ValidateUtf8(word));
  if (word.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return InvalidArgument("text too long ({} bytes)", word.size());
  }
  if (!work->scratch_) work->scratch_ = std::make_unique<detail::Scratch>();
  detail::Scratch& sc = *work->scratch_;
  const Model& model = impl_->model;
  Symbolize(word, 0, word.size(), sc);
  const int ctx = before == Tag::kNA ? Model::kBos : static_cast<int>(before);
  Decode(model, word, sc, ctx, -1, false, attached, junctions);
  const int n = static_cast<int>(sc.syms.size());
  for (int j = 1; j <= n; ++j) {
    if (j < n && sc.cbeg[j] == sc.cbeg[j - 1]) continue;  // inside a character
    const size_t first = ends->size();
    for (int32_t i = sc.end_head[j]; i >= 0; i = sc.nodes[i].next_same_end) {
      const Node& q = sc.nodes[i];
      if (q.stem != kNotStem || q.kind == kNodeBos) continue;
      float cost = q.cost;
      if (!(q.kind == kNodeRun && IsPunctTag(q.tag))) {
        cost += model.Trans(static_cast<int>(q.tag), Model::kEos);
      }
      bool found = false;
      for (size_t k = first; k < ends->size(); ++k) {
        PrefixCost& pc = (*ends)[k];
        if (pc.last != q.tag) continue;
        found = true;
        pc.cost = std::min(pc.cost, cost);
      }
      if (!found) ends->push_back({sc.cend[j - 1], q.tag, cost});
    }
  }
  return Status::Ok();
}

float Analyzer::TextEndCost(Tag last) const {
  const Model& model = impl_->model;
  return model.params.cross_weight * model.CrossEnd(static_cast<int>(last));
}

}  // namespace ondo::korean
