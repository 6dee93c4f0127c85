// Spacing restoration (tokenizer/korean/post/spacing.h): hand-written cases (dropped and
// inserted spaces, with the spacing of standard Korean as the expected answer), clean sentences
// that must not change, what is never touched (line layout, Latin words, numbers, marks), bad
// input, the post-processor option, and the evaluation on UD GSD (skipped without ../shared).
#include "tokenizer/korean/post/spacing.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(Restore("밥먹었어"), "밥 먹었어");
  EXPECT_EQ(Restore("학 교에"), "학교에");
  EXPECT_EQ(Restore("학 교에 갔어"), "학교에 갔어");
  EXPECT_EQ(Restore("오늘은날씨가좋네요."), "오늘은 날씨가 좋네요.");
  EXPECT_EQ(Restore("나는밥을먹고학교에갔다."), "나는 밥을 먹고 학교에 갔다.");
  EXPECT_EQ(Restore("그 영화를보고 많이 울었어."), "그 영화를 보고 많이 울었어.");
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
  };
  for (const std::string& s : clean) EXPECT_EQ(Restore(s), s);
}

// Only spaces between characters of a line change: line breaks, leading and trailing
// whitespace, the whitespace kept; no space is added before marks, inside numbers or Latin
// words, and spaces between Latin words or numbers are never removed.
TEST_F(SpacingTest, KeepsLayoutAndNonHangul) {
  EXPECT_EQ(Restore(""), "");
  EXPECT_EQ(Restore("  \n\n"), "  \n\n");
  EXPECT_EQ(Restore("  학 교에\t\n밥먹었어 \n"), "  학교에\t\n밥 먹었어 \n");
  EXPECT_EQ(Restore("황금신발상(Golden Boot Award)을 수상하였다."),
            "황금신발상(Golden Boot Award)을 수상하였다.");
  EXPECT_EQ(Restore("신선한 음식(fresh food)을 샀다."), "신선한 음식(fresh food)을 샀다.");
  EXPECT_EQ(Restore("1일 평균 1,696건에 이른다."), "1일 평균 1,696건에 이른다.");
  EXPECT_EQ(Restore("정말? 진짜!"), "정말? 진짜!");
  EXPECT_EQ(Restore("정말?진짜! 좋아요.다음에 또 올게요,감사합니다."),
            "정말? 진짜! 좋아요. 다음에 또 올게요, 감사합니다.");
  EXPECT_EQ(Restore("3.5kg이다"), "3.5kg이다");
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
}

// Random text: the output holds exactly the input's characters other than spaces, in order.
TEST_F(SpacingTest, RandomTextKeepsItsCharacters) {
  std::mt19937 rng(7);
  const std::u32string pool = U"가나다라마바사아자차카타파하각난닫랄맘밥삿앙잦찿에는을를이가도 .,!?()12abAB\t가";
  for (int iter = 0; iter < 200; ++iter) {
    std::string text;
    const int len = static_cast<int>(rng() % 40);
    for (int i = 0; i < len; ++i) AppendUtf8(pool[rng() % pool.size()], &text);
    std::string out;
    ASSERT_TRUE(spacer_->Restore(text, &out).ok()) << text;
    auto strip = [](const std::string& s) {
      std::string r;
      for (char c : s) {
        if (c != ' ' && c != '\t') r.push_back(c);
      }
      return r;
    };
    EXPECT_EQ(strip(out), strip(text)) << text << " -> " << out;
  }
}

TEST_F(SpacingTest, PostProcessorOption) {
  PostOptions o;
  std::unique_ptr<PostProcessor> pp;
  std::string out;
  ASSERT_TRUE(PostProcessor::Create(analyzer_.get(), o, &pp).ok());
  ASSERT_TRUE(pp->Process("밥먹었어.", &out).ok());
  EXPECT_EQ(out, "밥먹었어.");  // off by default
  o.spacing = true;
  ASSERT_TRUE(PostProcessor::Create(analyzer_.get(), o, &pp).ok());
  out.clear();
  ASSERT_TRUE(pp->Process("밥먹었어. 학 교에 갔어.", &out).ok());
  EXPECT_EQ(out, "밥 먹었어. 학교에 갔어.");
  // Streaming gives the same.
  std::string streamed;
  for (std::string_view chunk : {"밥먹", "었어. 학 교", "에 갔어."}) {
    ASSERT_TRUE(pp->Push(chunk, &streamed).ok());
  }
  ASSERT_TRUE(pp->Finish(&streamed).ok());
  EXPECT_EQ(streamed, out);
  o.spacing_options.max_eojeol_chars = 100;
  EXPECT_EQ(PostProcessor::Create(analyzer_.get(), o, &pp).code(), StatusCode::kInvalidArgument);
}

// The evaluation on UD GSD dev (test half: odd sentences): the corruption follows its
// definition (30% of spaces removed, a space inserted in 5% of eojeols), and the restoration
// stays at the level measured at hand-over (README: 52% restored, 0.47% of clean eojeols
// changed; the targets, 85% and 0.2%, are not met, so kSpacingAuto is off).
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
  EXPECT_GT(restored, 0.45);
  EXPECT_LT(static_cast<double>(r.clean_changed_eojeols) / r.eojeols, 0.006);
  EXPECT_FALSE(kSpacingAuto);  // both targets would have to hold
}

}  // namespace
}  // namespace ondo::korean
