// `ondo tokenizer train|decode`: trains a (morpheme-aware) BPE vocabulary into a Hugging Face
// tokenizer.json, and decodes ids with any tokenizer.json ondo loads.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "examples/ondo/cli.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kTrainSynopsis =
    "ondo tokenizer train [--morph] --vocab N CORPUS.txt [MORE.txt ...] -o DIR_OR_FILE.json";
constexpr std::string_view kTrainSummary =
    "Trains a BPE vocabulary of N tokens (special, 256 byte tokens, base characters and merges)\n"
    "on the corpus files and writes a Hugging Face tokenizer.json (DIR/tokenizer.json, or the\n"
    "file itself when the name ends in .json). --morph cuts every word at Korean morpheme ends\n"
    "(ondo's analyzer), so no token crosses a morpheme boundary. Spaces become U+2581 on the\n"
    "piece after them; byte fallback covers everything else, so decode(encode(x)) == x.\n"
    "The file records ondo's pre-tokenizer under the key \"ondo\"; Hugging Face loads it too,\n"
    "without the morpheme cuts. Load it with `ondo tokenize --tokenizer FILE`.";
constexpr std::string_view kDecodeSynopsis =
    "ondo tokenizer decode --tokenizer tokenizer.json (--ids \"ID ID ...\" | ID ...)";
constexpr std::string_view kDecodeSummary =
    "Prints the text of the token ids (as `ondo tokenize` prints them), exactly, without a\n"
    "newline added.";

int TrainCommand(const std::vector<std::string>& args) {
  std::vector<std::string> corpus, special;
  std::string output, hangul = "all";
  int32_t vocab = 0;
  int64_t min_pair = 2;
  po::options_description options("options");
  options.add_options()("morph", "cut words at Korean morpheme ends (morpheme-aware BPE)")(
      "vocab", po::value(&vocab)->required()->value_name("N"), "vocabulary size (all tokens)")(
      "output,o", po::value(&output)->required()->value_name("PATH"),
      "output directory (writes tokenizer.json in it) or a .json file")(
      "corpus", po::value(&corpus)->value_name("FILE"), "training text files (also positional)")(
      "hangul", po::value(&hangul)->value_name("all|seen"),
      "all: every Hangul syllable in the base alphabet (default); seen: only the corpus's "
      "(needed below ~12,000 tokens; unseen syllables fall back to bytes)")(
      "min-pair-count", po::value(&min_pair)->value_name("N"), "stop below this pair count (2)")(
      "special", po::value(&special)->value_name("TEXT"),
      "one more special token after <pad> <s> </s> (repeatable, in order; e.g. a chat "
      "template's \"<|user|>\")")(
      "no-ondo-key",
      "write a plain Hugging Face file (no \"ondo\" key: Hugging Face and ondo "
      "then split text the same way, without morpheme cuts)");
  po::variables_map vm;
  if (int rc =
          ParseArgs("tokenizer train", kTrainSynopsis, kTrainSummary, options, args, &vm, "corpus");
      rc >= 0) {
    return rc;
  }
  if (corpus.empty()) return UsageError("tokenizer train", "no corpus files");
  if (hangul != "all" && hangul != "seen") {
    return UsageError("tokenizer train", "--hangul must be 'all' or 'seen'");
  }
  tokenizer::BpeTrainerOptions opt;
  opt.vocab_size = vocab;
  opt.morph = vm.count("morph") != 0;
  opt.full_hangul = hangul == "all";
  opt.min_pair_count = min_pair;
  for (const std::string& t : special) {
    if (t.empty() || std::find(opt.special_tokens.begin(), opt.special_tokens.end(), t) !=
                         opt.special_tokens.end()) {
      return UsageError("tokenizer train", fmt::format("--special '{}' is empty or repeated", t));
    }
    opt.special_tokens.push_back(t);
  }
  std::unique_ptr<tokenizer::BpeTrainer> trainer;
  if (Status s = tokenizer::BpeTrainer::Create(opt, &trainer); !s.ok()) return Error(s);
  std::string text;
  size_t total_bytes = 0;
  for (const std::string& path : corpus) {
    if (Status s = ReadFile(path, &text); !s.ok()) return Error(s);
    total_bytes += text.size();
    if (Status s = trainer->AddText(text); !s.ok()) {
      return Error(fmt::format("{}: {}", path, s.message()));
    }
  }
  text = {};
  tokenizer::TrainedBpe bpe;
  if (Status s = trainer->Train(&bpe); !s.ok()) return Error(s);
  const std::string json = tokenizer::TrainedBpeToHfJson(bpe, vm.count("no-ondo-key") == 0);

  std::string path = output;
  if (path.size() < 5 || path.compare(path.size() - 5, 5, ".json") != 0) {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error(fmt::format("cannot create directory '{}'", path));
    }
    path += "/tokenizer.json";
  }
  std::ofstream out(path, std::ios::binary);
  out.write(json.data(), static_cast<std::streamsize>(json.size()));
  out.close();
  if (!out) return Error(fmt::format("cannot write '{}'", path));

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print(stderr,
             "trained {} BPE: {} tokens ({} special, 256 bytes, {} characters, {} merges)\n"
             "corpus: {} file(s), {}, {} pieces ({} distinct)\n"
             "time: split {:.2f} s, merges {:.2f} s; peak memory {}\n"
             "wrote {}\n",
             opt.morph ? "morpheme-aware" : "plain", bpe.tokens.size(), bpe.n_special,
             bpe.n_base - bpe.n_special - 256, bpe.merges.size(), corpus.size(),
             HumanBytes(total_bytes), bpe.n_pieces, bpe.n_distinct_pieces, bpe.split_seconds,
             bpe.merge_seconds, HumanBytes(static_cast<unsigned long long>(ru.ru_maxrss) * 1024),
             path);
  return kExitOk;
}

int DecodeCommand(const std::vector<std::string>& args) {
  std::string json_path, ids_text;
  std::vector<std::string> id_args;
  po::options_description options("options");
  options.add_options()("tokenizer", po::value(&json_path)->required()->value_name("FILE"),
                        "tokenizer.json")("ids", po::value(&ids_text)->value_name("\"ID ID ...\""),
                                          "token ids separated by spaces")(
      "id", po::value(&id_args)->value_name("ID"), "token ids (also positional)");
  po::variables_map vm;
  if (int rc = ParseArgs("tokenizer decode", kDecodeSynopsis, kDecodeSummary, options, args, &vm, "id");
      rc >= 0) {
    return rc;
  }
  std::vector<int32_t> ids;
  std::istringstream ss(ids_text);
  std::vector<std::string> all(std::istream_iterator<std::string>(ss), {});
  all.insert(all.end(), id_args.begin(), id_args.end());
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (Status s = tokenizer::Tokenizer::FromHfJsonFile(json_path, &tok); !s.ok()) return Error(s);
  for (const std::string& a : all) {
    long v = -1;
    const auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), v);
    if (ec != std::errc() || end != a.data() + a.size() || v < 0 || v >= tok->n_vocab()) {
      return UsageError("tokenizer decode", fmt::format("bad token id '{}'", a));
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  const std::string text = tok->Decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
}

}  // namespace

int TokenizerCommand(const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "train") {
    return TrainCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args.size() >= 2 && args[1] == "decode") {
    return DecodeCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (args.size() >= 2 && (args[1] == "--help" || args[1] == "-h")) {
    fmt::print(
        "usage: ondo tokenizer <train|decode> [options]\n\n  {}\n  {}\n\n"
        "'ondo tokenizer train --help' and 'ondo tokenizer decode --help' list the options.\n",
        kTrainSynopsis, kDecodeSynopsis);
    return kExitOk;
  }
  return UsageError("tokenizer", "expected 'train' or 'decode'");
}

}  // namespace ondo::cli
