// Token index, merge table, BPE merging and llama.cpp's SPM algorithm.
#include "tokenizer/model.h"

#include <algorithm>
#include <functional>

#include "tokenizer/unicode.h"

namespace ondo::tokenizer {
namespace {

size_t HashText(std::string_view s) { return std::hash<std::string_view>{}(s); }

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr uint64_t kEmptyKey = ~uint64_t{0};

}  // namespace

void TokenIndex::Build(const std::vector<std::string>* tokens) {
  tokens_ = tokens;
  size_t cap = 16;
  while (cap < tokens->size() * 2) cap <<= 1;
  slots_.assign(cap, -1);
  mask_ = cap - 1;
  for (size_t id = 0; id < tokens->size(); ++id) {
    const std::string& t = (*tokens)[id];
    if (t.empty()) continue;
    size_t h = HashText(t) & mask_;
    for (;;) {
      const int32_t cur = slots_[h];
      if (cur < 0) {
        slots_[h] = static_cast<int32_t>(id);
        break;
      }
      if ((*tokens)[static_cast<size_t>(cur)] == t) {
        slots_[h] = static_cast<int32_t>(id);  // later id wins
        break;
      }
      h = (h + 1) & mask_;
    }
  }
}

int32_t TokenIndex::Find(std::string_view text) const {
  if (slots_.empty() || text.empty()) return -1;
  size_t h = HashText(text) & mask_;
  for (;;) {
    const int32_t cur = slots_[h];
    if (cur < 0) return -1;
    if ((*tokens_)[static_cast<size_t>(cur)] == text) return cur;
    h = (h + 1) & mask_;
  }
}

void MergeTable::Reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  if (cap <= keys_.size()) return;
  std::vector<uint64_t> old_keys = std::move(keys_);
  std::vector<uint64_t> old_values = std::move(values_);
  keys_.assign(cap, kEmptyKey);
  values_.assign(cap, 0);
  mask_ = cap - 1;
  size_ = 0;
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] == kEmptyKey) continue;
    size_t h = Mix(old_keys[i]) & mask_;
    while (keys_[h] != kEmptyKey) h = (h + 1) & mask_;
    keys_[h] = old_keys[i];
    values_[h] = old_values[i];
    ++size_;
  }
}

void MergeTable::Grow() { Reserve(std::max<size_t>(16, size_ * 2 + 2)); }

void MergeTable::Add(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  if ((size_ + 1) * 2 > keys_.size()) Grow();
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                       static_cast<uint32_t>(right);
  size_t h = Mix(key) & mask_;
  while (keys_[h] != kEmptyKey) {
    if (keys_[h] == key) return;  // keep the lower rank
    h = (h + 1) & mask_;
  }
  keys_[h] = key;
  values_[h] = (static_cast<uint64_t>(static_cast<uint32_t>(rank)) << 32) |
               static_cast<uint32_t>(merged);
  ++size_;
}

bool MergeTable::Find(int32_t left, int32_t right, int32_t* rank, int32_t* merged) const {
  if (keys_.empty()) return false;
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                       static_cast<uint32_t>(right);
  size_t h = Mix(key) & mask_;
  for (;;) {
    const uint64_t k = keys_[h];
    if (k == kEmptyKey) return false;
    if (k == key) {
      *rank = static_cast<int32_t>(values_[h] >> 32);
      *merged = static_cast<int32_t>(values_[h] & 0xFFFFFFFFu);
      return true;
    }
    h = (h + 1) & mask_;
  }
}

void BpeMerge(const MergeTable& merges, std::vector<int32_t>* ids, ModelScratch* scratch) {
  if (ids->size() < 2 || merges.size() == 0) return;
  using Candidate = ModelScratch::Candidate;
  auto& sym = scratch->symbols;
  auto& heap = scratch->heap;
  sym.clear();
  heap.clear();
  const int32_t n = static_cast<int32_t>(ids->size());
  for (int32_t i = 0; i < n; ++i) {
    sym.push_back({(*ids)[static_cast<size_t>(i)], i - 1, i + 1 < n ? i + 1 : -1, 0, 0});
  }
  // Min-heap on (rank, left).
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    int32_t rank = 0, merged = 0;
    const int32_t a = sym[static_cast<size_t>(left)].id, b = sym[static_cast<size_t>(right)].id;
    if (a < 0 || b < 0 || !merges.Find(a, b, &rank, &merged)) return;
    heap.push_back({0.0f, rank, left, right, a, b, merged, 0});
    std::push_heap(heap.begin(), heap.end(), worse);
  };
  for (int32_t i = 0; i + 1 < n; ++i) try_add(i, i + 1);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Candidate c = heap.back();
    heap.pop_back();
    auto& l = sym[static_cast<size_t>(c.left)];
    if (l.id != c.left_id || l.next != c.right) continue;  // stale
    auto& r = sym[static_cast<size_t>(c.right)];
    if (r.id != c.right_id) continue;
    l.id = c.merged;
    r.id = -2;  // dead
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
  ids->clear();
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    ids->push_back(sym[static_cast<size_t>(i)].id);
  }
}

void SpmEncode(std::string_view text, const TokenIndex& index, const std::vector<float>& scores,
               const int32_t* byte_ids, int32_t unk_id, std::vector<int32_t>* out,
               ModelScratch* scratch) {
  if (text.empty()) return;
  using Candidate = ModelScratch::Candidate;
  auto& sym = scratch->symbols;
  auto& heap = scratch->heap;
  sym.clear();
  heap.clear();
  // One symbol per UTF-8 character (a truncated tail is its own symbol, as in llama.cpp).
  size_t offs = 0;
  while (offs < text.size()) {
    const size_t len =
        std::min(unicode::Utf8SeqLen(static_cast<uint8_t>(text[offs])), text.size() - offs);
    const int32_t idx = static_cast<int32_t>(sym.size());
    sym.push_back({0, idx - 1, offs + len == text.size() ? -1 : idx + 1,
                   static_cast<uint32_t>(offs), static_cast<uint32_t>(len)});
    offs += len;
  }
  // Max-heap on score, then min on left.
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const auto& l = sym[static_cast<size_t>(left)];
    const auto& r = sym[static_cast<size_t>(right)];
    const std::string_view merged = text.substr(l.begin, l.len + r.len);
    const int32_t id = index.Find(merged);
    if (id < 0) return;
    const float score = scores.empty() ? 0.0f : scores[static_cast<size_t>(id)];
    heap.push_back({score, 0, left, right, 0, 0, id, static_cast<uint32_t>(merged.size())});
    std::push_heap(heap.begin(), heap.end(), worse);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Candidate c = heap.back();
    heap.pop_back();
    auto& l = sym[static_cast<size_t>(c.left)];
    auto& r = sym[static_cast<size_t>(c.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != c.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[static_cast<size_t>(r.next)].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) {
    const auto& s = sym[static_cast<size_t>(i)];
    const std::string_view piece = text.substr(s.begin, s.len);
    const int32_t id = index.Find(piece);
    if (id >= 0) {
      out->push_back(id);
      continue;
    }
    for (char ch : piece) {
      const int32_t b = byte_ids[static_cast<uint8_t>(ch)];
      if (b >= 0) {
        out->push_back(b);
      } else if (unk_id >= 0) {
        out->push_back(unk_id);
      }
    }
  }
}

}  // namespace ondo::tokenizer
