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
// * Two levels. 8 bits per activation cost SmolLM2 4.4% validation perplexity; the rounding
//   residual of each normalized row, itself normalized by its largest magnitude `e_i`
//   (about half a quantization step), goes through the kernel as a second row, and the two
//   outputs are added: activations carry about 15 bits, the weights 8. At a decoding step
//   the rows are few and the kernel's time is reading the weights, which happens once for
//   both levels.
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
                        const at::Tensor* bias, at::Tensor** out) {
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
    auto x = input->reshape({-1, k}).contiguous();
    const int64_t m = x.size(0);
    // Kernel rows: 0..m the normalized inputs, m..2m their normalized residuals, 2m the anchor.
    auto a = at::zeros({2 * m + 1, k}, x.options());
    auto row_max = at::empty({2 * m}, x.options());
    constexpr float kStep = 2.0f / 255.0f;
    constexpr float kInvStep = 255.0f / 2.0f;
    constexpr float kRange = 254.0f / 255.0f;
    const int64_t in_grain = std::max<int64_t>(1, 16384 / k);
    {
      const float* src = x.const_data_ptr<float>();
      float* dst = a.data_ptr<float>();
      float* rmax = row_max.data_ptr<float>();
      at::parallel_for(0, m, in_grain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const float* row = src + i * k;
          float* hi = dst + i * k;
          float* lo = dst + (m + i) * k;
          float r = 0.0f;
          for (int64_t c = 0; c < k; ++c) r = std::max(r, std::abs(row[c]));
          const float inv = r > 0.0f ? kRange / r : 0.0f;
          float e = 0.0f;
          for (int64_t c = 0; c < k; ++c) {
            hi[c] = row[c] * inv;
            lo[c] = hi[c] - std::nearbyint(hi[c] * kInvStep) * kStep;
            e = std::max(e, std::abs(lo[c]));
          }
          const float inv_e = e > 0.0f ? kRange / e : 0.0f;
          for (int64_t c = 0; c < k; ++c) lo[c] *= inv_e;
          rmax[i] = r / kRange;
          rmax[m + i] = (r / kRange) * (e / kRange);
        }
      });
      float* anchor = dst + 2 * m * k;
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
      at::parallel_for(0, m, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)),
                       [&](int64_t begin, int64_t end) {
                         for (int64_t i = begin; i < end; ++i) {
                           const float* hi = src + i * n;
                           const float* lo = src + (m + i) * n;
                           const float r = rmax[i];
                           const float re = rmax[m + i];
                           float* row = dst + i * n;
                           for (int64_t j = 0; j < n; ++j) {
                             row[j] = (hi[j] * r + lo[j] * re) * scale[j] + (b ? b[j] : 0.0f);
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
