// `ondo tokenize`: token ids of a text, from a GGUF vocabulary or a Hugging Face tokenizer.json.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "examples/ondo/cli.h"
#include "runtime/chat_template.h"
#include "runtime/gguf.h"
#include "runtime/ondo_format.h"
#include "runtime/vocab_from_gguf.h"
#include "tokenizer/tokenizer.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kSynopsis =
    "ondo tokenize (-m MODEL | --tokenizer tokenizer.json) (-p TEXT | --jsonl FILE) [options]";
constexpr std::string_view kSummary =
    "Prints the token ids of TEXT separated by spaces, or, with --jsonl, reads lines\n"
    "{\"text\": ...} and writes lines {\"text\": ..., \"ids\": [...]}. No BOS unless --bos.\n"
    "MODEL may be any GGUF file with a vocabulary (weights are not needed).";

// Only the vocabulary is read from a GGUF, so vocabulary-only files work too.
Status LoadTokenizer(const std::string& model_path, const std::string& json_path,
                     std::unique_ptr<tokenizer::Tokenizer>* out) {
  if (!json_path.empty()) return tokenizer::Tokenizer::FromHfJsonFile(json_path, out);
  std::unique_ptr<runtime::GgufFile> gguf;
  ONDO_RETURN_IF_ERROR(runtime::OpenModelFile(model_path, &gguf));
  tokenizer::VocabSpec spec;
  ONDO_RETURN_IF_ERROR(runtime::VocabSpecFromGguf(*gguf, &spec));
  return tokenizer::Tokenizer::Create(std::move(spec), out);
}

Status Encode(const tokenizer::Tokenizer& tok, std::string_view text, bool bos, bool special,
              std::vector<int32_t>* ids) {
  ids->clear();
  ONDO_RETURN_IF_ERROR(runtime::CheckUtf8(text, "the text"));
  if (bos) {
    const int32_t bos_id = tok.spec().bos_id;
    if (bos_id < 0 || bos_id >= tok.n_vocab()) return InvalidArgument("--bos: the vocabulary has no BOS token");
    ids->push_back(bos_id);
  }
  tokenizer::EncodeOptions options;
  options.add_special = false;
  options.parse_special = special;
  return tok.Encode(text, options, ids);
}

}  // namespace

int TokenizeCommand(const std::vector<std::string>& args) {
  std::string model_path, json_path, text, jsonl_path;
  po::options_description options("options");
  options.add_options()
      ("model,m", po::value(&model_path)->value_name("FILE"), "GGUF file to take the vocabulary from")
      ("tokenizer", po::value(&json_path)->value_name("FILE"),
       "Hugging Face tokenizer.json (tokenizer_config.json beside it is read too)")
      ("prompt,p", po::value(&text)->value_name("TEXT"), "text to tokenize (UTF-8)")
      ("jsonl", po::value(&jsonl_path)->value_name("FILE"),
       "read {\"text\": ...} lines from FILE, write {\"text\": ..., \"ids\": [...]} lines")
      ("bos", "start with the BOS token")
      ("special", "parse special token text (e.g. <|im_end|>) into its id");
  po::variables_map vm;
  if (int rc = ParseArgs("tokenize", kSynopsis, kSummary, options, args, &vm); rc >= 0) return rc;
  if ((vm.count("model") != 0) == (vm.count("tokenizer") != 0)) {
    return UsageError("tokenize", "give exactly one of --model and --tokenizer");
  }
  if ((vm.count("prompt") != 0) == (vm.count("jsonl") != 0)) {
    return UsageError("tokenize", "give exactly one of --prompt and --jsonl");
  }
  const bool bos = vm.count("bos") != 0, special = vm.count("special") != 0;

  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (Status s = LoadTokenizer(model_path, json_path, &tok); !s.ok()) return Error(s);

  std::vector<int32_t> ids;
  if (vm.count("prompt") != 0) {
    if (Status s = Encode(*tok, text, bos, special, &ids); !s.ok()) return Error(s);
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) line += fmt::format("{}{}", i ? " " : "", ids[i]);
    fmt::print("{}\n", line);
    return kExitOk;
  }

  std::ifstream in(jsonl_path, std::ios::binary);
  if (!in) return Error(fmt::format("cannot open '{}'", jsonl_path));
  std::string line, out;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Error(fmt::format("{}:{}: not a JSON object", jsonl_path, line_no));
    }
    const auto it = j.find("text");
    if (it == j.end() || !it->is_string()) {
      return Error(fmt::format("{}:{}: no \"text\" string", jsonl_path, line_no));
    }
    const std::string& t = it->get_ref<const std::string&>();
    if (Status s = Encode(*tok, t, bos, special, &ids); !s.ok()) {
      return Error(fmt::format("{}:{}: {}", jsonl_path, line_no, s.message()));
    }
    nlohmann::ordered_json o;
    o["text"] = t;
    o["ids"] = ids;
    out = o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (in.bad()) return Error(fmt::format("error reading '{}'", jsonl_path));
  return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
}

}  // namespace ondo::cli
