// Model::Serialize / Model::Load (lexicon.h): the analyzer's tables in one compressed blob.
//
// Layout: a 32-byte header, then a zlib stream of the payload.
//   header  "OKC1" | u32 version | u32 0x01020304 (byte order) | u16 sizeof(Entry) |
//           u16 sizeof(Morph) | u16 sizeof(Params) | u16 Model::kTT | u64 payload bytes |
//           u32 CRC-32 of the payload
//   payload Params (raw) | per table, in VisitTables order: u64 element count, raw elements
// The blob is read back by the same build that wrote it (it is embedded in the library), so
// tables are stored in native layout; the header rejects a blob from another layout.
#include <zlib.h>

#include <cstring>
#include <limits>
#include <type_traits>

#include "tokenizer/korean/hangul.h"
#include "tokenizer/korean/lexicon.h"

namespace ondo::korean::detail {

// Calls f(table) for every table of m, in the serialized order.
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

constexpr char kMagic[4] = {'O', 'K', 'C', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kByteOrder = 0x01020304;
constexpr size_t kHeaderSize = 32;
constexpr uint64_t kMaxPayload = 256u << 20;

static_assert(std::is_trivially_copyable_v<Entry> && std::is_trivially_copyable_v<Morph> &&
              std::is_trivially_copyable_v<Params>);

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Inflates the payload table by table, straight into the model's vectors.
class Reader {
 public:
  explicit Reader(std::string_view compressed, uint64_t payload) : left_(payload) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    zs_.avail_in = static_cast<uInt>(compressed.size());
    ok_ = inflateInit(&zs_) == Z_OK;
  }
  ~Reader() {
    if (ok_) inflateEnd(&zs_);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  Status Read(void* dst, size_t n) {
    if (!ok_) return Corrupt("compiled Korean model: zlib init failed");
    if (n > left_) return Corrupt("compiled Korean model: tables exceed the payload size");
    zs_.next_out = static_cast<Bytef*>(dst);
    while (n > 0) {
      const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
      zs_.avail_out = chunk;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const size_t got = chunk - zs_.avail_out;
      crc_ = crc32(crc_, static_cast<const Bytef*>(zs_.next_out) - got, static_cast<uInt>(got));
      n -= got;
      left_ -= got;
      if (n > 0 && (rc != Z_OK || got == 0)) {
        return Corrupt("compiled Korean model: truncated or corrupt stream ({})", rc);
      }
    }
    return Status::Ok();
  }
  template <typename V>
  Status ReadTable(V* v) {
    uint64_t count = 0;
    ONDO_RETURN_IF_ERROR(Read(&count, sizeof(count)));
    using T = typename V::value_type;
    if (count > left_ / sizeof(T)) {
      return Corrupt("compiled Korean model: table of {} elements exceeds the payload", count);
    }
    v->resize(static_cast<size_t>(count));
    return Read(v->data(), static_cast<size_t>(count) * sizeof(T));
  }
  // The payload is used up, the stream ends here and its CRC matches.
  Status Finish(uint32_t crc) {
    if (left_ != 0) return Corrupt("compiled Korean model: {} payload bytes unread", left_);
    unsigned char extra;
    zs_.next_out = &extra;
    zs_.avail_out = 1;
    if (inflate(&zs_, Z_FINISH) != Z_STREAM_END || zs_.avail_out != 1 || zs_.avail_in != 0) {
      return Corrupt("compiled Korean model: stream does not end with the payload");
    }
    if (crc_ != crc) return Corrupt("compiled Korean model: CRC mismatch");
    return Status::Ok();
  }

 private:
  z_stream zs_{};
  bool ok_ = false;
  uint64_t left_;
  uLong crc_ = crc32(0, nullptr, 0);
};

}  // namespace

Status Model::Serialize(std::string* out) const {
  std::string payload;
  Put(&payload, params);
  VisitTables(*this, [&](const auto& v) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    Put<uint64_t>(&payload, v.size());
    payload.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  });
  uLongf bound = compressBound(static_cast<uLong>(payload.size()));
  std::string z(bound, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(z.data()), &bound,
                           reinterpret_cast<const Bytef*>(payload.data()),
                           static_cast<uLong>(payload.size()), Z_BEST_COMPRESSION);
  if (rc != Z_OK)
    return MakeStatus(StatusCode::kInternal, "compiled Korean model: zlib error {}", rc);
  z.resize(bound);
  out->clear();
  out->append(kMagic, 4);
  Put<uint32_t>(out, kVersion);
  Put<uint32_t>(out, kByteOrder);
  Put<uint16_t>(out, sizeof(Entry));
  Put<uint16_t>(out, sizeof(Morph));
  Put<uint16_t>(out, sizeof(Params));
  Put<uint16_t>(out, kTT);
  Put<uint64_t>(out, payload.size());
  Put<uint32_t>(out, static_cast<uint32_t>(crc32(crc32(0, nullptr, 0),
                                                 reinterpret_cast<const Bytef*>(payload.data()),
                                                 static_cast<uInt>(payload.size()))));
  out->append(z);
  return Status::Ok();
}

Status Model::Load(std::string_view compiled) {
  if (compiled.size() < kHeaderSize || std::memcmp(compiled.data(), kMagic, 4) != 0) {
    return Corrupt("compiled Korean model: bad magic");
  }
  const char* h = compiled.data();
  if (Get<uint32_t>(h + 4) != kVersion) {
    return Corrupt("compiled Korean model: version {}, expected {}", Get<uint32_t>(h + 4),
                   kVersion);
  }
  if (Get<uint32_t>(h + 8) != kByteOrder || Get<uint16_t>(h + 12) != sizeof(Entry) ||
      Get<uint16_t>(h + 14) != sizeof(Morph) || Get<uint16_t>(h + 16) != sizeof(Params) ||
      Get<uint16_t>(h + 18) != kTT) {
    return Corrupt("compiled Korean model: written by a build with another layout");
  }
  const uint64_t payload = Get<uint64_t>(h + 20);
  const uint32_t crc = Get<uint32_t>(h + 28);
  if (payload > kMaxPayload) return Corrupt("compiled Korean model: absurd size {}", payload);
  Model m;
  Reader r(compiled.substr(kHeaderSize), payload);
  ONDO_RETURN_IF_ERROR(r.Read(&m.params, sizeof(Params)));
  Status st = Status::Ok();
  VisitTables(m, [&](auto& v) {
    if (st.ok()) st = r.ReadTable(&v);
  });
  ONDO_RETURN_IF_ERROR(st);
  ONDO_RETURN_IF_ERROR(r.Finish(crc));
  ONDO_RETURN_IF_ERROR(m.Validate());
  *this = std::move(m);
  return Status::Ok();
}

// Every index the search follows stays inside its table, and every enum holds a value of its
// type (the blob is CRC-checked; this catches a blob of a different build that slipped past
// the header).
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
  const int64_t rows = static_cast<int64_t>(lex_cost_.size() / kTT);
  for (const Entry& e : entries) {
    if (static_cast<size_t>(e.morph_begin) + e.n_morph > morphs.size() || e.n_morph == 0 ||
        e.left > kLcEndRemainder || e.final > kFinalUnknown || e.stem > kStemFused ||
        e.harmony > kHa || static_cast<int>(e.first_tag) >= kNumTags ||
        static_cast<int>(e.last_tag) >= kNumTags || e.lex_row < -1 || e.lex_row >= rows) {
      return bad("entry");
    }
  }
  for (const Morph& m : morphs) {
    if (static_cast<size_t>(m.form) + m.form_len > pool_.size() ||
        static_cast<size_t>(m.alt) + m.alt_len > pool_.size() ||
        static_cast<int>(m.tag) >= kNumTags || m.sym_begin < -1 || m.sym_end < m.sym_begin) {
      return bad("morph");
    }
  }
  return Status::Ok();
}

}  // namespace ondo::korean::detail
