// `ondo morph`: Korean morpheme analysis of stdin (one eojeol per output line, form/TAG+...),
// or an evaluation against a CoNLL-U file (--eval) with precision, recall, F1, tag accuracy and
// speed.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "examples/ondo/cli.h"
#include "tokenizer/korean/analyzer.h"
#include "tokenizer/korean/eval.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kSynopsis = "ondo morph [--eval FILE.conllu [--json]] [options]";
constexpr std::string_view kSummary =
    "Without --eval: reads Korean text on stdin and prints one eojeol per line as\n"
    "form/TAG+form/TAG (Sejong tags). With --eval: analyses every sentence of a CoNLL-U file\n"
    "(LEMMA = gold morphemes joined by '+', XPOS = their tags) and prints precision, recall,\n"
    "F1 (LCS of morpheme forms per eojeol), tag accuracy and characters per second (1 thread).";

}  // namespace

int MorphCommand(const std::vector<std::string>& args) {
  std::string eval_path, errors_path, text, data_dir;
  std::vector<std::string> param_specs;
  int passes = 3;
  po::options_description options("options");
  options.add_options()("eval", po::value(&eval_path)->value_name("FILE"),
                        "evaluate on a CoNLL-U file")("json", "with --eval: print one JSON object")(
      "prompt,p", po::value(&text)->value_name("TEXT"), "analyse TEXT instead of stdin")(
      "canonical",
      "write 아/어 endings canonically (했다 -> 하+었+다; default: 하+았+다 as in UD GSD)")(
      "lenient", "accept mismatched particle allomorphs (사과을), marked with '!' after the tag")(
      "offsets", "also print each morpheme's byte range in the line ([begin,end) or -)")(
      "canon-endings", "with --eval: compare 아/어 endings in their 어 form (KLUE-style gold)")(
      "passes", po::value(&passes)->value_name("N"), "with --eval: timing passes (default 3)")(
      "errors", po::value(&errors_path)->value_name("FILE"),
      "with --eval: write every eojeol whose analysis differs from the gold one to FILE")(
      "data", po::value(&data_dir)->value_name("DIR"),
      "load hunspell_ko_stems.z and klue_stats.z from DIR instead of the built-in data")(
      "param", po::value(&param_specs)->value_name("NAME=VALUE"),
      "override an analyzer cost parameter (development; repeatable)");
  po::variables_map vm;
  if (int rc = ParseArgs("morph", kSynopsis, kSummary, options, args, &vm); rc >= 0) return rc;
  if (vm.count("json") != 0 && eval_path.empty()) return UsageError("morph", "--json needs --eval");
  if (passes < 0) return UsageError("morph", "--passes must be >= 0");

  std::vector<std::pair<std::string, float>> params;
  for (const std::string& spec : param_specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos)
      return UsageError("morph", fmt::format("--param '{}': expected NAME=VALUE", spec));
    try {
      params.emplace_back(spec.substr(0, eq), std::stof(spec.substr(eq + 1)));
    } catch (const std::exception&) {
      return UsageError("morph", fmt::format("--param '{}': bad number", spec));
    }
  }
  std::unique_ptr<korean::Analyzer> analyzer;
  if (data_dir.empty() && params.empty()) {
    if (Status s = korean::Analyzer::Create(&analyzer); !s.ok()) return Error(s);
  } else if (data_dir.empty()) {
    if (Status s = korean::Analyzer::CreateWithParams(params, &analyzer); !s.ok()) return Error(s);
  } else {
    std::string blobs[2];
    const char* names[2] = {"hunspell_ko_stems.z", "klue_stats.z"};
    for (int i = 0; i < 2; ++i) {
      const std::string path = data_dir + "/" + names[i];
      if (Status s = ReadFile(path, &blobs[i]); !s.ok()) return Error(s);
    }
    if (Status s = korean::Analyzer::CreateFromData(blobs[0], blobs[1], params, &analyzer);
        !s.ok()) {
      return Error(s);
    }
  }

  if (!eval_path.empty()) {
    std::string conllu;
    if (Status s = ReadFile(eval_path, &conllu); !s.ok()) return Error(s);
    std::vector<korean::GoldSentence> gold;
    if (Status s = korean::ParseConllu(conllu, &gold); !s.ok()) {
      return Error(fmt::format("{}: {}", eval_path, s.message()));
    }
    korean::EvalOptions eo;
    eo.timing_passes = passes;
    eo.canonical_endings = vm.count("canon-endings") != 0;
    std::ofstream errors;
    if (!errors_path.empty()) {
      errors.open(errors_path, std::ios::binary);
      if (!errors) return Error(fmt::format("cannot write '{}'", errors_path));
      eo.on_eojeol = [&](const korean::GoldEojeol& g, const std::string& pred, size_t lcs) {
        std::string gs;
        for (size_t i = 0; i < g.morphemes.size(); ++i) {
          if (i) gs += '+';
          gs += g.morphemes[i].form + "/" + g.morphemes[i].tag;
        }
        if (gs != pred) errors << g.form << '\t' << gs << '\t' << pred << '\t' << lcs << '\n';
      };
    }
    korean::EvalResult r;
    if (Status s = korean::Evaluate(*analyzer, gold, eo, &r); !s.ok()) return Error(s);
    if (vm.count("json") != 0) {
      nlohmann::ordered_json j;
      j["precision"] = r.precision;
      j["recall"] = r.recall;
      j["f1"] = r.f1;
      j["tag_accuracy"] = r.tag_accuracy;
      j["chars_per_s"] = r.chars_per_s;
      fmt::print("{}\n", j.dump());
    } else {
      fmt::print("{}: {} sentences, {} eojeols, {} characters\n", eval_path, r.n_sentences,
                 r.n_eojeols, r.n_chars);
      fmt::print("morphemes: predicted {}, gold {}, matched (LCS) {}\n", r.n_pred, r.n_gold,
                 r.n_lcs);
      fmt::print("precision {:.4f}  recall {:.4f}  F1 {:.4f}  tag accuracy {:.4f}\n", r.precision,
                 r.recall, r.f1, r.tag_accuracy);
      if (passes > 0) {
        fmt::print("speed {:.0f} characters/s (1 thread, fastest of {} passes: {:.3f} s)\n",
                   r.chars_per_s, passes, r.seconds);
      }
    }
    return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
  }

  const bool offsets = vm.count("offsets") != 0;
  korean::AnalyzeOptions ao;
  ao.canonical_endings = vm.count("canonical") != 0;
  ao.lenient_particles = vm.count("lenient") != 0;
  korean::Analysis a;
  std::string out;
  auto analyse = [&](const std::string& line) -> int {
    if (Status s = analyzer->Analyze(line, ao, &a); !s.ok()) return Error(s);
    out.clear();
    for (size_t i = 0; i < a.eojeols.size(); ++i) {
      if (ao.lenient_particles) {
        const korean::Eojeol& e = a.eojeols[i];
        for (uint32_t k = 0; k < e.morph_count; ++k) {
          const korean::Morpheme& m = a.morphemes[e.morph_begin + k];
          if (k) out += '+';
          out += a.Form(m);
          out += '/';
          out += korean::TagName(m.tag);
          if (m.wrong_allomorph) out += '!';
        }
      } else {
        out += a.Format(i);
      }
      if (offsets) {
        const korean::Eojeol& e = a.eojeols[i];
        out += '\t';
        for (uint32_t k = 0; k < e.morph_count; ++k) {
          const korean::Morpheme& m = a.morphemes[e.morph_begin + k];
          if (k) out += ' ';
          out += m.begin >= 0 ? fmt::format("[{},{})", m.begin, m.end) : std::string("-");
        }
      }
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return kExitOk;
  };
  if (vm.count("prompt") != 0) {
    if (int rc = analyse(text); rc != kExitOk) return rc;
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (int rc = analyse(line); rc != kExitOk) return rc;
    }
    if (std::cin.bad()) return Error("error reading stdin");
  }
  return std::fflush(stdout) == 0 ? kExitOk : Error("cannot write to stdout");
}

}  // namespace ondo::cli
