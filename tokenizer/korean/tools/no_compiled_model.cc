// For ondo_korean_compile itself, which builds the model the library embeds: no compiled
// model yet (Analyzer::Create would build from the data blobs).
#include "tokenizer/korean/lexicon.h"

namespace ondo::korean::detail {

std::string_view EmbeddedCompiledModel() { return {}; }

}  // namespace ondo::korean::detail
