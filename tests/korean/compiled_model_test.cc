// The compiled analyzer model used in place (issue 13, item 4): the embedded model is read
// from the library's read-only data without a heap copy, analyses exactly like a model built
// from the data (GSD dev sentences and random text), is shared by the whole process, and
// damaged blobs are rejected by the structure checks alone (without the CRC), never crash.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/korean/analyzer.h"
#include "tokenizer/korean/eval.h"
#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/lexicon.h"

namespace ondo::korean {
namespace {

// Format constants of compiled_model.cc, restated from its header comment.
constexpr size_t kHeader = 64;
constexpr size_t kDirEntry = 24;
constexpr size_t kTables = 17;

template <typename T>
T GetLe(const std::string& b, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<T>(static_cast<unsigned char>(b[at + i])) << (8 * i));
  }
  return v;
}
template <typename T>
void PutLe(std::string* b, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) (*b)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// Table i of the directory (0 = Params, 1 = entries, 2 = morphs, ... as in VisitTables).
size_t TableOffset(const std::string& b, size_t i) {
  return static_cast<size_t>(GetLe<uint64_t>(b, kHeader + kDirEntry * i));
}
uint64_t TableCount(const std::string& b, size_t i) {
  return GetLe<uint64_t>(b, kHeader + kDirEntry * i + 8);
}
enum : size_t { kParams, kEntries, kMorphs, kPool, kTrans, kLexCost, kCross, kCrossEnd, kUnkSyl,
                kRoot, kNodeChildBegin, kNodeChildCount, kNodeEntryBegin, kNodeEntryCount,
                kChildSym, kChildNode, kEntryIds };

void FixCrc(std::string* b) {
  const uLong crc = crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(b->data() + 32),
                          static_cast<uInt>(b->size() - 32));
  PutLe<uint32_t>(b, 24, static_cast<uint32_t>(crc));
}

// An 8-byte aligned copy of a blob (as the embedded array is 64-byte aligned).
class Aligned {
 public:
  explicit Aligned(const std::string& b, size_t shift = 0) : buf_((b.size() + shift + 7) / 8 + 1) {
    std::memcpy(reinterpret_cast<char*>(buf_.data()) + shift, b.data(), b.size());
    view_ = std::string_view(reinterpret_cast<const char*>(buf_.data()) + shift, b.size());
  }
  std::string_view view() const { return view_; }

 private:
  std::vector<uint64_t> buf_;
  std::string_view view_;
};

const std::string& EmbeddedCopy() {
  static const std::string blob(detail::EmbeddedCompiledModel());
  return blob;
}

// Tables are checked on their own: MapInPlace without the CRC (as Create does for the
// embedded model), and CreateFromCompiled with the CRC made right again.
Status MapNoCrc(const std::string& b) {
  Aligned a(b);
  detail::Model m;
  return m.MapInPlace(a.view(), /*check_crc=*/false);
}
void ExpectRejected(std::string b, const char* what) {
  const Status s = MapNoCrc(b);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << what << ": " << s.message();
  EXPECT_NE(s.message().find("compiled Korean model"), std::string_view::npos) << what;
  FixCrc(&b);
  std::unique_ptr<Analyzer> a;
  EXPECT_EQ(Analyzer::CreateFromCompiled(b, &a).code(), StatusCode::kCorrupt) << what;
}

void ExpectSameAnalyses(const Analyzer& x, const Analyzer& y, const std::string& text) {
  for (bool lenient : {false, true}) {
    AnalyzeOptions o;
    o.lenient_particles = lenient;
    Analysis a, b;
    ASSERT_TRUE(x.Analyze(text, o, &a).ok());
    ASSERT_TRUE(y.Analyze(text, o, &b).ok());
    ASSERT_EQ(a.eojeols.size(), b.eojeols.size());
    for (size_t i = 0; i < a.eojeols.size(); ++i) {
      ASSERT_EQ(a.Format(i), b.Format(i)) << "eojeol " << i;
      ASSERT_EQ(a.eojeols[i].cost, b.eojeols[i].cost) << "eojeol " << i;
    }
    ASSERT_EQ(a.morphemes.size(), b.morphemes.size());
    for (size_t i = 0; i < a.morphemes.size(); ++i) {
      ASSERT_EQ(a.morphemes[i].begin, b.morphemes[i].begin) << i;
      ASSERT_EQ(a.morphemes[i].end, b.morphemes[i].end) << i;
      ASSERT_EQ(a.morphemes[i].wrong_allomorph, b.morphemes[i].wrong_allomorph) << i;
    }
  }
}

TEST(InPlaceModel, EmbeddedTablesAreNotCopied) {
  const std::string_view blob = detail::EmbeddedCompiledModel();
  ASSERT_FALSE(blob.empty()) << "the build embeds no compiled model";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(blob.data()) % 64, 0u);
  std::unique_ptr<Analyzer> a, copied;
  ASSERT_TRUE(Analyzer::Create(&a).ok());
  ASSERT_TRUE(Analyzer::CreateFromCompiled(blob, &copied).ok());
  // The tables (4.4 MB) are in the blob; the heap holds only the analyzer object.
  EXPECT_GT(a->MemoryBytes(), size_t{4} << 20);
  EXPECT_LT(a->HeapBytes(), size_t{4096});
  // CreateFromCompiled copies the blob once (the caller may free its bytes).
  EXPECT_GE(copied->HeapBytes(), blob.size());
  EXPECT_EQ(a->MemoryBytes(), copied->MemoryBytes());
}

// The in-place model, its heap copy and a model built from the data at run time (an
// independent path through the builder) give identical analyses: forms, tags, offsets, costs.
TEST(InPlaceModel, AnalysesLikeTheHeapModels) {
  std::unique_ptr<Analyzer> in_place, copied, built;
  ASSERT_TRUE(Analyzer::Create(&in_place).ok());
  ASSERT_TRUE(Analyzer::CreateFromCompiled(detail::EmbeddedCompiledModel(), &copied).ok());
  ASSERT_TRUE(Analyzer::CreateWithParams({}, &built).ok());
  std::string text =
      "나는 어제 친구와 함께 서울로 여행을 갔다. 도와주셔서 감사합니다! 민준아, 밥 먹었어? "
      "그건 문제야. 3kg를 샀는데 LLM이 답했다. 사과을 먹었다. 아름다운 하늘을 보았고 갈게요.";
  std::mt19937 rng(13);
  for (int i = 0; i < 1000; ++i) {
    AppendUtf8(static_cast<char32_t>(0xAC00 + rng() % 11172), &text);
    if (rng() % 4 == 0) text += ' ';
  }
  ExpectSameAnalyses(*in_place, *built, text);
  ExpectSameAnalyses(*in_place, *copied, text);
  const std::string path =
      std::string(ONDO_SHARED_DIR) + "/data/korean/ud_korean_gsd/ko_gsd-ud-dev.conllu";
  std::ifstream in(path, std::ios::binary);
  if (!in) GTEST_SKIP() << path << " not found (the built-in text passed)";
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<GoldSentence> gold;
  ASSERT_TRUE(ParseConllu(ss.str(), &gold).ok());
  ASSERT_GT(gold.size(), 900u);
  for (const GoldSentence& g : gold) {
    ExpectSameAnalyses(*in_place, *built, g.text);
    if (HasFatalFailure()) return;
  }
}

// One instance for the whole process, whoever asks first and from whichever thread.
TEST(InPlaceModel, SharedInstanceIsCreatedOnce) {
  constexpr int kThreads = 8;
  std::vector<const Analyzer*> got(kThreads, nullptr);
  std::vector<std::string> formats(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &got, &formats] {
      if (!Analyzer::Shared(&got[t]).ok()) return;
      Analysis a;
      if (got[t]->Analyze("학교에 갔다", &a).ok() && a.eojeols.size() == 2) {
        formats[t] = a.Format(0) + " " + a.Format(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const Analyzer* first = nullptr;
  ASSERT_TRUE(Analyzer::Shared(&first).ok());
  ASSERT_NE(first, nullptr);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(got[t], first) << t;
    // Sejong analysis of 학교에 갔다 (학교 + locative 에; 가 + past 았 + final 다).
    EXPECT_EQ(formats[t], "학교/NNG+에/JKB 가/VV+았/EP+다/EF") << t;
  }
  EXPECT_LT(first->HeapBytes(), size_t{4096});
}

TEST(InPlaceModel, DamagedHeaderOrDirectoryIsCorrupt) {
  const std::string& good = EmbeddedCopy();
  ASSERT_TRUE(MapNoCrc(good).ok());
  {
    Aligned odd(good, 4);  // not at an 8-byte boundary: a caller error, not a corrupt blob
    detail::Model m;
    EXPECT_EQ(m.MapInPlace(odd.view(), false).code(), StatusCode::kInvalidArgument);
  }
  for (size_t n : {size_t{0}, size_t{3}, size_t{63}, size_t{64}, size_t{64 + kDirEntry * 3},
                   good.size() / 2, good.size() - 1}) {
    EXPECT_EQ(MapNoCrc(good.substr(0, n)).code(), StatusCode::kCorrupt) << n;
  }
  EXPECT_EQ(MapNoCrc(good + std::string(64, '\0')).code(), StatusCode::kCorrupt);
  auto edit = [&](size_t at, auto value, const char* what) {
    std::string b = good;
    PutLe(&b, at, value);
    ExpectRejected(b, what);
  };
  edit(0, uint32_t{0x314b4f58}, "magic");
  edit(4, uint32_t{1}, "version 1 (the zlib format)");
  edit(8, GetLe<uint32_t>(good, 8) ^ 1u, "layout hash");
  edit(12, uint32_t{16}, "table count");
  edit(16, uint64_t{good.size() + 64}, "total size");
  edit(40, uint8_t{1}, "reserved header byte");
  const size_t morphs_dir = kHeader + kDirEntry * kMorphs;
  edit(morphs_dir, uint64_t{good.size()}, "table at the end of the blob");
  edit(morphs_dir, uint64_t{TableOffset(good, kMorphs) + 4}, "unaligned table");
  edit(morphs_dir, uint64_t{TableOffset(good, kEntries)}, "table overlapping the one before");
  edit(morphs_dir + 8, uint64_t{1} << 62, "count overflowing the blob");
  edit(morphs_dir + 8, uint64_t{(good.size() - TableOffset(good, kMorphs)) / 16 + 1},
       "count one past the blob");
  edit(morphs_dir + 16, uint32_t{sizeof(detail::Morph) + 4}, "element size");
  edit(morphs_dir + 20, uint32_t{1}, "reserved directory field");
  edit(kHeader + kDirEntry * kParams + 8, uint64_t{0}, "no parameters");
  // A padding byte between two tables (the pool has an odd size, so padding follows it).
  const size_t pool_end = TableOffset(good, kPool) + TableCount(good, kPool);
  ASSERT_LT(pool_end, TableOffset(good, kTrans));
  edit(pool_end, uint8_t{7}, "non-zero padding");
}

// Indices inside the tables: each is caught by the structure checks, with or without a CRC.
TEST(InPlaceModel, InconsistentTablesAreCorrupt) {
  const std::string& good = EmbeddedCopy();
  const size_t n_entries = static_cast<size_t>(TableCount(good, kEntries));
  const size_t n_nodes = static_cast<size_t>(TableCount(good, kNodeChildBegin));
  const size_t entries = TableOffset(good, kEntries);
  const size_t morphs = TableOffset(good, kMorphs);
  auto edit = [&](size_t at, auto value, const char* what) {
    std::string b = good;
    PutLe(&b, at, value);
    ExpectRejected(b, what);
  };
  edit(TableOffset(good, kEntryIds), static_cast<uint32_t>(n_entries), "entry id past the end");
  edit(TableOffset(good, kRoot) + 4 * detail::SymCV(0, 0), static_cast<uint32_t>(n_nodes), "root node");
  // The first child of the node the symbol 가 leads to, pointed back at that node: a cycle.
  const uint32_t ga = GetLe<uint32_t>(good, TableOffset(good, kRoot) + 4 * detail::SymCV(0, 0));
  ASSERT_GT(GetLe<uint16_t>(good, TableOffset(good, kNodeChildCount) + 2 * ga), 0);
  const uint32_t first_child = GetLe<uint32_t>(good, TableOffset(good, kNodeChildBegin) + 4 * ga);
  edit(TableOffset(good, kChildNode) + 4 * first_child, ga, "trie cycle");
  edit(TableOffset(good, kNodeEntryBegin) + 4 * ga,
       static_cast<uint32_t>(TableCount(good, kEntryIds)), "node entries past the end");
  edit(entries + offsetof(detail::Entry, morph_begin),
       static_cast<uint32_t>(TableCount(good, kMorphs)), "entry morphs past the end");
  edit(entries + offsetof(detail::Entry, n_morph), uint8_t{0}, "entry without morphs");
  edit(entries + offsetof(detail::Entry, left), uint8_t{200}, "left class out of range");
  edit(entries + offsetof(detail::Entry, last_tag), uint8_t{kNumTags}, "tag out of range");
  edit(entries + offsetof(detail::Entry, uncontracted_ok), uint8_t{2}, "bool byte 2");
  edit(entries + offsetof(detail::Entry, lex_row),
       static_cast<uint32_t>(TableCount(good, kLexCost) / detail::Model::kTT), "lex row");
  edit(entries + offsetof(detail::Entry, rest_cost), uint32_t{0x7fc00000}, "NaN cost");
  edit(morphs + offsetof(detail::Morph, form),
       static_cast<uint32_t>(TableCount(good, kPool)), "form past the pool");
  edit(TableOffset(good, kTrans) + 8, uint32_t{0x7f800000}, "infinite transition cost");
  // A morph whose symbol span runs past its entry's surface: the search would read the text's
  // symbols out of range. Every morph of the first entry listed at the root node of 가 (a
  // one-symbol surface) gets the span [0, 2).
  const uint32_t eb = GetLe<uint32_t>(good, TableOffset(good, kNodeEntryBegin) + 4 * ga);
  ASSERT_GT(GetLe<uint16_t>(good, TableOffset(good, kNodeEntryCount) + 2 * ga), 0);
  const uint32_t entry = GetLe<uint32_t>(good, TableOffset(good, kEntryIds) + 4 * eb);
  const size_t ep = entries + sizeof(detail::Entry) * entry;
  const uint32_t mb = GetLe<uint32_t>(good, ep + offsetof(detail::Entry, morph_begin));
  std::string b = good;
  PutLe(&b, morphs + sizeof(detail::Morph) * mb + offsetof(detail::Morph, sym_begin), uint8_t{0});
  PutLe(&b, morphs + sizeof(detail::Morph) * mb + offsetof(detail::Morph, sym_end), uint8_t{2});
  ExpectRejected(b, "morph span past the surface");
}

// Random damage anywhere, with the CRC made right again (so that only the structure checks
// stand in the way): either rejected, or a model that analyses without reading out of bounds
// (the sanitizer build checks that) and without failing.
TEST(InPlaceModel, RandomDamageIsRejectedOrHarmless) {
  const std::string& good = EmbeddedCopy();
  const std::string text = "나는 어제 친구와 서울로 갔다. 도와주셔서 감사합니다! 민준아, 3kg를 샀어? 사과을";
  std::mt19937 rng(17);
  int rejected = 0, accepted = 0;
  for (int i = 0; i < 120; ++i) {
    std::string b = good;
    // Half the flips in the header, directory, entries and morphs, where most indices are.
    const size_t span = i % 2 == 0 ? TableOffset(good, kPool) : good.size();
    for (int k = 0; k < 1 + i % 3; ++k) {
      const size_t at = 32 + rng() % (span - 32);
      b[at] = static_cast<char>(b[at] ^ (1 + rng() % 255));
    }
    {
      Aligned a(b);
      std::unique_ptr<Analyzer> an;  // the CRC no longer matches
      EXPECT_EQ(Analyzer::CreateInPlace(a.view(), &an).code(), StatusCode::kCorrupt);
    }
    FixCrc(&b);
    Aligned a(b);
    std::unique_ptr<Analyzer> an;
    const Status s = Analyzer::CreateInPlace(a.view(), &an);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.message();
      ++rejected;
      continue;
    }
    ++accepted;
    for (bool lenient : {false, true}) {
      AnalyzeOptions o;
      o.lenient_particles = lenient;
      Analysis out;
      ASSERT_TRUE(an->Analyze(text, o, &out).ok());
      EXPECT_EQ(out.eojeols.size(), 11u);
    }
  }
  EXPECT_GT(rejected, 10);
  EXPECT_GT(accepted, 10);  // flips in costs or forms are not structural
}

}  // namespace
}  // namespace ondo::korean
