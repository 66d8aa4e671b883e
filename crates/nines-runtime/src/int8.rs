//! Int8 linear layers for generation and scoring on the CPU.
//!
//! A weight `(out, in)` is quantized once, symmetrically per output channel (row `j` is stored
//! as `round(W[j] / s[j])` with `s[j] = max|W[j]| / 127`), and packed into FBGEMM's blocked
//! layout. At each call the activations are quantized per row (token) in two levels — the
//! row in 8 bits, then its rounding residual in 8 more — multiplied in int8 with int32
//! accumulation in one kernel call, and dequantized. The kernels are LibTorch's own
//! (`at::fbgemm_pack_quantized_matrix`, `at::fbgemm_linear_int8_weight_fp32_activation`),
//! which the Rust bindings do not expose; a small C++ shim (`csrc/int8_linear.cpp`) reaches
//! them and documents the arithmetic.
//!
//! Why per row and two levels (SmolLM2-135M, 16 validation sequences of 256 tokens,
//! `nines eval int8`): with the kernel as it is (one activation scale per call),
//! one token with large activations coarsens every other token of the batch and greedy
//! decoding agrees with f32 on a few tokens only; per-row scales alone leave perplexity 4.7%
//! above f32 (top-1 next-token agreement 86%); with the residual level it is 0.4% above
//! (top-1 agreement 95%), the same as int8 weights with f32 activations. Decoding reads the
//! weights once for both levels, so the second level costs little there.
//!
//! Layers hold no f32 copy of their weights and record no gradients: a model with int8
//! projections generates and scores, and is not trained.

use std::ffi::{CStr, c_char};

use tch::{Device, Kind, Tensor};

use crate::error::{Result, RuntimeError};

mod ffi {
    use std::ffi::c_char;

    use torch_sys::C_tensor;

    unsafe extern "C" {
        pub fn nines_int8_free_error(error: *mut c_char);
        pub fn nines_int8_pack(weight: *const C_tensor, packed: *mut *mut C_tensor) -> *mut c_char;
        pub fn nines_int8_linear(
            input: *const C_tensor,
            shape: *const C_tensor,
            packed: *const C_tensor,
            col_offsets: *const C_tensor,
            zeros: *const C_tensor,
            row_scale: *const C_tensor,
            bias: *const C_tensor,
            out: *mut *mut C_tensor,
        ) -> *mut c_char;
    }
}

/// Largest magnitude of a quantized weight.
const WEIGHT_MAX: f64 = 127.0;

/// Turns the shim's error string (NULL on success) into a result, freeing the string.
fn check(error: *mut c_char) -> Result<()> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null return is a NUL-terminated string the shim allocated with malloc.
    let message = unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: the string came from the shim and is freed exactly once, by the shim's allocator.
    unsafe { ffi::nines_int8_free_error(error) };
    Err(RuntimeError::Torch(tch::TchError::Torch(message)))
}

/// A linear layer `y = x Wᵀ + b` with `W` `(out, in)` held as packed int8.
#[derive(Debug)]
pub struct Int8Linear {
    /// A stride-0 int8 view with the weight's sizes `(out, in)`; the kernel reads only them.
    shape: Tensor,
    /// FBGEMM's packed int8 matrix (an opaque byte tensor that owns it).
    packed: Tensor,
    /// `(out,)` i32: each row's sum of int8 weights (the kernel's zero-point correction).
    col_offsets: Tensor,
    /// `(out,)` f32 zeros: the kernel's bias (the real one is added after rescaling).
    zeros: Tensor,
    /// `(out,)` f32: per-output-channel weight scales.
    scale: Tensor,
    /// `(out,)` f32.
    bias: Option<Tensor>,
}

impl Int8Linear {
    /// Quantizes `weight` `(out, in)` (any float kind, on the CPU) and `bias` `(out,)`.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for a weight that is not a finite 2-D CPU float tensor
    /// or a bias of the wrong size; [`RuntimeError::Torch`] when FBGEMM cannot run (a CPU
    /// without AVX2).
    pub fn quantize(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        let bad = |m: String| Err(RuntimeError::InvalidInput(m));
        if weight.device() != Device::Cpu {
            return bad(format!(
                "int8 weights are quantized on the CPU, got {:?}",
                weight.device()
            ));
        }
        let (out, inp) = match weight.size().as_slice() {
            &[o, i] if o > 0 && i > 0 => (o, i),
            s => {
                return bad(format!(
                    "int8 linear weight must be 2-D and non-empty, got {s:?}"
                ));
            }
        };
        if !weight.is_floating_point() {
            return bad(format!(
                "int8 linear weight must be floating point, got {:?}",
                weight.kind()
            ));
        }
        let w = weight.f_to_kind(Kind::Float)?;
        if !bool::try_from(w.f_isfinite()?.f_all()?)? {
            return bad("int8 linear weight has non-finite values".into());
        }
        // Row by row (in blocks of about 4 MB), so that quantizing a large matrix (a tied
        // output projection is 113 MB in f32) holds no f32 temporary of its size.
        let q = Tensor::f_empty([out, inp], (Kind::Int8, Device::Cpu))?;
        let scale = Tensor::f_ones([out], (Kind::Float, Device::Cpu))?;
        let block = (1 << 20) / inp + 1;
        let dim = [1i64];
        let mut start = 0;
        while start < out {
            let rows = block.min(out - start);
            let w = w.f_narrow(0, start, rows)?;
            let absmax = w
                .f_amax(dim.as_slice(), true)?
                .f_maximum(&w.f_amin(dim.as_slice(), true)?.f_neg()?)?;
            // An all-zero row keeps scale 1 (its weights quantize to 0 either way).
            let s =
                (&absmax / WEIGHT_MAX).f_where_self(&absmax.f_gt(0.0)?, &absmax.f_ones_like()?)?;
            let mut block_q = w.f_div(&s)?;
            let _ = block_q.f_round_()?;
            let _ = block_q.f_clamp_(-WEIGHT_MAX, WEIGHT_MAX)?;
            q.f_narrow(0, start, rows)?.f_copy_(&block_q)?;
            scale
                .f_narrow(0, start, rows)?
                .f_copy_(&s.f_squeeze_dim(1)?)?;
            start += rows;
        }
        let col_offsets = q.f_sum_dim_intlist([1i64].as_slice(), false, Kind::Int)?;
        let bias = match bias {
            Some(b) if b.size() == [out] => Some(
                b.f_to_kind(Kind::Float)?
                    .f_to_device(Device::Cpu)?
                    .f_contiguous()?,
            ),
            Some(b) => {
                return bad(format!(
                    "int8 linear bias has shape {:?}, the weight implies [{out}]",
                    b.size()
                ));
            }
            None => None,
        };
        let mut packed = std::ptr::null_mut();
        // SAFETY: `q` is a live int8 tensor; on success the shim stores a new heap tensor in
        // `packed`, whose ownership `Tensor::from_ptr` takes.
        check(unsafe { ffi::nines_int8_pack(q.as_ptr(), &mut packed) })?;
        let packed = unsafe { Tensor::from_ptr(packed) };
        let shape =
            Tensor::f_zeros([1, 1], (Kind::Int8, Device::Cpu))?.f_expand([out, inp], false)?;
        Ok(Int8Linear {
            shape,
            packed,
            col_offsets,
            zeros: Tensor::f_zeros([out], (Kind::Float, Device::Cpu))?,
            scale: scale.f_contiguous()?,
            bias,
        })
    }

    /// Quantizes the rows of several weights stacked along the output dimension (e.g. a
    /// layer's query, key and value projections), with their biases (all or none). Per-channel
    /// scales make this the same as quantizing each part apart.
    ///
    /// # Errors
    /// As [`quantize`](Self::quantize), and for parts whose input sizes differ.
    pub fn quantize_stacked(weights: &[Tensor], biases: Option<&[Tensor]>) -> Result<Self> {
        let inputs: Vec<i64> = weights
            .iter()
            .map(|w| *w.size().last().unwrap_or(&0))
            .collect();
        if inputs.windows(2).any(|p| p[0] != p[1]) || weights.is_empty() {
            return Err(RuntimeError::InvalidInput(format!(
                "stacked int8 weights need one input size, got {inputs:?}"
            )));
        }
        if let ([w], b) = (weights, biases) {
            return Self::quantize(w, b.and_then(|b| b.first()));
        }
        let w = Tensor::f_cat(weights, 0)?;
        let b = biases.map(|b| Tensor::f_cat(b, 0)).transpose()?;
        Self::quantize(&w, b.as_ref())
    }

    /// Output features.
    pub fn out_features(&self) -> i64 {
        self.shape.size()[0]
    }

    /// Input features.
    pub fn in_features(&self) -> i64 {
        self.shape.size()[1]
    }

    /// Bytes of packed weights and per-channel data this layer holds.
    pub fn bytes(&self) -> i64 {
        let n = |t: &Tensor| t.numel() as i64 * t.kind().elt_size_in_bytes() as i64;
        n(&self.packed)
            + n(&self.col_offsets)
            + n(&self.zeros)
            + n(&self.scale)
            + self.bias.as_ref().map_or(0, n)
    }

    /// `(…, in)` f32 on the CPU → `(…, out)` f32.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for another kind, device or input size.
    pub fn f_forward(&self, x: &Tensor) -> Result<Tensor> {
        let sizes = x.size();
        if x.kind() != Kind::Float
            || x.device() != Device::Cpu
            || sizes.last() != Some(&self.in_features())
        {
            return Err(RuntimeError::InvalidInput(format!(
                "int8 linear layer ({} → {}) needs f32 CPU input (…, {}), got {:?} {:?} {:?}",
                self.in_features(),
                self.out_features(),
                self.in_features(),
                x.kind(),
                x.device(),
                sizes
            )));
        }
        // The kernel wants at least two dimensions.
        let x2 = if sizes.len() < 2 {
            x.f_reshape([1, -1])?
        } else {
            x.shallow_clone()
        };
        let mut out = std::ptr::null_mut();
        // SAFETY: every argument is a live tensor for the duration of the call; on success the
        // shim stores a new heap tensor in `out`, whose ownership `Tensor::from_ptr` takes.
        check(unsafe {
            ffi::nines_int8_linear(
                x2.as_ptr(),
                self.shape.as_ptr(),
                self.packed.as_ptr(),
                self.col_offsets.as_ptr(),
                self.zeros.as_ptr(),
                self.scale.as_ptr(),
                self.bias.as_ref().map_or(std::ptr::null(), Tensor::as_ptr),
                &mut out,
            )
        })?;
        let y = unsafe { Tensor::from_ptr(out) };
        if sizes.len() < 2 {
            Ok(y.f_reshape([self.out_features()])?)
        } else {
            Ok(y)
        }
    }

    /// [`f_forward`](Self::f_forward) for the model's forward passes, which (like tch's own
    /// operations) panic on a LibTorch error; the model checks shapes, kinds and devices
    /// when it loads, so the call does not fail on a model's own activations.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        crate::models::checked(self.f_forward(x), "int8 linear layer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
        let d = (a - b).norm().double_value(&[]);
        d / b.norm().double_value(&[])
    }

    #[test]
    fn matches_the_f32_product_within_quantization_error() {
        tch::manual_seed(3);
        let opts = (Kind::Float, Device::Cpu);
        let w = Tensor::randn([96, 64], opts) * 0.1;
        let b = Tensor::randn([96], opts);
        let x = Tensor::randn([5, 3, 64], opts);
        let layer = Int8Linear::quantize(&w, Some(&b)).unwrap();
        assert_eq!((layer.out_features(), layer.in_features()), (96, 64));
        let y = layer.forward(&x);
        let expected = x.linear(&w, Some(&b));
        assert_eq!(y.size(), vec![5, 3, 96]);
        let e = rel_err(&y, &expected);
        assert!(e < 0.02, "relative error {e}");
        // The same input gives the same output.
        assert_eq!(rel_err(&layer.forward(&x), &y), 0.0);
    }

    #[test]
    fn activations_keep_about_fifteen_bits() {
        // Integer weights with 127 in every row quantize exactly (scale 1), so all of the
        // error comes from the activations: 8 bits would leave ~1e-2, two levels ~1e-4.
        tch::manual_seed(6);
        let opts = (Kind::Float, Device::Cpu);
        let w = (Tensor::randn([64, 128], opts) * 40.0)
            .round()
            .clamp(-126.0, 126.0);
        let w = Tensor::cat(
            &[Tensor::full([64, 1], 127.0, opts), w.narrow(1, 1, 127)],
            1,
        );
        // Heavy-tailed activations, rows of very different sizes.
        let x = Tensor::randn([6, 128], opts).pow_tensor_scalar(3)
            * Tensor::from_slice(&[1e-3f32, 1.0, 10.0, 0.5, 200.0, 3.0]).unsqueeze(1);
        let y = Int8Linear::quantize(&w, None).unwrap().forward(&x);
        let e = rel_err(&y, &x.linear::<Tensor>(&w, None));
        assert!(e < 1e-3, "relative error {e}");
        for r in 0..6 {
            let e = rel_err(&y.get(r), &x.get(r).linear::<Tensor>(&w, None));
            assert!(e < 1e-3, "row {r}: relative error {e}");
        }
    }

    #[test]
    fn per_channel_scales_keep_small_rows_accurate() {
        // Rows 1000x apart: a per-tensor scale would round the small rows to zero.
        let opts = (Kind::Float, Device::Cpu);
        tch::manual_seed(4);
        let w = Tensor::randn([8, 32], opts);
        let w = Tensor::cat(&[&w * 1000.0, w.shallow_clone()], 0);
        let x = Tensor::randn([4, 32], opts);
        let y = Int8Linear::quantize(&w, None).unwrap().forward(&x);
        let small = y.narrow(1, 8, 8);
        let e = rel_err(&small, &x.linear::<Tensor>(&w.narrow(0, 8, 8), None));
        assert!(e < 0.02, "relative error of the small rows {e}");
    }

    #[test]
    fn stacked_equals_separate() {
        tch::manual_seed(5);
        let opts = (Kind::Float, Device::Cpu);
        let (a, b) = (
            Tensor::randn([16, 24], opts),
            Tensor::randn([8, 24], opts) * 3.0,
        );
        let x = Tensor::randn([2, 24], opts);
        let fused = Int8Linear::quantize_stacked(&[a.shallow_clone(), b.shallow_clone()], None)
            .unwrap()
            .forward(&x);
        let apart = Tensor::cat(
            &[
                Int8Linear::quantize(&a, None).unwrap().forward(&x),
                Int8Linear::quantize(&b, None).unwrap().forward(&x),
            ],
            1,
        );
        assert!(rel_err(&fused, &apart) < 1e-6);
    }

    #[test]
    fn bad_input_is_an_error() {
        let opts = (Kind::Float, Device::Cpu);
        assert!(Int8Linear::quantize(&Tensor::ones([4], opts), None).is_err());
        let nan = Tensor::full([2, 2], f64::NAN, opts);
        assert!(Int8Linear::quantize(&nan, None).is_err());
        assert!(
            Int8Linear::quantize(&Tensor::ones([2, 2], opts), Some(&Tensor::ones([3], opts)))
                .is_err()
        );
        let layer = Int8Linear::quantize(&Tensor::ones([2, 4], opts), None).unwrap();
        assert!(layer.f_forward(&Tensor::ones([3, 5], opts)).is_err());
        assert!(
            layer
                .f_forward(&Tensor::ones([3, 4], (Kind::Double, Device::Cpu)))
                .is_err()
        );
        let zeros =
            Int8Linear::quantize(&Tensor::zeros([2, 4], opts), Some(&Tensor::ones([2], opts)));
        let y = zeros.unwrap().forward(&Tensor::ones([1, 4], opts));
        assert_eq!(
            Vec::<f32>::try_from(y.flatten(0, -1)).unwrap(),
            vec![1.0, 1.0]
        );
    }
}
