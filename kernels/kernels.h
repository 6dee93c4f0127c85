// kernels: pure functions over spans. Scalar references live in kernels/ref/ and are always
// built; kernels/x86/ (AVX2, AVX-512) and kernels/arm/ (NEON, NEON + dot product) override the
// hot ones, chosen once at start-up.
//
// Numerics follow llama.cpp's CPU backend where the golden tests compare against it:
// activations are converted to the weight type's "vec-dot type" before a dot product
// (F32 -> f32, F16 -> f16, BF16 -> bf16, Q8_0/Q4_0/Q5_0/IQ4_NL -> Q8_0, Q4_1/Q5_1 -> Q8_1,
// the K-quants and IQ4_XS -> Q8_K), sums of squares and softmax sums are accumulated in
// double in the references.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ondo::kernels {

// ggml type ids, exactly as stored in GGUF tensor infos.
enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,  // known by name only (refused at load)
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  // ondo's native types (blocks.h): ids no ggml type uses, accepted only inside .ondo models.
  kOQ2 = 60,
};

struct TypeInfo {
  DType type;
  const char* name;     // "F16", "Q8_0", ... as llama.cpp prints them
  int block_size;       // elements per block (1 for float types)
  int type_size;        // bytes per block
  bool supported;       // ondo can compute with it
  DType vec_dot_type;   // what activations are converted to before VecDot/MatMul
};

// nullptr for ids ondo does not know (including gaps such as 4, 5 and ids >= 40).
const TypeInfo* GetTypeInfo(uint32_t raw_type);
// "F32, F16, BF16, Q8_0, ..." : the weight types ondo computes with, for error messages.
const char* SupportedTypeNames();
inline const TypeInfo& Info(DType t) { return *GetTypeInfo(static_cast<uint32_t>(t)); }
// True for ondo's own types (OQ2), which a GGUF file may not hold: its id could mean something
// else to another program.
bool IsNativeType(DType t);
// Bytes of a row of n elements. REQUIRES: n % block_size == 0.
size_t RowBytes(DType type, int64_t n);

// IEEE binary16 / bfloat16 conversion, round to nearest even; NaN stays NaN.
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t h);

// --- rows -----------------------------------------------------------------------------
// Converts n floats to `type`: every supported weight type and the activation types Q8_1 and
// Q8_K, with llama.cpp's reference quantizers (quantize_row_*_ref: no importance weights), so
// that a row quantized here is byte-identical to llama-quantize's for the types that have no
// search (Q8_0 ... Q5_1, Q8_1, Q8_K) and for those whose search is deterministic (the K-quants,
// IQ4_NL, IQ4_XS). REQUIRES: n % block_size == 0, x finite.
void QuantizeRow(DType type, const float* x, void* out, int64_t n);
// As QuantizeRow, with importance weights: imatrix[n] holds the mean squared activation of
// each column (llama.cpp's imatrix), or is nullptr. OQ2's search uses them; the other types
// do not have a weighted search in ondo yet and quantize exactly as QuantizeRow.
void QuantizeRowWeighted(DType type, const float* x, void* out, int64_t n, const float* imatrix);
// Converts a row of `type` back to n floats (every supported type).
void DequantizeRow(DType type, const void* row, float* out, int64_t n);
// Dot product of one weight row of type `wtype` with x already in Info(wtype).vec_dot_type.
float VecDot(DType wtype, int64_t n, const void* w_row, const void* x_vd);

// y[t * y_stride + r] = dot(W row r, x row t) for r in [r0, r1), t in [0, n_tok).
// W rows are w_row_bytes apart; x rows (already in the vec-dot type) x_row_bytes apart.
// The runtime splits [0, n_rows) across threads; each call touches only its rows of y.
void MatMul(DType wtype, const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
            const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride);

// --- element-wise and normalisation ---------------------------------------------------
// out = x / sqrt(mean(x^2) + eps) * w   (w may be nullptr). In-place allowed.
void RmsNorm(const float* x, const float* w, float* out, int64_t n, float eps);
// out = (x - mean) / sqrt(var + eps) * w + b   (w, b may be nullptr). In-place allowed.
void LayerNorm(const float* x, const float* w, const float* b, float* out, int64_t n, float eps);
// In-place softmax over n values (max-subtracted, sum in double).
void Softmax(float* x, int64_t n);
// out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
void SwiGlu(const float* gate, const float* up, float* out, int64_t n);
// out = gelu(x), tanh approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
void Gelu(const float* x, float* out, int64_t n);
// out = gelu(gate) * up, gelu as Gelu (gemma3's FFN). In-place (out == gate or up) allowed.
void GeGlu(const float* gate, const float* up, float* out, int64_t n);
// y += x
void Add(const float* x, float* y, int64_t n);

enum class RopeMode {
  kNormal,  // rotate adjacent pairs (x[2i], x[2i+1]) -- llama
  kNeox,    // rotate (x[i], x[i + n_rot/2]) -- qwen2, qwen3, gptneox
};
// How a model rotates q and k: the parameters of llama.cpp's ggml_rope_ext, frequencies and
// YaRN ramp resolved once at load (runtime/model.cc), so the kernel only evaluates them.
struct RopeParams {
  int n_rot = 0;                 // rotated dims per head (partial rotary when < head_dim)
  RopeMode mode = RopeMode::kNormal;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;       // 1 / rope.scaling.factor (linear and YaRN interpolation)
  // [n_rot / 2] divisors of each pair's frequency (llama3 rope_freqs.weight), or nullptr.
  const float* freq_factors = nullptr;
  // YaRN: ext_factor > 0 mixes extrapolated and interpolated angles along a ramp over the
  // pair index from corr_low to corr_high; 0 disables it.
  float ext_factor = 0.0f;
  float corr_low = 0.0f;
  float corr_high = 0.0f;
  float mscale = 1.0f;           // cos and sin are multiplied by this (YaRN magnitude scaling)
};
// Rotates the first n_rot dims of each of n_heads heads (head_dim apart) in place for
// position pos, as llama.cpp's CPU backend does (ggml_rope_cache_init + rope_yarn): for pair i,
// theta_extrap = pos * base^(-2i/n_rot) / freq_factors[i] (theta multiplied by base^(-2/n_rot)
// pair after pair, in float), theta_interp = freq_scale * theta_extrap,
// theta = theta_interp * (1 - r_i) + theta_extrap * r_i with r_i = ext_factor *
// (1 - clamp((i - corr_low) / max(0.001, corr_high - corr_low), 0, 1)), and the pair is rotated
// by (mscale cos theta, mscale sin theta), cosf/sinf in float.
// REQUIRES: p.n_rot even, p.n_rot <= head_dim.
void Rope(float* x, int n_heads, int head_dim, int pos, const RopeParams& p);

// --- attention ------------------------------------------------------------------------
// Causal attention of `n_group` query heads sharing one KV head, for one query position,
// over cache rows [0, n_kv). Each K and V row is read once for the whole group.
// As llama.cpp (non-flash path, f16 cache): q is rounded to f16 before q.k, scores are
// scale * (q.k) in f32, softmax in f32 (sum in double), probabilities are rounded to f16 and
// the output is sum_j p_j * V[j] accumulated in f32.
struct AttentionArgs {
  const float* q;          // [n_group][head_dim]
  const uint16_t* k;       // f16 rows, k + j * kv_row_stride is row j
  const uint16_t* v;       // f16 rows, same stride
  int64_t kv_row_stride;   // elements between consecutive rows (>= head_dim)
  int n_group;             // query heads sharing this KV head
  int head_dim;
  int n_kv;                // rows to attend over (positions 0..n_kv-1)
  float scale;             // usually 1/sqrt(head_dim)
  float* out;              // [n_group][head_dim]; may be the same buffer as q
  float* scratch;          // >= n_group * n_kv floats (scores), caller-owned
};
// REQUIRES: n_group >= 1, head_dim >= 1, kv_row_stride >= head_dim, n_kv >= 0; rows
// [0, n_kv) of k and v readable. Allocates nothing.
void AttentionF16(const AttentionArgs& args);

// The same attention over a Q8_0 cache (memory::KvType::kQ8_0): each K and V row is
// head_dim / 32 llama.cpp block_q8_0 (f16 scale d, 32 int8 q), kv_row_bytes apart.
// Numerics (ondo's, not llama.cpp's, which converts q to Q8_0 for an integer dot): rows are
// read as the floats DequantizeRow gives (d * q, one f32 product per element); q stays f32;
// scores are scale * sum_i q_i k_i (products in f32, summed in double in the reference);
// softmax in f32 (sum in double) with the probabilities kept in f32 (no f16 rounding: V is
// not f16); out = sum_j p_j * V[j] accumulated in f32. So the only loss against an exact
// attention is the cache's own 8-bit storage.
struct AttentionQ8Args {
  const float* q;        // [n_group][head_dim]
  const void* k;         // Q8_0 rows, (const char*)k + j * kv_row_bytes is row j
  const void* v;         // Q8_0 rows, same stride
  int64_t kv_row_bytes;  // bytes between consecutive rows (>= head_dim / 32 * 34)
  int n_group;
  int head_dim;
  int n_kv;
  float scale;
  float* out;      // [n_group][head_dim]; may be the same buffer as q
  float* scratch;  // >= n_group * n_kv floats, caller-owned
};
// REQUIRES: n_group >= 1, head_dim >= 32, head_dim % 32 == 0, kv_row_bytes >= head_dim / 32 *
// 34, n_kv >= 0; rows [0, n_kv) of k and v readable. Allocates nothing.
void AttentionQ8_0(const AttentionQ8Args& args);

// Name of the kernel set chosen at start-up ("scalar", "avx2", "avx512", "neon", "neondot").
const char* ActiveIsa();

}  // namespace ondo::kernels
