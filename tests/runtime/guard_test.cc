// Script guard and loop stop (Korean mode of the sampler).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/generate.h"
#include "runtime/model.h"
#include "tokenizer/script_guard.h"

namespace ondo {
namespace {

using tokenizer::PieceAllowed;
using tokenizer::ScriptSet;

TEST(ScriptGuard, CharactersByScript) {
  ScriptSet ko;
  // Allowed: Hangul syllables and jamo, Latin, digits, punctuation, whitespace.
  for (const char* s : {"안녕하세요", "ㅋㅋ", "API", "café", "2024년", "“인용”", "(괄호)", "₩1,000", "…", "①", " \n\t", "「책」"}) {
    EXPECT_TRUE(PieceAllowed(ko, s)) << s;
  }
  // Masked: the scripts seen leaking into small models' Korean answers, and emoji.
  for (const char* s : {"безопас", "です", "ظهر", "漢字", "😀", "ภาษา", "α"}) {
    EXPECT_FALSE(PieceAllowed(ko, s)) << s;
  }
  ScriptSet with_hanja;
  with_hanja.hanja = true;
  EXPECT_TRUE(PieceAllowed(with_hanja, "漢字"));
  EXPECT_FALSE(PieceAllowed(with_hanja, "です"));
}

TEST(ScriptGuard, PartialUtf8Pieces) {
  ScriptSet ko;
  // "한" = ED 95 9C. A token holding its first byte(s) may still become Hangul.
  EXPECT_TRUE(PieceAllowed(ko, "\xED"));
  EXPECT_TRUE(PieceAllowed(ko, "\xED\x95"));
  // "で" = E3 81 A7: E3 alone could still be a compatibility jamo (U+3131..), E3 81 cannot.
  EXPECT_TRUE(PieceAllowed(ko, "\xE3"));
  EXPECT_FALSE(PieceAllowed(ko, "\xE3\x81"));
  // Cyrillic lead byte D0 and emoji lead F0 cannot become anything allowed.
  EXPECT_FALSE(PieceAllowed(ko, "\xD0"));
  EXPECT_FALSE(PieceAllowed(ko, "\xF0\x9F"));
  // Continuation bytes of a character begun earlier are accepted, then judged as usual.
  EXPECT_TRUE(PieceAllowed(ko, "\x9C\xEA\xB8\x80"));  // ...한 tail + "글"
  // A complete but invalid sequence is rejected.
  EXPECT_FALSE(PieceAllowed(ko, "\xC0\xAF"));
}

TEST(ScriptGuard, MaskOverRealVocabularyKeepsControlTokens) {
  const std::string path = std::string(ONDO_SHARED_DIR) + "/models/ko-mini-a.f16.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::unique_ptr<runtime::Model> model;
  ASSERT_TRUE(runtime::Model::Load(path, &model).ok());
  const auto& tok = model->tokenizer();
  std::vector<uint64_t> mask = tokenizer::BuildScriptMask(tok, ScriptSet{});
  int allowed = 0;
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    allowed += tokenizer::MaskAllows(mask, id);
    // The mask must agree with the rule applied to each piece independently.
    ASSERT_EQ(tokenizer::MaskAllows(mask, id), PieceAllowed(ScriptSet{}, tok.Piece(id))) << id;
  }
  EXPECT_TRUE(tokenizer::MaskAllows(mask, 2));  // </s> (EOG) is never masked
  EXPECT_GT(allowed, tok.n_vocab() * 9 / 10);   // a Korean vocabulary is mostly allowed
}

TEST(LoopStop, DetectsPeriodicTails) {
  runtime::GenerateOptions o;
  o.loop_max_period = 16;
  std::vector<int32_t> ids = {5, 6, 7};
  EXPECT_FALSE(runtime::EndsInLoop(ids, o));
  // Period 3 repeated 4 times = 12 tokens: a loop.
  for (int r = 0; r < 4; ++r) ids.insert(ids.end(), {10, 11, 12});
  EXPECT_TRUE(runtime::EndsInLoop(ids, o));
  // Three repeats only: not yet.
  std::vector<int32_t> three = {1, 2, 3, 10, 11, 12, 10, 11, 12, 10, 11, 12};
  EXPECT_FALSE(runtime::EndsInLoop(three, o));
  // Period 2 needs 6 repeats to cover the minimum span of 12.
  std::vector<int32_t> two = {9, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2};
  EXPECT_FALSE(runtime::EndsInLoop(two, o));
  two.insert(two.end(), {1, 2});
  EXPECT_TRUE(runtime::EndsInLoop(two, o));
  // One token 16 times.
  std::vector<int32_t> flood(15, 7);
  EXPECT_FALSE(runtime::EndsInLoop(flood, o));
  flood.push_back(7);
  EXPECT_TRUE(runtime::EndsInLoop(flood, o));
  // Off.
  o.loop_max_period = 0;
  EXPECT_FALSE(runtime::EndsInLoop(flood, o));
}

TEST(LoopStop, EndsARealRepetitiveGeneration) {
  // ko-mini-a continues "서울은 대한민국의" with " 1999년 1일,1일,1일,..." (llama.cpp's reference
  // greedy output): with loop stop on, generation ends early with finish reason loop.
  const std::string path = std::string(ONDO_SHARED_DIR) + "/models/ko-mini-a.f32.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  std::unique_ptr<runtime::Model> model;
  ASSERT_TRUE(runtime::Model::Load(path, &model).ok());
  runtime::SessionOptions so;
  so.n_ctx = 128;
  std::unique_ptr<runtime::Session> session;
  ASSERT_TRUE(runtime::Session::Create(*model, so, &session).ok());
  std::vector<int32_t> ids;
  tokenizer::EncodeOptions eo;
  eo.add_special = true;
  ASSERT_TRUE(model->tokenizer().Encode("서울은 대한민국의", eo, &ids).ok());
  runtime::GenerateOptions go;
  go.max_tokens = 64;
  go.sampler.temperature = 0.0f;
  go.loop_max_period = 16;
  runtime::GenerateResult result;
  ASSERT_TRUE(runtime::Generate(*session, ids, go, nullptr, nullptr, &result).ok());
  EXPECT_EQ(result.finish, runtime::FinishReason::kLoop) << result.text;
  EXPECT_LT(result.ids.size(), 32u);
  EXPECT_EQ(result.text.rfind(" 1999년 1일,1일,", 0), 0u) << result.text;
}

}  // namespace
}  // namespace ondo
