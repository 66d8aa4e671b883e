// Int8 linear layers on LibTorch's FBGEMM kernels, which the Rust bindings (tch) do not
// expose: `at::fbgemm_pack_quantized_matrix` and `at::fbgemm_linear_int8_weight_fp32_activation`.
//
// Tensors cross the boundary as `at::Tensor*`, the representation tch uses for its own C
// wrappers: arguments are borrowed, results are new heap tensors whose ownership passes to
// the caller (tch frees them). No C++ exception crosses into Rust: every entry point catches
// them and returns the message as a `malloc`-ed string (free it with `nines_int8_free_error`),
// or NULL on success.

#include <ATen/ATen.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <utility>
#include <string>
#include <vector>

namespace {

char* error_string(const char* message) {
  const size_t n = std::strlen(message);
  char* out = static_cast<char*>(std::malloc(n + 1));
  if (out != nullptr) {
    std::memcpy(out, message, n + 1);
  }
  return out;
}

// Drops the one-time deprecation notices of the FBGEMM entry points used here and passes
// every other warning on.
class DropDeprecationNotices : public c10::WarningHandler {
 public:
  explicit DropDeprecationNotices(c10::WarningHandler* next) : next_(next) {}
  void process(const c10::Warning& warning) override {
    if (warning.msg().find("is deprecated") != std::string::npos &&
        warning.msg().find("fbgemm_") != std::string::npos) {
      return;
    }
    if (next_ != nullptr) {
      next_->process(warning);
    }
  }

 private:
  c10::WarningHandler* next_;
};

// The deprecation notices are `TORCH_WARN_ONCE`: run both kernels once on a tiny matrix
// with the notices filtered, so that they never reach stderr.
void consume_deprecation_notices() {
  static std::once_flag once;
  std::call_once(once, [] {
    DropDeprecationNotices handler(c10::WarningUtils::get_warning_handler());
    c10::WarningUtils::WarningHandlerGuard guard(&handler);
    try {
      auto w = at::ones({1, 1}, at::kChar);
      auto packed = at::fbgemm_pack_quantized_matrix(w);
      auto x = at::ones({1, 1}, at::kFloat);
      auto offsets = at::ones({1}, at::kInt);
      auto bias = at::zeros({1}, at::kFloat);
      (void)at::fbgemm_linear_int8_weight_fp32_activation(x, w, packed, offsets, 1.0, 0, bias);
    } catch (const std::exception&) {
      // The real call reports the problem (e.g. a CPU without FBGEMM support).
    }
  });
}


// The loops around the kernel run once per projection and decoding step. They are written to
// vectorize, and compiled twice: for AVX2 (which FBGEMM needs anyway) and plainly.
#if defined(__GNUC__) && defined(__x86_64__)
#define NINES_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define NINES_INLINE __attribute__((always_inline)) inline
#else
#define NINES_TARGET_AVX2
#define NINES_INLINE inline
#endif

constexpr float kStep = 2.0f / 255.0f;
constexpr float kInvStep = 255.0f / 2.0f;
constexpr float kRange = 254.0f / 255.0f;
// Adding and subtracting 1.5 · 2^23 rounds a float of magnitude below 2^22 to the nearest
// integer (ties to even), as the kernel's conversion does.
constexpr float kRound = 12582912.0f;

NINES_INLINE float abs_max(const float* v, int64_t k) {
  float r = 0.0f;
  for (int64_t c = 0; c < k; ++c) {
    const float a = std::fabs(v[c]);
    r = a > r ? a : r;
  }
  return r;
}

// Writes row `src` normalized (`hi`) and its normalized rounding residual (`lo`); returns the
// two factors that undo the normalizations.
NINES_INLINE std::pair<float, float> split_row(const float* src, float* hi, float* lo,
                                               int64_t k) {
  const float r = abs_max(src, k);
  const float inv = r > 0.0f ? kRange / r : 0.0f;
  for (int64_t c = 0; c < k; ++c) {
    const float h = src[c] * inv;
    hi[c] = h;
  }
  for (int64_t c = 0; c < k; ++c) {
    const float scaled = hi[c] * kInvStep;
    const float rounded = (scaled + kRound) - kRound;
    lo[c] = hi[c] - rounded * kStep;
  }
  const float e = abs_max(lo, k);
  const float inv_e = e > 0.0f ? kRange / e : 0.0f;
  for (int64_t c = 0; c < k; ++c) lo[c] *= inv_e;
  return {r / kRange, (r / kRange) * (e / kRange)};
}

// Writes row `src` normalized; returns the factor that undoes the normalization.
NINES_INLINE float scale_row(const float* src, float* hi, int64_t k) {
  const float r = abs_max(src, k);
  const float inv = r > 0.0f ? kRange / r : 0.0f;
  for (int64_t c = 0; c < k; ++c) hi[c] = src[c] * inv;
  return r / kRange;
}

NINES_INLINE void scale_back_row(const float* hi, float r, const float* scale,
                                 const float* bias, float* out, int64_t n) {
  if (bias != nullptr) {
    for (int64_t j = 0; j < n; ++j) out[j] = hi[j] * r * scale[j] + bias[j];
  } else {
    for (int64_t j = 0; j < n; ++j) out[j] = hi[j] * r * scale[j];
  }
}

NINES_INLINE void combine_row(const float* hi, const float* lo, float r, float re,
                              const float* scale, const float* bias, float* out, int64_t n) {
  if (bias != nullptr) {
    for (int64_t j = 0; j < n; ++j) out[j] = (hi[j] * r + lo[j] * re) * scale[j] + bias[j];
  } else {
    for (int64_t j = 0; j < n; ++j) out[j] = (hi[j] * r + lo[j] * re) * scale[j];
  }
}

NINES_TARGET_AVX2 std::pair<float, float> split_row_avx2(const float* src, float* hi, float* lo,
                                                         int64_t k) {
  return split_row(src, hi, lo, k);
}

NINES_TARGET_AVX2 void combine_row_avx2(const float* hi, const float* lo, float r, float re,
                                        const float* scale, const float* bias, float* out,
                                        int64_t n) {
  combine_row(hi, lo, r, re, scale, bias, out, n);
}

NINES_TARGET_AVX2 float scale_row_avx2(const float* src, float* hi, int64_t k) {
  return scale_row(src, hi, k);
}

NINES_TARGET_AVX2 void scale_back_row_avx2(const float* hi, float r, const float* scale,
                                           const float* bias, float* out, int64_t n) {
  scale_back_row(hi, r, scale, bias, out, n);
}

bool has_avx2() {
#if defined(__GNUC__) && defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return avx2;
#else
  return false;
#endif
}

}  // namespace

extern "C" {

void nines_int8_free_error(char* error) { std::free(error); }

// Packs `weight` `(out, in)` int8 into FBGEMM's blocked layout. `*packed` receives an opaque
// uint8 tensor that owns the packed matrix.
char* nines_int8_pack(const at::Tensor* weight, at::Tensor** packed) {
  try {
    consume_deprecation_notices();
    TORCH_CHECK(weight->scalar_type() == at::kChar, "int8 weight expected, got ",
                weight->scalar_type());
    TORCH_CHECK(weight->dim() == 2, "2-D weight expected, got ", weight->dim(), " dimensions");
    *packed = new at::Tensor(at::fbgemm_pack_quantized_matrix(weight->contiguous()));
    return nullptr;
  } catch (const std::exception& e) {
    return error_string(e.what());
  } catch (...) {
    return error_string("unknown C++ exception while packing an int8 matrix");
  }
}

// `y = x · Wᵀ + bias` for `input` `(…, in)` f32 and the int8 weight `W_q` `(out, in)` with
// per-output-channel scales `row_scale` `(out,)`.
//
// The kernel quantizes its whole input with one scale and zero point (uint8, from the
// input's minimum and maximum). Two things are done around it:
//
// * Per-row scales. Each input row is divided by its largest magnitude `r_i`, so that every
//   row spans [-1, 1] and one scale fits them all; the output row is multiplied back. (One
//   token with large activations would otherwise coarsen every other row of the batch.)
// * Two levels (`levels` = 2). 8 bits per activation cost SmolLM2 4.4% validation
//   perplexity; the rounding residual of each normalized row, itself normalized by its
//   largest magnitude `e_i` (about half a quantization step), goes through the kernel as a
//   second row, and the two outputs are added: activations carry about 15 bits, the weights
//   8. The kernel does twice the arithmetic. With `levels` = 1 the residual rows are left
//   out (`e_i` = 0): for inputs smoothed per channel beforehand, where 8 bits suffice.
//
// An anchor row holding -1 and 1 fixes the kernel's range to exactly [-1, 1] (step 2/255),
// so the rounding residual is computed here as the kernel will round. Rows are scaled to
// [-254/255, 254/255] rather than [-1, 1]: at ±1 the value sits on a rounding tie, which
// the kernel (multiplying by a float inverse step) may break either way.
// Output: `y[i, j] = (acc_hi[i, j] · r_i + acc_lo[i, j] · r_i · e_i) · s_j + bias[j]`, where
// `acc` is the kernel's dequantized product with weight scale 1 and `r_i`, `e_i` undo the
// two normalizations.
//
// `shape` is any int8 tensor of the weight's shape `(out, in)` (the kernel reads only its
// sizes); `packed` comes from `nines_int8_pack`; `col_offsets` `(out,)` int32 are the row sums
// of `W_q`; `zeros` `(out,)` f32 is the kernel's (zero) bias; `bias` `(out,)` f32 may be NULL.
char* nines_int8_linear(const at::Tensor* input, const at::Tensor* shape,
                        const at::Tensor* packed, const at::Tensor* col_offsets,
                        const at::Tensor* zeros, const at::Tensor* row_scale,
                        const at::Tensor* bias, int64_t levels, at::Tensor** out) {
  try {
    consume_deprecation_notices();
    TORCH_CHECK(input->scalar_type() == at::kFloat, "f32 input expected, got ",
                input->scalar_type());
    TORCH_CHECK(input->device().is_cpu(), "int8 linear layers run on the CPU only");
    TORCH_CHECK(input->dim() >= 2, "input needs at least 2 dimensions");
    const int64_t k = input->size(-1);
    const int64_t n = shape->size(0);
    TORCH_CHECK(k >= 2, "int8 linear layers need at least 2 input features");
    TORCH_CHECK(k == shape->size(1), "input has ", k, " features, the weight ", shape->size(1));
    TORCH_CHECK(levels == 1 || levels == 2, "1 or 2 activation levels, got ", levels);
    auto x = input->reshape({-1, k}).contiguous();
    const int64_t m = x.size(0);
    const bool two = levels == 2;
    // Kernel rows: 0..m the normalized inputs, m..2m their normalized residuals (two levels),
    // then the anchor.
    const int64_t rows = two ? 2 * m : m;
    auto a = at::empty({rows + 1, k}, x.options());
    auto row_max = at::empty({2 * m}, x.options());
    const bool avx2 = has_avx2();
    {
      const float* src = x.const_data_ptr<float>();
      float* dst = a.data_ptr<float>();
      float* rmax = row_max.data_ptr<float>();
      at::parallel_for(0, m, std::max<int64_t>(1, 16384 / k), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          if (!two) {
            rmax[i] = avx2 ? scale_row_avx2(src + i * k, dst + i * k, k)
                           : scale_row(src + i * k, dst + i * k, k);
            rmax[m + i] = 0.0f;
            continue;
          }
          auto f = avx2 ? split_row_avx2(src + i * k, dst + i * k, dst + (m + i) * k, k)
                        : split_row(src + i * k, dst + i * k, dst + (m + i) * k, k);
          rmax[i] = f.first;
          rmax[m + i] = f.second;
        }
      });
      float* anchor = dst + rows * k;
      std::fill(anchor, anchor + k, 0.0f);
      anchor[0] = -1.0f;
      anchor[1] = 1.0f;
    }
    auto acc = at::fbgemm_linear_int8_weight_fp32_activation(a, *shape, *packed, *col_offsets,
                                                             1.0, 0, *zeros);
    auto y = at::empty({m, n}, x.options());
    {
      const float* src = acc.const_data_ptr<float>();
      float* dst = y.data_ptr<float>();
      const float* rmax = row_max.const_data_ptr<float>();
      const float* scale = row_scale->const_data_ptr<float>();
      const float* b = bias != nullptr ? bias->const_data_ptr<float>() : nullptr;
      at::parallel_for(0, m, std::max<int64_t>(1, 16384 / n), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const float* hi = src + i * n;
          if (!two) {
            if (avx2) {
              scale_back_row_avx2(hi, rmax[i], scale, b, dst + i * n, n);
            } else {
              scale_back_row(hi, rmax[i], scale, b, dst + i * n, n);
            }
            continue;
          }
          const float* lo = src + (m + i) * n;
          if (avx2) {
            combine_row_avx2(hi, lo, rmax[i], rmax[m + i], scale, b, dst + i * n, n);
          } else {
            combine_row(hi, lo, rmax[i], rmax[m + i], scale, b, dst + i * n, n);
          }
        }
      });
    }
    auto sizes = input->sizes().vec();
    sizes.back() = n;
    *out = new at::Tensor(y.view(sizes));
    return nullptr;
  } catch (const std::exception& e) {
    return error_string(e.what());
  } catch (...) {
    return error_string("unknown C++ exception in an int8 linear layer");
  }
}

}  // extern "C"
