// The subword models behind Tokenizer: a string -> id index, the BPE merge table, byte-pair
// merging by rank (byte-level and character BPE) and llama.cpp's SentencePiece algorithm
// (merges by token score). Internal to tokenizer/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ondo::tokenizer {

// Maps token text -> id with open addressing over the caller's token vector (kept alive and
// unchanged by the caller). For duplicate texts the highest id wins (as llama.cpp's map).
class TokenIndex {
 public:
  void Build(const std::vector<std::string>* tokens);
  int32_t Find(std::string_view text) const;

 private:
  const std::vector<std::string>* tokens_ = nullptr;
  std::vector<int32_t> slots_;
  size_t mask_ = 0;
};

// (left id, right id) -> (rank, merged id).
class MergeTable {
 public:
  void Reserve(size_t n);
  // Keeps the first (lowest) rank for a pair added twice.
  void Add(int32_t left, int32_t right, int32_t rank, int32_t merged);
  bool Find(int32_t left, int32_t right, int32_t* rank, int32_t* merged) const;
  size_t size() const { return size_; }

 private:
  void Grow();
  std::vector<uint64_t> keys_;
  std::vector<uint64_t> values_;  // rank << 32 | merged
  size_t size_ = 0;
  size_t mask_ = 0;
};

// Scratch for the merge loops.
struct ModelScratch {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    uint32_t begin, len;  // SPM: byte range of the symbol in the text
  };
  struct Candidate {
    float score;  // SPM
    int32_t rank; // BPE
    int32_t left, right;
    int32_t left_id, right_id, merged;
    uint32_t size;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::vector<int32_t> ids;  // a piece's initial symbols (ondo pre-tokenizer path)
};

// Merges adjacent symbols of `ids` by lowest rank, leftmost first (Hugging Face BPE and
// llama.cpp's BPE agree on this order), replacing `ids` with the result.
void BpeMerge(const MergeTable& merges, std::vector<int32_t>* ids, ModelScratch* scratch);

// llama.cpp's SPM tokenizer on already escaped text (spaces as U+2581): one symbol per UTF-8
// character, repeatedly merge the adjacent pair whose concatenation is the token with the
// highest score (leftmost on ties), then map symbols to tokens, falling back to byte tokens.
// byte_ids[b]: token for byte b (<0xXX>, else the one-byte text), -1 if none (then unk_id,
// or nothing if unk_id < 0).
void SpmEncode(std::string_view text, const TokenIndex& index, const std::vector<float>& scores,
               const int32_t* byte_ids, int32_t unk_id, std::vector<int32_t>* out,
               ModelScratch* scratch);

}  // namespace ondo::tokenizer
