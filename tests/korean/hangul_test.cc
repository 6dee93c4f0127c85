// Hangul utilities against the arithmetic of Unicode §3.12 and known code points.
#include "tokenizer/korean/hangul.h"

#include <gtest/gtest.h>

#include <string>

namespace ondo::korean {
namespace {

TEST(Hangul, SyllableArithmeticMatchesUnicode) {
  Syllable s;
  // 가 = U+AC00: first syllable, all indices 0.
  ASSERT_TRUE(DecomposeSyllable(U'가', &s));
  EXPECT_EQ(s.l, 0);
  EXPECT_EQ(s.v, 0);
  EXPECT_EQ(s.t, 0);
  // 힣 = U+D7A3: last syllable (ㅎ ㅣ ㅎ = 18, 20, 27).
  ASSERT_TRUE(DecomposeSyllable(U'힣', &s));
  EXPECT_EQ(s.l, 18);
  EXPECT_EQ(s.v, 20);
  EXPECT_EQ(s.t, 27);
  // The worked example of Unicode §3.12: U+D4DB 퓛 = U+1111 U+1171 U+11B6.
  ASSERT_TRUE(DecomposeSyllable(0xD4DB, &s));
  EXPECT_EQ(kLBase + s.l, 0x1111u);
  EXPECT_EQ(kVBase + s.v, 0x1171u);
  EXPECT_EQ(kTBase + s.t, 0x11B6u);
  EXPECT_EQ(ComposeSyllable(0x1111 - kLBase, 0x1171 - kVBase, 0x11B6 - kTBase), 0xD4DBu);
  // 한 = U+D55C = ㅎ(18) ㅏ(0) ㄴ(4).
  EXPECT_EQ(ComposeSyllable(18, 0, 4), U'한');
  // Out of range.
  EXPECT_FALSE(DecomposeSyllable(U'a', &s));
  EXPECT_FALSE(DecomposeSyllable(0xAC00 - 1, &s));
  EXPECT_FALSE(DecomposeSyllable(0xD7A4, &s));
  EXPECT_EQ(ComposeSyllable(19, 0, 0), 0u);
  EXPECT_EQ(ComposeSyllable(0, 21, 0), 0u);
  EXPECT_EQ(ComposeSyllable(0, 0, 28), 0u);
}

TEST(Hangul, EverySyllableRoundTrips) {
  int n = 0;
  for (char32_t c = 0xAC00; c <= 0xD7A3; ++c) {
    Syllable s;
    ASSERT_TRUE(DecomposeSyllable(c, &s));
    ASSERT_EQ(ComposeSyllable(s), c);
    ASSERT_EQ(HasJongseong(c), s.t != 0);
    ASSERT_EQ(JongseongIndex(c), s.t);
    ASSERT_EQ(WithJongseong(WithJongseong(c, 0), s.t), c);
    ++n;
  }
  EXPECT_EQ(n, kSCount);
  EXPECT_EQ(kSCount, 11172);
}

TEST(Hangul, FinalConsonantTests) {
  EXPECT_TRUE(HasJongseong(U'책'));
  EXPECT_FALSE(HasJongseong(U'과'));     // 사과
  EXPECT_TRUE(JongseongIsRieul(U'울'));  // 서울
  EXPECT_FALSE(JongseongIsRieul(U'국'));
  EXPECT_FALSE(HasJongseong(U'A'));
  EXPECT_EQ(JongseongIndex(U'닭'), 9);  // ㄺ
  EXPECT_EQ(WithJongseong(U'가', kTRieul), U'갈');
  EXPECT_EQ(WithJongseong(U'값', kTNone), U'가');
  EXPECT_EQ(WithJongseong(U'x', 1), 0u);
}

TEST(Hangul, CompatibilityJamo) {
  EXPECT_EQ(CompatToChoseong(U'ㄱ'), 0x1100u);
  EXPECT_EQ(CompatToJongseong(U'ㄱ'), 0x11A8u);
  EXPECT_EQ(CompatToChoseong(U'ㅎ'), 0x1112u);
  EXPECT_EQ(CompatToJongseong(U'ㅎ'), 0x11C2u);
  EXPECT_EQ(CompatToJungseong(U'ㅏ'), 0x1161u);
  EXPECT_EQ(CompatToJungseong(U'ㅣ'), 0x1175u);
  EXPECT_EQ(CompatToJongseong(U'ㄸ'), 0u);  // ㄸ is never final
  EXPECT_EQ(CompatToChoseong(U'ㄳ'), 0u);   // ㄳ is never initial
  EXPECT_EQ(CompatToJongseong(U'ㄳ'), 0x11AAu);
  EXPECT_EQ(ConjoiningToCompat(0x11AB), U'ㄴ');
  EXPECT_EQ(ConjoiningToCompat(0x1105), U'ㄹ');
  EXPECT_EQ(ConjoiningToCompat(0x1173), U'ㅡ');
  EXPECT_EQ(ConjoiningToCompat(U'가'), 0u);
  EXPECT_EQ(CompatToJongseongIndex(U'ㄹ'), kTRieul);
  EXPECT_EQ(CompatToJongseongIndex(U'ㅆ'), kTSsangSios);
  EXPECT_EQ(JongseongCompat(kTPieup), U'ㅂ');
  EXPECT_EQ(ChoseongCompat(0), U'ㄱ');
  EXPECT_EQ(JungseongCompat(20), U'ㅣ');
  // Every choseong / jongseong letter maps back to itself through the compatibility block.
  for (int l = 0; l < kLCount; ++l) EXPECT_EQ(CompatToChoseong(ChoseongCompat(l)), kLBase + l);
  for (int t = 1; t < kTCount; ++t) EXPECT_EQ(CompatToJongseong(JongseongCompat(t)), kTBase + t);
}

TEST(Hangul, NfdNfcRoundTrip) {
  const std::string text = "한국어 텍스트, ABC 123 퓛!";
  std::string nfd, nfc;
  ASSERT_TRUE(HangulToNfd(text, &nfd).ok());
  // 한 -> 3 jamo of 3 bytes each.
  EXPECT_EQ(nfd.substr(0, 9), "\u1112\u1161\u11AB");
  ASSERT_TRUE(HangulToNfc(nfd, &nfc).ok());
  EXPECT_EQ(nfc, text);
  // Compatibility jamo are not composed by NFC.
  ASSERT_TRUE(HangulToNfc("ㅎㅏㄴ", &nfc).ok());
  EXPECT_EQ(nfc, "ㅎㅏㄴ");
  // L V without T, and a lone V stays.
  ASSERT_TRUE(HangulToNfc("\u1100\u1161\u1161", &nfc).ok());
  EXPECT_EQ(nfc, "가\u1161");
  std::string compat;
  ASSERT_TRUE(ConjoiningToCompatString("\u11AB\u1105x", &compat).ok());
  EXPECT_EQ(compat, "ㄴㄹx");
  EXPECT_FALSE(HangulToNfd("\xff", &nfd).ok());
}

TEST(Hangul, StrictUtf8) {
  EXPECT_TRUE(IsValidUtf8("한국 abc \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xEA\xB0"));          // truncated 가
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  const Status s = ValidateUtf8("ab\xEA\xB0");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("byte 2"), std::string::npos);
  char buf[4];
  EXPECT_EQ(EncodeUtf8(U'가', buf), 3);
  EXPECT_EQ(std::string(buf, 3), "가");
  EXPECT_EQ(EncodeUtf8(0xD800, buf), 0);
  EXPECT_EQ(EncodeUtf8(0x110000, buf), 0);
  size_t pos = 0;
  char32_t cp = 0;
  ASSERT_TRUE(DecodeUtf8("힣", &pos, &cp));
  EXPECT_EQ(cp, 0xD7A3u);
  EXPECT_EQ(pos, 3u);
}

TEST(Hangul, LastCodePoint) {
  EXPECT_EQ(LastCodePoint(""), 0u);
  EXPECT_EQ(LastCodePoint("a"), U'a');
  EXPECT_EQ(LastCodePoint("학교"), U'교');         // 3-byte sequence
  EXPECT_EQ(LastCodePoint("x\xF0\x9F\x98\x80"), 0x1F600u);  // 4-byte sequence
  EXPECT_EQ(LastCodePointStart("학교"), 3u);
  EXPECT_EQ(LastCodePointStart(""), 0u);
  EXPECT_EQ(LastCodePoint("\xED\x95"), 0u);      // truncated
  EXPECT_EQ(LastCodePoint("a\x80"), 0u);          // stray continuation byte
}

}  // namespace
}  // namespace ondo::korean
