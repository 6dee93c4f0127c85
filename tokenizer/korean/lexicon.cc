// Builds the analyzer's model (lexicon.h) from the shipped data: hunspell-ko stems and KLUE
// statistics. Allomorphs of irregular and contracted stems, particles and endings are
// generated here, from rules, so the data files hold only canonical forms.
#include "tokenizer/korean/lexicon.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "platform/fields.h"
#include "tokenizer/korean/hangul.h"

namespace ondo::korean::detail {

bool Params::Set(std::string_view name, float value) {
  struct Field {
    const char* name;
    float Params::*f;
  };
  static constexpr Field kFields[] = {
      {"trans_smooth", &Params::trans_smooth},
      {"open_pseudo", &Params::open_pseudo},
      {"closed_pseudo", &Params::closed_pseudo},
      {"lex_kappa", &Params::lex_kappa},
      {"unk_base", &Params::unk_base},
      {"unk_per_syl", &Params::unk_per_syl},
      {"unk_syl_scale", &Params::unk_syl_scale},
      {"closed_prior", &Params::closed_prior},
      {"conversational_prior", &Params::conversational_prior},
      {"ep_ep_prior", &Params::ep_ep_prior},
      {"split_compounds", &Params::split_compounds},
      {"geot_contraction", &Params::geot_contraction},
      {"xsn_min_count", &Params::xsn_min_count},
      {"eps_copula_coda", &Params::eps_copula_coda},
      {"cross_weight", &Params::cross_weight},
      {"cross_smooth", &Params::cross_smooth},
      {"unk_nnp_extra", &Params::unk_nnp_extra},
      {"eps_copula", &Params::eps_copula},
      {"uncontracted", &Params::uncontracted},
      {"irregular", &Params::irregular},
      {"wrong_allomorph", &Params::wrong_allomorph},
      {"nonhangul_emit", &Params::nonhangul_emit},
      {"vocative_prior", &Params::vocative_prior},
      {"vocative_not_initial", &Params::vocative_not_initial},
      {"copula_ya_prior", &Params::copula_ya_prior},
      {"chat_np_pred_prior", &Params::chat_np_pred_prior},
  };
  for (const Field& f : kFields) {
    if (name == f.name) {
      this->*(f.f) = value;
      return true;
    }
  }
  if (name == "unk_max_syl") {
    unk_max_syl = static_cast<int>(value);
    return true;
  }
  return false;
}

Status UnpackBlob(std::string_view blob, std::string* out) {
  if (blob.size() < 8 || blob.substr(0, 4) != "OKZ1") return Corrupt("korean data: bad magic");
  uint32_t size = 0;
  for (int i = 0; i < 4; ++i) {
    size |= static_cast<uint32_t>(static_cast<unsigned char>(blob[4 + i])) << (8 * i);
  }
  if (size > (64u << 20)) return Corrupt("korean data: absurd size {}", size);
  out->resize(size);
  uLongf dest_len = size;
  const int rc = uncompress(reinterpret_cast<Bytef*>(out->data()), &dest_len,
                            reinterpret_cast<const Bytef*>(blob.data() + 8),
                            static_cast<uLong>(blob.size() - 8));
  if (rc != Z_OK || dest_len != size) return Corrupt("korean data: zlib error {}", rc);
  return Status::Ok();
}

bool ToSymbols(std::string_view utf8, std::vector<uint16_t>* out) {
  out->clear();
  size_t pos = 0;
  char32_t cp;
  while (pos < utf8.size()) {
    if (!DecodeUtf8(utf8, &pos, &cp)) return false;
    Syllable s;
    if (DecomposeSyllable(cp, &s)) {
      out->push_back(SymCV(s.l, s.v));
      if (s.t) out->push_back(SymCoda(s.t));
    } else if (int t = CompatToJongseongIndex(cp); t != 0) {
      out->push_back(SymCoda(t));
    } else {
      return false;
    }
  }
  return true;
}

namespace {

using U32 = std::u32string;

U32 ToU32(std::string_view s) {
  U32 out;
  size_t pos = 0;
  char32_t cp;
  while (pos < s.size()) {
    if (DecodeUtf8(s, &pos, &cp)) out.push_back(cp);
  }
  return out;
}

std::string ToUtf8(const U32& s) {
  std::string out;
  for (char32_t c : s) AppendUtf8(c, &out);
  return out;
}

bool AllHangul(const U32& s) {
  if (s.empty()) return false;
  for (char32_t c : s) {
    if (!IsHangulSyllable(c) && CompatToJongseongIndex(c) == 0) return false;
  }
  return true;
}

bool IsOpenTag(Tag t) {
  return !(IsParticleTag(t) || IsEndingTag(t) || t == Tag::kXSV || t == Tag::kXSA ||
           t == Tag::kXSN || t == Tag::kXPN || t == Tag::kVCP || t == Tag::kVCN || t == Tag::kVX);
}

// Vowel indices (jungseong).
constexpr int kVA = 0, kVAe = 1, kVYa = 2, kVYae = 3, kVEo = 4, kVE = 5, kVYeo = 6, kVYe = 7,
              kVO = 8, kVWa = 9, kVWae = 10, kVOe = 11, kVU = 13, kVWeo = 14, kVWi = 16, kVEu = 18,
              kVUi = 19, kVI = 20;
constexpr int kLHieuh = 18, kLIeung = 11;

bool BrightVowel(int v) { return v == kVA || v == kVO || v == kVYa || v == kVWa; }

// 아서/여서 -> 어서, 았/였 -> 었 for endings; other forms unchanged.
std::string CanonicalEnding(const std::string& form, Tag tag) {
  if (!IsEndingTag(tag) || form.size() < 3) return form;
  size_t pos = 0;
  char32_t c;
  if (!DecodeUtf8(form, &pos, &c)) return form;
  if (c == U'아' || c == U'여') return "어" + form.substr(pos);
  if (c == U'았' || c == U'였') return "었" + form.substr(pos);
  return form;
}

// Hand-written closed classes (canonical forms: 아/어 endings in their 어 form). KLUE adds
// whatever else its annotation contains.
struct Closed {
  const char* form;
  Tag tag;
};
constexpr Closed kClosed[] = {
    // particles
    {"이", Tag::kJKS},
    {"가", Tag::kJKS},
    {"께서", Tag::kJKS},
    {"이", Tag::kJKC},
    {"가", Tag::kJKC},
    {"의", Tag::kJKG},
    {"을", Tag::kJKO},
    {"를", Tag::kJKO},
    {"ㄹ", Tag::kJKO},
    {"에", Tag::kJKB},
    {"에서", Tag::kJKB},
    {"에게", Tag::kJKB},
    {"한테", Tag::kJKB},
    {"께", Tag::kJKB},
    {"로", Tag::kJKB},
    {"으로", Tag::kJKB},
    {"로서", Tag::kJKB},
    {"으로서", Tag::kJKB},
    {"로써", Tag::kJKB},
    {"으로써", Tag::kJKB},
    {"로부터", Tag::kJKB},
    {"으로부터", Tag::kJKB},
    {"와", Tag::kJKB},
    {"과", Tag::kJKB},
    {"보다", Tag::kJKB},
    {"처럼", Tag::kJKB},
    {"같이", Tag::kJKB},
    {"만큼", Tag::kJKB},
    {"에게서", Tag::kJKB},
    {"에서부터", Tag::kJKB},
    {"한테서", Tag::kJKB},
    {"에다", Tag::kJKB},
    {"에다가", Tag::kJKB},
    {"이랑", Tag::kJKB},
    {"랑", Tag::kJKB},
    {"하고", Tag::kJKB},
    {"더러", Tag::kJKB},
    {"아", Tag::kJKV},
    {"야", Tag::kJKV},
    {"여", Tag::kJKV},
    {"이여", Tag::kJKV},
    {"라고", Tag::kJKQ},
    {"이라고", Tag::kJKQ},
    {"고", Tag::kJKQ},
    {"은", Tag::kJX},
    {"는", Tag::kJX},
    {"ㄴ", Tag::kJX},
    {"도", Tag::kJX},
    {"만", Tag::kJX},
    {"까지", Tag::kJX},
    {"부터", Tag::kJX},
    {"마다", Tag::kJX},
    {"조차", Tag::kJX},
    {"마저", Tag::kJX},
    {"밖에", Tag::kJX},
    {"요", Tag::kJX},
    {"이나", Tag::kJX},
    {"나", Tag::kJX},
    {"이라도", Tag::kJX},
    {"라도", Tag::kJX},
    {"이야", Tag::kJX},
    {"야", Tag::kJX},
    {"이든지", Tag::kJX},
    {"든지", Tag::kJX},
    {"이든", Tag::kJX},
    {"든", Tag::kJX},
    {"뿐", Tag::kJX},
    {"이란", Tag::kJX},
    {"란", Tag::kJX},
    {"커녕", Tag::kJX},
    {"은커녕", Tag::kJX},
    {"는커녕", Tag::kJX},
    {"씩", Tag::kJX},
    {"대로", Tag::kJX},
    {"야말로", Tag::kJX},
    {"이야말로", Tag::kJX},
    {"이나마", Tag::kJX},
    {"나마", Tag::kJX},
    {"와", Tag::kJC},
    {"과", Tag::kJC},
    {"이랑", Tag::kJC},
    {"랑", Tag::kJC},
    {"하고", Tag::kJC},
    {"이며", Tag::kJC},
    {"며", Tag::kJC},
    // pre-final endings
    {"었", Tag::kEP},
    {"었었", Tag::kEP},
    {"겠", Tag::kEP},
    {"시", Tag::kEP},
    {"으시", Tag::kEP},
    {"더", Tag::kEP},
    // final endings
    {"다", Tag::kEF},
    {"ㄴ다", Tag::kEF},
    {"는다", Tag::kEF},
    {"어", Tag::kEF},
    {"어요", Tag::kEF},
    {"지", Tag::kEF},
    {"지요", Tag::kEF},
    {"죠", Tag::kEF},
    {"네", Tag::kEF},
    {"네요", Tag::kEF},
    {"ㅂ니다", Tag::kEF},
    {"습니다", Tag::kEF},
    {"ㅂ니까", Tag::kEF},
    {"습니까", Tag::kEF},
    {"자", Tag::kEF},
    {"어라", Tag::kEF},
    {"라", Tag::kEF},
    {"으라", Tag::kEF},
    {"냐", Tag::kEF},
    {"으냐", Tag::kEF},
    {"니", Tag::kEF},
    {"나", Tag::kEF},
    {"군", Tag::kEF},
    {"군요", Tag::kEF},
    {"구나", Tag::kEF},
    {"는구나", Tag::kEF},
    {"는군요", Tag::kEF},
    {"세요", Tag::kEF},
    {"으세요", Tag::kEF},
    {"어야지", Tag::kEF},
    {"ㄹ게", Tag::kEF},
    {"을게", Tag::kEF},
    {"ㄹ게요", Tag::kEF},
    {"을게요", Tag::kEF},
    {"ㄹ까", Tag::kEF},
    {"을까", Tag::kEF},
    {"ㄹ까요", Tag::kEF},
    {"을까요", Tag::kEF},
    {"ㄴ가", Tag::kEF},
    {"은가", Tag::kEF},
    {"는가", Tag::kEF},
    {"ㄴ가요", Tag::kEF},
    {"는가요", Tag::kEF},
    {"ㄹ래", Tag::kEF},
    {"을래", Tag::kEF},
    {"거든", Tag::kEF},
    {"거든요", Tag::kEF},
    {"잖아", Tag::kEF},
    {"잖아요", Tag::kEF},
    {"ㅂ시다", Tag::kEF},
    {"읍시다", Tag::kEF},
    {"더라", Tag::kEF},
    {"더라고요", Tag::kEF},
    {"대", Tag::kEF},
    {"래", Tag::kEF},
    {"는데요", Tag::kEF},
    {"ㄴ데요", Tag::kEF},
    {"은데요", Tag::kEF},
    {"고요", Tag::kEF},
    {"에요", Tag::kEF},
    {"나요", Tag::kEF},
    {"ㄴ가요", Tag::kEF},
    {"는가요", Tag::kEF},
    {"던데요", Tag::kEF},
    {"ㄹ래요", Tag::kEF},
    {"을래요", Tag::kEF},
    {"대요", Tag::kEF},
    {"래요", Tag::kEF},
    {"다고요", Tag::kEF},
    {"라고요", Tag::kEF},
    {"는지요", Tag::kEF},
    {"ㄴ지요", Tag::kEF},
    {"을지요", Tag::kEF},
    {"ㄹ지요", Tag::kEF},
    {"냐고요", Tag::kEF},
    {"던가요", Tag::kEF},
    {"더군요", Tag::kEF},
    {"ㄹ걸요", Tag::kEF},
    {"을걸요", Tag::kEF},
    {"니까요", Tag::kEF},
    {"으니까요", Tag::kEF},
    {"어야죠", Tag::kEF},
    {"지요", Tag::kEC},
    {"오", Tag::kEF},
    {"구요", Tag::kEF},
    {"더라구요", Tag::kEF},
    {"구", Tag::kEC},
    {"길래", Tag::kEC},
    {"거든", Tag::kEC},
    {"ㄴ지", Tag::kEF},
    {"는지", Tag::kEF},
    {"ㄹ까", Tag::kEF},
    {"ㄴ다고", Tag::kEF},
    {"는다고", Tag::kEF},
    {"다고", Tag::kEF},
    {"ㄹ걸", Tag::kEF},
    {"을걸", Tag::kEF},
    {"지만", Tag::kEF},
    {"ㅂ니다만", Tag::kEF},
    // connective endings
    {"고", Tag::kEC},
    {"어", Tag::kEC},
    {"어서", Tag::kEC},
    {"어도", Tag::kEC},
    {"어야", Tag::kEC},
    {"면", Tag::kEC},
    {"으면", Tag::kEC},
    {"니까", Tag::kEC},
    {"으니까", Tag::kEC},
    {"니", Tag::kEC},
    {"으니", Tag::kEC},
    {"며", Tag::kEC},
    {"으며", Tag::kEC},
    {"면서", Tag::kEC},
    {"으면서", Tag::kEC},
    {"지만", Tag::kEC},
    {"는데", Tag::kEC},
    {"ㄴ데", Tag::kEC},
    {"은데", Tag::kEC},
    {"게", Tag::kEC},
    {"지", Tag::kEC},
    {"도록", Tag::kEC},
    {"러", Tag::kEC},
    {"으러", Tag::kEC},
    {"려고", Tag::kEC},
    {"으려고", Tag::kEC},
    {"려면", Tag::kEC},
    {"으려면", Tag::kEC},
    {"다가", Tag::kEC},
    {"어다가", Tag::kEC},
    {"거나", Tag::kEC},
    {"든지", Tag::kEC},
    {"든가", Tag::kEC},
    {"자", Tag::kEC},
    {"자마자", Tag::kEC},
    {"고서", Tag::kEC},
    {"ㄴ지", Tag::kEC},
    {"은지", Tag::kEC},
    {"는지", Tag::kEC},
    {"ㄹ지", Tag::kEC},
    {"을지", Tag::kEC},
    {"나", Tag::kEC},
    {"으나", Tag::kEC},
    {"므로", Tag::kEC},
    {"으므로", Tag::kEC},
    {"듯", Tag::kEC},
    {"듯이", Tag::kEC},
    {"다고", Tag::kEC},
    {"라고", Tag::kEC},
    {"냐고", Tag::kEC},
    {"으냐고", Tag::kEC},
    {"자고", Tag::kEC},
    {"으라고", Tag::kEC},
    {"라며", Tag::kEC},
    {"다며", Tag::kEC},
    {"다면", Tag::kEC},
    {"라면", Tag::kEC},
    {"ㄴ다고", Tag::kEC},
    {"는다고", Tag::kEC},
    {"ㄴ다면", Tag::kEC},
    {"는다면", Tag::kEC},
    {"ㄹ수록", Tag::kEC},
    {"을수록", Tag::kEC},
    {"기에", Tag::kEC},
    {"느라", Tag::kEC},
    {"느라고", Tag::kEC},
    {"다시피", Tag::kEC},
    {"건", Tag::kEC},
    {"되", Tag::kEC},
    {"으되", Tag::kEC},
    {"더니", Tag::kEC},
    {"고자", Tag::kEC},
    {"라서", Tag::kEC},
    {"어야지", Tag::kEC},
    {"ㄴ다며", Tag::kEC},
    {"는다며", Tag::kEC},
    {"어요", Tag::kEC},
    {"ㄹ까", Tag::kEC},
    {"을까", Tag::kEC},
    {"ㄹ", Tag::kEC},
    {"ㄴ들", Tag::kEC},
    {"은들", Tag::kEC},
    {"어서요", Tag::kEC},
    {"라", Tag::kEC},
    // adnominal and nominal endings
    {"ㄴ", Tag::kETM},
    {"은", Tag::kETM},
    {"는", Tag::kETM},
    {"ㄹ", Tag::kETM},
    {"을", Tag::kETM},
    {"던", Tag::kETM},
    {"다는", Tag::kETM},
    {"ㄴ다는", Tag::kETM},
    {"는다는", Tag::kETM},
    {"라는", Tag::kETM},
    {"란", Tag::kETM},
    {"단", Tag::kETM},
    {"었던", Tag::kETM},
    {"기", Tag::kETN},
    {"ㅁ", Tag::kETN},
    {"음", Tag::kETN},
    // predicate suffixes and copula
    {"하", Tag::kXSV},
    {"되", Tag::kXSV},
    {"시키", Tag::kXSV},
    {"당하", Tag::kXSV},
    {"받", Tag::kXSV},
    {"드리", Tag::kXSV},
    {"하", Tag::kXSA},
    {"스럽", Tag::kXSA},
    {"롭", Tag::kXSA},
    {"답", Tag::kXSA},
    {"되", Tag::kXSA},
    {"이", Tag::kVCP},
    {"아니", Tag::kVCN},
    // auxiliaries
    {"있", Tag::kVX},
    {"없", Tag::kVX},
    {"않", Tag::kVX},
    {"보", Tag::kVX},
    {"주", Tag::kVX},
    {"하", Tag::kVX},
    {"싶", Tag::kVX},
    {"지", Tag::kVX},
    {"버리", Tag::kVX},
    {"놓", Tag::kVX},
    {"두", Tag::kVX},
    {"오", Tag::kVX},
    {"가", Tag::kVX},
    {"내", Tag::kVX},
    {"대", Tag::kVX},
    {"말", Tag::kVX},
    {"드리", Tag::kVX},
    {"나", Tag::kVX},
    {"못하", Tag::kVX},
    {"되", Tag::kVX},
    {"계시", Tag::kVX},
    // noun suffixes and prefixes
    {"들", Tag::kXSN},
    {"적", Tag::kXSN},
    {"님", Tag::kXSN},
    {"씨", Tag::kXSN},
    {"화", Tag::kXSN},
    {"성", Tag::kXSN},
    {"별", Tag::kXSN},
    {"권", Tag::kXSN},
    {"제", Tag::kXPN},
    {"비", Tag::kXPN},
    {"초", Tag::kXPN},
    {"재", Tag::kXPN},
    // determiners and other closed words hunspell lacks
    {"이", Tag::kMM},
    {"그", Tag::kMM},
    {"저", Tag::kMM},
    {"새", Tag::kMM},
    {"각", Tag::kMM},
    {"모든", Tag::kMM},
    {"여러", Tag::kMM},
    {"한", Tag::kMM},
    {"두", Tag::kMM},
    {"세", Tag::kMM},
    {"네", Tag::kMM},
    {"몇", Tag::kMM},
    {"어떤", Tag::kMM},
    {"무슨", Tag::kMM},
    {"그런", Tag::kMM},
    {"이런", Tag::kMM},
    {"저런", Tag::kMM},
    {"다른", Tag::kMM},
    {"온갖", Tag::kMM},
    {"전", Tag::kMM},
    {"현", Tag::kMM},
    {"그리고", Tag::kMAJ},
    {"그러나", Tag::kMAJ},
    {"그런데", Tag::kMAJ},
    {"하지만", Tag::kMAJ},
    {"그래서", Tag::kMAJ},
    {"또는", Tag::kMAJ},
    {"및", Tag::kMAJ},
    {"즉", Tag::kMAJ},
    {"따라서", Tag::kMAJ},
    {"또한", Tag::kMAJ},
    {"그러므로", Tag::kMAJ},
    {"그러면", Tag::kMAJ},
    {"혹은", Tag::kMAJ},
    // colloquial adverbs of chat text hunspell lacks
    {"빨랑", Tag::kMAG},
    {"되게", Tag::kMAG},
    {"엄청", Tag::kMAG},
    {"것", Tag::kNNB},
    {"거", Tag::kNNB},
    {"수", Tag::kNNB},
    {"등", Tag::kNNB},
    {"때문", Tag::kNNB},
    {"년", Tag::kNNB},
    {"월", Tag::kNNB},
    {"일", Tag::kNNB},
    {"명", Tag::kNNB},
    {"개", Tag::kNNB},
    {"번", Tag::kNNB},
    {"중", Tag::kNNB},
    {"데", Tag::kNNB},
    {"바", Tag::kNNB},
    {"뿐", Tag::kNNB},
    {"줄", Tag::kNNB},
    {"만", Tag::kNNB},
    {"지", Tag::kNNB},
    {"씨", Tag::kNNB},
    {"원", Tag::kNNB},
    {"시", Tag::kNNB},
    {"분", Tag::kNNB},
    {"초", Tag::kNNB},
    {"적", Tag::kNNB},
    {"나", Tag::kNP},
    {"너", Tag::kNP},
    {"저", Tag::kNP},
    {"우리", Tag::kNP},
    {"그", Tag::kNP},
    {"그녀", Tag::kNP},
    {"이것", Tag::kNP},
    {"그것", Tag::kNP},
    {"저것", Tag::kNP},
    {"여기", Tag::kNP},
    {"거기", Tag::kNP},
    {"저기", Tag::kNP},
    {"누구", Tag::kNP},
    {"무엇", Tag::kNP},
    {"뭐", Tag::kNP},
    {"어디", Tag::kNP},
    {"언제", Tag::kNP},
    {"자신", Tag::kNP},
    {"당신", Tag::kNP},
    {"제", Tag::kNP},
    {"내", Tag::kNP},
    {"네", Tag::kNP},
    {"이", Tag::kNP},
};

// Chat forms rarer in KLUE's news than in conversation (an extra pseudo-count each, see
// GenerateEntries): endings, and 뭐 'what' (뭐 해?), which KLUE mostly has as an interjection.
// (나 and 너 were tried too: they split unknown names such as 유나 into 유 + 나.)
constexpr Closed kConversational[] = {
    {"ㄹ게", Tag::kEF},   {"을게", Tag::kEF},   {"ㄹ게요", Tag::kEF}, {"을게요", Tag::kEF},
    {"ㄹ래", Tag::kEF},   {"을래", Tag::kEF},   {"ㄹ래요", Tag::kEF}, {"을래요", Tag::kEF},
    {"ㄹ까", Tag::kEF},   {"을까", Tag::kEF},   {"ㄹ까요", Tag::kEF}, {"을까요", Tag::kEF},
    {"자", Tag::kEF},     {"네", Tag::kEF},     {"네요", Tag::kEF},   {"지", Tag::kEF},
    {"죠", Tag::kEF},     {"지요", Tag::kEF},   {"어", Tag::kEF},     {"어요", Tag::kEF},
    {"니", Tag::kEF},     {"냐", Tag::kEF},     {"나요", Tag::kEF},   {"세요", Tag::kEF},
    {"으세요", Tag::kEF}, {"군요", Tag::kEF},   {"는군요", Tag::kEF}, {"거든요", Tag::kEF},
    {"잖아요", Tag::kEF}, {"ㄴ데요", Tag::kEF}, {"는데요", Tag::kEF}, {"ㄴ가요", Tag::kEF},
    {"뭐", Tag::kNP},
};

// One morph of an entry under construction.
struct MorphSpec {
  std::string form;  // canonical
  std::string alt;   // bright variant, or empty
  Tag tag;
  int sym_begin = -1, sym_end = -1;
  bool alt_static = false;
};

struct EntrySpec {
  std::vector<uint16_t> surface;
  std::vector<MorphSpec> morphs;
  LeftClass left = kLcFree;
  Final final = kFinalVowel;
  StemKind stem = kNotStem;
  Harmony harmony = kDark;
  bool uncontracted_ok = false;
  bool harmonic_output = false;
  float extra = 0;  // penalty added to rest_cost
};

}  // namespace

class ModelBuilder {
 public:
  ModelBuilder(Model* m, const Params& p) : m_(*m), p_(p) {}
  Status Build(std::string_view stems_text, std::string_view stats_text);

 private:
  Status ParseStems(std::string_view text);
  Status ParseStats(std::string_view text);
  void ComputeCosts();
  void GenerateEntries();
  void SplitDerived();
  char IrregularCode(const std::string& form, Tag tag) const;
  void AddWord(const std::string& form, Tag tag);
  void AddPredicate(const std::string& form, Tag tag, char irr);
  void AddJosa(const std::string& form, Tag tag);
  void AddEnding(const std::string& form, Tag tag);
  void Emit(EntrySpec&& e);
  void BuildTrie();

  uint32_t Intern(std::string_view s);
  float Emission(const std::string& form, Tag tag) const;
  int LexRow(const std::string& form, Tag tag) const;
  // Cost of morph (form, tag) after a morph of tag prev (transition + emission).
  float InnerCost(int prev, const std::string& form, Tag tag) const;

  Model& m_;
  Params p_;
  // Raw statistics.
  std::map<std::pair<std::string, Tag>, double> emis_;
  std::vector<double> tag_count_ = std::vector<double>(kNumTags, 0);
  std::vector<double> tag_vocab_ = std::vector<double>(kNumTags, 0);
  std::vector<double> trans_count_ = std::vector<double>(Model::kTT * Model::kTT, 0);
  std::vector<double> cross_count_ = std::vector<double>(Model::kTT * Model::kTT, 0);
  std::map<std::tuple<int, std::string, Tag>, double> lex_;
  std::vector<double> lex_prev_tag_ = std::vector<double>(Model::kTT * Model::kTT, 0);
  std::vector<double> lex_prev_types_ = std::vector<double>(Model::kTT * Model::kTT, 0);
  // Lexicon.
  std::vector<std::tuple<std::string, Tag, char>> stems_;  // hunspell
  std::unordered_map<std::string, char> irr_of_;           // predicate form -> irregular code
  std::set<std::pair<std::string, Tag>> words_;            // every (form, tag) to add
  std::set<std::string> josa_forms_, ending_forms_;
  std::map<std::pair<std::string, Tag>, int> lex_rows_;
  std::unordered_map<std::string, uint32_t> interned_;
  std::vector<EntrySpec> specs_;
};

Status Model::Build(std::string_view stems_blob, std::string_view stats_blob,
                    const Params& params) {
  std::string stems, stats;
  ONDO_RETURN_IF_ERROR(UnpackBlob(stems_blob, &stems));
  ONDO_RETURN_IF_ERROR(UnpackBlob(stats_blob, &stats));
  this->params = params;
  ModelBuilder b(this, params);
  return b.Build(stems, stats);
}

size_t Model::MemoryBytes() const {
  auto v = [](const auto& x) { return x.capacity() * sizeof(x[0]); };
  return v(entries) + v(morphs) + pool_.capacity() + v(trans_) + v(lex_cost_) + v(cross_) +
         v(cross_end_) + v(unk_syl_) + v(root_) + v(node_child_begin_) + v(node_child_count_) +
         v(node_entry_begin_) + v(node_entry_count_) + v(child_sym_) + v(child_node_) +
         v(entry_ids_);
}

namespace {

bool ParseCount(std::string_view s, double* out) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  *out = static_cast<double>(v);
  return true;
}

// Tag index for statistics: real tags, BOS, EOS; -1 for unknown names (KLUE's MMD etc. are
// normalised by the data builder; anything else is skipped).
int StatTag(std::string_view name) {
  if (name == "BOS") return Model::kBos;
  if (name == "EOS") return Model::kEos;
  Tag t;
  if (ParseTag(name, &t)) return static_cast<int>(t);
  return -1;
}

template <typename F>
void ForEachLine(std::string_view text, F&& f) {
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) f(line);
    start = nl + 1;
  }
}

}  // namespace

Status ModelBuilder::ParseStems(std::string_view text) {
  if (!text.starts_with("ondo-korean-hunspell-stems 1\n")) {
    return Corrupt("korean stems: bad header");
  }
  bool first = true;
  ForEachLine(text, [&](std::string_view line) {
    if (first) {
      first = false;
      return;
    }
    auto cols = platform::SplitFields(line, '\t');
    if (cols.size() < 2) return;
    Tag t;
    if (!ParseTag(cols[1], &t)) return;
    const char irr = cols.size() >= 3 && !cols[2].empty() ? cols[2][0] : 'R';
    stems_.emplace_back(std::string(cols[0]), t, irr);
  });
  if (stems_.size() < 1000) return Corrupt("korean stems: only {} entries", stems_.size());
  return Status::Ok();
}

Status ModelBuilder::ParseStats(std::string_view text) {
  if (!text.starts_with("ondo-korean-klue-stats 1\n")) return Corrupt("korean stats: bad header");
  size_t n_e = 0, n_t = 0;
  bool first = true;
  ForEachLine(text, [&](std::string_view line) {
    if (first) {
      first = false;
      return;
    }
    auto cols = platform::SplitFields(line, '\t');
    double c = 0;
    if (cols[0] == "E" && cols.size() == 4) {
      Tag t;
      if (!ParseTag(cols[2], &t) || !ParseCount(cols[3], &c)) return;
      emis_[{std::string(cols[1]), t}] += c;
      ++n_e;
    } else if (cols[0] == "T" && cols.size() == 4) {
      const int a = StatTag(cols[1]), b = StatTag(cols[2]);
      if (a < 0 || b < 0 || !ParseCount(cols[3], &c)) return;
      trans_count_[a * Model::kTT + b] += c;
      ++n_t;
    } else if (cols[0] == "X" && cols.size() == 4) {
      const int a = StatTag(cols[1]), b = StatTag(cols[2]);
      if (a < 0 || b < 0 || !ParseCount(cols[3], &c)) return;
      cross_count_[a * Model::kTT + b] += c;
    } else if (cols[0] == "L" && cols.size() == 5) {
      const int a = StatTag(cols[1]);
      Tag t;
      if (a < 0 || !ParseTag(cols[3], &t) || !ParseCount(cols[4], &c)) return;
      lex_[{a, std::string(cols[2]), t}] += c;
      lex_prev_tag_[a * Model::kTT + static_cast<int>(t)] += c;
      lex_prev_types_[a * Model::kTT + static_cast<int>(t)] += 1;
    }
  });
  if (n_e < 100 || n_t < 20) return Corrupt("korean stats: too few entries");
  return Status::Ok();
}

uint32_t ModelBuilder::Intern(std::string_view s) {
  auto it = interned_.find(std::string(s));
  if (it != interned_.end()) return it->second;
  const uint32_t off = static_cast<uint32_t>(m_.pool_.size());
  m_.pool_.append(s);
  interned_.emplace(std::string(s), off);
  return off;
}

float ModelBuilder::Emission(const std::string& form, Tag tag) const {
  const int t = static_cast<int>(tag);
  auto it = emis_.find({CanonicalEnding(form, tag), tag});
  const double c = it == emis_.end() ? 0.0 : it->second;
  const double alpha = IsOpenTag(tag) ? p_.open_pseudo : p_.closed_pseudo;
  const double denom = tag_count_[t] + alpha * std::max(1.0, tag_vocab_[t]);
  return static_cast<float>(-std::log((c + alpha) / denom));
}

int ModelBuilder::LexRow(const std::string& form, Tag tag) const {
  // Statistics of 아/어 endings are kept under the dark form (아서, 여서 -> 어서; 았 -> 었).
  auto it = lex_rows_.find({CanonicalEnding(form, tag), tag});
  return it == lex_rows_.end() ? -1 : it->second;
}

float ModelBuilder::InnerCost(int prev, const std::string& form, Tag tag) const {
  const int row = LexRow(form, tag);
  if (row >= 0) return m_.LexCost(row, prev);
  return m_.Trans(prev, static_cast<int>(tag)) + Emission(form, tag);
}

void ModelBuilder::ComputeCosts() {
  constexpr int kTT = Model::kTT;
  for (const auto& [key, c] : emis_) tag_count_[static_cast<int>(key.second)] += c;
  {
    std::set<std::pair<std::string, Tag>> vocab(words_.begin(), words_.end());
    for (const auto& [key, c] : emis_) vocab.insert(key);
    for (const auto& key : vocab) tag_vocab_[static_cast<int>(key.second)] += 1;
  }
  // Honorific 시 followed by 었/겠 (가셨다, 하시겠습니다) is common Korean but rare in KLUE's
  // news (5 EP->EP of ~1400 EP transitions); a pseudo-count restores it.
  trans_count_[static_cast<int>(Tag::kEP) * kTT + static_cast<int>(Tag::kEP)] += p_.ep_ep_prior;
  // Vocatives: after a name, a common noun or a plural suffix (철수야, 친구야, 얘들아), and last
  // in their eojeol (only punctuation may follow). (Pronoun hosts split names: 유나야 -> 유+나+야.)
  constexpr int kJkv = static_cast<int>(Tag::kJKV);
  for (Tag host : {Tag::kNNP, Tag::kNNG, Tag::kXSN}) {
    trans_count_[static_cast<int>(host) * kTT + kJkv] += p_.vocative_prior;
  }
  trans_count_[kJkv * kTT + Model::kEos] += p_.vocative_prior;
  m_.trans_.assign(kTT * kTT, 0);
  for (int a = 0; a < kTT; ++a) {
    double row = 0;
    for (int b = 0; b < kTT; ++b) row += trans_count_[a * kTT + b];
    for (int b = 0; b < kTT; ++b) {
      const double pr =
          (trans_count_[a * kTT + b] + p_.trans_smooth) / (row + p_.trans_smooth * kTT);
      m_.trans_[a * kTT + b] = static_cast<float>(-std::log(pr));
    }
  }
  // What follows a vocative: a comma, or what starts a sentence (철수야 밥 먹자); rarely the
  // end of the sentence, which is where the copula's 야 goes (문제야.).
  {
    double bos_row = 0;
    for (int b = 0; b < kTT; ++b) {
      if (b != static_cast<int>(Tag::kSF) && b != Model::kEos)
        bos_row += cross_count_[Model::kBos * kTT + b];
    }
    for (int b = 0; b < kTT && bos_row > 0; ++b) {
      if (b == static_cast<int>(Tag::kSF) || b == Model::kEos) continue;
      cross_count_[kJkv * kTT + b] +=
          p_.vocative_prior * cross_count_[Model::kBos * kTT + b] / bos_row;
    }
    cross_count_[kJkv * kTT + static_cast<int>(Tag::kSP)] += p_.vocative_prior;
  }
  for (Tag pred : {Tag::kVV, Tag::kVA}) {
    cross_count_[static_cast<int>(Tag::kNP) * kTT + static_cast<int>(pred)] +=
        p_.chat_np_pred_prior;
  }
  m_.cross_.assign(kTT * kTT, 0);
  m_.cross_end_.assign(kTT, 0);
  for (int a = 0; a < kTT; ++a) {
    double row = 0;
    for (int b = 0; b < kTT; ++b) row += cross_count_[a * kTT + b];
    const double denom = row + p_.cross_smooth * kTT;
    for (int b = 0; b < kTT; ++b) {
      m_.cross_[a * kTT + b] =
          static_cast<float>(-std::log((cross_count_[a * kTT + b] + p_.cross_smooth) / denom));
    }
    const double end =
        cross_count_[a * kTT + static_cast<int>(Tag::kSF)] + cross_count_[a * kTT + Model::kEos];
    m_.cross_end_[a] = static_cast<float>(-std::log((end + 2 * p_.cross_smooth) / denom));
  }
  // Lexicalised rows for every closed-class morph: cost(prev) = Trans(prev, t) -
  // log P(m | t, prev), with P(m | t, prev) interpolated with P(m | t) Witten-Bell style: the
  // backoff weight is k*d / (n + k*d), n tokens and d types seen after (prev, t), k = lex_kappa.
  std::set<std::pair<std::string, Tag>> closed;
  for (const auto& [key, c] : emis_) {
    if (!IsOpenTag(key.second)) closed.insert(key);
  }
  for (const auto& key : words_) {
    if (!IsOpenTag(key.second)) closed.insert(key);
  }
  m_.lex_cost_.clear();
  int row = 0;
  for (const auto& [form, tag] : closed) {
    lex_rows_[{form, tag}] = row++;
    const int t = static_cast<int>(tag);
    const double p_m_t = std::exp(-Emission(form, tag));
    for (int prev = 0; prev < kTT; ++prev) {
      auto it = lex_.find({prev, form, tag});
      const double c = it == lex_.end() ? 0.0 : it->second;
      const double n = lex_prev_tag_[prev * kTT + t];
      const double kd = p_.lex_kappa * std::max(1.0, lex_prev_types_[prev * kTT + t]);
      const double pr = (c + kd * p_m_t) / (n + kd);
      m_.lex_cost_.push_back(m_.Trans(prev, t) + static_cast<float>(-std::log(pr)));
    }
  }
  // Syllable unigram of nouns (KLUE tokens and hunspell types) for unknown words.
  {
    std::vector<double> n(kSCount, 0.0);
    double total = 0;
    auto add = [&](const std::string& form, double w) {
      for (char32_t c : ToU32(form)) {
        if (IsHangulSyllable(c)) {
          n[c - kSBase] += w;
          total += w;
        }
      }
    };
    for (const auto& [key, c] : emis_) {
      if (key.second == Tag::kNNG || key.second == Tag::kNNP) add(key.first, c);
    }
    for (const auto& [form, tag, irr] : stems_) {
      if (tag == Tag::kNNG) add(form, 1.0);
    }
    constexpr double kAlpha = 0.1;
    m_.unk_syl_.resize(kSCount);
    for (int i = 0; i < kSCount; ++i) {
      m_.unk_syl_[i] = static_cast<float>(-std::log((n[i] + kAlpha) / (total + kAlpha * kSCount)));
    }
  }
}

void ModelBuilder::Emit(EntrySpec&& e) {
  if (e.surface.empty() || e.morphs.empty() || e.morphs.size() > 8) return;
  specs_.push_back(std::move(e));
}

namespace {

// Final class of a symbol sequence's end.
Final FinalOf(const std::vector<uint16_t>& syms) {
  const uint16_t s = syms.back();
  if (!IsCodaSym(s)) return kFinalVowel;
  return s == SymCoda(kTRieul) ? kFinalRieul : kFinalCons;
}

std::vector<uint16_t> Syms(const U32& s) {
  std::vector<uint16_t> out;
  ToSymbols(ToUtf8(s), &out);
  return out;
}

MorphSpec Whole(const std::string& form, Tag tag, int n_syms) {
  MorphSpec m;
  m.form = form;
  m.tag = tag;
  m.sym_begin = 0;
  m.sym_end = n_syms;
  return m;
}

// Replace the vowel of syllable c.
char32_t WithVowel(char32_t c, int v) {
  Syllable s;
  DecomposeSyllable(c, &s);
  return ComposeSyllable(s.l, v, s.t);
}
int VowelOf(char32_t c) {
  Syllable s;
  DecomposeSyllable(c, &s);
  return s.v;
}

}  // namespace

void ModelBuilder::AddWord(const std::string& form, Tag tag) {
  EntrySpec e;
  e.surface.clear();
  if (!ToSymbols(form, &e.surface) || e.surface.empty() || IsCodaSym(e.surface[0])) return;
  e.morphs.push_back(Whole(form, tag, static_cast<int>(e.surface.size())));
  e.final = FinalOf(e.surface);
  Emit(std::move(e));
}

void ModelBuilder::AddJosa(const std::string& form, Tag tag) {
  EntrySpec e;
  if (!ToSymbols(form, &e.surface) || e.surface.empty()) return;
  e.morphs.push_back(Whole(form, tag, static_cast<int>(e.surface.size())));
  e.final = FinalOf(e.surface);
  const U32 u = ToU32(form);
  auto has = [&](const U32& x) { return josa_forms_.count(ToUtf8(x)) != 0; };
  if (IsCodaSym(e.surface[0])) {
    e.left = kLcJosaCoda;
    e.morphs[0].sym_begin = -1;
  } else if (form == "을" || form == "은" || form == "과" ||
             (form == "이" && (tag == Tag::kJKS || tag == Tag::kJKC)) ||
             (form == "아" && tag == Tag::kJKV)) {
    e.left = kLcJosaCons;
  } else if (form == "를" || form == "는" || form == "와" ||
             (form == "가" && (tag == Tag::kJKS || tag == Tag::kJKC)) ||
             (form == "야" && tag == Tag::kJKV)) {
    e.left = kLcJosaVowel;
  } else if (u.size() >= 2 && u[0] == U'으' && u[1] == U'로') {
    e.left = kLcJosaConsNotL;
  } else if (u[0] == U'로' && has(U"으" + u)) {
    e.left = kLcJosaVowelOrL;
  } else if (u.size() >= 2 && u[0] == U'이' && has(u.substr(1))) {
    e.left = kLcJosaCons;
  } else if (u[0] != U'이' && has(U"이" + u) && tag != Tag::kJKS) {
    e.left = kLcJosaVowel;
  }
  Emit(std::move(e));
}

void ModelBuilder::AddEnding(const std::string& form, Tag tag) {
  const U32 u = ToU32(form);
  std::vector<uint16_t> syms;
  if (!ToSymbols(form, &syms) || syms.empty()) return;
  const int n = static_cast<int>(syms.size());
  auto base = [&](const std::vector<uint16_t>& surface) {
    EntrySpec e;
    e.surface = surface;
    e.final = FinalOf(surface);
    if (tag == Tag::kEP) e.stem = kStemPlain;  // a pre-final ending still needs an ending
    return e;
  };
  auto has = [&](const U32& x) { return ending_forms_.count(ToUtf8(x)) != 0; };
  const char32_t c0 = u[0];
  Syllable s0{};
  const bool syl0 = DecomposeSyllable(c0, &s0);
  // Copula-elided copies (의사다 = 의사+이+다) for endings written with a full syllable that
  // may follow 이 directly.
  auto copula_copy = [&](const EntrySpec& e) {
    if (tag == Tag::kEP || tag == Tag::kETN) return;
    // Of the coda endings ㅂ니다/ㅂ니까 and the ㄴ-endings follow an elided copula
    // (겁니다 = 거+이+ㅂ니다, 뭔지 = 뭐+이+ㄴ지); the ㄴ ones less readily (의산 is rare).
    float extra = 0;
    if (e.left == kLcEndCoda) {
      if (e.surface[0] == SymCoda(kTNieun)) {
        extra = p_.eps_copula_coda;
      } else if (e.surface[0] != SymCoda(kTPieup)) {
        return;
      }
    }
    EntrySpec c = e;
    MorphSpec cop;
    cop.form = "이";
    cop.tag = Tag::kVCP;
    c.morphs.insert(c.morphs.begin(), cop);
    c.left = kLcCopulaVowel;
    c.extra += p_.eps_copula + extra;
    Emit(std::move(c));
  };
  if (!syl0) {  // starts with a bare final consonant: ㄴ, ㄹ게, ㅂ니다
    EntrySpec e = base(syms);
    MorphSpec m;
    m.form = form;
    m.tag = tag;
    e.morphs.push_back(m);
    e.left = kLcEndCoda;
    copula_copy(e);
    Emit(std::move(e));
    return;
  }
  if (s0.l == kLIeung && s0.v == kVEo && (s0.t == 0 || s0.t == kTSsangSios)) {
    // 아/어 ending: written-out variants for each harmony, and the remainder after a fused stem.
    std::string bright, ha;
    {
      U32 b = u, h = u;
      b[0] = WithVowel(c0, kVA);
      h[0] = WithVowel(c0, kVYeo);
      bright = ToUtf8(b);
      ha = ToUtf8(h);
    }
    const Harmony hs[3] = {kDark, kBright, kHa};
    const std::string* forms[3] = {&form, &bright, &ha};
    for (int i = 0; i < 3; ++i) {
      std::vector<uint16_t> sv;
      ToSymbols(*forms[i], &sv);
      EntrySpec e = base(sv);
      MorphSpec m = Whole(form, tag, n);
      if (i > 0) {  // canonical form 어서, written 아서 (GSD writes 하여 as 하+아 too)
        m.alt = bright;
        m.alt_static = true;
      }
      if (i == 2) m.sym_begin = m.sym_end = -1;  // 여서 is written, 아서 is the form
      e.morphs.push_back(m);
      e.left = kLcEndHarm;
      e.harmony = hs[i];
      Emit(std::move(e));
    }
    std::vector<uint16_t> rest(syms.begin() + 1, syms.end());  // drops the 어 symbol
    if (!rest.empty()) {
      EntrySpec e = base(rest);
      MorphSpec m;
      m.form = form;
      m.alt = bright;
      m.tag = tag;
      e.morphs.push_back(m);
      e.left = kLcEndRemainder;
      e.harmonic_output = true;
      Emit(std::move(e));
    }
    return;
  }
  EntrySpec e = base(syms);
  e.morphs.push_back(Whole(form, tag, n));
  if (c0 == U'으') {
    e.left = kLcEndEu;
  } else if (c0 == U'습' || c0 == U'읍' || (u.size() >= 2 && c0 == U'는' && u[1] == U'다')) {
    e.left = kLcEndConsOnly;
  } else if (has(U"으" + u) && c0 != U'나' && c0 != U'니' && c0 != U'냐') {
    e.left = kLcEndVowelForm;
  } else {
    e.left = kLcEndAny;
  }
  copula_copy(e);
  if (tag == Tag::kEP && (form == "시" || form == "으시")) {
    // 시 + 어 contracts: 가셔서 (시+어서), 가셨다 (시+었), 가세요 (시+어요).
    const bool eu = form == "으시";
    EntrySpec f = e;
    f.surface = Syms(eu ? U"으셔" : U"셔");
    f.morphs[0].sym_begin = f.morphs[0].sym_end = -1;
    f.stem = kStemFused;
    f.harmony = kDark;
    f.final = kFinalVowel;
    for (Tag et : {Tag::kEC, Tag::kEF}) {  // 드셔 (들+시+어), 하셔 (하+시+어)
      EntrySpec c = f;
      c.stem = kNotStem;
      MorphSpec m;
      m.form = "어";
      m.tag = et;
      c.morphs.push_back(m);
      Emit(std::move(c));
    }
    Emit(std::move(f));
    EntrySpec se = e;
    se.surface = Syms(eu ? U"으세요" : U"세요");
    se.morphs[0].sym_begin = se.morphs[0].sym_end = -1;
    MorphSpec m;
    m.form = "어요";
    m.tag = Tag::kEF;
    se.morphs.push_back(m);
    se.stem = kNotStem;
    Emit(std::move(se));
  }
  Emit(std::move(e));
}

void ModelBuilder::AddPredicate(const std::string& form, Tag tag, char irr) {
  U32 u = ToU32(form);
  if (!AllHangul(u) || CompatToJongseongIndex(u[0]) != 0) return;
  for (char32_t c : u) {
    if (!IsHangulSyllable(c)) return;
  }
  Syllable last;
  DecomposeSyllable(u.back(), &last);
  const bool is_ha = last.l == kLHieuh && last.v == kVA && last.t == 0;
  // Harmony from the last vowel, skipping ㅡ (바쁘 is bright through 바).
  Harmony harm = BrightVowel(last.v) ? kBright : kDark;
  if (last.v == kVEu && last.t == 0 && u.size() >= 2) {  // 바쁘 is bright through 바
    harm = BrightVowel(VowelOf(u[u.size() - 2])) ? kBright : kDark;
  }
  if (is_ha) harm = kHa;
  const float irr_cost = p_.irregular;
  auto entry = [&](const U32& surf, StemKind kind, float extra, bool whole) {
    EntrySpec e;
    e.surface = Syms(surf);
    MorphSpec m;
    m.form = form;
    m.tag = tag;
    if (whole) {
      m.sym_begin = 0;
      m.sym_end = static_cast<int>(e.surface.size());
    }
    e.morphs.push_back(m);
    e.final = FinalOf(e.surface);
    e.stem = kind;
    e.harmony = harm;
    e.extra = extra;
    return e;
  };
  // A fused stem (stem + 아/어): open form and the complete forms with 어 as EC / EF.
  auto fused = [&](const U32& surf, Harmony out_harm, float extra) {
    EntrySpec open = entry(surf, kStemFused, extra, false);
    open.harmony = out_harm;
    if (surf == u)
      open.morphs[0].sym_begin = 0, open.morphs[0].sym_end = static_cast<int>(open.surface.size());
    for (Tag et : {Tag::kEC, Tag::kEF}) {
      EntrySpec c = open;
      c.stem = kNotStem;
      MorphSpec m;
      m.form = "어";
      if (out_harm != kDark) {
        m.alt = "아";
        m.alt_static = true;
      }
      m.tag = et;
      c.morphs.push_back(m);
      Emit(std::move(c));
    }
    Emit(std::move(open));
  };
  U32 stem_wo_t = u;
  stem_wo_t.back() = WithJongseong(u.back(), 0);
  if (tag == Tag::kVCP) {  // copula 이: 이다, 이어 / 여 (after a vowel), 였
    EntrySpec plain = entry(u, kStemPlain, 0, true);
    plain.uncontracted_ok = true;
    plain.harmony = kDark;
    Emit(std::move(plain));
    EntrySpec f = entry(U"여", kStemFused, 0, false);
    f.left = kLcCopulaVowel;
    f.harmony = kDark;
    Emit(std::move(f));
    // 이야 (학생이야) and, elided after a vowel, 야 (문제야 = 문제+이+야).
    for (bool elided : {false, true}) {
      EntrySpec ya = entry(elided ? U"야" : U"이야", kNotStem, 0, !elided);
      if (!elided) ya.morphs[0].sym_end = 1;
      MorphSpec m;
      m.form = "야";
      m.tag = Tag::kEF;
      m.sym_begin = elided ? 0 : 1;
      m.sym_end = m.sym_begin + 1;
      ya.morphs.push_back(m);
      if (elided) {
        ya.left = kLcCopulaVowel;
        ya.extra = p_.eps_copula;
      }
      Emit(std::move(ya));
    }
    EntrySpec ye = entry(U"예요", kNotStem, 0, false);
    MorphSpec m;
    m.form = "에요";
    m.tag = Tag::kEF;
    ye.morphs.push_back(m);
    ye.left = kLcCopulaVowel;
    Emit(std::move(ye));
    return;
  }
  if (tag == Tag::kVCN) {  // 아니야
    const int n = static_cast<int>(Syms(u).size());
    EntrySpec ya = entry(u + U"야", kNotStem, 0, true);
    ya.morphs[0].sym_end = n;
    MorphSpec m;
    m.form = "야";
    m.tag = Tag::kEF;
    m.sym_begin = n;
    m.sym_end = n + 1;
    ya.morphs.push_back(m);
    Emit(std::move(ya));
  }
  switch (irr) {
    case 'B':
    case 'O': {  // 가깝/가까우/가까워, 돕/도우/도와
      if (last.t != kTPieup) break;
      Emit(entry(u, kStemNoHarm, 0, true));
      U32 eu = stem_wo_t + U"우";
      Emit(entry(eu, kStemEuOnly, irr_cost, false));
      fused(stem_wo_t + (irr == 'O' ? U"와" : U"워"), irr == 'O' ? kBright : kDark, irr_cost);
      return;
    }
    case 'D': {  // 듣/들
      if (last.t != kTDigeut) break;
      Emit(entry(u, kStemNoHarm, 0, true));
      U32 r = u;
      r.back() = WithJongseong(u.back(), kTRieul);
      Emit(entry(r, kStemVreq, irr_cost, false));
      return;
    }
    case 'S': {  // 낫/나
      if (last.t != kTSios) break;
      Emit(entry(u, kStemNoHarm, 0, true));
      Emit(entry(stem_wo_t, kStemVreq, irr_cost, false));
      return;
    }
    case 'H': {  // 그렇/그러/그래, 하얗/하야/하얘
      if (last.t != kTHieuh) break;
      Emit(entry(u, kStemNoHarm, 0, true));
      Emit(entry(stem_wo_t, kStemEuOnly, irr_cost, false));
      int fv = last.v == kVYa ? kVYae : kVAe;
      U32 f = stem_wo_t;
      f.back() = WithVowel(f.back(), fv);
      fused(f, BrightVowel(last.v) ? kBright : kDark, irr_cost);
      return;
    }
    case 'L': {  // 르: 부르/불러, 빠르/빨라
      if (u.size() < 2 || u.back() != U'르') break;
      Emit(entry(u, kStemPlain, 0, true));
      U32 f = u.substr(0, u.size() - 1);
      f.back() = WithJongseong(f.back(), kTRieul);
      const bool bright = BrightVowel(VowelOf(u[u.size() - 2]));
      f += bright ? U"라" : U"러";
      fused(f, bright ? kBright : kDark, irr_cost);
      return;
    }
    case 'E': {  // 러: 푸르/푸르러
      Emit(entry(u, kStemPlain, 0, true));
      fused(u + U"러", kDark, irr_cost);
      return;
    }
    case 'U': {  // 우: 푸/퍼
      Emit(entry(u, kStemPlain, 0, true));
      U32 f = u;
      f.back() = WithVowel(u.back(), kVEo);
      fused(f, kDark, irr_cost);
      return;
    }
    default:
      break;
  }
  // Regular stems.
  if (last.t == kTRieul) {  // 살/사
    Emit(entry(u, kStemPlain, 0, true));
    Emit(entry(stem_wo_t, kStemRdel, 0, false));
    // 말다 also drops its ㄹ before 아 in commands: 울지 마, 가지 마라, 하지 마요.
    if (form == "말" && (tag == Tag::kVX || tag == Tag::kVV)) fused(U"마", kBright, irr_cost);
    return;
  }
  if (last.t != 0) {
    Emit(entry(u, kStemPlain, 0, true));
    return;
  }
  EntrySpec plain = entry(u, kStemPlain, 0, true);
  const int v = last.v;
  plain.uncontracted_ok = v == kVO || v == kVU || v == kVOe || v == kVI || v == kVWi || v == kVUi ||
                          v == kVAe || v == kVE || is_ha;
  Emit(std::move(plain));
  int fv = -1;
  Harmony out = kDark;
  if (is_ha) {
    fv = kVAe;
    out = kHa;
  } else if (v == kVA || v == kVYa) {
    fv = v;
    out = kBright;
  } else if (v == kVEo || v == kVAe || v == kVE || v == kVYeo || v == kVYae || v == kVYe) {
    fv = v;
  } else if (v == kVO) {
    fv = kVWa;
    out = kBright;
  } else if (v == kVU) {
    fv = kVWeo;
  } else if (v == kVOe) {
    fv = kVWae;
  } else if (v == kVI) {
    fv = kVYeo;
  } else if (v == kVEu) {
    out = harm == kBright ? kBright : kDark;
    fv = out == kBright ? kVA : kVEo;
  }
  if (fv >= 0) {
    U32 f = u;
    f.back() = WithVowel(u.back(), fv);
    fused(f, out, 0);
  }
}

// Sejong (and UD GSD) analyse derived words: 공부하 = 공부/NNG + 하/XSV, 저렴하 = 저렴/XR +
// 하/XSA, 사회적 = 사회/NNG + 적/XSN. hunspell and KLUE also list such words whole; drop those
// whose base (two syllables or more) is in the lexicon, so the split analysis is the only one.
// Single-syllable bases stay whole (대하, 위하, 통하 are verbs in Sejong).
void ModelBuilder::SplitDerived() {
  std::set<std::pair<std::string, Tag>> hand;
  for (const Closed& c : kClosed) hand.insert({c.form, c.tag});
  auto is_base = [&](const std::string& f) {
    for (Tag t : {Tag::kNNG, Tag::kNNP, Tag::kXR, Tag::kMAG, Tag::kNP, Tag::kNR, Tag::kNNB}) {
      if (words_.count({f, t})) return true;
    }
    return false;
  };
  static constexpr const char32_t* kSuffixes[] = {U"하",   U"되",   U"시키", U"당하", U"받",
                                                  U"드리", U"스럽", U"롭",   U"답"};
  std::vector<std::pair<std::string, Tag>> drop, add;
  std::unordered_set<std::string> xsn;
  for (const auto& [key, c] : emis_) {
    if (key.second == Tag::kXSN && c >= p_.xsn_min_count && ToU32(key.first).size() == 1) {
      xsn.insert(key.first);
    }
  }
  xsn.insert("적");
  for (const auto& key : words_) {
    const auto& [form, tag] = key;
    if (hand.count(key)) continue;
    const U32 u = ToU32(form);
    if (tag == Tag::kVV || tag == Tag::kVA) {
      for (const char32_t* suf : kSuffixes) {
        const U32 sv(suf);
        if (u.size() < sv.size() + 2 || u.compare(u.size() - sv.size(), sv.size(), sv) != 0) {
          continue;
        }
        const std::string base = ToUtf8(u.substr(0, u.size() - sv.size()));
        if (is_base(base)) {
          drop.push_back(key);
        } else if (sv == U"하" && tag == Tag::kVA) {
          add.push_back({base, Tag::kXR});
          drop.push_back(key);
        }
        break;
      }
    } else if (tag == Tag::kNNG && u.size() >= 3 && !emis_.count(key) &&
               xsn.count(ToUtf8(u.substr(u.size() - 1)))) {
      // 사회적, 편의성, 정치권, 만족도: noun + productive suffix (XSN in KLUE, count >= 3).
      if (is_base(ToUtf8(u.substr(0, u.size() - 1)))) drop.push_back(key);
    }
  }
  // Sejong also splits 어지 passives and inchoatives (만들어지 = 만들+어+지, 넓어지 = 넓+어+지):
  // drop a predicate F+지 when F is the fused (stem + 아/어) form of another predicate.
  {
    std::set<std::vector<uint16_t>> fused;
    for (const auto& [form, tag] : words_) {
      if (tag != Tag::kVV && tag != Tag::kVA) continue;
      AddPredicate(form, tag, IrregularCode(form, tag));
    }
    for (const EntrySpec& e : specs_) {
      if (e.stem == kStemFused) fused.insert(e.surface);
    }
    specs_.clear();
    for (const auto& key : words_) {
      const auto& [form, tag] = key;
      if ((tag != Tag::kVV && tag != Tag::kVA) || hand.count(key)) continue;
      const U32 u = ToU32(form);
      if (u.size() < 3 || u.back() != U'지') continue;
      // Lexicalised ones stay whole where KLUE writes them so (떨어지, 넘어지, 이루어지).
      if (emis_.count(key)) continue;
      const U32 f = u.substr(0, u.size() - 1);  // 만들어지 -> 만들어, 넓어지 -> 넓어
      const U32 stem = f.substr(0, f.size() - 1);
      const bool written =
          (f.back() == U'어' || f.back() == U'아') &&
          (words_.count({ToUtf8(stem), Tag::kVV}) || words_.count({ToUtf8(stem), Tag::kVA}));
      if (written || fused.count(Syms(f))) drop.push_back(key);
    }
  }
  // Compound nouns: UD GSD (and often KLUE) split them into their nouns (인명피해 = 인명+피해,
  // 국가보안법 = 국가+보안법). Drop a noun unseen whole in KLUE that splits completely into known
  // nouns of two syllables or more.
  if (p_.split_compounds) {
    std::unordered_set<std::string> nouns;
    for (const auto& [form, tag] : words_) {
      if (tag == Tag::kNNG || tag == Tag::kNNP) nouns.insert(form);
    }
    for (const auto& key : words_) {
      const auto& [form, tag] = key;
      if (tag != Tag::kNNG || emis_.count(key) || hand.count(key)) continue;
      const U32 u = ToU32(form);
      const size_t n = u.size();
      if (n < 4) continue;
      // ok[i]: u[0, i) splits into known nouns of length >= 2 (the whole word excluded).
      std::vector<char> ok(n + 1, 0);
      ok[0] = 1;
      for (size_t i = 2; i <= n; ++i) {
        for (size_t j = 0; j + 2 <= i && !ok[i]; ++j) {
          if (ok[j] && !(j == 0 && i == n) && nouns.count(ToUtf8(u.substr(j, i - j)))) ok[i] = 1;
        }
      }
      if (ok[n]) drop.push_back(key);
    }
  }
  for (const auto& k : drop) words_.erase(k);
  for (const auto& k : add) words_.insert(k);
}

char ModelBuilder::IrregularCode(const std::string& form, Tag tag) const {
  auto it = irr_of_.find(form);
  if (it != irr_of_.end()) return it->second;
  // Not in hunspell (KLUE or hand-list stems): ㅂ-final adjectives and adjective suffixes are
  // almost all irregular (아름답, 스럽, 롭, 답).
  if ((tag == Tag::kVA || tag == Tag::kXSA) && JongseongIndex(ToU32(form).back()) == kTPieup) {
    return 'B';
  }
  return 'R';
}

void ModelBuilder::GenerateEntries() {
  // Collect every (form, tag): hunspell, KLUE, the hand list.
  for (const auto& [form, tag, irr] : stems_) {
    if (tag == Tag::kVV || tag == Tag::kVA) {
      auto it = irr_of_.find(form);
      if (it == irr_of_.end() || it->second == 'R') irr_of_[form] = irr;
    }
    if (form == "이" && tag == Tag::kVV) continue;  // 이다 (carry on the head): rare, shadows 이
    words_.insert({form, tag});
  }
  for (const auto& [key, c] : emis_) {
    if (c < 1) continue;
    U32 u = ToU32(key.first);
    if (!AllHangul(u)) continue;
    words_.insert(key);
  }
  for (const Closed& c : kClosed) {
    words_.insert({c.form, c.tag});
    emis_[{c.form, c.tag}] += p_.closed_prior;
  }
  // KLUE is news and reviews; conversational endings (갈게, 할래, 먹자, 좋네) are rarer there
  // than in chat text. Give them a pseudo-count worth a few dozen occurrences.
  for (const Closed& c : kConversational) emis_[{c.form, c.tag}] += p_.conversational_prior;
  // The copula's plain-speech 야 (문제야, 학생이야, 아니야): an ending of 이다 and 아니다 only,
  // so it is not a word of its own but part of the entries AddPredicate makes for them.
  emis_[{"야", Tag::kEF}] += p_.copula_ya_prior;
  for (Tag cop : {Tag::kVCP, Tag::kVCN}) {
    const int a = static_cast<int>(cop), t = static_cast<int>(Tag::kEF);
    lex_[{a, "야", Tag::kEF}] += p_.copula_ya_prior;
    lex_prev_tag_[a * Model::kTT + t] += p_.copula_ya_prior;
    lex_prev_types_[a * Model::kTT + t] += 1;
  }
  SplitDerived();
  for (const auto& [form, tag] : words_) {
    if (IsParticleTag(tag)) josa_forms_.insert(form);
    if (IsEndingTag(tag)) ending_forms_.insert(form);
  }
  ComputeCosts();
  // Contractions of the bound noun 것 (Sejong and KLUE write the lemma 것): 거 (거죠, 겁니다,
  // and with the coda particles 건 = 것+ㄴ, 걸 = 것+ㄹ), 게 = 것+이.
  {
    EntrySpec geo;
    geo.surface = Syms(U"거");
    MorphSpec m;
    m.form = "것";
    m.tag = Tag::kNNB;
    geo.morphs.push_back(m);
    geo.final = kFinalVowel;
    geo.extra = p_.geot_contraction;
    for (Tag jt : {Tag::kJKS, Tag::kJKC}) {
      EntrySpec ge = geo;
      ge.surface = Syms(U"게");
      MorphSpec j;
      j.form = "이";
      j.tag = jt;
      ge.morphs.push_back(j);
      Emit(std::move(ge));
    }
    Emit(std::move(geo));
  }
  for (const auto& [form, tag] : words_) {
    if (IsParticleTag(tag)) {
      AddJosa(form, tag);
    } else if (IsEndingTag(tag)) {
      AddEnding(form, tag);
    } else if (IsPredicateTag(tag) || tag == Tag::kVX) {
      AddPredicate(form, tag, IrregularCode(form, tag));
    } else {
      AddWord(form, tag);
    }
  }
}

void ModelBuilder::BuildTrie() {
  // Finalise entries.
  m_.entries.clear();
  m_.morphs.clear();
  std::vector<std::pair<std::vector<uint16_t>, uint32_t>> keys;
  keys.reserve(specs_.size());
  for (EntrySpec& s : specs_) {
    Entry e;
    e.morph_begin = static_cast<uint32_t>(m_.morphs.size());
    e.n_morph = static_cast<uint8_t>(s.morphs.size());
    e.left = s.left;
    if (IsCodaSym(s.surface[0])) {
      e.first_consonant = static_cast<uint8_t>(100 + (s.surface[0] - 400));
    } else {
      e.first_consonant = static_cast<uint8_t>(SymL(s.surface[0]));
    }
    e.final = s.final;
    e.stem = s.stem;
    e.harmony = s.harmony;
    e.uncontracted_ok = s.uncontracted_ok;
    e.harmonic_output = s.harmonic_output;
    e.first_tag = s.morphs.front().tag;
    e.last_tag = s.morphs.back().tag;
    if (IsEndingTag(e.last_tag) && e.last_tag != Tag::kEP) {
      const std::string& f = s.morphs.back().form;
      e.merge_bits = static_cast<uint8_t>((ending_forms_.count(f + "요") ? 1 : 0) |
                                          (ending_forms_.count(f + "도") ? 2 : 0));
    }
    if (s.morphs.size() == 1 && IsParticleTag(e.first_tag)) {
      if (s.morphs[0].form == "요") e.merge_id = 1;
      if (s.morphs[0].form == "도") e.merge_id = 2;
    }
    // For harmonic endings the statistics are kept under the dark (canonical) form.
    e.lex_row = LexRow(s.morphs[0].form, s.morphs[0].tag);
    e.first_emit = e.lex_row >= 0 ? 0 : Emission(s.morphs[0].form, s.morphs[0].tag);
    float rest = s.extra;
    for (size_t i = 1; i < s.morphs.size(); ++i) {
      rest += InnerCost(static_cast<int>(s.morphs[i - 1].tag), s.morphs[i].form, s.morphs[i].tag);
    }
    e.rest_cost = rest;
    for (const MorphSpec& ms : s.morphs) {
      Morph m;
      m.form = Intern(ms.form);
      m.form_len = static_cast<uint16_t>(ms.form.size());
      const std::string& alt = ms.alt.empty() ? ms.form : ms.alt;
      m.alt = Intern(alt);
      m.alt_len = static_cast<uint16_t>(alt.size());
      m.tag = ms.tag;
      m.alt_static = ms.alt_static;
      m.sym_begin = static_cast<int8_t>(ms.sym_begin);
      m.sym_end = static_cast<int8_t>(ms.sym_end);
      m_.morphs.push_back(m);
    }
    keys.emplace_back(std::move(s.surface), static_cast<uint32_t>(m_.entries.size()));
    m_.entries.push_back(e);
  }
  specs_.clear();
  specs_.shrink_to_fit();
  std::sort(keys.begin(), keys.end());
  // Trie nodes in breadth-first-ish order: build recursively over the sorted key ranges.
  m_.root_.assign(kNumSymbols, 0);
  m_.node_child_begin_.assign(1, 0);
  m_.node_child_count_.assign(1, 0);
  m_.node_entry_begin_.assign(1, 0);
  m_.node_entry_count_.assign(1, 0);
  m_.child_sym_.clear();
  m_.child_node_.clear();
  m_.entry_ids_.clear();
  // Each node covers keys[lo, hi) sharing a prefix of length depth.
  struct Pending {
    size_t lo, hi;
    size_t depth;
    uint32_t node;
  };
  std::vector<Pending> stack;
  auto new_node = [&]() {
    m_.node_child_begin_.push_back(0);
    m_.node_child_count_.push_back(0);
    m_.node_entry_begin_.push_back(0);
    m_.node_entry_count_.push_back(0);
    return static_cast<uint32_t>(m_.node_child_begin_.size() - 1);
  };
  // Root level.
  for (size_t i = 0; i < keys.size();) {
    const uint16_t s = keys[i].first[0];
    size_t j = i;
    while (j < keys.size() && keys[j].first[0] == s) ++j;
    const uint32_t node = new_node();
    m_.root_[s] = node;
    stack.push_back({i, j, 1, node});
    i = j;
  }
  while (!stack.empty()) {
    Pending p = stack.back();
    stack.pop_back();
    size_t i = p.lo;
    m_.node_entry_begin_[p.node] = static_cast<uint32_t>(m_.entry_ids_.size());
    while (i < p.hi && keys[i].first.size() == p.depth) {
      m_.entry_ids_.push_back(keys[i].second);
      ++i;
    }
    m_.node_entry_count_[p.node] =
        static_cast<uint16_t>(m_.entry_ids_.size() - m_.node_entry_begin_[p.node]);
    m_.node_child_begin_[p.node] = static_cast<uint32_t>(m_.child_sym_.size());
    std::vector<Pending> kids;
    while (i < p.hi) {
      const uint16_t s = keys[i].first[p.depth];
      size_t j = i;
      while (j < p.hi && keys[j].first[p.depth] == s) ++j;
      m_.child_sym_.push_back(s);
      m_.child_node_.push_back(0);
      kids.push_back({i, j, p.depth + 1, 0});
      i = j;
    }
    m_.node_child_count_[p.node] = static_cast<uint16_t>(kids.size());
    const uint32_t cb = m_.node_child_begin_[p.node];
    for (size_t k = 0; k < kids.size(); ++k) {
      kids[k].node = new_node();
      m_.child_node_[cb + k] = kids[k].node;
      stack.push_back(kids[k]);
    }
  }
}

Status ModelBuilder::Build(std::string_view stems_text, std::string_view stats_text) {
  ONDO_RETURN_IF_ERROR(ParseStems(stems_text));
  ONDO_RETURN_IF_ERROR(ParseStats(stats_text));
  GenerateEntries();
  BuildTrie();
  return Status::Ok();
}

}  // namespace ondo::korean::detail
