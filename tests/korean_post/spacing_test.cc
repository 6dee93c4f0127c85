// Spacing restoration (tokenizer/korean/post/spacing.h): hand-written cases (dropped and
// inserted spaces, with the spacing of standard Korean as the expected answer), clean sentences
// that must not change, what is never touched (line layout, Latin words, numbers, marks), bad
// input, the post-processor option, and the evaluation on UD GSD (skipped without ../shared).
#include "tokenizer/korean/post/spacing.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/post/post_processor.h"

namespace ondo::korean {
namespace {

class SpacingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(Analyzer::Create(&analyzer_).ok());
    ASSERT_TRUE(Spacer::Create(analyzer_.get(), SpacingOptions{}, &spacer_).ok());
  }
  static void TearDownTestSuite() {
    spacer_.reset();
    analyzer_.reset();
  }
  static std::string Restore(const std::string& text) {
    std::string out;
    const Status s = spacer_->Restore(text, &out);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }
  static std::unique_ptr<Analyzer> analyzer_;
  static std::unique_ptr<Spacer> spacer_;
};

std::unique_ptr<Analyzer> SpacingTest::analyzer_;
std::unique_ptr<Spacer> SpacingTest::spacer_;

// Spaces a small model drops or inserts; the expected text is standard spacing (a particle or
// an ending stays on its word, separate words are separated).
TEST_F(SpacingTest, RestoresHandWrittenCases) {
  EXPECT_EQ(Restore("학 교에"), "학교에");
  EXPECT_EQ(Restore("학 교에 갔어"), "학교에 갔어");
  EXPECT_EQ(Restore("오늘은날씨가좋네요."), "오늘은 날씨가 좋네요.");
  EXPECT_EQ(Restore("나는밥을먹고학교에갔다."), "나는 밥을 먹고 학교에 갔다.");
  EXPECT_EQ(Restore("그 영화를보고 많이 울었어."), "그 영화를 보고 많이 울었어.");
}

// A particle or an ending, then a new word (the commonest dropped space).
TEST_F(SpacingTest, ParticleOrEndingThenWord) {
  EXPECT_EQ(Restore("밥을먹었어"), "밥을 먹었어");
  EXPECT_EQ(Restore("밥을먹었다."), "밥을 먹었다.");
  EXPECT_EQ(Restore("책을읽고 잤다."), "책을 읽고 잤다.");
  EXPECT_EQ(Restore("친구에게전화했다."), "친구에게 전화했다.");
  EXPECT_EQ(Restore("어제는친구와영화를봤다."), "어제는 친구와 영화를 봤다.");
  EXPECT_EQ(Restore("이 책 정말재미있어."), "이 책 정말 재미있어.");
}

// A space inserted inside a word is taken out.
TEST_F(SpacingTest, SpaceInsideAWord) {
  EXPECT_EQ(Restore("사 과를 먹었다."), "사과를 먹었다.");
  EXPECT_EQ(Restore("도서 관에 갔다."), "도서관에 갔다.");
  EXPECT_EQ(Restore("나는 학 교에 갔다."), "나는 학교에 갔다.");
}

// Compound nouns written as one word and nouns written apart are both kept as written (both
// spellings are standard for compounds; the spacer only changes spacing on strong evidence).
TEST_F(SpacingTest, CompoundAndSpacedNounsKept) {
  for (const std::string s : {"고속도로에서 사고가 났다.", "우리 학교 도서관은 크다.",
                              "국립중앙박물관에 갔다.", "서울 시내 버스 요금이 올랐다.",
                              "한국어 문법 책을 샀다.", "한국어문법책을 샀다."}) {
    EXPECT_EQ(Restore(s), s);
  }
}

// A particle or an ending written apart from its word (학교 에): an eojeol that starts with a
// particle after a noun, or with an ending after a stem, is what the tag statistics make costly
// (P(space | NNG, JKB) ~ 0.004 in KLUE); the spacing norms attach them (학교에, 책을, 때부터).
// Without the tag costs the spacer kept them apart. Not yet attached when the particle also
// reads as a word (동생 이: 이 "this"; 친구 와: 와 "come"), nor 어릴 때 부터 (README).
TEST_F(SpacingTest, ParticleWrittenApartIsAttached) {
  EXPECT_EQ(Restore("학교 에 갔다"), "학교에 갔다");
  EXPECT_EQ(Restore("책 을 읽었다."), "책을 읽었다.");
  EXPECT_EQ(Restore("때 부터 좋아했다."), "때부터 좋아했다.");
  EXPECT_EQ(Restore("우리 는 갔다."), "우리는 갔다.");
  SpacingOptions o;
  o.tag_space_weight = 0;
  o.tag_joined_weight = 0;
  std::unique_ptr<Spacer> no_tags;
  ASSERT_TRUE(Spacer::Create(analyzer_.get(), o, &no_tags).ok());
  std::string out;
  ASSERT_TRUE(no_tags->Restore("학교 에 갔다", &out).ok());
  EXPECT_EQ(out, "학교 에 갔다");
  // Statistics given by the caller are the ones used: where NNG then JKB is as often spaced
  // as joined, nothing is charged and the space stays.
  std::unique_ptr<SpacingTagStats> even;
  ASSERT_TRUE(SpacingTagStats::Create("NNG\tJKB\t500\t500\n", &even).ok());
  o = SpacingOptions{};
  o.tag_stats = even.get();
  std::unique_ptr<Spacer> with_even;
  ASSERT_TRUE(Spacer::Create(analyzer_.get(), o, &with_even).ok());
  ASSERT_TRUE(with_even->Restore("학교 에 갔다", &out).ok());
  EXPECT_EQ(out, "학교 에 갔다");
}

// A noun then a verb with no particle (밥먹었어) is left as written by default: the analyzer
// reads both spellings alike and the trained model's evidence is weak there; a larger cost for
// a word attached inside an eojeol and a smaller cost per added space restore it, at the price
// of more changes to clean text (README, "Spacing restoration").
TEST_F(SpacingTest, NounThenVerbNeedsEagerCosts) {
  SpacingOptions o;
  o.attached_cost = 8;
  o.insert_cost = 9;
  std::unique_ptr<Spacer> eager;
  ASSERT_TRUE(Spacer::Create(analyzer_.get(), o, &eager).ok());
  std::string out;
  ASSERT_TRUE(eager->Restore("밥먹었어", &out).ok());
  EXPECT_EQ(out, "밥 먹었어");
}

// Correctly spaced sentences (written for this test) come back unchanged.
TEST_F(SpacingTest, CleanSentencesDoNotChange) {
  const std::vector<std::string> clean = {
      "어제 친구와 함께 서울에 갔습니다.",
      "이 책은 정말 재미있어요.",
      "내일 비가 올 것 같아요.",
      "그 영화를 보고 많이 울었어.",
      "저는 한국어를 공부하고 있어요.",
      "회의는 오후 세 시에 시작합니다.",
      "우리는 공원에서 산책을 했다.",
      "서울은 대한민국의 수도이다.",
      "오늘 점심은 김치찌개를 먹었다.",
      "할머니께서 맛있는 떡을 만들어 주셨다.",
      "주말에는 가족과 함께 시간을 보낸다.",
      "나는 학교에 갔다.",
      "그는 2005년 FIFA 대회에서 MVP로 뽑혔다.",
      "먹지 마.",
      "나 왔어!",
      "날씨가 좋아서 공원에 갔어요.",
      // Latin words in brackets: the window of the lattice stops at the space between them
      // (fresh food read as one token had no end after fresh, and the space moved).
      "고급식당을 중심으로 신선한 음식(fresh food)을 필요로 하는 곳에 공급한다.",
      "보도 부문에서 최초로 올포디움(All podium)을 달성했다.",
  };
  for (const std::string& s : clean) EXPECT_EQ(Restore(s), s);
}

// Only spaces between characters of a line change: line breaks, leading and trailing
// whitespace, the whitespace kept; no space is added before marks, inside numbers or Latin
// words, and spaces between Latin words or numbers are never removed.
TEST_F(SpacingTest, KeepsLayoutAndNonHangul) {
  EXPECT_EQ(Restore(""), "");
  EXPECT_EQ(Restore("  \n\n"), "  \n\n");
  EXPECT_EQ(Restore("  학 교에\t\n밥을먹었어 \n"), "  학교에\t\n밥을 먹었어 \n");
  EXPECT_EQ(Restore("황금신발상(Golden Boot Award)을 수상하였다."),
            "황금신발상(Golden Boot Award)을 수상하였다.");
  EXPECT_EQ(Restore("신선한 음식(fresh food)을 샀다."), "신선한 음식(fresh food)을 샀다.");
  EXPECT_EQ(Restore("1일 평균 1,696건에 이른다."), "1일 평균 1,696건에 이른다.");
  EXPECT_EQ(Restore("정말? 진짜!"), "정말? 진짜!");
  EXPECT_EQ(Restore("정말?진짜! 좋아요.다음에 또 올게요,감사합니다."),
            "정말? 진짜! 좋아요. 다음에 또 올게요, 감사합니다.");
  EXPECT_EQ(Restore("3.5kg이다"), "3.5kg이다");
}

// Regression: with these costs and the lattice alone, the window of a start position ran
// across the space between two Latin words (fresh food read as one token, no end after
// fresh) and the only path to the space moved it: 중심으로 신선한 음식(fresh -> 중심으 로신선한음식(fresh.
TEST_F(SpacingTest, LatinWordsInBracketsKeepTheSpacesAround) {
  SpacingOptions o;
  o.model_weight = 0;
  o.insert_cost = 8;
  o.remove_cost = 14;
  o.attached_cost = 8;
  o.long_run_bonus = 0;
  std::unique_ptr<Spacer> sp;
  ASSERT_TRUE(Spacer::Create(analyzer_.get(), o, &sp).ok());
  for (const std::string s : {"고급식당을 중심으로 신선한 음식(fresh food)을 필요로 하는 곳에",
                              "보도 부문에서 최초로 올포디움(All podium)을",
                              "일종인 볼륨 노브(volume knob)"}) {
    std::string out;
    ASSERT_TRUE(sp->Restore(s, &out).ok());
    EXPECT_EQ(out, s);
  }
}

TEST_F(SpacingTest, BadInputAndOptions) {
  std::string out = "x";
  EXPECT_EQ(spacer_->Restore(std::string("학교\xff에"), &out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
  std::unique_ptr<Spacer> s;
  SpacingOptions o;
  o.max_eojeol_chars = 0;
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  o = SpacingOptions{};
  o.insert_cost = -1;
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Spacer::Create(nullptr, SpacingOptions{}, &s).code(), StatusCode::kInvalidArgument);
  o = SpacingOptions{};
  o.model_weight = 11;
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  o.model_weight = -1;
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  o = SpacingOptions{};
  o.tag_space_weight = 10.5f;
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  o = SpacingOptions{};
  o.tag_joined_weight = -1;
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  o = SpacingOptions{};
  o.tag_margin = std::nanf("");
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  o = SpacingOptions{};
  o.long_run_chars = 0;
  EXPECT_EQ(Spacer::Create(analyzer_.get(), o, &s).code(), StatusCode::kInvalidArgument);
  o = SpacingOptions{};
  o.model_weight = 0;  // the lattice alone (with the costs it was tuned with) still works
  o.tag_space_weight = 0;
  o.tag_joined_weight = 0;
  o.insert_cost = 6;
  o.remove_cost = 7;
  o.attached_cost = 8;
  o.long_run_bonus = 0;
  ASSERT_TRUE(Spacer::Create(analyzer_.get(), o, &s).ok());
  ASSERT_TRUE(s->Restore("학 교에 갔어", &out).ok());
  EXPECT_EQ(out, "학교에 갔어");
}

// The trained model on its own: the log-odds of a space are positive where Korean spacing
// puts one (after a particle or an ending, before a new word) and negative inside a word or
// before a particle or an ending.
TEST(SpacingModelTest, ScoresFollowSpacingNorms) {
  const SpacingModel* model = nullptr;
  ASSERT_TRUE(SpacingModel::Shared(&model).ok());
  ASSERT_NE(model, nullptr);
  auto scores = [&](const std::u32string& text) {
    std::u32string mapped;
    for (char32_t c : text) mapped.push_back(SpacingModel::MapChar(c));
    std::vector<float> out(mapped.size());
    model->Scores(mapped.data(), mapped.size(), out.data());
    return out;
  };
  // 나는밥을먹고학교에갔다: spaces before 밥 (2), 먹 (4), 학 (6), 갔 (9).
  const std::vector<float> s = scores(U"나는밥을먹고학교에갔다");
  for (size_t k : {2, 4, 6, 9}) EXPECT_GT(s[k], 0.0f) << k;
  for (size_t k : {1, 3, 5, 7, 8, 10}) EXPECT_LT(s[k], 0.0f) << k;
  EXPECT_EQ(s[0], 0.0f);
  // Classes: digits, Latin letters and Han characters each read as one symbol.
  EXPECT_EQ(SpacingModel::MapChar(U'7'), SpacingModel::MapChar(U'0'));
  EXPECT_EQ(SpacingModel::MapChar(U'Q'), SpacingModel::MapChar(U'b'));
  EXPECT_EQ(SpacingModel::MapChar(U'漢'), SpacingModel::MapChar(U'字'));
  EXPECT_EQ(SpacingModel::MapChar(U'가'), U'가');
  EXPECT_EQ(SpacingModel::MapChar(U'.'), U'.');
  EXPECT_NE(SpacingModel::MapChar(U'가'), SpacingModel::MapChar(U'나'));
}

// The C++ features (character classes, hashing, padding) match the Python trainer's: the
// expected log-odds are computed by build_spacing.py's own implementation over the shipped
// model (`build_spacing.py --shared ../shared --out tokenizer/korean/data --scores TEXT`;
// rerun it when the model is rebuilt).
TEST(SpacingModelTest, MatchesTheTrainer) {
  const SpacingModel* model = nullptr;
  ASSERT_TRUE(SpacingModel::Shared(&model).ok());
  auto scores = [&](const std::u32string& text) {
    std::u32string mapped;
    for (char32_t c : text) {
      if (c != U' ') mapped.push_back(SpacingModel::MapChar(c));
    }
    std::vector<float> out(mapped.size());
    model->Scores(mapped.data(), mapped.size(), out.data());
    return out;
  };
  const std::vector<float> a = scores(U"나는밥을먹고학교에갔다");
  const std::vector<float> a_want = {0.000000f,  -5.203552f, 3.741329f,  -4.038198f,
                                     5.095660f,  -4.164182f, 3.142904f,  -4.542135f,
                                     -2.998828f, 2.009046f,  -8.605127f};
  ASSERT_EQ(a.size(), a_want.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], a_want[k], 1e-4) << k;
  const std::vector<float> b = scores(U"3.5kg의 AI(人工)를 ㅋㅋ산다！");
  const std::vector<float> b_want = {0.000000f,  -9.361033f, -2.337411f, -2.589379f, -3.471269f,
                                     -3.093316f, 0.213770f,  -6.148434f, -5.801978f, -6.589379f,
                                     -4.101190f, -3.943710f, -3.754734f, 1.158652f,  -2.337411f,
                                     1.536605f,  -3.597253f, -1.140560f};
  ASSERT_EQ(b.size(), b_want.size());
  for (size_t k = 0; k < b.size(); ++k) EXPECT_NEAR(b[k], b_want[k], 1e-4) << k;
}

// "OKZ1" + little-endian size + zlib(raw), as build_spacing.py writes it.
std::string PackModel(const std::string& raw) {
  uLongf len = compressBound(static_cast<uLong>(raw.size()));
  std::string z(len, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(z.data()), &len,
                     reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size())),
            Z_OK);
  z.resize(len);
  std::string blob = "OKZ1";
  for (int i = 0; i < 4; ++i) blob.push_back(static_cast<char>((raw.size() >> (8 * i)) & 0xFF));
  return blob + z;
}

// "OSPM", version, bits, 2 reserved bytes, scale, bias, 2^bits weights of `weight`.
std::string ModelRaw(int version, int bits, float scale, float bias, size_t n, int8_t weight) {
  std::string raw = "OSPM";
  raw.push_back(static_cast<char>(version));
  raw.push_back(static_cast<char>(bits));
  raw.append(2, '\0');
  for (float f : {scale, bias}) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
  }
  raw.append(n, static_cast<char>(weight));
  return raw;
}

TEST(SpacingModelTest, BlobFormat) {
  std::unique_ptr<SpacingModel> m;
  EXPECT_EQ(SpacingModel::Create("", &m).code(), StatusCode::kCorrupt);
  EXPECT_EQ(SpacingModel::Create("OKZ1\x10\0\0\0garbage", &m).code(), StatusCode::kCorrupt);
  EXPECT_EQ(SpacingModel::Create(PackModel("XSPM" + ModelRaw(1, 8, 0.1f, 0, 256, 0).substr(4)), &m)
                .code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(SpacingModel::Create(PackModel(ModelRaw(2, 8, 0.1f, 0, 256, 0)), &m).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(SpacingModel::Create(PackModel(ModelRaw(1, 30, 0.1f, 0, 256, 0)), &m).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(SpacingModel::Create(PackModel(ModelRaw(1, 8, 0.1f, 0, 255, 0)), &m).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(SpacingModel::Create(PackModel(ModelRaw(1, 8, -1.0f, 0, 256, 0)), &m).code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(SpacingModel::CreateInPlace(PackModel(ModelRaw(1, 8, 0.1f, 0, 256, 0)), &m).code(),
            StatusCode::kCorrupt);  // in place: uncompressed only
  EXPECT_EQ(m, nullptr);
  // A valid model whose every weight is w: each boundary's score is bias + 10 features * w *
  // scale; compressed, uncompressed (copied) or in place.
  const std::string raw = ModelRaw(1, 8, 0.25f, 0.5f, 256, -2);
  for (int way = 0; way < 3; ++way) {
    m.reset();
    const Status s = way == 0   ? SpacingModel::Create(PackModel(raw), &m)
                     : way == 1 ? SpacingModel::Create(raw, &m)
                                : SpacingModel::CreateInPlace(raw, &m);
    ASSERT_TRUE(s.ok()) << way << ": " << s.message();
    const char32_t text[] = {U'가', U'나', U'다'};
    float out[3];
    m->Scores(text, 3, out);
    EXPECT_EQ(out[0], 0.0f);
    EXPECT_FLOAT_EQ(out[1], 0.5f + 10 * -2 * 0.25f);
    EXPECT_FLOAT_EQ(out[2], 0.5f + 10 * -2 * 0.25f);
  }
}

// Random text: the output holds exactly the input's characters other than spaces, in order,
// and a second pass over the output is valid too (long runs, Latin, digits, Han, jamo, marks,
// brackets, odd whitespace).
TEST_F(SpacingTest, RandomTextKeepsItsCharacters) {
  std::mt19937 rng(7);
  const std::u32string pool =
      U"가나다라마바사아자차카타파하각난닫랄맘밥삿앙잦찿에는을를이가도 .,!?()12abAB\t가"
      U"學校ㅋㅠ０Ａ…。「」'\"\u00A0\u3000~%-";
  auto strip = [](const std::string& s) {
    std::string r;
    size_t pos = 0;
    char32_t c;
    while (pos < s.size()) {
      const size_t at = pos;
      DecodeUtf8(s, &pos, &c);
      if (c != ' ' && c != '\t' && c != 0x00A0 && c != 0x3000) r.append(s, at, pos - at);
    }
    return r;
  };
  for (int iter = 0; iter < 400; ++iter) {
    std::string text;
    const int len = static_cast<int>(rng() % (iter % 4 == 0 ? 120 : 40));
    for (int i = 0; i < len; ++i) AppendUtf8(pool[rng() % pool.size()], &text);
    std::string out, again;
    ASSERT_TRUE(spacer_->Restore(text, &out).ok()) << text;
    EXPECT_EQ(strip(out), strip(text)) << text << " -> " << out;
    ASSERT_TRUE(spacer_->Restore(out, &again).ok()) << out;
    EXPECT_EQ(strip(again), strip(text));
  }
}

TEST_F(SpacingTest, PostProcessorOption) {
  PostOptions o;
  std::unique_ptr<PostProcessor> pp;
  std::string out;
  ASSERT_TRUE(PostProcessor::Create(analyzer_.get(), o, &pp).ok());
  ASSERT_TRUE(pp->Process("밥을먹었어.", &out).ok());
  EXPECT_EQ(out, "밥을먹었어.");  // off by default
  o.spacing = true;
  ASSERT_TRUE(PostProcessor::Create(analyzer_.get(), o, &pp).ok());
  out.clear();
  ASSERT_TRUE(pp->Process("밥을먹었어. 학 교에 갔어.", &out).ok());
  EXPECT_EQ(out, "밥을 먹었어. 학교에 갔어.");
  // Streaming gives the same.
  std::string streamed;
  for (std::string_view chunk : {"밥을먹", "었어. 학 교", "에 갔어."}) {
    ASSERT_TRUE(pp->Push(chunk, &streamed).ok());
  }
  ASSERT_TRUE(pp->Finish(&streamed).ok());
  EXPECT_EQ(streamed, out);
  o.spacing_options.max_eojeol_chars = 100;
  EXPECT_EQ(PostProcessor::Create(analyzer_.get(), o, &pp).code(), StatusCode::kInvalidArgument);
}

// The evaluation on UD GSD dev (test half: odd sentences): the corruption follows its
// definition (30% of spaces removed, a space inserted in 5% of eojeols), and the restoration
// stays at the level measured (README: 53.2% restored, 0.04% of clean eojeols changed; the
// issue's restoration target, 85%, is not met, so kSpacingAuto is off).
TEST_F(SpacingTest, GsdDevEvaluation) {
  const std::string path =
      std::string(ONDO_SHARED_DIR) + "/data/korean/ud_korean_gsd/ko_gsd-ud-dev.conllu";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  std::vector<std::string> sentences;
  size_t i = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# text = ", 0) == 0 && (i++ % 2) == 1) sentences.push_back(line.substr(9));
  }
  ASSERT_EQ(sentences.size(), 475u);
  SpacingEvalResult r;
  ASSERT_TRUE(EvaluateSpacing(spacer_.get(), sentences, SpacingEvalOptions{}, &r).ok());
  EXPECT_EQ(r.sentences, 475u);
  const size_t boundaries = r.eojeols - r.sentences;
  EXPECT_NEAR(static_cast<double>(r.removed) / boundaries, 0.30, 0.02);
  EXPECT_NEAR(static_cast<double>(r.inserted) / r.eojeols, 0.05 * 0.93, 0.015);
  const double restored =
      static_cast<double>(r.removed_restored + r.inserted_restored) / (r.removed + r.inserted);
  EXPECT_GT(restored, 0.53);
  EXPECT_LT(static_cast<double>(r.clean_changed_eojeols) / r.eojeols, 0.002);
  EXPECT_FALSE(kSpacingAuto);  // both targets would have to hold
}

// The held-out part of all three measured files (GSD dev, Kiwi wikipedia and blogs_ko; odd
// sentences): clean text is changed in at most 0.2% of its eojeols (the issue's target; 0.16%
// measured) and at least 53% of the corrupted boundaries are restored (53.19% measured; 52.9%
// before the tag statistics).
TEST_F(SpacingTest, HeldOutFloor) {
  const std::string korean = std::string(ONDO_SHARED_DIR) + "/data/korean/";
  const std::string files[] = {"ud_korean_gsd/ko_gsd-ud-dev.conllu",
                               "kiwipiepy_bench/sentence_split/wikipedia.txt",
                               "kiwipiepy_bench/sentence_split/blogs_ko.txt"};
  SpacingEvalResult total;
  for (const std::string& f : files) {
    const std::string path = korean + f;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    std::ifstream in(path, std::ios::binary);
    std::string line;
    std::vector<std::string> all, sentences;
    const bool conllu = f.ends_with(".conllu");
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (conllu) {
        if (line.rfind("# text = ", 0) == 0) all.push_back(line.substr(9));
      } else if (!line.empty() && line[0] != '#' && line.find('\t') == std::string::npos) {
        all.push_back(line);
      }
    }
    for (size_t i = 1; i < all.size(); i += 2) sentences.push_back(all[i]);
    SpacingEvalResult r;
    ASSERT_TRUE(EvaluateSpacing(spacer_.get(), sentences, SpacingEvalOptions{}, &r).ok());
    total.eojeols += r.eojeols;
    total.removed += r.removed;
    total.removed_restored += r.removed_restored;
    total.inserted += r.inserted;
    total.inserted_restored += r.inserted_restored;
    total.clean_changed_eojeols += r.clean_changed_eojeols;
  }
  EXPECT_EQ(total.eojeols, 9366u);  // the figures of the README table
  const double restored = static_cast<double>(total.removed_restored + total.inserted_restored) /
                          (total.removed + total.inserted);
  EXPECT_GT(restored, 0.53);
  EXPECT_LE(static_cast<double>(total.clean_changed_eojeols) / total.eojeols, 0.002);
}

// The tag statistics' file format and its errors; the smoothing by hand: P(space | a) =
// (spaced_a + p0) / (n_a + 1) with p0 = (all spaced + 0.5) / (all pairs + 1), then P(space |
// a, b) = (spaced_ab + P(space | a)) / (n_ab + 1).
TEST(SpacingTagStatsTest, FormatAndSmoothing) {
  std::unique_ptr<SpacingTagStats> st;
  ASSERT_TRUE(SpacingTagStats::Create("# comment\nJKS\tNNG\t9\t1\r\nNNG\tJKS\t0\t10\n", &st).ok());
  EXPECT_EQ(st->spaced(Tag::kJKS, Tag::kNNG), 9u);
  EXPECT_EQ(st->joined(Tag::kJKS, Tag::kNNG), 1u);
  EXPECT_EQ(st->joined(Tag::kNNG, Tag::kJKS), 10u);
  EXPECT_EQ(st->spaced(Tag::kVV, Tag::kEC), 0u);
  const double p0 = 9.5 / 21;
  const double p_jks = (9 + p0) / 11, p_nng = (0 + p0) / 11;
  EXPECT_NEAR(st->SpaceProbability(Tag::kJKS, Tag::kNNG), (9 + p_jks) / 11, 1e-12);
  EXPECT_NEAR(st->SpaceProbability(Tag::kNNG, Tag::kJKS), p_nng / 11, 1e-12);
  EXPECT_NEAR(st->SpaceProbability(Tag::kJKS, Tag::kVV), p_jks, 1e-12);  // unseen pair
  EXPECT_NEAR(st->SpaceProbability(Tag::kVV, Tag::kEC), p0, 1e-12);      // unseen left tag
  for (const char* bad : {"", "# only a comment\n", "JKS\tNNG\t9\n", "JKS\tNNG\t9\t1\t2\n",
                          "JKX\tNNG\t9\t1\n", "JKS\tNNG\t-1\t1\n", "JKS\tNNG\t9x\t1\n",
                          "JKS\tNNG\t9\t1\nJKS\tNNG\t1\t1\n", "JKS NNG 9 1\n"}) {
    EXPECT_EQ(SpacingTagStats::Create(bad, &st).code(), StatusCode::kCorrupt) << bad;
  }
}

// The embedded statistics follow the spacing norms: a space after a particle or an ending
// before a noun, never before a particle, an ending or a suffix.
TEST(SpacingTagStatsTest, EmbeddedFollowSpacingNorms) {
  const SpacingTagStats* st = nullptr;
  ASSERT_TRUE(SpacingTagStats::Shared(&st).ok());
  EXPECT_GT(st->SpaceProbability(Tag::kJKS, Tag::kNNG), 0.95);
  EXPECT_GT(st->SpaceProbability(Tag::kJKO, Tag::kVV), 0.95);
  EXPECT_GT(st->SpaceProbability(Tag::kETM, Tag::kNNG), 0.95);
  EXPECT_GT(st->SpaceProbability(Tag::kJKB, Tag::kVV), 0.95);
  EXPECT_LT(st->SpaceProbability(Tag::kNNG, Tag::kJKB), 0.02);
  EXPECT_LT(st->SpaceProbability(Tag::kNNG, Tag::kJKS), 0.02);
  EXPECT_LT(st->SpaceProbability(Tag::kVV, Tag::kEC), 0.02);
  EXPECT_LT(st->SpaceProbability(Tag::kVV, Tag::kEP), 0.02);
  EXPECT_LT(st->SpaceProbability(Tag::kNNG, Tag::kXSV), 0.02);
  // Compound nouns are written both ways.
  EXPECT_GT(st->SpaceProbability(Tag::kNNG, Tag::kNNG), 0.3);
  EXPECT_LT(st->SpaceProbability(Tag::kNNG, Tag::kNNG), 0.8);
}

// The embedded counts equal a count made here from KLUE dp v1.1 dev (an independent
// reimplementation of build_spacing_tags.py: every adjacent pair of morphemes, the POS column
// split at '+', MMD/MMN/MMA read as MM, pairs with another unknown tag left out).
TEST(SpacingTagStatsTest, EmbeddedEqualsACountOfKlue) {
  const std::string path =
      std::string(ONDO_SHARED_DIR) + "/data/korean/klue/klue-dp-v1.1_dev.tsv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::vector<uint32_t> spaced(kNumTags * kNumTags, 0), joined(kNumTags * kNumTags, 0);
  std::ifstream in(path, std::ios::binary);
  std::string line;
  int prev = -2;  // -2: sentence start, -1: a tag outside the set
  size_t sentences = 0;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) continue;
    if (line.empty()) {
      if (prev != -2) ++sentences;
      prev = -2;
      continue;
    }
    std::vector<std::string> cols;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, '\t');) cols.push_back(c);
    ASSERT_GE(cols.size(), 4u) << line;
    std::stringstream ts(cols[3]);
    bool first = true;
    for (std::string t; std::getline(ts, t, '+');) {
      if (t == "MMD" || t == "MMN" || t == "MMA") t = "MM";
      Tag tag;
      const int cur = ParseTag(t, &tag) ? static_cast<int>(tag) : -1;
      if (prev >= 0 && cur >= 0) ++(first ? spaced : joined)[prev * kNumTags + cur];
      prev = cur;
      first = false;
    }
  }
  if (prev != -2) ++sentences;
  EXPECT_EQ(sentences, 2000u);
  const SpacingTagStats* st = nullptr;
  ASSERT_TRUE(SpacingTagStats::Shared(&st).ok());
  for (int a = 0; a < kNumTags; ++a) {
    for (int b = 0; b < kNumTags; ++b) {
      EXPECT_EQ(st->spaced(static_cast<Tag>(a), static_cast<Tag>(b)), spaced[a * kNumTags + b])
          << TagName(static_cast<Tag>(a)) << " " << TagName(static_cast<Tag>(b));
      EXPECT_EQ(st->joined(static_cast<Tag>(a), static_cast<Tag>(b)), joined[a * kNumTags + b])
          << TagName(static_cast<Tag>(a)) << " " << TagName(static_cast<Tag>(b));
    }
  }
}

// Analyzer::PrefixCosts with junction costs: none (or all zero) changes nothing; a cost for
// an eojeol starting with JKB after NNG is added to the reading 에/JKB after an NNG eojeol and
// not after the start of the text; a cost for any morpheme joined before JKB inside the
// eojeol is added once to every reading of 학교에 that ends in JKB; punctuation is not charged.
TEST_F(SpacingTest, PrefixCostsWithJunctions) {
  Analysis work;
  std::vector<Analyzer::PrefixCost> base, got;
  auto cost_of = [](const std::vector<Analyzer::PrefixCost>& v, size_t end, Tag t) {
    for (const auto& pc : v) {
      if (pc.end == static_cast<int32_t>(end) && pc.last == t) return pc.cost;
    }
    return -1.0f;
  };
  auto zero = std::make_unique<Analyzer::JunctionCosts>();
  std::memset(zero.get(), 0, sizeof(*zero));
  for (const char* w : {"학교에", "밥먹었어", "에", "다.그래서"}) {
    for (Tag before : {Tag::kNA, Tag::kNNG, Tag::kEC}) {
      ASSERT_TRUE(analyzer_->PrefixCosts(w, before, 4.0f, &work, &base).ok());
      ASSERT_TRUE(analyzer_->PrefixCosts(w, before, 4.0f, zero.get(), &work, &got).ok());
      ASSERT_EQ(base.size(), got.size());
      for (size_t k = 0; k < base.size(); ++k) {
        EXPECT_EQ(base[k].end, got[k].end);
        EXPECT_EQ(base[k].last, got[k].last);
        EXPECT_FLOAT_EQ(base[k].cost, got[k].cost);
      }
    }
  }
  auto jc = std::make_unique<Analyzer::JunctionCosts>(*zero);
  jc->spaced[static_cast<int>(Tag::kNNG)][static_cast<int>(Tag::kJKB)] = 5.0f;
  ASSERT_TRUE(analyzer_->PrefixCosts("에", Tag::kNNG, 0.0f, &work, &base).ok());
  ASSERT_TRUE(analyzer_->PrefixCosts("에", Tag::kNNG, 0.0f, jc.get(), &work, &got).ok());
  ASSERT_GE(cost_of(base, 3, Tag::kJKB), 0.0f);
  EXPECT_NEAR(cost_of(got, 3, Tag::kJKB), cost_of(base, 3, Tag::kJKB) + 5.0f, 1e-4);
  ASSERT_TRUE(analyzer_->PrefixCosts("에", Tag::kNA, 0.0f, &work, &base).ok());
  ASSERT_TRUE(analyzer_->PrefixCosts("에", Tag::kNA, 0.0f, jc.get(), &work, &got).ok());
  EXPECT_FLOAT_EQ(cost_of(got, 3, Tag::kJKB), cost_of(base, 3, Tag::kJKB));
  jc = std::make_unique<Analyzer::JunctionCosts>(*zero);
  for (int a = 0; a < kNumTags; ++a) jc->joined[a][static_cast<int>(Tag::kJKB)] = 3.0f;
  ASSERT_TRUE(analyzer_->PrefixCosts("학교에", Tag::kNA, 0.0f, &work, &base).ok());
  ASSERT_TRUE(analyzer_->PrefixCosts("학교에", Tag::kNA, 0.0f, jc.get(), &work, &got).ok());
  ASSERT_GE(cost_of(base, 9, Tag::kJKB), 0.0f);
  EXPECT_NEAR(cost_of(got, 9, Tag::kJKB), cost_of(base, 9, Tag::kJKB) + 3.0f, 1e-4);
  EXPECT_FLOAT_EQ(cost_of(got, 6, Tag::kNNG), cost_of(base, 6, Tag::kNNG));  // 학교
  // 다.그래서 after an ending: the period is a token of its own, nothing is charged around it.
  jc = std::make_unique<Analyzer::JunctionCosts>(*zero);
  for (int a = 0; a < kNumTags; ++a) {
    for (int b = 0; b < kNumTags; ++b) {
      if (a == static_cast<int>(Tag::kSF) || b == static_cast<int>(Tag::kSF)) {
        jc->spaced[a][b] = jc->joined[a][b] = 7.0f;
      }
    }
  }
  ASSERT_TRUE(analyzer_->PrefixCosts("다.그래서", Tag::kEC, 0.0f, &work, &base).ok());
  ASSERT_TRUE(analyzer_->PrefixCosts("다.그래서", Tag::kEC, 0.0f, jc.get(), &work, &got).ok());
  ASSERT_EQ(base.size(), got.size());
  for (size_t k = 0; k < base.size(); ++k) EXPECT_FLOAT_EQ(base[k].cost, got[k].cost);
}

}  // namespace
}  // namespace ondo::korean
