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
#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>

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

// `y = (x_q · W_qᵀ) · x_scale · row_scale + bias`: `input` `(…, in)` f32 is quantized per
// tensor (uint8, asymmetric) by the kernel; `shape` is any int8 tensor of the weight's shape
// `(out, in)` (the kernel reads only its sizes); `packed` comes from `nines_int8_pack`;
// `col_offsets` `(out,)` int32 are the row sums of the int8 weight; the kernel dequantizes with
// weight scale 1 and adds `bias_over_scale` `(out,)` (the bias divided by `row_scale`); the
// result is then multiplied by `row_scale` `(out,)`, the per-output-channel weight scales.
char* nines_int8_linear(const at::Tensor* input, const at::Tensor* shape,
                        const at::Tensor* packed, const at::Tensor* col_offsets,
                        const at::Tensor* bias_over_scale, const at::Tensor* row_scale,
                        at::Tensor** out) {
  try {
    consume_deprecation_notices();
    TORCH_CHECK(input->scalar_type() == at::kFloat, "f32 input expected, got ",
                input->scalar_type());
    TORCH_CHECK(input->device().is_cpu(), "int8 linear layers run on the CPU only");
    TORCH_CHECK(input->dim() >= 2, "input needs at least 2 dimensions");
    auto y = at::fbgemm_linear_int8_weight_fp32_activation(*input, *shape, *packed, *col_offsets,
                                                           1.0, 0, *bias_over_scale);
    y.mul_(*row_scale);
    *out = new at::Tensor(std::move(y));
    return nullptr;
  } catch (const std::exception& e) {
    return error_string(e.what());
  } catch (...) {
    return error_string("unknown C++ exception in an int8 linear layer");
  }
}

}  // extern "C"
