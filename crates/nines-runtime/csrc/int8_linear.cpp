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
// input's minimum and maximum). One token with large activations would then coarsen every
// other row of a batch, so each row is first divided by its largest magnitude `r_i` (all rows
// then span about [-1, 1]: per-row quantization through the per-tensor kernel), and the
// output is multiplied back by `r_i` and by the weight scales `s_j`, then the bias is added:
// `y[i, j] = acc[i, j] · x_scale · r_i · s_j + bias[j]`.
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
    TORCH_CHECK(k == shape->size(1), "input has ", k, " features, the weight ", shape->size(1));
    auto x = input->reshape({-1, k}).contiguous();
    const int64_t m = x.size(0);
    auto normalized = at::empty_like(x);
    auto row_max = at::empty({m}, x.options());
    {
      const float* src = x.const_data_ptr<float>();
      float* dst = normalized.data_ptr<float>();
      float* rmax = row_max.data_ptr<float>();
      at::parallel_for(0, m, std::max<int64_t>(1, 16384 / std::max<int64_t>(k, 1)),
                       [&](int64_t begin, int64_t end) {
                         for (int64_t i = begin; i < end; ++i) {
                           const float* row = src + i * k;
                           float r = 0.0f;
                           for (int64_t c = 0; c < k; ++c) {
                             r = std::max(r, std::abs(row[c]));
                           }
                           const float inv = r > 0.0f ? 1.0f / r : 0.0f;
                           for (int64_t c = 0; c < k; ++c) {
                             dst[i * k + c] = row[c] * inv;
                           }
                           rmax[i] = r;
                         }
                       });
    }
    auto y = at::fbgemm_linear_int8_weight_fp32_activation(normalized, *shape, *packed,
                                                           *col_offsets, 1.0, 0, *zeros);
    {
      float* dst = y.data_ptr<float>();
      const float* rmax = row_max.const_data_ptr<float>();
      const float* scale = row_scale->const_data_ptr<float>();
      const float* b = bias != nullptr ? bias->const_data_ptr<float>() : nullptr;
      at::parallel_for(0, m, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)),
                       [&](int64_t begin, int64_t end) {
                         for (int64_t i = begin; i < end; ++i) {
                           float* row = dst + i * n;
                           const float r = rmax[i];
                           if (b != nullptr) {
                             for (int64_t j = 0; j < n; ++j) row[j] = row[j] * r * scale[j] + b[j];
                           } else {
                             for (int64_t j = 0; j < n; ++j) row[j] = row[j] * r * scale[j];
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
