// ondo: the command-line program. `ondo <command> [options]`; each command parses its own flags.
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "examples/ondo/cli.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*main)(const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"run", "generate text from a prompt (streams it; timing on stderr)", ondo::cli::RunCommand},
    {"inspect", "show a model's (GGUF or .ondo) metadata, tensors, config and memory plan",
     ondo::cli::InspectCommand},
    {"tokenize", "print the token ids of a text (from a GGUF model or a tokenizer.json)",
     ondo::cli::TokenizeCommand},
    {"tokenizer", "train a (morpheme-aware) BPE tokenizer.json, or decode ids with one",
     ondo::cli::TokenizerCommand},
    {"morph", "Korean morpheme analysis of stdin, or --eval against a CoNLL-U file",
     ondo::cli::MorphCommand},
    {"post", "Korean post-processor (punctuation, repetition, particles) on stdin, or --eval",
     ondo::cli::PostCommand},
    {"bench", "prompt and decode speed in tok/s (like llama-bench pp512 / tg64)",
     ondo::cli::BenchCommand},
    {"perplexity", "perplexity on a text file, computed as llama.cpp's llama-perplexity",
     ondo::cli::PerplexityCommand},
    {"kld", "KL divergence of a model from a reference model on a text file",
     ondo::cli::KldCommand},
    {"imatrix", "importance matrix of a model on a calibration text (llama-imatrix's format)",
     ondo::cli::ImatrixCommand},
    {"convert", "write a model as .ondo (sharded, mmap'd in place; optionally re-quantized)",
     ondo::cli::ConvertCommand},
    {"verify", "check every CRC-32 of an .ondo model", ondo::cli::VerifyCommand},
};

void PrintUsage(std::FILE* out) {
  fmt::print(out,
             "usage: ondo <command> [options]\n\n"
             "ondo runs Korean-capable language models (GGUF or .ondo) offline on small devices.\n\n"
             "commands:\n");
  for (const Command& c : kCommands) fmt::print(out, "  {:<12}{}\n", c.name, c.summary);
  fmt::print(out,
             "\n'ondo <command> --help' lists the options of a command.\n"
             "'ondo --version' prints the version.\n");
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return ondo::cli::kExitUsage;
  }
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    PrintUsage(stdout);
    return ondo::cli::kExitOk;
  }
  if (first == "--version") {
    fmt::print("ondo {}\n", ONDO_VERSION_STRING);
    return ondo::cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (first == c.name) {
      std::vector<std::string> args(argv + 1, argv + argc);
      return c.main(args);
    }
  }
  if (first.starts_with("-")) {
    fmt::print(stderr, "ondo: error: unknown option '{}' (a command comes first; see 'ondo --help')\n",
               first);
  } else {
    fmt::print(stderr, "ondo: error: unknown command '{}' (see 'ondo --help')\n", first);
  }
  return ondo::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // The library reports errors as Status values; what can still throw here is the standard
  // library (allocation) and Boost's option parsing, which the commands catch themselves.
  try {
    return Main(argc, argv);
  } catch (const std::bad_alloc&) {
    return ondo::cli::Error("out of memory");
  } catch (const std::exception& e) {
    return ondo::cli::Error(e.what());
  }
}
