// What the model-file fuzz targets do with a file that parsed: touch every tensor's first and
// last byte (they must lie inside the input), load the model (hyper-parameters, shapes,
// tokenizer) and, for a model small enough, run a two-token forward pass: every weight type's
// kernels on whatever bits the blocks hold (f16 scales that are NaN or Inf included).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "runtime/gguf.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace ondo::fuzz {

inline void ExerciseModel(std::unique_ptr<runtime::GgufFile> file) {
  using namespace ondo::runtime;
  for (const auto& t : file->tensors()) {
    if (t.bytes > 0) {
      volatile uint8_t a = t.data[0];
      volatile uint8_t b = t.data[t.bytes - 1];
      (void)a;
      (void)b;
    }
  }
  std::unique_ptr<Model> model;
  if (!Model::FromGguf(std::move(file), &model).ok()) return;
  // The forward pass costs about one multiply-add per weight byte and token; bound it so
  // each input runs in milliseconds (the seed models are a few hundred kB).
  const ModelConfig& c = model->config();
  if (model->weight_bytes() > (4u << 20) || c.n_layer > 8 || c.n_vocab > 70000) return;
  SessionOptions so;
  so.n_ctx = 4;
  so.n_threads = 1;
  std::unique_ptr<Session> session;
  if (!Session::Create(*model, so, &session).ok()) return;
  const int32_t ids[2] = {0, c.n_vocab - 1};
  (void)session->Prefill(std::span<const int32_t>(ids, 2));
}

}  // namespace ondo::fuzz
