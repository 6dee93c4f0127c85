// `ondo inspect`: what a GGUF file holds and what a session over it would allocate.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "examples/ondo/cli.h"
#include "kernels/kernels.h"
#include "platform/sys_info.h"
#include "runtime/chat_template.h"
#include "runtime/gguf.h"
#include "runtime/model.h"
#include "runtime/ondo_format.h"
#include "runtime/session.h"

namespace ondo::cli {
namespace {

constexpr std::string_view kSynopsis = "ondo inspect -m MODEL [--ctx N] [--kv-type f16|q8] [--mem-budget BYTES]";
constexpr std::string_view kSummary =
    "Prints the metadata keys and values, the tensor table (name, type, shape, bytes), the\n"
    "model configuration, its chat template, and the memory a session with --ctx tokens of\n"
    "context needs (KV cache exact, scratch, weights) against the memory budget.";

// Keeps each metadata value on one line.
std::string OneLine(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Shape(const runtime::GgufTensorInfo& t) {
  std::string s;
  for (int d = 0; d < t.n_dims; ++d) s += fmt::format("{}{}", d ? " x " : "", t.ne[d]);
  return s.empty() ? "scalar" : s;
}

}  // namespace

int InspectCommand(const std::vector<std::string>& args) {
  std::string model_path, mem_budget, kv_type;
  int n_ctx = 0;
  po::options_description options("options");
  options.add_options()
      ("model,m", po::value(&model_path)->value_name("FILE")->required(), "GGUF file or .ondo model")
      ("ctx", po::value(&n_ctx)->value_name("N")->default_value(0),
       "context size for the memory estimate (0: min(training context, 4096))")
      ("kv-type", po::value(&kv_type)->value_name("f16|q8")->default_value("f16"), kKvTypeHelp)
      ("mem-budget", po::value(&mem_budget)->value_name("BYTES"), kMemBudgetHelp);
  po::variables_map vm;
  if (int rc = ParseArgs("inspect", kSynopsis, kSummary, options, args, &vm); rc >= 0) return rc;
  if (n_ctx < 0) return UsageError("inspect", fmt::format("--ctx {} is negative", n_ctx));
  memory::Budget budget;
  if (Status s = ResolveMemBudget(mem_budget, &budget); !s.ok()) return UsageError("inspect", s.message());
  memory::KvType kv_element = memory::KvType::kF16;
  if (Status s = ResolveKvType(kv_type, &kv_element); !s.ok()) return UsageError("inspect", s.message());

  std::unique_ptr<runtime::GgufFile> gguf;
  if (Status s = runtime::OpenModelFile(model_path, &gguf); !s.ok()) return Error(s);

  fmt::print("file: {}\n", model_path);
  if (runtime::IsOndoModel(model_path)) {
    const runtime::GgufKv* shards = gguf->Find("ondo.shards.bytes");
    fmt::print("ondo: format {}, {}, {} shard(s), manifest metadata {} bytes, tensors aligned to {}\n",
               runtime::kOndoFormatVersion,
               std::filesystem::is_directory(model_path) ? "folder" : "single file",
               shards != nullptr ? shards->value.count : 0, gguf->file_size(), gguf->alignment());
  } else {
    fmt::print("gguf: version {}, {} bytes, alignment {}, data at offset {}\n", gguf->version(),
               gguf->file_size(), gguf->alignment(), gguf->data_offset());
  }

  fmt::print("\nmetadata ({} keys):\n", gguf->kvs().size());
  size_t key_width = 0;
  for (const runtime::GgufKv& kv : gguf->kvs()) key_width = std::max(key_width, kv.key.size());
  for (const runtime::GgufKv& kv : gguf->kvs()) {
    fmt::print("  {:<{}}  {:<7} {}\n", kv.key, key_width, runtime::GgufTypeName(kv.value.type),
               OneLine(runtime::GgufFile::ValueToString(kv.value)));
  }

  fmt::print("\ntensors ({}):\n", gguf->tensors().size());
  size_t name_width = 4;
  for (const runtime::GgufTensorInfo& t : gguf->tensors()) name_width = std::max(name_width, t.name.size());
  fmt::print("  {:<{}}  {:<6} {:<20} {:>12}\n", "name", name_width, "type", "shape", "bytes");
  uint64_t total = 0;
  for (const runtime::GgufTensorInfo& t : gguf->tensors()) {
    const kernels::TypeInfo* info = kernels::GetTypeInfo(static_cast<uint32_t>(t.type));
    fmt::print("  {:<{}}  {:<6} {:<20} {:>12}\n", t.name, name_width,
               info != nullptr ? info->name : "?", Shape(t), t.bytes);
    total += t.bytes;
  }
  fmt::print("  total: {} bytes ({})\n", total, HumanBytes(total));
  std::fflush(stdout);

  gguf.reset();
  std::unique_ptr<runtime::Model> model;
  if (Status s = runtime::Model::Load(model_path, &model); !s.ok()) {
    return Error(fmt::format("cannot load the model: {}", s.message()));
  }
  const runtime::ModelConfig& c = model->config();
  fmt::print("\nconfig:\n");
  fmt::print("  arch {}, n_vocab {}, n_embd {}, n_layer {}, n_head {}, n_head_kv {} (group {}), "
             "head_dim {}, n_ff {}\n",
             runtime::ArchName(c.arch), c.n_vocab, c.n_embd, c.n_layer, c.n_head, c.n_head_kv,
             c.n_group(), c.head_dim, c.n_ff);
  fmt::print("  n_ctx_train {}, n_rot {}, rope {} base {} scale {}, norm {} eps {}\n",
             c.n_ctx_train, c.n_rot, c.rope_mode == kernels::RopeMode::kNeox ? "neox" : "normal",
             c.rope_freq_base, c.rope_freq_scale, c.layer_norm ? "LayerNorm" : "RMSNorm",
             c.norm_eps);
  std::string scaling = runtime::RopeScalingName(c.rope_scaling);
  if (c.rope_scaling == runtime::RopeScaling::kYarn) {
    scaling += fmt::format(" (original context {}, ext {}, attn {}, beta {}/{})", c.n_ctx_orig_yarn, c.yarn_ext_factor,
                           c.yarn_attn_factor, c.yarn_beta_fast, c.yarn_beta_slow);
  }
  fmt::print("  rope scaling {}, frequency factors (rope_freqs) {}\n", scaling, c.rope_freq_factors ? "yes" : "no");
  fmt::print("  ffn {}, {} residual, output {}\n", c.gelu_ffn ? "GELU" : "SwiGLU",
             c.parallel_residual ? "parallel" : "sequential", c.tied_output ? "tied to token_embd" : "own tensor");
  const tokenizer::VocabSpec& v = model->tokenizer().spec();
  fmt::print("  tokenizer {} (pre {}), {} tokens, bos {}, eos {}, add_bos {}, chat template {}\n",
             v.kind == tokenizer::VocabKind::kSpm ? "SPM" : "BPE", v.pre, model->tokenizer().n_vocab(),
             v.bos_id, v.eos_id, v.add_bos, runtime::ChatFormatName(runtime::DetectChatFormat(*model)));

  runtime::SessionOptions session_options;
  session_options.n_ctx = n_ctx;
  session_options.budget = budget;
  session_options.process_bytes = ProcessBytesForBudget();
  session_options.kv_type = kv_element;
  runtime::SessionPlan plan;
  if (Status s = runtime::PlanSession(*model, session_options, &plan); !s.ok()) return Error(s);
#if defined(__aarch64__)
  constexpr const char* kLowerSets = "scalar|neon";
#else
  constexpr const char* kLowerSets = "scalar|avx2";
#endif
  fmt::print("  kernels {} (CPU features: {}; ONDO_CPU={} forces a lower set)\n", kernels::ActiveIsa(),
             platform::GetCpuFeatures().ToString(), kLowerSets);
  fmt::print("\nmemory (n_ctx {}, prefill chunk {} tokens):\n{}", plan.n_ctx, plan.n_batch,
             runtime::DescribePlan(plan, c));
  return kExitOk;
}

}  // namespace ondo::cli
