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

std::unique_ptr<runtime::Model> LoadKoMini(const char* file) {
  const std::string path = std::string(ONDO_SHARED_DIR) + "/models/" + file;
  std::unique_ptr<runtime::Model> model;
  if (!std::filesystem::exists(path)) return model;
  EXPECT_TRUE(runtime::Model::Load(path, &model).ok());
  return model;
}

int32_t FindPiece(const tokenizer::Tokenizer& tok, std::string_view piece) {
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.Piece(id) == piece) return id;
  }
  return -1;
}

TEST(ScriptGuard, MaskOverRealVocabularyKeepsControlTokens) {
  auto model = LoadKoMini("ko-mini-a.f16.gguf");
  if (!model) GTEST_SKIP() << "no ko-mini-a.f16.gguf in " << ONDO_SHARED_DIR;
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

TEST(ScriptGuard, FollowsCharactersSpreadOverByteTokens) {
  auto model = LoadKoMini("ko-mini-a.f16.gguf");
  if (!model) GTEST_SKIP() << "no ko-mini-a.f16.gguf in " << ONDO_SHARED_DIR;
  const auto& tok = model->tokenizer();
  const int32_t e3 = FindPiece(tok, "\xE3"), x81 = FindPiece(tok, "\x81"),
                x84 = FindPiece(tok, "\x84"), xb1 = FindPiece(tok, "\xB1"),
                x80 = FindPiece(tok, "\x80");
  ASSERT_TRUE(e3 >= 0 && x81 >= 0 && x84 >= 0 && xb1 >= 0 && x80 >= 0);  // byte-fallback tokens
  tokenizer::ScriptGuard guard(tok, ScriptSet{});
  // At a character boundary a lone continuation byte is never allowed; E3 may begin ㄱ (U+3131).
  EXPECT_FALSE(tokenizer::MaskAllows(guard.Mask(), x81));
  EXPECT_TRUE(tokenizer::MaskAllows(guard.Mask(), e3));
  guard.Accept(e3);
  // E3 81 .. is hiragana (U+3040..307F): masked. E3 84 .. holds the compatibility jamo.
  EXPECT_FALSE(tokenizer::MaskAllows(guard.Mask(), x81));
  EXPECT_TRUE(tokenizer::MaskAllows(guard.Mask(), x84));
  EXPECT_FALSE(tokenizer::MaskAllows(guard.Mask(), 2));  // finish the character before EOG
  const int32_t hangul = FindPiece(tok, "\xEC\x84\x9C");  // 서, a whole-character piece
  if (hangul >= 0) {
    EXPECT_FALSE(tokenizer::MaskAllows(guard.Mask(), hangul));
  }
  guard.Accept(x84);
  EXPECT_TRUE(tokenizer::MaskAllows(guard.Mask(), xb1));   // E3 84 B1 = ㄱ
  EXPECT_FALSE(tokenizer::MaskAllows(guard.Mask(), x80));  // E3 84 80 = U+3100 (Bopomofo)
  guard.Accept(xb1);
  EXPECT_EQ(guard.Mask(), guard.boundary_mask().data());
  guard.Reset();
  EXPECT_EQ(guard.Mask(), guard.boundary_mask().data());
}

TEST(ScriptGuard, SampledTextStaysInsideTheAllowedScripts) {
  // Hot sampling makes a small model emit arbitrary tokens, byte-fallback sequences included;
  // with the guard every generated character must be allowed.
  auto model = LoadKoMini("ko-mini-a.f16.gguf");
  if (!model) GTEST_SKIP() << "no ko-mini-a.f16.gguf in " << ONDO_SHARED_DIR;
  const auto& tok = model->tokenizer();
  tokenizer::ScriptGuard guard(tok, ScriptSet{});
  std::vector<int32_t> prompt;
  tokenizer::EncodeOptions eo;
  eo.add_special = true;
  ASSERT_TRUE(tok.Encode("오늘 날씨", eo, &prompt).ok());
  int bytes_seen = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    runtime::SessionOptions so;
    so.n_ctx = 160;
    std::unique_ptr<runtime::Session> session;
    ASSERT_TRUE(runtime::Session::Create(*model, so, &session).ok());
    runtime::GenerateOptions go;
    go.max_tokens = 128;
    go.sampler.temperature = 20.0f;  // near-uniform: exercises the whole vocabulary
    go.sampler.top_k = 0;
    go.sampler.top_p = 1.0f;
    go.sampler.min_p = 0.0f;
    go.sampler.seed = seed;
    go.script_guard = &guard;
    runtime::GenerateResult result;
    ASSERT_TRUE(runtime::Generate(*session, prompt, go, nullptr, nullptr, &result).ok());
    for (int32_t id : result.ids) {
      const std::string_view piece = tok.Piece(id);
      bytes_seen += piece.size() == 1 && (static_cast<uint8_t>(piece[0]) & 0x80) != 0;
    }
    std::string text = result.text;
    // The token budget may run out inside a character; the decoder then ends with U+FFFD.
    const std::string_view replacement = "\xEF\xBF\xBD";
    if (result.finish == runtime::FinishReason::kLength && text.ends_with(replacement)) {
      text.resize(text.size() - replacement.size());
    }
    EXPECT_TRUE(PieceAllowed(ScriptSet{}, text)) << seed << ": " << text;
    // No other replacement character: no byte sequence was left broken on the way.
    EXPECT_EQ(text.find(replacement), std::string::npos) << text;
  }
  EXPECT_GT(bytes_seen, 0) << "no byte token was sampled";  // the byte-token path was exercised
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
