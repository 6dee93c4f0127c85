// Post-processor evaluation on the shared Korean dev text (UD GSD dev, KLUE dp dev): clean
// text nearly untouched, corrupted copies repaired. Floors set from the measurement at
// hand-over (tokenizer/korean/post/README.md); skips when /work/shared is absent.
#include "tokenizer/korean/post/post_eval.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace ondo::korean {
namespace {

void RunEval(const std::string& path, PostEvalResult* r) {
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<PostEvalSentence> sentences;
  ASSERT_TRUE(ParsePostEvalFile(ss.str(), &sentences).ok());
  std::unique_ptr<Analyzer> analyzer;
  ASSERT_TRUE(Analyzer::Create(&analyzer).ok());
  PostOptions o;
  o.record_changes = true;
  std::unique_ptr<PostProcessor> pp;
  ASSERT_TRUE(PostProcessor::Create(analyzer.get(), o, &pp).ok());
  ASSERT_TRUE(EvaluatePost(pp.get(), sentences, PostEvalOptions{}, r).ok());
}

double Ratio(size_t a, size_t b) { return b ? static_cast<double>(a) / b : 0; }

TEST(PostEval, GsdDev) {
  const std::string path =
      std::string(ONDO_SHARED_DIR) + "/data/korean/ud_korean_gsd/ko_gsd-ud-dev.conllu";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  PostEvalResult r;
  RunEval(path, &r);
  EXPECT_EQ(r.sentences, 950u);
  EXPECT_GT(r.gold_particles, 3000u);
  // measured: 2 particle changes of 3688 (0.054%), 938/1006 fixed (93.2%), 922/924 removed
  EXPECT_LE(Ratio(r.clean_changed_particles, r.gold_particles), 0.001);
  EXPECT_GE(Ratio(r.particle_fixed, r.particle_errors), 0.91);
  EXPECT_EQ(r.particle_other_changed, 0u);
  EXPECT_GE(Ratio(r.repetitions_removed, r.repetitions), 0.98);
  EXPECT_GE(Ratio(r.floods_limited, r.floods), 0.98);
  EXPECT_GE(Ratio(r.punct_fixed, r.punct_errors), 0.98);
}

TEST(PostEval, KlueDpDev) {
  const std::string path = std::string(ONDO_SHARED_DIR) + "/data/korean/klue/klue-dp-v1.1_dev.tsv";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  PostEvalResult r;
  RunEval(path, &r);
  EXPECT_EQ(r.sentences, 2000u);
  // measured: 7 particle changes of 8356 (0.084%), 2395/2492 fixed (96.1%), 1997/1999 removed
  EXPECT_LE(Ratio(r.clean_changed_particles, r.gold_particles), 0.001);
  EXPECT_GE(Ratio(r.particle_fixed, r.particle_errors), 0.95);
  EXPECT_EQ(r.particle_other_changed, 0u);
  EXPECT_GE(Ratio(r.repetitions_removed, r.repetitions), 0.98);
  EXPECT_GE(Ratio(r.floods_limited, r.floods), 0.98);
  EXPECT_GE(Ratio(r.punct_fixed, r.punct_errors), 0.98);
}

TEST(PostEval, ParsersRejectMalformedLines) {
  std::vector<PostEvalSentence> s;
  EXPECT_FALSE(ParsePostEvalConllu("# text = a\n1\tx\n\n", &s).ok());
  EXPECT_FALSE(ParsePostEvalKlue("## klue-x\ta\n1\tx\n\n", &s).ok());
  ASSERT_TRUE(
      ParsePostEvalKlue("## klue-x\t사과를 먹었다.\n1\t사과를\t사과 를\tNNG+JKO\t2\tNP_OBJ\n"
                        "2\t먹었다.\t먹 었 다 .\tVV+EP+EF+SF\t0\tVP\n\n",
                        &s)
          .ok());
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].text, "사과를 먹었다.");
  EXPECT_EQ(s[0].tokens[0].tags[1], "JKO");
}

}  // namespace
}  // namespace ondo::korean
