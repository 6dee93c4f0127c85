// `ondo convert` (GGUF -> .ondo) and `ondo verify` (every shard's CRC-32 of an .ondo model).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "examples/ondo/cli.h"
#include "platform/sys_info.h"
#include "runtime/gguf.h"
#include "runtime/model.h"
#include "runtime/ondo_format.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kConvertSynopsis = "ondo convert IN -o OUT.ondo [options]";
constexpr std::string_view kConvertSummary =
    "Writes the model IN (a GGUF file, or an .ondo model) as an .ondo model: a folder with a\n"
    "manifest and shards of at most --shard-size bytes cut on layer boundaries (one file with\n"
    "--single), tensors 64-byte aligned and used in place from the mapping, the tokenizer and\n"
    "chat template kept, a CRC-32 per shard. --quant re-quantizes the matrices: keep (as they\n"
    "are), f16, q8 (Q8_0), q4 (Q4_K, with Q6_K for the output head, attn_v and some ffn_down,\n"
    "like Q4_K_M). Tensors are converted one at a time: memory stays at a few MB of buffers.";
constexpr std::string_view kVerifySynopsis = "ondo verify MODEL.ondo";
constexpr std::string_view kVerifySummary =
    "Checks an .ondo model: its manifest (CRC-32, every shard and tensor in bounds) and the\n"
    "CRC-32 of every shard. Exit status 0 when all are intact.";

// "64M", "1G", "4096" -> bytes.
bool ParseSize(const std::string& text, uint64_t* out) {
  if (text.empty()) return false;
  size_t pos = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &pos);
  } catch (...) {
    return false;
  }
  uint64_t mul = 1;
  if (pos < text.size()) {
    const char s = text[pos];
    if (s == 'K' || s == 'k') mul = 1ull << 10;
    else if (s == 'M' || s == 'm') mul = 1ull << 20;
    else if (s == 'G' || s == 'g') mul = 1ull << 30;
    else return false;
    if (pos + 1 != text.size()) return false;
  }
  if (v == 0 || v > (~0ull) / mul) return false;
  *out = v * mul;
  return true;
}

}  // namespace

int ConvertCommand(const std::vector<std::string>& args) {
  std::string in_path, out_path, quant = "keep", shard = "64M";
  int n_threads = 0;
  po::options_description options("options");
  options.add_options()
      ("input", po::value(&in_path)->value_name("IN")->required(), "GGUF file or .ondo model")
      ("output,o", po::value(&out_path)->value_name("OUT")->required(), "the .ondo model to write (must not exist)")
      ("quant,q", po::value(&quant)->value_name("Q")->default_value("keep"), "keep, f16, q8 or q4")
      ("shard-size", po::value(&shard)->value_name("BYTES")->default_value("64M"),
       "largest shard (suffix K, M, G); a layer larger than this gets a shard of its own")
      ("single", "write one file instead of a folder")
      ("threads,t", po::value(&n_threads)->value_name("N")->default_value(0),
       "threads that re-quantize (0: all online cores)");
  po::variables_map vm;
  if (int rc = ParseArgs("convert", kConvertSynopsis, kConvertSummary, options, args, &vm, "input");
      rc >= 0) {
    return rc;
  }
  runtime::OndoWriteOptions opt;
  if (Status s = runtime::ParseOndoQuant(quant, &opt.quant); !s.ok()) return UsageError("convert", s.message());
  if (!ParseSize(shard, &opt.shard_bytes)) {
    return UsageError("convert", fmt::format("--shard-size '{}' is not a size (e.g. 64M)", shard));
  }
  if (n_threads < 0) return UsageError("convert", fmt::format("--threads {} is negative", n_threads));
  opt.single_file = vm.count("single") != 0;
  opt.n_threads = n_threads > 0 ? n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  std::unique_ptr<runtime::GgufFile> in;
  if (Status s = runtime::OpenModelFile(in_path, &in); !s.ok()) return Error(s);
  // The model must load: an input ondo cannot run is refused here, not after writing it.
  {
    std::unique_ptr<runtime::GgufFile> check;
    if (Status s = runtime::OpenModelFile(in_path, &check); !s.ok()) return Error(s);
    std::unique_ptr<runtime::Model> model;
    if (Status s = runtime::Model::FromGguf(std::move(check), &model); !s.ok()) {
      return Error(Status(s.code(), "'" + in_path + "': " + s.message()));
    }
  }
  const bool tty = platform::StderrIsTerminal();
  const uint64_t start = platform::NowNs();
  int last_tenth = -1;
  opt.progress = [&](uint64_t done, uint64_t total) {
    const double f = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    if (tty) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(f * kWidth);
      fmt::print(stderr, "\rconvert: [{}{}] {:5.1f}%\x1b[K", std::string(filled, '#'),
                 std::string(kWidth - filled, '.'), 100.0 * f);
      if (done == total) std::fputc('\n', stderr);
    } else if (static_cast<int>(f * 10) != last_tenth) {
      last_tenth = static_cast<int>(f * 10);
      fmt::print(stderr, "convert: {:.0f}%\n", 100.0 * f);
    }
    std::fflush(stderr);
  };
  runtime::OndoWriteStats st;
  if (Status s = runtime::WriteOndo(*in, out_path, opt, &st); !s.ok()) return Error(s);
  fmt::print("{}: {} tensors ({} re-quantized, --quant {}), {} shard{}, {} in {:.1f} s\n", out_path,
             st.n_tensors, st.n_requantized, runtime::OndoQuantName(opt.quant), st.n_shards,
             st.n_shards == 1 ? "" : "s", HumanBytes(st.bytes),
             static_cast<double>(platform::NowNs() - start) * 1e-9);
  return kExitOk;
}

int VerifyCommand(const std::vector<std::string>& args) {
  std::string path;
  po::options_description options("options");
  options.add_options()("model", po::value(&path)->value_name("MODEL")->required(), ".ondo model");
  po::variables_map vm;
  if (int rc = ParseArgs("verify", kVerifySynopsis, kVerifySummary, options, args, &vm, "model");
      rc >= 0) {
    return rc;
  }
  if (!runtime::IsOndoModel(path)) {
    return Error(fmt::format("'{}' is not an .ondo model (a folder with a manifest, or one file)", path));
  }
  std::vector<runtime::OndoShardCheck> shards;
  const Status s = runtime::VerifyOndo(path, &shards);
  for (const runtime::OndoShardCheck& c : shards) {
    fmt::print("{:<28} {:>12} bytes  crc32 {:08x}  {}\n", c.where, c.bytes, c.crc_actual,
               c.ok() ? "ok" : fmt::format("DAMAGED (manifest says {:08x})", c.crc_expected));
  }
  if (!s.ok()) return Error(s);
  fmt::print("{}: {} shard{} intact\n", path, shards.size(), shards.size() == 1 ? "" : "s");
  return kExitOk;
}

}  // namespace ondo::cli
