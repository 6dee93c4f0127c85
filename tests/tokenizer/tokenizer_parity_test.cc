// Parity of tokenizer/ with the reference tokenizers:
//  - llama.cpp's vocab tests (ggml-vocab-*.gguf + .inp/.out, ids from Hugging Face tokenizers),
//    and their qwen2 / llama-bpe inputs through the Qwen3 / Llama 3 tokenizer.json;
//  - hf/{qwen3,llama3,gemma3}/korean.jsonl (3,630 Korean and mixed strings each);
//  - the ko-mini-a model's prompt ids and greedy text from llama.cpp.
// Each test loads its vocabulary once; data files missing -> GTEST_SKIP.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/gguf.h"
#include "runtime/vocab_from_gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

const std::string kShared = ONDO_SHARED_DIR;
const std::string kLlamaCppDir = kShared + "/tokenizers/llamacpp/";
const std::string kHfDir = kShared + "/tokenizers/hf/";

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// llama.cpp test-tokenizer-0's reading of .inp (split on "\n__ggml_vocab_test__\n") and .out.
bool ReadVocabTests(const std::string& base, std::vector<std::string>* inputs,
                    std::vector<std::vector<int32_t>>* outputs) {
  std::string raw, out;
  if (!ReadFile(base + ".inp", &raw) || !ReadFile(base + ".out", &out)) return false;
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      inputs->push_back(raw.substr(pos));
      break;
    }
    inputs->push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<int32_t> ids;
    std::istringstream nums(Trim(line));
    for (int v; nums >> v;) ids.push_back(v);
    outputs->push_back(std::move(ids));
  }
  return inputs->size() == outputs->size();
}

std::string IdsToString(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

Status LoadGguf(const std::string& path, std::unique_ptr<Tokenizer>* tok) {
  std::unique_ptr<runtime::GgufFile> gguf;
  ONDO_RETURN_IF_ERROR(runtime::GgufFile::Open(path, &gguf));
  VocabSpec spec;
  ONDO_RETURN_IF_ERROR(runtime::VocabSpecFromGguf(*gguf, &spec));
  return Tokenizer::Create(std::move(spec), tok);
}

// Runs every .inp/.out pair through `tok` (add_special = false, parse_special = false, as
// test-tokenizer-0); returns the number of passing strings.
int RunVocabTests(const Tokenizer& tok, const std::string& base, int* total) {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> outputs;
  EXPECT_TRUE(ReadVocabTests(base, &inputs, &outputs)) << base;
  int pass = 0;
  *total = static_cast<int>(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int32_t> ids;
    EncodeOptions opts;
    const Status st = tok.Encode(inputs[i], opts, &ids);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (ids == outputs[i]) {
      ++pass;
    } else {
      ADD_FAILURE() << base << " #" << i << " '" << inputs[i] << "'\n  want " << IdsToString(outputs[i])
                    << "\n  got  " << IdsToString(ids);
    }
  }
  return pass;
}

class LlamaCppVocab : public ::testing::TestWithParam<const char*> {};

// Families whose ggml-vocab-*.gguf is here with .inp/.out. Out of scope, skipped explicitly:
// bert-bge (WordPiece), and baichuan (no .inp/.out here).
TEST_P(LlamaCppVocab, MatchesReferenceIds) {
  const std::string base = kLlamaCppDir + "ggml-vocab-" + GetParam() + ".gguf";
  if (!Exists(base) || !Exists(base + ".inp")) GTEST_SKIP() << "missing " << base;
  std::unique_ptr<Tokenizer> tok;
  const Status st = LoadGguf(base, &tok);
  ASSERT_TRUE(st.ok()) << st.ToString();
  int total = 0;
  const int pass = RunVocabTests(*tok, base, &total);
  std::printf("[parity] llama.cpp %-16s %d/%d\n", GetParam(), pass, total);
  EXPECT_EQ(pass, total);
  if (tok->spec().kind == VocabKind::kBpe) {
    // Byte-level BPE loses nothing: decode(encode(x)) == x on random valid UTF-8 made of
    // bytes the vocabulary has (falcon, starcoder and refact lack a few lead bytes).
    bool has_byte[256];
    for (int b = 0; b < 256; ++b) {
      std::string sym;
      unicode::AppendUtf8(unicode::ByteToCodepoint(static_cast<uint8_t>(b)), &sym);
      has_byte[b] = tok->FindToken(sym) >= 0;
    }
    std::mt19937 rng(42);
    for (int iter = 0; iter < 200; ++iter) {
      std::string text;
      const int n = static_cast<int>(rng() % 32);
      for (int k = 0; k < n; ++k) {
        const uint32_t r = static_cast<uint32_t>(rng());
        const uint32_t kinds[] = {0x20 + r % 0x5F, r % 0x80, 0xAC00 + r % 11172,
                                  0x1F300 + r % 0x300, r % 0x110000};
        uint32_t cp = kinds[rng() % 5];
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        std::string ch;
        unicode::AppendUtf8(cp, &ch);
        bool ok = true;
        for (char c : ch) ok = ok && has_byte[static_cast<uint8_t>(c)];
        if (ok) text += ch;
      }
      std::vector<int32_t> ids;
      ASSERT_TRUE(tok->Encode(text, {}, &ids).ok());
      ASSERT_EQ(tok->Decode(ids), text);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, LlamaCppVocab,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm",
                                           "deepseek-coder", "falcon", "mpt", "starcoder",
                                           "refact"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string s = info.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

// Not parity-tested: bert-bge (WordPiece, not a supported tokenizer kind); chameleon,
// command-r and roberta-bpe (the .gguf vocabulary is not in ../shared); baichuan (no .inp/.out).
// qwen2, deepseek-r1-qwen and llama-bpe are checked through their tokenizer.json below.

// --- tokenizer.json -------------------------------------------------------------------------

Status LoadHf(const std::string& name, std::unique_ptr<Tokenizer>* tok, double* seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  Status st = Tokenizer::FromHfJsonFile(kHfDir + name + "/tokenizer.json", tok);
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

// Streams ids through StreamDecoder one at a time: every chunk must be valid UTF-8 and the
// chunks must add up to Decode(ids).
void CheckStreaming(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  StreamDecoder dec(tok, false);
  std::string all, chunk;
  for (int32_t id : ids) {
    chunk.clear();
    dec.Push(id, &chunk);
    ASSERT_TRUE(unicode::IsValidUtf8(chunk));
    all += chunk;
  }
  dec.Flush(&all);
  const std::string decoded = tok.Decode(ids);
  if (unicode::IsValidUtf8(decoded)) {
    EXPECT_EQ(all, decoded);
  }
}

int RunKoreanJsonl(const Tokenizer& tok, const std::string& name, bool round_trip, int* total) {
  std::ifstream f(kHfDir + name + "/korean.jsonl");
  int pass = 0, n = 0, shown = 0;
  EncodeOptions opts;
  opts.parse_special = true;  // Hugging Face always matches added tokens
  for (std::string line; std::getline(f, line);) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "bad jsonl line";
      continue;
    }
    const std::string text = j["text"].get<std::string>();
    const std::vector<int32_t> want = j["ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> got;
    const Status st = tok.Encode(text, opts, &got);
    ++n;
    if (round_trip) {
      EXPECT_EQ(tok.Decode(got), text);
    }
    if (n % 16 == 0) CheckStreaming(tok, got);
    if (st.ok() && got == want) {
      ++pass;
    } else if (shown++ < 10) {
      ADD_FAILURE() << name << " line " << n << " '" << text << "'\n  want " << IdsToString(want)
                    << "\n  got  " << IdsToString(got) << " " << st.ToString();
    }
  }
  *total = n;
  return pass;
}

void HfParity(const std::string& name, std::vector<const char*> llamacpp_names, bool round_trip) {
  if (!Exists(kHfDir + name + "/tokenizer.json")) GTEST_SKIP() << "missing " << name;
  std::unique_ptr<Tokenizer> tok;
  double seconds = 0;
  const Status st = LoadHf(name, &tok, &seconds);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::printf("[parity] %s tokenizer.json loaded in %.2f s\n", name.c_str(), seconds);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(seconds, 3.0);  // optimized builds only
#endif
  int total = 0;
  const int pass = RunKoreanJsonl(*tok, name, round_trip, &total);
  std::printf("[parity] hf %-8s korean.jsonl %d/%d\n", name.c_str(), pass, total);
  EXPECT_EQ(pass, total);
  EXPECT_GT(total, 0);
  for (const char* vocab_name : llamacpp_names) {
    const std::string base = kLlamaCppDir + "ggml-vocab-" + vocab_name + ".gguf";
    if (Exists(base + ".inp")) {
      int vt = 0;
      const int vp = RunVocabTests(*tok, base, &vt);
      std::printf("[parity] llama.cpp %-16s %d/%d (via %s tokenizer.json)\n", vocab_name, vp, vt,
                  name.c_str());
      EXPECT_EQ(vp, vt);
    }
  }
}

// Llama 3 has no normalizer, so decode(encode(x)) == x; Qwen3 normalizes to NFC and Gemma 3's
// SentencePiece-style vocabulary maps some inputs to <unk>.
TEST(HfParity, Qwen3) { HfParity("qwen3", {"qwen2", "deepseek-r1-qwen"}, false); }
TEST(HfParity, Llama3) { HfParity("llama3", {"llama-bpe"}, true); }
TEST(HfParity, Gemma3) { HfParity("gemma3", {}, false); }

// --- ko-mini-a -------------------------------------------------------------------------------

TEST(KoMiniA, PromptIdsAndGreedyText) {
  const std::string model = kShared + "/models/ko-mini-a.f32.gguf";
  std::string ref_text;
  if (!Exists(model) || !ReadFile(kShared + "/models/ko-mini-a.f32.ref.json", &ref_text)) {
    GTEST_SKIP() << "missing ko-mini-a";
  }
  std::unique_ptr<Tokenizer> tok;
  const Status st = LoadGguf(model, &tok);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(tok->spec().kind, VocabKind::kSpm);
  EXPECT_EQ(tok->spec().bos_id, 1);
  EXPECT_EQ(tok->spec().eos_id, 2);
  EXPECT_TRUE(tok->IsEog(2));
  EXPECT_EQ(tok->FindToken("<|user|>"), 3);
  EXPECT_EQ(tok->FindToken("<|assistant|>"), 4);
  const nlohmann::json ref = nlohmann::json::parse(ref_text);
  int runs = 0;
  for (const auto& run : ref["runs"]) {
    const std::string prompt = run["prompt"].get<std::string>();
    const auto want = run["prompt_ids"].get<std::vector<int32_t>>();
    EncodeOptions opts;
    opts.add_special = true;
    opts.parse_special = true;
    std::vector<int32_t> ids;
    ASSERT_TRUE(tok->Encode(prompt, opts, &ids).ok());
    EXPECT_EQ(ids, want) << prompt;
    // llama.cpp printed the generated text piece by piece: no leading-space stripping.
    const auto greedy = run["greedy_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok->Decode(greedy), run["greedy_text"].get<std::string>()) << prompt;
    std::string streamed;
    StreamDecoder dec(*tok, false);
    for (int32_t id : greedy) dec.Push(id, &streamed);
    dec.Flush(&streamed);
    EXPECT_EQ(streamed, run["greedy_text"].get<std::string>());
    ++runs;
  }
  EXPECT_GT(runs, 0);
  // Decoding a whole prompt (BOS first) keeps its text; without BOS, llama.cpp's detokenize
  // drops the space the tokenizer added at the start.
  std::vector<int32_t> ids;
  ASSERT_TRUE(tok->Encode("서울은 대한민국의", {}, &ids).ok());
  EXPECT_EQ(tok->Decode(ids, /*strip_leading_space=*/true), "서울은 대한민국의");
  EXPECT_EQ(tok->Decode(ids, false), " 서울은 대한민국의");
}

}  // namespace
}  // namespace ondo::tokenizer
