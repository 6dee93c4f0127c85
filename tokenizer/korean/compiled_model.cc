// Model::Serialize / Load / MapInPlace (lexicon.h): the analyzer's tables in one blob that is
// used in place, uncompressed (the library embeds it in .rodata, 64-byte aligned, so the
// kernel maps it from the file, shares it between processes and reads only the pages the
// search touches).
//
// Format "OKC2", explicit: every integer and float little-endian, fixed width (IEEE-754 binary32
// floats), tables at 64-byte aligned offsets.
//   header (64 bytes)
//     0  "OKC2"
//     4  u32 version (2)
//     8  u32 layout: CompiledModelLayout() (lexicon.h), a hash of the sizes and field offsets
//        of Entry, Morph and Params; a build whose structs lay out otherwise rejects the blob
//        instead of misreading it (and a cross build fails to compile, see compile_model.cc)
//    12  u32 number of tables (17: Params as a table of one element, then VisitTables order)
//    16  u64 total size of the blob in bytes
//    24  u32 CRC-32 of bytes [32, total)
//    28  36 zero bytes
//   directory (at 64): per table { u64 offset, u64 element count, u32 element size, u32 0 }
//   tables, in directory order, each at a multiple of 64, zero bytes between them; the last
//   one ends the blob.
// The structs are stored as their in-memory bytes, so the layout hash stands for their
// field-by-field layout; Entry and Morph hold only fixed-width fields with no padding (checked
// below), identical on x86-64, AArch64 and 32-bit ARM. A big-endian host cannot use the
// tables in place: it gets Unsupported and Analyzer::Create builds the model from the data.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/lexicon.h"

namespace ondo::korean::detail {

// Calls f(table) for every table of m, in the serialized order (after Params).
template <typename M, typename F>
void VisitTables(M& m, F&& f) {
  f(m.entries);
  f(m.morphs);
  f(m.pool_);
  f(m.trans_);
  f(m.lex_cost_);
  f(m.cross_);
  f(m.cross_end_);
  f(m.unk_syl_);
  f(m.root_);
  f(m.node_child_begin_);
  f(m.node_child_count_);
  f(m.node_entry_begin_);
  f(m.node_entry_count_);
  f(m.child_sym_);
  f(m.child_node_);
  f(m.entry_ids_);
}

namespace {

constexpr char kMagic[4] = {'O', 'K', 'C', '2'};
constexpr uint32_t kVersion = 2;
constexpr size_t kHeaderSize = 64;
constexpr size_t kDirEntrySize = 24;
constexpr uint32_t kNumTables = 17;
constexpr size_t kAlign = 64;
constexpr uint64_t kMaxBlob = 256u << 20;
constexpr float kMaxCost = 1e6f;  // nats; real costs are below 100

static_assert(std::is_trivially_copyable_v<Entry> && std::is_trivially_copyable_v<Morph> &&
              std::is_trivially_copyable_v<Params>);
static_assert(std::is_standard_layout_v<Entry> && std::is_standard_layout_v<Morph> &&
              std::is_standard_layout_v<Params>);
static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
// No padding: the bytes of a table are exactly its fields.
static_assert(sizeof(Entry) == 4 + 12 * 1 + 4 + 4 + 4,
              "Entry changed: keep it free of padding and update CompiledModelLayout (lexicon.h)");
static_assert(sizeof(Morph) == 4 + 4 + 2 + 2 + 1 + 1 + 1 + 1,
              "Morph changed: keep it free of padding and update CompiledModelLayout (lexicon.h)");
static_assert(alignof(Entry) <= 8 && alignof(Morph) <= 8 && alignof(Params) <= 8);

constexpr uint32_t kLayout = CompiledModelLayout();

// Little-endian fixed-width fields of the header and the directory.
template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, sizeof(T));
}

template <typename T>
T Get(const char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<T>(static_cast<unsigned char>(p[i])) << (8 * i));
  }
  return v;
}

uint32_t Crc(const char* p, size_t n) {
  uLong crc = crc32(0, nullptr, 0);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

// Points `table` at its bytes in the blob after checking the directory entry: element size,
// alignment, order (no overlap with what comes before), bounds, zero padding.
template <typename T>
Status MapTable(std::string_view blob, const char* dir, size_t* pos, Table<T>* table) {
  const uint64_t offset = Get<uint64_t>(dir);
  const uint64_t count = Get<uint64_t>(dir + 8);
  const uint32_t elem = Get<uint32_t>(dir + 16);
  if (elem != sizeof(T)) {
    return Corrupt("compiled Korean model: table element of {} bytes, expected {}", elem,
                   sizeof(T));
  }
  if (Get<uint32_t>(dir + 20) != 0) return Corrupt("compiled Korean model: reserved field set");
  if (offset % kAlign != 0 || offset < *pos || offset > blob.size()) {
    return Corrupt("compiled Korean model: table offset {} misplaced", offset);
  }
  if (count > (blob.size() - offset) / sizeof(T)) {
    return Corrupt("compiled Korean model: table of {} elements at {} exceeds the {} bytes", count,
                   offset, blob.size());
  }
  for (size_t i = *pos; i < offset; ++i) {
    if (blob[i] != 0) return Corrupt("compiled Korean model: non-zero padding at {}", i);
  }
  table->View(reinterpret_cast<const T*>(blob.data() + offset), static_cast<size_t>(count));
  *pos = static_cast<size_t>(offset + count * sizeof(T));
  return Status::Ok();
}

}  // namespace

Status Model::Serialize(std::string* out) const {
  if constexpr (std::endian::native != std::endian::little) {
    return Unsupported("compiled Korean model: the format is little-endian, this host is not");
  }
  const Table<Params> params_table = [&] {
    Table<Params> t;
    t.push_back(params);
    return t;
  }();
  // Directory first (offsets known once the sizes are), then the tables.
  std::vector<std::pair<const char*, uint64_t>> tables;  // bytes, count
  std::vector<uint32_t> elems;
  auto add = [&](const auto& t) {
    using T = typename std::decay_t<decltype(t)>::value_type;
    tables.emplace_back(reinterpret_cast<const char*>(t.data()), t.size());
    elems.push_back(sizeof(T));
  };
  add(params_table);
  VisitTables(*this, add);
  std::string dir;
  size_t pos = kHeaderSize + kNumTables * kDirEntrySize;
  std::vector<size_t> offsets;
  for (size_t i = 0; i < tables.size(); ++i) {
    pos = (pos + kAlign - 1) / kAlign * kAlign;
    offsets.push_back(pos);
    Put<uint64_t>(&dir, pos);
    Put<uint64_t>(&dir, tables[i].second);
    Put<uint32_t>(&dir, elems[i]);
    Put<uint32_t>(&dir, 0);
    pos += tables[i].second * elems[i];
  }
  std::string body(pos, '\0');
  std::memcpy(body.data() + kHeaderSize, dir.data(), dir.size());
  for (size_t i = 0; i < tables.size(); ++i) {
    if (tables[i].second > 0) {
      std::memcpy(body.data() + offsets[i], tables[i].first, tables[i].second * elems[i]);
    }
  }
  std::string header;
  header.append(kMagic, 4);
  Put<uint32_t>(&header, kVersion);
  Put<uint32_t>(&header, kLayout);
  Put<uint32_t>(&header, kNumTables);
  Put<uint64_t>(&header, pos);
  std::memcpy(body.data(), header.data(), header.size());
  Put<uint32_t>(&header, Crc(body.data() + 32, body.size() - 32));
  std::memcpy(body.data(), header.data(), header.size());
  *out = std::move(body);
  return Status::Ok();
}

Status Model::Load(std::string_view compiled) {
  if (compiled.size() > kMaxBlob) return Corrupt("compiled Korean model: absurd size");
  std::vector<uint64_t> buf((compiled.size() + 7) / 8);
  if (!compiled.empty()) std::memcpy(buf.data(), compiled.data(), compiled.size());
  Model m;
  ONDO_RETURN_IF_ERROR(m.MapInPlace(
      std::string_view(reinterpret_cast<const char*>(buf.data()), compiled.size()), true));
  m.blob_ = std::move(buf);  // the buffer keeps its address: the views stay valid
  *this = std::move(m);
  return Status::Ok();
}

Status Model::MapInPlace(std::string_view blob, bool check_crc) {
  if constexpr (std::endian::native != std::endian::little) {
    return Unsupported("compiled Korean model: the format is little-endian, this host is not");
  }
  if (reinterpret_cast<uintptr_t>(blob.data()) % 8 != 0) {
    return InvalidArgument("compiled Korean model: not at an 8-byte boundary");
  }
  if (blob.size() < kHeaderSize || std::memcmp(blob.data(), kMagic, 4) != 0) {
    return Corrupt("compiled Korean model: bad magic");
  }
  const char* h = blob.data();
  if (Get<uint32_t>(h + 4) != kVersion) {
    return Corrupt("compiled Korean model: version {}, expected {}", Get<uint32_t>(h + 4),
                   kVersion);
  }
  if (Get<uint32_t>(h + 8) != kLayout) {
    return Corrupt("compiled Korean model: written by a build with another table layout");
  }
  if (Get<uint32_t>(h + 12) != kNumTables) {
    return Corrupt("compiled Korean model: {} tables, expected {}", Get<uint32_t>(h + 12),
                   kNumTables);
  }
  if (Get<uint64_t>(h + 16) != blob.size()) {
    return Corrupt("compiled Korean model: {} bytes, the header says {} (truncated or padded)",
                   blob.size(), Get<uint64_t>(h + 16));
  }
  for (size_t i = 28; i < kHeaderSize; ++i) {
    if (h[i] != 0) return Corrupt("compiled Korean model: reserved header byte {} set", i);
  }
  const size_t dir_end = kHeaderSize + kNumTables * kDirEntrySize;
  if (blob.size() < dir_end) return Corrupt("compiled Korean model: truncated directory");
  if (check_crc && Crc(blob.data() + 32, blob.size() - 32) != Get<uint32_t>(h + 24)) {
    return Corrupt("compiled Korean model: CRC mismatch");
  }
  Model m;
  size_t pos = dir_end;
  const char* dir = h + kHeaderSize;
  Table<Params> params_table;
  ONDO_RETURN_IF_ERROR(MapTable(blob, dir, &pos, &params_table));
  if (params_table.size() != 1) return Corrupt("compiled Korean model: no parameters");
  std::memcpy(&m.params, params_table.data(), sizeof(Params));
  Status st = Status::Ok();
  size_t i = 1;
  VisitTables(m, [&](auto& t) {
    if (st.ok()) st = MapTable(blob, dir + kDirEntrySize * i++, &pos, &t);
  });
  ONDO_RETURN_IF_ERROR(st);
  if (pos != blob.size()) {
    return Corrupt("compiled Korean model: {} bytes after the last table", blob.size() - pos);
  }
  ONDO_RETURN_IF_ERROR(m.Validate());
  *this = std::move(m);
  return Status::Ok();
}

size_t Model::HeapBytes() const {
  size_t n = blob_.capacity() * sizeof(uint64_t);
  VisitTables(*this, [&](const auto& t) { n += t.heap_bytes(); });
  return n;
}

// Every index the search follows stays inside its table, and every enum holds a value of its
// type: the bytes are never trusted (a blob that passes the CRC, or is used without one, may
// still come from a faulty writer).
Status Model::Validate() const {
  auto bad = [](std::string_view what) {
    return Corrupt("compiled Korean model: inconsistent tables ({})", what);
  };
  const size_t tt = static_cast<size_t>(kTT) * kTT;
  if (trans_.size() != tt || cross_.size() != tt || cross_end_.size() != static_cast<size_t>(kTT) ||
      unk_syl_.size() != static_cast<size_t>(kSCount) || lex_cost_.size() % kTT != 0) {
    return bad("cost tables");
  }
  const size_t nodes = node_child_begin_.size();
  if (root_.size() != static_cast<size_t>(kNumSymbols) || node_child_count_.size() != nodes ||
      node_entry_begin_.size() != nodes || node_entry_count_.size() != nodes ||
      child_sym_.size() != child_node_.size()) {
    return bad("trie sizes");
  }
  for (uint32_t n : root_) {
    if (n >= nodes) return bad("root");
  }
  for (size_t i = 0; i < nodes; ++i) {
    if (static_cast<size_t>(node_child_begin_[i]) + node_child_count_[i] > child_sym_.size() ||
        static_cast<size_t>(node_entry_begin_[i]) + node_entry_count_[i] > entry_ids_.size()) {
      return bad("trie node");
    }
  }
  for (uint32_t n : child_node_) {
    if (n >= nodes) return bad("trie child");
  }
  for (uint32_t e : entry_ids_) {
    if (e >= entries.size()) return bad("entry id");
  }
  // The trie is a tree whose children are numbered after their parent (as the builder does),
  // so each reachable node has one depth: the length in symbols of the surfaces of the entries
  // listed there. It bounds the symbol spans of their morphs, which the search uses as
  // positions in the text's symbols. (Depths saturate at 255; spans are int8_t anyway.)
  std::vector<uint8_t> depth(nodes, 0);
  for (uint32_t n : root_) {
    if (n == 0) continue;
    if (depth[n] != 0) return bad("root shares a node");
    depth[n] = 1;
  }
  for (size_t i = 1; i < nodes; ++i) {
    if (depth[i] == 0) continue;  // unreachable
    const uint8_t d = static_cast<uint8_t>(std::min(255, depth[i] + 1));
    for (uint32_t k = 0; k < node_child_count_[i]; ++k) {
      const uint32_t c = child_node_[node_child_begin_[i] + k];
      if (c <= i || depth[c] != 0) return bad("trie is not a tree");
      depth[c] = d;
    }
    for (uint32_t k = 0; k < node_entry_count_[i]; ++k) {
      const Entry& e = entries[entry_ids_[node_entry_begin_[i] + k]];
      if (static_cast<size_t>(e.morph_begin) + e.n_morph > morphs.size()) return bad("entry");
      for (uint32_t j = 0; j < e.n_morph; ++j) {
        const Morph& m = morphs[e.morph_begin + j];
        if (m.sym_begin >= 0 && m.sym_end > depth[i]) return bad("morph span");
      }
    }
  }
  // Costs are finite and of a sane size, so that sums over any text stay finite and the
  // search always has a best path (a NaN or an infinity would compare false everywhere).
  auto sane = [](float x) { return std::isfinite(x) && std::fabs(x) <= kMaxCost; };
  for (const Table<float>* t : {&trans_, &lex_cost_, &cross_, &cross_end_, &unk_syl_}) {
    for (float x : *t) {
      if (!sane(x)) return bad("cost");
    }
  }
  // Params: floats but for unk_max_syl, whose words read as floats are tiny and finite.
  static_assert(sizeof(Params) % 4 == 0);
  for (size_t off = 0; off < sizeof(Params); off += 4) {
    if (off == offsetof(Params, unk_max_syl)) continue;
    float x;
    std::memcpy(&x, reinterpret_cast<const char*>(&params) + off, 4);
    if (!sane(x)) return bad("parameter");
  }
  const int64_t rows = static_cast<int64_t>(lex_cost_.size() / kTT);
  for (const Entry& e : entries) {
    if (!sane(e.first_emit) || !sane(e.rest_cost)) return bad("entry cost");
    // bool fields are read as bool: only the bytes 0 and 1 are values of that type.
    uint8_t flags[2];
    std::memcpy(&flags[0], &e.uncontracted_ok, 1);
    std::memcpy(&flags[1], &e.harmonic_output, 1);
    if (static_cast<size_t>(e.morph_begin) + e.n_morph > morphs.size() || e.n_morph == 0 ||
        e.left > kLcEndRemainder || e.final > kFinalUnknown || e.stem > kStemFused ||
        e.harmony > kHa || static_cast<int>(e.first_tag) >= kNumTags ||
        static_cast<int>(e.last_tag) >= kNumTags || e.lex_row < -1 || e.lex_row >= rows ||
        flags[0] > 1 || flags[1] > 1) {
      return bad("entry");
    }
  }
  for (const Morph& m : morphs) {
    uint8_t alt_static;
    std::memcpy(&alt_static, &m.alt_static, 1);
    if (static_cast<size_t>(m.form) + m.form_len > pool_.size() ||
        static_cast<size_t>(m.alt) + m.alt_len > pool_.size() ||
        static_cast<int>(m.tag) >= kNumTags || m.sym_begin < -1 || m.sym_end < m.sym_begin ||
        alt_static > 1) {
      return bad("morph");
    }
  }
  return Status::Ok();
}

}  // namespace ondo::korean::detail
