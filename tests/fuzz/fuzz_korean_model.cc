// libFuzzer target: the compiled Korean analyzer model used in place (issue 13, item 4). The
// input is a list of byte edits to the embedded compiled model (5 bytes each: a little-endian
// u32 position, an XOR mask); the CRC is made to match again, so only the structure checks of
// Model::MapInPlace stand between the damaged tables and the search. A blob they accept must
// analyse any text without a crash or an out-of-bounds read (this build runs under ASan).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/korean/analyzer.h"
#include "tokenizer/korean/lexicon.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 5 * 64) return 0;
  const std::string_view good = ondo::korean::detail::EmbeddedCompiledModel();
  if (good.size() < 64) return 0;  // a build without a compiled model
  static std::vector<uint64_t> buf;
  buf.assign((good.size() + 7) / 8, 0);
  char* b = reinterpret_cast<char*>(buf.data());
  std::memcpy(b, good.data(), good.size());
  for (size_t i = 0; i + 5 <= size; i += 5) {
    uint32_t pos;
    std::memcpy(&pos, data + i, 4);
    // Half the edits land in the first 64 KB (header, directory, first entries).
    const size_t at = 32 + (pos & 1 ? (pos >> 1) % 65536 : (pos >> 1) % (good.size() - 32));
    b[at] = static_cast<char>(b[at] ^ data[i + 4]);
  }
  const uLong crc = crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(b + 32),
                          static_cast<uInt>(good.size() - 32));
  for (int k = 0; k < 4; ++k) b[24 + k] = static_cast<char>((crc >> (8 * k)) & 0xff);

  std::unique_ptr<ondo::korean::Analyzer> analyzer;
  const ondo::Status s =
      ondo::korean::Analyzer::CreateInPlace(std::string_view(b, good.size()), &analyzer);
  if (!s.ok()) {
    Check(s.code() == ondo::StatusCode::kCorrupt);
    return 0;
  }
  static const char* kText =
      "나는 어제 친구와 함께 서울로 여행을 갔다. 도와주셔서 감사합니다! 민준아, 밥 먹었어? "
      "그건 문제야. 3kg를 샀는데 LLM이 답했다. 사과을 먹었다. 갈게요 ㅋㅋ 學校";
  static ondo::korean::Analysis analysis;
  for (bool lenient : {false, true}) {
    ondo::korean::AnalyzeOptions options;
    options.lenient_particles = lenient;
    Check(analyzer->Analyze(kText, options, &analysis).ok());
  }
  return 0;
}
