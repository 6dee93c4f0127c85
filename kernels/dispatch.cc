// Builds the kernel sets once and routes the kernels.h entry points through the active one.
#include "kernels/dispatch.h"

#include <cassert>

#include "kernels/ref/ref.h"
#include "platform/sys_info.h"
#if ONDO_KERNELS_X86
#include "kernels/x86/x86.h"
#endif
#if ONDO_KERNELS_ARM
#include "kernels/arm/arm.h"
#endif

namespace ondo::kernels {
namespace {

void SetType(KernelSet& s, DType t, QuantizeRowFn q, DequantizeRowFn dq, VecDotFn dot,
             MatMulFn mm) {
  s.types[static_cast<uint32_t>(t)] = TypeKernels{q, dq, dot, mm};
}

KernelSet MakeScalar() {
  KernelSet s{};
  s.isa = Isa::kScalar;
  s.name = "scalar";
  SetType(s, DType::kF32, ref::QuantizeRowF32, ref::DequantizeRowF32, ref::VecDotF32,
          ref::MatMulF32);
  SetType(s, DType::kF16, ref::QuantizeRowF16, ref::DequantizeRowF16, ref::VecDotF16,
          ref::MatMulF16);
  SetType(s, DType::kBF16, ref::QuantizeRowBf16, ref::DequantizeRowBf16, ref::VecDotBf16,
          ref::MatMulBf16);
  SetType(s, DType::kQ8_0, ref::QuantizeRowQ8_0, ref::DequantizeRowQ8_0, ref::VecDotQ8_0,
          ref::MatMulQ8_0);
  SetType(s, DType::kQ8_1, ref::QuantizeRowQ8_1, ref::DequantizeRowQ8_1, nullptr, nullptr);
  SetType(s, DType::kQ8_K, ref::QuantizeRowQ8_K, ref::DequantizeRowQ8_K, nullptr, nullptr);
#define ONDO_SET_REF(T) \
  SetType(s, DType::k##T, ref::QuantizeRow##T, ref::DequantizeRow##T, ref::VecDot##T, ref::MatMul##T);
  ONDO_SET_REF(Q4_0)
  ONDO_SET_REF(Q4_1)
  ONDO_SET_REF(Q5_0)
  ONDO_SET_REF(Q5_1)
  ONDO_SET_REF(IQ4_NL)
  ONDO_SET_REF(Q2_K)
  ONDO_SET_REF(Q3_K)
  ONDO_SET_REF(Q4_K)
  ONDO_SET_REF(Q5_K)
  ONDO_SET_REF(Q6_K)
  ONDO_SET_REF(IQ4_XS)
  ONDO_SET_REF(OQ2)
#undef ONDO_SET_REF
  s.rms_norm = ref::RmsNorm;
  s.layer_norm = ref::LayerNorm;
  s.softmax = ref::Softmax;
  s.swiglu = ref::SwiGlu;
  s.gelu = ref::Gelu;
  s.geglu = ref::GeGlu;
  s.add = ref::Add;
  s.rope = ref::Rope;
  s.attention_f16 = ref::AttentionF16;
  s.attention_q8_0 = ref::AttentionQ8_0;
  return s;
}

#if ONDO_KERNELS_X86
#define ONDO_SET_SIMD(NS, T)                                  \
  s.types[static_cast<uint32_t>(DType::k##T)].vec_dot = NS::VecDot##T; \
  s.types[static_cast<uint32_t>(DType::k##T)].mat_mul = NS::MatMul##T;
#define ONDO_SET_SIMD_ALL(NS)                                                        \
  s.types[static_cast<uint32_t>(DType::kQ8_1)].quantize_row = NS::QuantizeRowQ8_1;   \
  s.types[static_cast<uint32_t>(DType::kQ8_K)].quantize_row = NS::QuantizeRowQ8_K;   \
  ONDO_SET_SIMD(NS, Q4_0)                                                            \
  ONDO_SET_SIMD(NS, Q4_1)                                                            \
  ONDO_SET_SIMD(NS, Q5_0)                                                            \
  ONDO_SET_SIMD(NS, Q5_1)                                                            \
  ONDO_SET_SIMD(NS, IQ4_NL)                                                          \
  ONDO_SET_SIMD(NS, Q2_K)                                                            \
  ONDO_SET_SIMD(NS, Q3_K)                                                            \
  ONDO_SET_SIMD(NS, Q4_K)                                                            \
  ONDO_SET_SIMD(NS, Q5_K)                                                            \
  ONDO_SET_SIMD(NS, Q6_K)                                                            \
  ONDO_SET_SIMD(NS, IQ4_XS)                                                          \
  ONDO_SET_SIMD(NS, OQ2)

KernelSet MakeAvx2() {
  KernelSet s = MakeScalar();
  s.isa = Isa::kAvx2;
  s.name = "avx2";
  SetType(s, DType::kF32, ref::QuantizeRowF32, ref::DequantizeRowF32, avx2::VecDotF32,
          avx2::MatMulF32);
  SetType(s, DType::kF16, avx2::QuantizeRowF16, avx2::DequantizeRowF16, avx2::VecDotF16,
          avx2::MatMulF16);
  SetType(s, DType::kBF16, ref::QuantizeRowBf16, ref::DequantizeRowBf16, avx2::VecDotBf16,
          avx2::MatMulBf16);
  SetType(s, DType::kQ8_0, avx2::QuantizeRowQ8_0, ref::DequantizeRowQ8_0, avx2::VecDotQ8_0,
          avx2::MatMulQ8_0);
  ONDO_SET_SIMD_ALL(avx2)
  s.softmax = avx2::Softmax;
  s.swiglu = avx2::SwiGlu;
  s.attention_f16 = avx2::AttentionF16;
  s.attention_q8_0 = avx2::AttentionQ8_0;
  return s;
}

KernelSet MakeAvx512() {
  KernelSet s = MakeAvx2();
  s.isa = Isa::kAvx512;
  s.name = "avx512";
  SetType(s, DType::kF32, ref::QuantizeRowF32, ref::DequantizeRowF32, avx512::VecDotF32,
          avx512::MatMulF32);
  SetType(s, DType::kF16, avx512::QuantizeRowF16, avx512::DequantizeRowF16, avx512::VecDotF16,
          avx512::MatMulF16);
  SetType(s, DType::kQ8_0, avx512::QuantizeRowQ8_0, ref::DequantizeRowQ8_0, avx512::VecDotQ8_0,
          avx512::MatMulQ8_0);
  ONDO_SET_SIMD_ALL(avx512)
  s.softmax = avx512::Softmax;
  s.swiglu = avx2::SwiGlu;  // bound by memory, not by vector width
  s.attention_f16 = avx512::AttentionF16;
  s.attention_q8_0 = avx512::AttentionQ8_0;
  return s;
}
#undef ONDO_SET_SIMD_ALL
#undef ONDO_SET_SIMD
#endif

#if ONDO_KERNELS_ARM
// Each kernels/arm source registers what it implements over the scalar set (a type it does not
// cover keeps the reference kernels).
#define ONDO_MAKE_ARM(NS, ISA, NAME) \
  KernelSet Make_##NS() {            \
    KernelSet s = MakeScalar();      \
    s.isa = ISA;                     \
    s.name = NAME;                   \
    NS::RegisterBase(&s);            \
    NS::RegisterLegacy(&s);          \
    NS::RegisterK(&s);               \
    NS::RegisterOq2(&s);             \
    NS::RegisterOps(&s);             \
    return s;                        \
  }
ONDO_MAKE_ARM(neon, Isa::kNeon, "neon")
ONDO_MAKE_ARM(neondot, Isa::kNeonDot, "neondot")
#undef ONDO_MAKE_ARM
#endif

struct Registry {
  KernelSet sets[kNumIsas];
  bool available[kNumIsas] = {};
  const KernelSet* active = nullptr;
};

Registry Build() {
  Registry r;
  r.sets[0] = MakeScalar();
  r.available[0] = true;
#if ONDO_KERNELS_X86
  const platform::CpuFeatures& f = platform::GetCpuFeatures();
  r.sets[1] = MakeAvx2();
  r.available[1] = f.avx2 && f.fma && f.f16c;
  r.sets[2] = MakeAvx512();
  r.available[2] = r.available[1] && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni;
#endif
#if ONDO_KERNELS_ARM
  const platform::CpuFeatures& f = platform::GetCpuFeatures();
  r.sets[3] = Make_neon();
  r.available[3] = f.neon;
  r.sets[4] = Make_neondot();
  r.available[4] = f.neon && f.dotprod;
#endif
  for (int i = kNumIsas - 1; i >= 0; --i) {
    if (r.available[i]) {
      r.active = &r.sets[i];
      break;
    }
  }
  return r;
}

const Registry& GetRegistry() {
  static const Registry registry = Build();
  return registry;
}

// Choose at start-up rather than on the first kernel call.
[[maybe_unused]] const Registry& g_registry_at_startup = GetRegistry();

const TypeKernels& ActiveFor(DType t) {
  assert(static_cast<uint32_t>(t) < static_cast<uint32_t>(kMaxTypeId));
  return GetRegistry().active->For(t);
}

}  // namespace

const KernelSet* GetKernelSet(Isa isa) {
  const Registry& r = GetRegistry();
  const int i = static_cast<int>(isa);
  return (i >= 0 && i < kNumIsas && r.available[i]) ? &r.sets[i] : nullptr;
}

const KernelSet& ActiveKernels() { return *GetRegistry().active; }

const char* ActiveIsa() { return ActiveKernels().name; }

void QuantizeRow(DType type, const float* x, void* out, int64_t n) {
  const QuantizeRowFn fn = ActiveFor(type).quantize_row;
  assert(fn != nullptr && "QuantizeRow: type not supported");
  fn(x, out, n);
}

void QuantizeRowWeighted(DType type, const float* x, void* out, int64_t n, const float* imatrix) {
  if (type == DType::kOQ2) {
    ref::QuantizeRowOQ2Weighted(x, out, n, imatrix);
    return;
  }
  QuantizeRow(type, x, out, n);
}

void DequantizeRow(DType type, const void* row, float* out, int64_t n) {
  const DequantizeRowFn fn = ActiveFor(type).dequantize_row;
  assert(fn != nullptr && "DequantizeRow: type not supported");
  fn(row, out, n);
}

float VecDot(DType wtype, int64_t n, const void* w_row, const void* x_vd) {
  const VecDotFn fn = ActiveFor(wtype).vec_dot;
  assert(fn != nullptr && "VecDot: type not supported");
  return fn(n, w_row, x_vd);
}

void MatMul(DType wtype, const void* w, size_t w_row_bytes, int64_t r0, int64_t r1, int64_t k,
            const void* x_vd, size_t x_row_bytes, int n_tok, float* y, int64_t y_stride) {
  const MatMulFn fn = ActiveFor(wtype).mat_mul;
  assert(fn != nullptr && "MatMul: type not supported");
  fn(w, w_row_bytes, r0, r1, k, x_vd, x_row_bytes, n_tok, y, y_stride);
}

void RmsNorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  ActiveKernels().rms_norm(x, w, out, n, eps);
}
void LayerNorm(const float* x, const float* w, const float* b, float* out, int64_t n, float eps) {
  ActiveKernels().layer_norm(x, w, b, out, n, eps);
}
void Softmax(float* x, int64_t n) { ActiveKernels().softmax(x, n); }
void SwiGlu(const float* gate, const float* up, float* out, int64_t n) {
  ActiveKernels().swiglu(gate, up, out, n);
}
void Gelu(const float* x, float* out, int64_t n) { ActiveKernels().gelu(x, out, n); }
void GeGlu(const float* gate, const float* up, float* out, int64_t n) {
  ActiveKernels().geglu(gate, up, out, n);
}
void Add(const float* x, float* y, int64_t n) { ActiveKernels().add(x, y, n); }
void Rope(float* x, int n_heads, int head_dim, int pos, const RopeParams& p) {
  ActiveKernels().rope(x, n_heads, head_dim, pos, p);
}
void AttentionF16(const AttentionArgs& args) { ActiveKernels().attention_f16(args); }
void AttentionQ8_0(const AttentionQ8Args& args) { ActiveKernels().attention_q8_0(args); }

}  // namespace ondo::kernels
