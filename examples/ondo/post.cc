// `ondo post`: the Korean post-processor on stdin (one output line per input line) or -p TEXT,
// and its evaluation on gold corpora (--eval FILE, CoNLL-U or KLUE dp TSV).
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
#include "tokenizer/korean/post/post_eval.h"
#include "tokenizer/korean/post/post_processor.h"
#include "tokenizer/korean/post/spacing.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kSynopsis =
    "ondo post [-p TEXT] [--explain] [--spacing on|off|auto]\n"
    "          [--eval FILE | --eval-text FILE [--part P] [--table] [--json]]\n"
    "          [--eval-spacing FILE [--part P]]";
constexpr std::string_view kSummary =
    "Post-processes Korean text: punctuation (no space before . , ! ? ;, loops of marks\n"
    "collapsed, stray brackets removed), repetition (repeated sentences, clauses and eojeol\n"
    "runs, character loops), particle allomorphs after their host (은/는 이/가\n"
    "을/를 와/과 아/야 (이)나 (이)랑 (이)라고 (이)며 (이)여 (으)로; digits in Sino-Korean, Latin\n"
    "words and acronyms by pronunciation). Reads stdin and writes exactly one line per input\n"
    "line (lines are independent texts). With --eval: measures (a) changes on clean text and\n"
    "(b) errors fixed on a corrupted copy generated with --seed; FILE is UD CoNLL-U or KLUE dp,\n"
    "--eval-text takes plain sentences (one a line). --part evaluates the tuning or the held-out\n"
    "half of a fixed split (a hash of each sentence); --table prints source x part.\n"
    "--spacing restores word spacing (밥먹었어 -> 밥 먹었어, 학 교에 -> 학교에) first; auto (the\n"
    "default) is on only when the held-out measurement meets its targets (not yet: off).\n"
    "--eval-spacing measures spacing restoration on FILE (CoNLL-U '# text =' lines, or one\n"
    "sentence per line): spaces removed (30%) and inserted (5% of eojeols) at random, and the\n"
    "clean sentences; there --part takes the even (tune) or odd (held-out, the default)\n"
    "sentences of each file.";

// The sentences of a file for --eval-spacing: the '# text = ' lines of a CoNLL-U file, or
// every non-empty line of a plain text file.
std::vector<std::string> SpacingSentences(const std::string& data) {
  std::vector<std::string> conllu, plain;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.rfind("# text = ", 0) == 0) {
      conllu.push_back(line.substr(9));
    } else if (!line.empty() && line[0] != '#' && line.find('\t') == std::string::npos) {
      plain.push_back(line);
    }
  }
  return conllu.empty() ? plain : conllu;
}

void WriteSpacingDiff(void* user, std::string_view kind, const std::string& input,
                      const std::string& gold, const std::string& output) {
  std::ofstream& f = *static_cast<std::ofstream*>(user);
  f << kind << "\n  in:  " << input << "\n  exp: " << gold << "\n  out: " << output << "\n";
}

void PrintChanges(const korean::PostProcessor& pp) {
  for (const korean::PostChange& c : pp.changes()) {
    fmt::print(stderr, "  {}: '{}' -> '{}'\n", korean::ChangeKindName(c.kind), c.before, c.after);
  }
}

}  // namespace

int PostCommand(const std::vector<std::string>& args) {
  std::string text, failures_path;
  std::vector<std::string> eval_paths, text_paths, spacing_paths;
  std::string part_name;  // --part; default: all for --eval, held-out for --eval-spacing
  unsigned long long seed = 20261125;
  std::string spacing = "auto";
  korean::SpacingOptions sp_options;
  std::string spacing_model_path, spacing_tags_path;
  po::options_description options("options");
  options.add_options()("prompt,p", po::value(&text)->value_name("TEXT"),
                        "process TEXT instead of stdin")("explain", "print every change on stderr")(
      "eval", po::value(&eval_paths)->value_name("FILE"),
      "evaluate on a gold file (repeatable; the figures are summed)")(
      "eval-text", po::value(&text_paths)->value_name("FILE[,FILE...]"),
      "evaluate on plain clean text, one sentence a line (Kiwi benchmark sets; particle sites "
      "from the analyzer's reading); the files of one argument form one source, named by an "
      "optional NAME= prefix")(
      "part", po::value(&part_name)->value_name("all|tune|held-out"),
      "with --eval: only the tuning or the held-out part (split by a hash of each sentence; "
      "default all); with --eval-spacing: the even (tune) or odd (held-out, default) sentences")(
      "table", "with --eval: print a table of source x part (tune, held-out)")(
      "json", "with --eval: print one JSON object")(
      "seed", po::value(&seed)->value_name("N"), "with --eval: corruption seed (default 20261125)")(
      "failures", po::value(&failures_path)->value_name("FILE"),
      "with --eval: write every case whose output differs from the expected one to FILE")(
      "spacing", po::value(&spacing)->value_name("on|off|auto"),
      "restore word spacing (default auto: on only if the held-out measurement met its targets; it "
      "does not yet, so auto is off)")(
      "eval-spacing", po::value(&spacing_paths)->value_name("FILE"),
      "measure spacing restoration on FILE (repeatable; the figures are summed)")(
      "space-cost", po::value(&sp_options.space_cost)->value_name("NATS"),
      "spacing: cost of every space (development)")(
      "insert-cost", po::value(&sp_options.insert_cost)->value_name("NATS"),
      "spacing: cost of a space added (development)")(
      "insert-mark-cost", po::value(&sp_options.insert_after_mark_cost)->value_name("NATS"),
      "spacing: cost of a space added after a mark (development)")(
      "remove-cost", po::value(&sp_options.remove_cost)->value_name("NATS"),
      "spacing: cost of a space removed (development)")(
      "attached-cost", po::value(&sp_options.attached_cost)->value_name("NATS"),
      "spacing: cost of a word attached after a particle or ending (development)")(
      "model-weight", po::value(&sp_options.model_weight)->value_name("W"),
      "spacing: weight of the trained spacing model, 0 = lattice only (development)")(
      "long-run-chars", po::value(&sp_options.long_run_chars)->value_name("N"),
      "spacing: runs without a space longer than N characters get cheaper spaces (development)")(
      "long-run-bonus", po::value(&sp_options.long_run_bonus)->value_name("NATS"),
      "spacing: insert cost taken off per character beyond --long-run-chars (development)")(
      "tag-space-weight", po::value(&sp_options.tag_space_weight)->value_name("W"),
      "spacing: weight of -log P(space | tags) between eojeols (development)")(
      "tag-joined-weight", po::value(&sp_options.tag_joined_weight)->value_name("W"),
      "spacing: weight of -log P(no space | tags) inside an eojeol (development)")(
      "tag-margin", po::value(&sp_options.tag_margin)->value_name("NATS"),
      "spacing: only -log P beyond this margin is charged for the tag costs (development)")(
      "spacing-tags", po::value(&spacing_tags_path)->value_name("FILE"),
      "spacing: tag statistics in the format of build_spacing_tags.py instead of the embedded "
      "ones (development)")(
      "spacing-model", po::value(&spacing_model_path)->value_name("FILE"),
      "spacing: a spacing model file of build_spacing.py instead of the embedded one "
      "(development)");
  po::variables_map vm;
  if (int rc = ParseArgs("post", kSynopsis, kSummary, options, args, &vm); rc >= 0) return rc;
  const bool explain = vm.count("explain") != 0;
  if ((vm.count("json") != 0 || vm.count("table") != 0) && eval_paths.empty() &&
      text_paths.empty()) {
    return UsageError("post", "--json and --table need --eval or --eval-text");
  }
  if (spacing != "on" && spacing != "off" && spacing != "auto") {
    return UsageError("post", fmt::format("--spacing {} is not one of on, off, auto", spacing));
  }
  if (!part_name.empty() && part_name != "tune" && part_name != "held-out" && part_name != "all") {
    return UsageError("post", fmt::format("--part {} is not one of all, tune, held-out", part_name));
  }

  const korean::Analyzer* analyzer = nullptr;
  if (Status s = korean::Analyzer::Shared(&analyzer); !s.ok()) return Error(s);
  std::unique_ptr<korean::SpacingModel> spacing_model;
  if (!spacing_model_path.empty()) {
    std::string blob;
    if (Status s = ReadFile(spacing_model_path, &blob); !s.ok()) return Error(s);
    if (Status s = korean::SpacingModel::Create(blob, &spacing_model); !s.ok()) {
      return Error(s);
    }
    sp_options.model = spacing_model.get();
  }
  std::unique_ptr<korean::SpacingTagStats> spacing_tags;
  if (!spacing_tags_path.empty()) {
    std::string tsv;
    if (Status s = ReadFile(spacing_tags_path, &tsv); !s.ok()) return Error(s);
    if (Status s = korean::SpacingTagStats::Create(tsv, &spacing_tags); !s.ok()) {
      return Error(s);
    }
    sp_options.tag_stats = spacing_tags.get();
  }
  if (!spacing_paths.empty()) {
    const std::string part = part_name.empty() ? std::string("held-out") : part_name;
    std::unique_ptr<korean::Spacer> spacer;
    if (Status s = korean::Spacer::Create(analyzer, sp_options, &spacer); !s.ok()) {
      return Error(s);
    }
    std::ofstream failures;
    if (!failures_path.empty()) {
      failures.open(failures_path);
      if (!failures) return Error(fmt::format("cannot write '{}'", failures_path));
    }
    korean::SpacingEvalOptions eo;
    if (vm.count("seed") != 0) eo.seed = seed;
    fmt::print(
        "spacing restoration, part {}, seed {}; costs space {} insert {} remove {} attached {}, "
        "model weight {}, tag weights {} {} margin {}\n",
        part, eo.seed, sp_options.space_cost, sp_options.insert_cost, sp_options.remove_cost,
        sp_options.attached_cost, sp_options.model_weight, sp_options.tag_space_weight,
        sp_options.tag_joined_weight, sp_options.tag_margin);
    fmt::print("{:<28} {:>6} {:>7} {:>14} {:>14} {:>10} {:>14} {:>8}\n", "file", "sents",
               "eojeols", "removed fixed", "inserted fixed", "restored", "clean changed", "chars/s");
    korean::SpacingEvalResult total;
    auto pct = [](size_t a, size_t b) { return b ? 100.0 * static_cast<double>(a) / b : 0.0; };
    auto row = [&](const std::string& name, const korean::SpacingEvalResult& r) {
      fmt::print("{:<28} {:>6} {:>7} {:>6}/{:<6} {:>6}/{:<6} {:>9.2f}% {:>5} ({:.3f}%) {:>8.0f}\n",
                 name, r.sentences, r.eojeols, r.removed_restored, r.removed, r.inserted_restored,
                 r.inserted, pct(r.removed_restored + r.inserted_restored, r.removed + r.inserted),
                 r.clean_changed_eojeols, pct(r.clean_changed_eojeols, r.eojeols),
                 r.seconds > 0 ? static_cast<double>(r.chars) / r.seconds : 0.0);
    };
    for (const std::string& path : spacing_paths) {
      std::string text;
      if (Status s = ReadFile(path, &text); !s.ok()) return Error(s);
      const std::vector<std::string> all = SpacingSentences(text);
      std::vector<std::string> sentences;
      for (size_t i = 0; i < all.size(); ++i) {
        if (part == "all" || (part == "tune") == (i % 2 == 0)) sentences.push_back(all[i]);
      }
      korean::SpacingEvalResult r;
      if (Status s = korean::EvaluateSpacing(spacer.get(), sentences, eo, &r,
                                             failures.is_open() ? &WriteSpacingDiff : nullptr,
                                             &failures);
          !s.ok()) {
        return Error(s);
      }
      std::string name = path.substr(path.find_last_of('/') + 1);
      row(name.size() > 28 ? name.substr(name.size() - 28) : name, r);
      total.sentences += r.sentences;
      total.eojeols += r.eojeols;
      total.chars += r.chars;
      total.removed += r.removed;
      total.removed_restored += r.removed_restored;
      total.inserted += r.inserted;
      total.inserted_restored += r.inserted_restored;
      total.corrupted_other += r.corrupted_other;
      total.clean_changed_eojeols += r.clean_changed_eojeols;
      total.clean_changed_sentences += r.clean_changed_sentences;
      total.seconds += r.seconds;
    }
    row("total", total);
    fmt::print("other boundaries changed in the corrupted copies: {}; clean sentences changed: {}\n",
               total.corrupted_other, total.clean_changed_sentences);
    fmt::print("targets: restored >= 85% {}, clean changed <= 0.2% {}\n",
               pct(total.removed_restored + total.inserted_restored,
                   total.removed + total.inserted) >= 85.0
                   ? "met"
                   : "NOT met",
               pct(total.clean_changed_eojeols, total.eojeols) <= 0.2 ? "met" : "NOT met");
    return kExitOk;
  }

  korean::PostOptions po_options;
  po_options.record_changes = explain || !eval_paths.empty() || !text_paths.empty();
  po_options.spacing = spacing == "on" || (spacing == "auto" && korean::kSpacingAuto);
  po_options.spacing_options = sp_options;
  std::unique_ptr<korean::PostProcessor> pp;
  if (Status s = korean::PostProcessor::Create(analyzer, po_options, &pp); !s.ok()) {
    return Error(s);
  }

  if (!eval_paths.empty() || !text_paths.empty()) {
    korean::PostEvalPart part = korean::PostEvalPart::kAll;
    if (part_name == "tune") {
      part = korean::PostEvalPart::kTune;
    } else if (part_name == "held-out") {
      part = korean::PostEvalPart::kHeldOut;
    }
    korean::PostEvalResult total;
    std::ofstream failures;
    if (!failures_path.empty()) {
      failures.open(failures_path);
      if (!failures) return Error(fmt::format("cannot write '{}'", failures_path));
    }
    // One source per --eval / --eval-text argument (FILE[,FILE...]).
    struct Source {
      std::string name;
      std::vector<korean::PostEvalSentence> sentences;
    };
    std::vector<Source> sources;
    auto load = [&](const std::string& arg, bool plain) -> Status {
      // NAME=FILE[,FILE...] names the source in the table.
      Source src{arg, {}};
      std::string files = arg;
      if (const size_t eq = arg.find('='); eq != std::string::npos && arg.find('/') > eq) {
        src.name = arg.substr(0, eq);
        files = arg.substr(eq + 1);
      }
      const std::string& list = files;
      size_t b = 0;
      while (b <= list.size()) {
        size_t e = list.find(',', b);
        if (e == std::string::npos) e = list.size();
        const std::string path = list.substr(b, e - b);
        b = e + 1;
        if (path.empty()) continue;
        std::string data;
        ONDO_RETURN_IF_ERROR(ReadFile(path, &data));
        std::vector<korean::PostEvalSentence> sentences;
        ONDO_RETURN_IF_ERROR(plain ? korean::ParsePostEvalPlain(data, *analyzer, &sentences)
                                   : korean::ParsePostEvalFile(data, &sentences));
        for (korean::PostEvalSentence& x : sentences) src.sentences.push_back(std::move(x));
      }
      sources.push_back(std::move(src));
      return Status::Ok();
    };
    for (const std::string& p : eval_paths) {
      if (Status s = load(p, false); !s.ok()) return Error(s);
    }
    for (const std::string& p : text_paths) {
      if (Status s = load(p, true); !s.ok()) return Error(s);
    }
    auto pct = [](size_t a, size_t b) { return b ? 100.0 * static_cast<double>(a) / b : 0.0; };
    auto run = [&](const Source& src, korean::PostEvalPart which,
                   korean::PostEvalResult* r) -> Status {
      korean::PostEvalOptions eo;
      eo.seed = seed;
      eo.part = which;
      if (failures.is_open()) {
        eo.on_case = [&](std::string_view kind, const std::string& input,
                         const std::string& expected, const std::string& output) {
          failures << kind << "\n  in:  " << input << "\n  exp: " << expected
                   << "\n  out: " << output << "\n";
        };
      }
      return korean::EvaluatePost(pp.get(), src.sentences, eo, r);
    };
    if (vm.count("table") != 0) {
      // Source x part: changed clean sentences, particle errors fixed.
      fmt::print(
          "| source | part | sentences | changed clean sentences | by particles | by repeats | "
          "by punctuation, floods, brackets | particle errors fixed |\n");
      fmt::print("|---|---|---|---|---|---|---|---|\n");
      for (const Source& src : sources) {
        for (const korean::PostEvalPart which :
             {korean::PostEvalPart::kTune, korean::PostEvalPart::kHeldOut}) {
          if (part != korean::PostEvalPart::kAll && which != part) continue;
          korean::PostEvalResult r;
          if (Status s = run(src, which, &r); !s.ok()) return Error(s);
          std::string name = src.name;
          if (const size_t slash = name.rfind('/'); slash != std::string::npos && name.find(',') == std::string::npos) {
            name = name.substr(slash + 1);
          }
          fmt::print("| {} | {} | {} | {} ({:.2f}%) | {} ({:.2f}%) | {} | {} | {}/{} ({:.2f}%) |\n",
                     name, which == korean::PostEvalPart::kTune ? "tune" : "held-out",
                     r.sentences, r.clean_changed_sentences,
                     pct(r.clean_changed_sentences, r.sentences), r.clean_changed_by_particles,
                     pct(r.clean_changed_by_particles, r.sentences), r.clean_changed_by_repeats,
                     r.clean_changed_by_style, r.particle_fixed, r.particle_errors,
                     pct(r.particle_fixed, r.particle_errors));
        }
      }
      return kExitOk;
    }
    for (const Source& src : sources) {
      korean::PostEvalResult r;
      if (Status s = run(src, part, &r); !s.ok()) return Error(s);
      total.sentences += r.sentences;
      total.eojeols += r.eojeols;
      total.gold_particles += r.gold_particles;
      total.clean_changed_sentences += r.clean_changed_sentences;
      total.clean_changed_eojeols += r.clean_changed_eojeols;
      total.clean_changed_particles += r.clean_changed_particles;
      total.clean_changed_by_particles += r.clean_changed_by_particles;
      total.clean_changed_by_repeats += r.clean_changed_by_repeats;
      total.clean_changed_by_style += r.clean_changed_by_style;
      total.particle_errors += r.particle_errors;
      total.particle_fixed += r.particle_fixed;
      total.particle_other_changed += r.particle_other_changed;
      total.repetitions += r.repetitions;
      total.repetitions_removed += r.repetitions_removed;
      total.floods += r.floods;
      total.floods_limited += r.floods_limited;
      total.punct_errors += r.punct_errors;
      total.punct_fixed += r.punct_fixed;
      total.seconds += r.seconds;
    }
    double chars_per_s = 0;
    if (vm.count("json") != 0) {
      nlohmann::json j = {
          {"sentences", total.sentences},
          {"eojeols", total.eojeols},
          {"gold_particles", total.gold_particles},
          {"clean_changed_sentences", total.clean_changed_sentences},
          {"clean_changed_eojeols", total.clean_changed_eojeols},
          {"clean_changed_particles", total.clean_changed_particles},
          {"clean_changed_by_particles", total.clean_changed_by_particles},
          {"clean_changed_by_repeats", total.clean_changed_by_repeats},
          {"clean_changed_by_style", total.clean_changed_by_style},
          {"clean_changed_particles_pct", pct(total.clean_changed_particles, total.gold_particles)},
          {"particle_errors", total.particle_errors},
          {"particle_fixed", total.particle_fixed},
          {"particle_fixed_pct", pct(total.particle_fixed, total.particle_errors)},
          {"particle_other_changed", total.particle_other_changed},
          {"repetitions", total.repetitions},
          {"repetitions_removed", total.repetitions_removed},
          {"repetitions_removed_pct", pct(total.repetitions_removed, total.repetitions)},
          {"floods", total.floods},
          {"floods_limited", total.floods_limited},
          {"punct_errors", total.punct_errors},
          {"punct_fixed", total.punct_fixed},
          {"seconds", total.seconds}};
      (void)chars_per_s;
      fmt::print("{}\n", j.dump());
      return kExitOk;
    }
    fmt::print("(a) clean text: {} sentences, {} eojeols, {} gold particles\n", total.sentences,
               total.eojeols, total.gold_particles);
    fmt::print(
        "    changed sentences {}  changed eojeols {} ({:.3f}%)  changed particles {} "
        "({:.3f}% of particles)\n",
        total.clean_changed_sentences, total.clean_changed_eojeols,
        pct(total.clean_changed_eojeols, total.eojeols), total.clean_changed_particles,
        pct(total.clean_changed_particles, total.gold_particles));
    fmt::print("(b) corrupted copy (seed {}):\n", seed);
    fmt::print("    particle errors fixed {}/{} ({:.2f}%), other eojeols changed {}\n",
               total.particle_fixed, total.particle_errors,
               pct(total.particle_fixed, total.particle_errors), total.particle_other_changed);
    fmt::print("    repetitions removed   {}/{} ({:.2f}%)\n", total.repetitions_removed,
               total.repetitions, pct(total.repetitions_removed, total.repetitions));
    fmt::print("    floods limited        {}/{} ({:.2f}%)\n", total.floods_limited, total.floods,
               pct(total.floods_limited, total.floods));
    fmt::print("    punctuation fixed     {}/{} ({:.2f}%)\n", total.punct_fixed, total.punct_errors,
               pct(total.punct_fixed, total.punct_errors));
    fmt::print("    (a) time {:.2f} s\n", total.seconds);
    return kExitOk;
  }

  std::string out;
  if (vm.count("prompt") != 0) {
    if (Status s = pp->Process(text, &out); !s.ok()) return Error(s);
    fmt::print("{}\n", out);
    if (explain) PrintChanges(*pp);
    return kExitOk;
  }
  std::string line;
  size_t line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    out.clear();
    if (Status s = pp->Process(line, &out); !s.ok()) {
      // Keep the one-line-per-line contract: the line passes through untouched.
      fmt::print(stderr, "ondo: warning: line {}: {} (left unchanged)\n", line_no, s.message());
      out = line;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    if (explain && !pp->changes().empty()) {
      fmt::print(stderr, "line {}:\n", line_no);
      PrintChanges(*pp);
    }
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace ondo::cli
