// A synthetic model (tests/runtime/reference_forward.h) as a loaded runtime::Model, and
// deterministic token ids for it: what the session-level tests (KV shift, prompt cache) start
// from. Header-only, for test targets linking ondo_runtime and ondo_runtime_test_support.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "tests/runtime/gguf_writer.h"
#include "tests/runtime/reference_forward.h"

namespace ondo::test {

// F16 weights from `seed`, written to a temporary GGUF file that is unlinked once loaded (the
// mapping stays valid). nullptr, with a test failure, if it does not load.
inline std::unique_ptr<runtime::Model> LoadSyntheticModel(const RefConfig& config, uint64_t seed,
                                                          const std::string& stem) {
  GgufWriter w;
  SyntheticSpec spec;
  spec.config = config;
  spec.weight_type = GgmlType::kF16;
  spec.seed = seed;
  RefModel ref;
  BuildSyntheticModel(spec, &w, &ref);
  const std::string path = UniqueTempPath(::testing::TempDir(), stem);
  EXPECT_TRUE(w.WriteFile(path));
  std::unique_ptr<runtime::Model> model;
  const Status s = runtime::Model::Load(path, &model);
  std::remove(path.c_str());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return model;
}

// n ordinary token ids (never the special ids 0..2), different for each salt.
inline std::vector<int32_t> SyntheticTokens(int n, int salt) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = 3 + (i * 37 + salt * 11) % (kSyntheticVocab - 3);
  return t;
}

}  // namespace ondo::test
