// `ondo convert` (GGUF, .ondo or a Hugging Face folder -> .ondo) and `ondo verify` (every shard's CRC-32 of an .ondo model).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "examples/ondo/cli.h"
#include "memory/budget.h"
#include "platform/sys_info.h"
#include "runtime/gguf.h"
#include "runtime/hf_import.h"
#include "runtime/model.h"
#include "runtime/ondo_format.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kConvertSynopsis = "ondo convert IN -o OUT.ondo [options]";
constexpr std::string_view kConvertSummary =
    "Writes the model IN (a GGUF file, an .ondo model, or a Hugging Face model folder) as an\n"
    ".ondo model: a folder with a manifest and shards of at most --shard-size bytes cut on layer\n"
    "boundaries (one file with --single), tensors 64-byte aligned and used in place from the\n"
    "mapping, the tokenizer and chat template kept, a CRC-32 per shard. --quant re-quantizes the\n"
    "matrices: keep (as they are), f16, q8 (Q8_0), q4 (Q4_K, with Q6_K for the output head,\n"
    "attn_v and some ffn_down, like Q4_K_M). Tensors are converted one at a time: memory stays\n"
    "at a few MB of buffers.\n"
    "A Hugging Face folder (config.json, model.safetensors or model.safetensors.index.json with\n"
    "its shards, tokenizer.json, tokenizer_config.json) is read as llama.cpp's\n"
    "convert_hf_to_gguf.py would write it: LlamaForCausalLM and Qwen2ForCausalLM, F32/F16/BF16\n"
    "weights (llama's q/k weights are held permuted in memory). Other architectures and config\n"
    "keys ondo does not model (rope_scaling, sliding window, ...) are refused by name.";
constexpr std::string_view kVerifySynopsis = "ondo verify MODEL.ondo";
constexpr std::string_view kVerifySummary =
    "Checks an .ondo model: its manifest (CRC-32, every shard and tensor in bounds) and the\n"
    "CRC-32 of every shard. Exit status 0 when all are intact.";


}  // namespace

int ConvertCommand(const std::vector<std::string>& args) {
  std::string in_path, out_path, quant = "keep", shard = "64M", imatrix_path, target;
  int n_threads = 0;
  po::options_description options("options");
  options.add_options()
      ("input", po::value(&in_path)->value_name("IN")->required(), "GGUF file, .ondo model or Hugging Face model folder")
      ("output,o", po::value(&out_path)->value_name("OUT")->required(), "the .ondo model to write (must not exist)")
      ("quant,q", po::value(&quant)->value_name("Q")->default_value("keep"), "keep, f16, q8, q4, q3 or q2")
      ("imatrix", po::value(&imatrix_path)->value_name("FILE"),
       "importance matrix (llama.cpp's .imatrix or `ondo imatrix`'s) for the OQ2 search")
      ("target-size", po::value(&target)->value_name("BYTES"),
       "q2: fill this size (suffix K, M, G) with the mix of least estimated error")
      ("shard-size", po::value(&shard)->value_name("BYTES")->default_value("64M"),
       "largest shard (suffix K, M, G); a layer larger than this gets a shard of its own")
      ("single", "write one file instead of a folder")
      ("threads,t", po::value(&n_threads)->value_name("N")->default_value(0),
       "threads that re-quantize (0: the usable cores; the big ones on a big.LITTLE CPU)");
  po::variables_map vm;
  if (int rc = ParseArgs("convert", kConvertSynopsis, kConvertSummary, options, args, &vm, "input");
      rc >= 0) {
    return rc;
  }
  runtime::OndoWriteOptions opt;
  if (Status s = runtime::ParseOndoQuant(quant, &opt.quant); !s.ok()) return UsageError("convert", s.message());
  if (!memory::ParseByteSize(shard, &opt.shard_bytes).ok() || opt.shard_bytes == 0) {
    return UsageError("convert", fmt::format("--shard-size '{}' is not a size (e.g. 64M)", shard));
  }
  if (!target.empty() && !memory::ParseByteSize(target, &opt.target_bytes).ok()) {
    return UsageError("convert", fmt::format("--target-size '{}' is not a size (e.g. 520M)", target));
  }
  if (n_threads < 0) return UsageError("convert", fmt::format("--threads {} is negative", n_threads));
  opt.single_file = vm.count("single") != 0;
  opt.n_threads = n_threads > 0 ? n_threads : platform::DefaultThreadCount();

  runtime::Imatrix imatrix;
  if (!imatrix_path.empty()) {
    if (Status s = runtime::Imatrix::Load(imatrix_path, &imatrix); !s.ok()) return Error(s);
    opt.imatrix = &imatrix;
  }
  // A Hugging Face folder is imported as llama.cpp's convert_hf_to_gguf.py would write it.
  const bool hf_folder = runtime::IsHfModelFolder(in_path);
  auto open_input = [&](std::unique_ptr<runtime::GgufFile>* f) {
    return hf_folder ? runtime::OpenHfModel(in_path, f) : runtime::OpenModelFile(in_path, f);
  };
  std::unique_ptr<runtime::GgufFile> in;
  if (Status s = open_input(&in); !s.ok()) return Error(s);
  // The model must load: an input ondo cannot run is refused here, not after writing it.
  {
    std::unique_ptr<runtime::GgufFile> check;
    if (Status s = open_input(&check); !s.ok()) return Error(s);
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
  fmt::print("{}: {} tensors ({} re-quantized{}{}, --quant {}), {} shard{}, {} in {:.1f} s\n", out_path,
             st.n_tensors, st.n_requantized,
             opt.imatrix != nullptr ? fmt::format(", {} with the imatrix", st.n_with_imatrix) : "",
             st.n_upgraded > 0 ? fmt::format(", {} given more bits", st.n_upgraded) : "",
             runtime::OndoQuantName(opt.quant), st.n_shards,
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
