// A small trained spacing model (띄어쓰기): for the boundary between two characters, the
// log-odds of a space there, from a logistic regression over character n-grams around it (left
// 1-3 characters, right 1-3 characters and their combinations up to 2+2), feature-hashed into
// a table of 8-bit weights. Learned from correctly spaced text by
// tokenizer/korean/tools/build_spacing.py (KLUE dp + NLI dev, CC BY-SA 4.0; Chatbot_data, MIT)
// and embedded in the library (data/spacing_model.bin, used in place: no heap copy). Spacer
// (spacing.h) adds it to the analyzer's lattice costs.
//
// Library ondo_korean_post. A SpacingModel is immutable: one instance may be shared by threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "platform/status.h"

namespace ondo::korean {

class SpacingModel {
 public:
  // The embedded model (its 256 KiB table read in place from the library's read-only data),
  // checked once per process and shared.
  static Status Shared(const SpacingModel** out);
  // A model from a file in the format build_spacing.py writes ("OSPM" header + weights, or the
  // same inside an "OKZ1" zlib wrapper); the model keeps a copy. Corrupt for a malformed blob.
  static Status Create(std::string_view blob, std::unique_ptr<SpacingModel>* out);
  // The same for an uncompressed blob used in place: it must outlive the model.
  static Status CreateInPlace(std::string_view blob, std::unique_ptr<SpacingModel>* out);

  // The character class the features see: Hangul syllables and jamo as themselves, digits as
  // '0', Latin letters as 'a', Han characters as one symbol, other ASCII as itself, anything
  // else as one symbol.
  static char32_t MapChar(char32_t c);

  // For a line of n characters (already mapped with MapChar, spaces left out), writes to
  // out[k] the log-odds (nats) of a space before character k, for k in 1..n-1 (out[0] = 0).
  // Does not allocate.
  void Scores(const char32_t* mapped, size_t n, float* out) const;

  int bits() const { return bits_; }

 private:
  SpacingModel() = default;
  int bits_ = 0;
  float scale_ = 0;
  float bias_ = 0;
  const int8_t* weights_ = nullptr;  // 2^bits_, in owned_ or in the blob
  std::vector<int8_t> owned_;
};

}  // namespace ondo::korean
