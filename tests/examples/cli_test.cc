// The `ondo` program as scripts see it: exit codes (0 ok, 1 error, 2 usage), one
// "ondo: error: ..." line on stderr, `run --json`, `tokenize`, `inspect`.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/kernels.h"
#include "tests/examples/cli_runner.h"

namespace {

using ondo::test::ExpectOneErrorLine;
using ondo::test::Ondo;
using Result = ondo::test::CliResult;

const std::string kShared = ONDO_SHARED_DIR;
const std::string kModel = kShared + "/models/ko-mini-a.f16.gguf";

std::string TempPath(const std::string& name) { return ondo::test::CliTempPath(name); }

bool HaveModel() { return std::filesystem::exists(kModel); }

TEST(Cli, Help) {
  Result r = Ondo({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* cmd : {"run", "inspect", "tokenize"}) EXPECT_NE(r.out.find(cmd), std::string::npos);
  for (const char* cmd : {"run", "inspect", "tokenize"}) {
    r = Ondo({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: ondo "), std::string::npos) << cmd;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
  r = Ondo({"run", "--help"});
  for (const char* flag : {"--model", "--prompt", "--n-predict", "--ctx", "--threads", "--temp", "--top-k",
                           "--top-p", "--min-p", "--repeat-penalty", "--seed", "--chat", "--raw",
                           "--json", "--system"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  r = Ondo({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("ondo ", 0), 0u);
}

TEST(Cli, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"--bogus"},
           {"run", "--bogus", "-m", "x", "-p", "y"},
           {"run", "-m", "x.gguf"},                                // no --prompt
           {"run", "-m", "x.gguf", "-p", "y", "--chat", "--raw"},  // exclusive
           {"run", "-m", "x.gguf", "-p", "y", "--ctx", "abc"},
           {"run", "-m", "x.gguf", "-p", "y", "stray"},
           {"run", "-m", "x.gguf", "-p", "y", "--ctx-full", "wrap"},
           {"run", "-m", "x.gguf", "-p", "y", "--ctx-full", "slide", "--keep", "-1"},
           {"run", "-m", "x.gguf", "-p", "y", "--keep", "4"},     // --keep without slide
           {"run", "-m", "x.gguf", "-p", "y", "--ctx", "8", "--ctx-full", "slide", "--keep", "8"},
           {"run", "-m", "x.gguf", "-p", "y", "--kv-type", "q4"},
           {"run", "-m", "x.gguf", "-p", "y", "--spacing", "maybe"},
           {"bench", "-m", "x.gguf", "--kv-type", "f32"},
           {"inspect", "-m", "x.gguf", "--kv-type", "q8_1"},
           {"kld", "-m", "x.gguf", "--ref", "x.gguf", "-f", "t", "--kv-type", "bf16"},
           {"perplexity", "-m", "x.gguf", "-f", "t", "--kv-type", ""},
           {"tokenize", "-p", "y"},                                // no vocabulary
           {"tokenize", "-m", "x", "--tokenizer", "y", "-p", "z"},
           {"inspect"},
       }) {
    Result r = Ondo(args);
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined << "\n" << r.err;
    if (!args.empty()) ExpectOneErrorLine(r);
    EXPECT_TRUE(r.out.empty()) << joined << r.out;
  }
}

TEST(Cli, MissingFileAndBadModel) {
  Result r = Ondo({"run", "-m", "/nonexistent/nope.gguf", "-p", "안녕"});
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("nope.gguf"), std::string::npos) << r.err;

  const std::string junk = TempPath("junk.gguf");
  { std::ofstream(junk) << "GGUF but not really a model file at all"; }
  for (const char* cmd : {"run", "inspect"}) {
    std::vector<std::string> args = {cmd, "-m", junk};
    if (std::string(cmd) == "run") args.insert(args.end(), {"-p", "x"});
    r = Ondo(args);
    EXPECT_EQ(r.code, 1) << cmd;
    ExpectOneErrorLine(r);
  }
  r = Ondo({"tokenize", "--tokenizer", "/nonexistent/tokenizer.json", "-p", "x"});
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r);
  std::filesystem::remove(junk);
}

TEST(Cli, InvalidUtf8Prompt) {
  // Checked before the model is opened, so no model file is needed.
  Result r = Ondo({"run", "-m", kModel, "-p", "abc\xFF"});
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("UTF-8"), std::string::npos) << r.err;
}

// --ctx-full: stop ends with finish reason context exactly at capacity and refuses a longer
// prompt; slide runs past the context and accepts a longer prompt.
TEST(Cli, ContextFull) {
  Result r = Ondo({"run", "--help"});
  for (const char* flag : {"--ctx-full", "--keep"}) EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  const std::string prompt = "<|user|>12시 땡!<|assistant|>";  // 10 tokens
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", "-m", kModel, "-p", prompt, "--temp", "0", "--raw", "--json",
                                     "-t", "2", "--ctx", "16"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ondo(args);
  };
  r = run({"-n", "-1", "--ctx-full", "stop"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  // Greedy ids are kGreedyIds below: the 7th is sampled from the full context, before the end token.
  EXPECT_EQ(j["finish_reason"].get<std::string>(), "context");
  EXPECT_EQ(j["ids"].size(), 16u - 10u + 1u);
  // Greedy, this prompt reaches the 16th position before its end token: slide goes on.
  r = run({"-n", "40", "--ctx-full", "slide", "--keep", "4"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_NE(j["finish_reason"].get<std::string>(), "context");

  // A prompt longer than the context: an error naming both numbers, unless slide is on.
  r = Ondo({"run", "-m", kModel, "-p", prompt, "--raw", "--json", "-t", "2", "--ctx", "8", "-n", "4"});
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("10 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("holds 8"), std::string::npos) << r.err;
  r = Ondo({"run", "-m", kModel, "-p", prompt, "--raw", "--json", "-t", "2", "--ctx", "8", "-n", "4",
            "--ctx-full", "slide", "--keep", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_GE(j["ids"].size(), 1u);
}

// ko-mini-a.f16.ref.json, first run (llama.cpp greedy).
const std::vector<int32_t> kPromptIds = {1, 3, 2905, 2977, 3003, 2936, 2905, 3841, 3137, 4};
const std::vector<int32_t> kGreedyIds = {2917, 3074, 1310, 2739, 449, 1520, 2906, 2};
const std::string kGreedyText = "아직 마음의 준비가 필요하겠어요.";

TEST(Cli, RunJson) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  Result r = Ondo({"run", "-m", kModel, "-p", "<|user|>12시 땡!<|assistant|>", "-n", "32", "--temp", "0",
                   "--raw", "--json", "-t", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  // Exactly one JSON object, on one line.
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1);
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys.size(), 8u);
  EXPECT_EQ(j["prompt_ids"].get<std::vector<int32_t>>(), kPromptIds);
  EXPECT_EQ(j["ids"].get<std::vector<int32_t>>(), kGreedyIds);
  EXPECT_EQ(j["text"].get<std::string>(), kGreedyText);
  EXPECT_EQ(j["finish_reason"].get<std::string>(), "stop");
  EXPECT_GT(j["prompt_tok_s"].get<double>(), 0.0);
  EXPECT_GE(j["decode_tok_s"].get<double>(), 0.0);
  EXPECT_GE(j["load_s"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 0u);
  // One timing line on stderr.
  EXPECT_NE(r.err.find("tok/s"), std::string::npos);
  EXPECT_NE(r.err.find("peak RSS"), std::string::npos);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;

  // A length limit.
  r = Ondo({"run", "-m", kModel, "-p", "<|user|>12시 땡!<|assistant|>", "-n", "3", "--temp", "0", "--raw", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json k = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(k["ids"].size(), 3u);
  EXPECT_EQ(k["finish_reason"].get<std::string>(), "length");
}

TEST(Cli, RunLoopStopAndScriptOptions) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  // llama.cpp's greedy continuation of this raw prompt repeats " 1일," until the budget ends.
  Result r = Ondo({"run", "-m", kModel, "-p", "서울은 대한민국의", "-n", "64", "--temp", "0",
                   "--raw", "--json", "--loop-stop", "on"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(j["finish_reason"].get<std::string>(), "loop");
  EXPECT_LT(j["ids"].size(), 32u);
  r = Ondo({"run", "-m", kModel, "-p", "서울은 대한민국의", "-n", "64", "--temp", "0", "--raw", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(j["finish_reason"].get<std::string>(), "length");  // --raw: loop stop off
  EXPECT_EQ(j["ids"].size(), 64u);
  r = Ondo({"run", "-m", kModel, "-p", "x", "--script", "cyrillic"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--script cyrillic"), std::string::npos) << r.err;
  r = Ondo({"run", "-m", kModel, "-p", "x", "--loop-stop", "maybe"});
  EXPECT_EQ(r.code, 2);
}

TEST(Cli, RunStreamsWithChatTemplate) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  // ko-mini-a has no template text; the format comes from its <|user|>/<|assistant|> tokens.
  Result r = Ondo({"run", "-m", kModel, "-p", "12시 땡!", "--temp", "0", "-n", "32"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, kGreedyText + "\n");
  r = Ondo({"run", "-m", kModel, "-p", "12시 땡!", "--temp", "0", "-n", "32", "--chat"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, kGreedyText + "\n");
  // ko-mini has no system role.
  r = Ondo({"run", "-m", kModel, "-p", "12시 땡!", "--system", "x"});
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r);
}

TEST(Cli, PromptLongerThanContext) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  Result r = Ondo({"run", "-m", kModel, "-p", "<|user|>12시 땡!<|assistant|>", "--raw", "--ctx", "4"});
  EXPECT_EQ(r.code, 1);
  ExpectOneErrorLine(r);
  EXPECT_NE(r.err.find("10"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("4"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, TokenizeModel) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  Result r = Ondo({"tokenize", "-m", kModel, "-p", "<|user|>12시 땡!<|assistant|>", "--special"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "3 2905 2977 3003 2936 2905 3841 3137 4\n");
  r = Ondo({"tokenize", "-m", kModel, "-p", "<|user|>12시 땡!<|assistant|>", "--special", "--bos"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "1 3 2905 2977 3003 2936 2905 3841 3137 4\n");
  // Control tokens (</s>) need --special; user-defined ones (<|user|>) are always parsed, as
  // in llama.cpp.
  r = Ondo({"tokenize", "-m", kModel, "-p", "</s>"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out, "2\n");
  r = Ondo({"tokenize", "-m", kModel, "-p", "</s>", "--special"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "2\n");
}

TEST(Cli, TokenizeJsonlMatchesHuggingFace) {
  const std::string dir = kShared + "/tokenizers/hf/qwen3";
  if (!std::filesystem::exists(dir + "/korean.jsonl")) GTEST_SKIP() << "no " << dir;
  // The first lines of the reference file, texts only.
  std::ifstream ref(dir + "/korean.jsonl");
  const std::string input = TempPath("in.jsonl");
  std::vector<nlohmann::json> expected;
  {
    std::ofstream in(input);
    std::string line;
    while (expected.size() < 50 && std::getline(ref, line)) {
      nlohmann::json j = nlohmann::json::parse(line);
      in << nlohmann::json{{"text", j["text"]}}.dump() << "\n";
      expected.push_back(j);
    }
  }
  Result r = Ondo({"tokenize", "--tokenizer", dir + "/tokenizer.json", "--jsonl", input});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream out(r.out);
  std::string line;
  size_t n = 0;
  for (; std::getline(out, line); ++n) {
    ASSERT_LT(n, expected.size());
    EXPECT_EQ(line.rfind("{\"text\":", 0), 0u) << line;  // text first, then ids
    const nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_EQ(j["text"], expected[n]["text"]);
    EXPECT_EQ(j["ids"], expected[n]["ids"]) << j["text"];
  }
  EXPECT_EQ(n, expected.size());

  // A broken line is an error naming the line.
  { std::ofstream(input) << "{\"text\": \"ok\"}\nnot json\n"; }
  r = Ondo({"tokenize", "--tokenizer", dir + "/tokenizer.json", "--jsonl", input});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(":2:"), std::string::npos) << r.err;
  std::filesystem::remove(input);
}

TEST(Cli, Inspect) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  Result r = Ondo({"inspect", "-m", kModel, "--ctx", "256"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"general.architecture", "tokenizer.ggml.model", "token_embd.weight", "F16",
                        "arch llama", "n_head_kv 2", "chat template ko-mini", "KV cache", "scratch",
                        "weights", "rope scaling linear, frequency factors (rope_freqs) no"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
  // The kernel set in use, which ONDO_CPU can lower.
  EXPECT_NE(r.out.find(std::string("  kernels ") + ondo::kernels::ActiveIsa() + " (CPU features: "), std::string::npos)
      << r.out;
  // 2 (K and V) x 6 layers x 2 KV heads x 32 dims x 256 positions x 2 bytes.
  EXPECT_NE(r.out.find("393216 bytes"), std::string::npos) << r.out;
}


TEST(Cli, MemBudget) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  // Too small: one error line naming every figure and where the budget came from.
  Result r = Ondo({"run", "-m", kModel, "-p", "안녕", "--ctx", "64", "--mem-budget", "1K"});
  EXPECT_EQ(r.code, 1) << r.err;
  ExpectOneErrorLine(r);
  for (const char* s : {"memory budget", "weights ", "KV cache ", "scratch ", "total ", "budget 1024 bytes",
                        "--mem-budget"}) {
    EXPECT_NE(r.err.find(s), std::string::npos) << s << " in: " << r.err;
  }
  EXPECT_TRUE(r.out.empty()) << r.out;
  r = Ondo({"bench", "-m", kModel, "-p", "8", "-n", "2", "-r", "1", "--mem-budget", "1K"});
  EXPECT_EQ(r.code, 1) << r.err;
  ExpectOneErrorLine(r);
  // Malformed sizes are usage errors.
  for (const char* bad : {"0", "12X", "-5M"}) {
    r = Ondo({"run", "-m", kModel, "-p", "x", "--mem-budget", bad});
    EXPECT_EQ(r.code, 2) << bad << ": " << r.err;
  }
  // Enough (the process's own share counts: a sanitizer build holds ~60 MiB more): runs, and
  // --verbose prints the plan on stderr.
  r = Ondo({"run", "-m", kModel, "-p", "안녕", "--ctx", "64", "-n", "2", "--mem-budget", "256M", "--verbose"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* s : {"memory plan", "weights ", "KV cache ", "scratch ", "process ", "total ", "budget ",
                        "268435456 bytes", "fits"}) {
    EXPECT_NE(r.err.find(s), std::string::npos) << s << " in: " << r.err;
  }
  // Without --mem-budget: the default (cgroup limit or physical RAM) is named.
  r = Ondo({"run", "-m", kModel, "-p", "안녕", "--ctx", "64", "-n", "1", "--verbose"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.find("physical RAM") != std::string::npos || r.err.find("cgroup v") != std::string::npos)
      << r.err;
}

TEST(Cli, InspectPrintsThePlanAgainstTheBudget) {
  if (!HaveModel()) GTEST_SKIP() << "no " << kModel;
  Result r = Ondo({"inspect", "-m", kModel, "--ctx", "64", "--mem-budget", "1M"});
  ASSERT_EQ(r.code, 0) << r.err;
  // 2 x 6 layers x 2 KV heads x 32 dims x 64 positions x 2 bytes.
  for (const char* s : {"n_ctx 64", "98304 bytes", "resident", "scratch ", "total ", "budget ",
                        "1048576 bytes", "DOES NOT FIT"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " in: " << r.out;
  }
  r = Ondo({"inspect", "-m", kModel, "--ctx", "64", "--mem-budget", "1G"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("fits, "), std::string::npos) << r.out;
  EXPECT_EQ(Ondo({"inspect", "-m", kModel, "--mem-budget", "lots"}).code, 2);
}

}  // namespace
