//! Int8 linear layers for generation and scoring on the CPU.
//!
//! A weight `(out, in)` is quantized once, symmetrically per output channel (row `j` is stored
//! as `round(W[j] / s[j])` with `s[j] = max|W[j]| / 127`), and packed into FBGEMM's blocked
//! layout. At each call the activations are quantized per row (token), in one or two 8-bit
//! levels ([`ActivationLevels`]), multiplied in int8 with int32 accumulation in one kernel
//! call, and dequantized. The kernels are LibTorch's own
//! (`at::fbgemm_pack_quantized_matrix`, `at::fbgemm_linear_int8_weight_fp32_activation`),
//! which the Rust bindings do not expose; a small C++ shim (`csrc/int8_linear.cpp`) reaches
//! them and documents the arithmetic.
//!
//! Why per row, and which levels (SmolLM2-135M, 16 validation sequences of 256 tokens,
//! `nines eval int8`): with the kernel as it is (one activation scale per call), one token
//! with large activations coarsens every other token of the batch and greedy decoding
//! agrees with f32 on a few tokens only. Per-row scales in one level leave perplexity 4.7%
//! above f32 (top-1 next-token agreement 86%), because a few input features run far larger
//! than the rest. Two levels (the row, then its rounding residual) bring it to 0.4% (top-1
//! 95%), at twice the kernel's arithmetic. Smoothing the inputs per feature first (the
//! Llama models do, calibrated when they load: [`record_input_maxima`] gives the
//! statistics) gets one level to 0.5% (top-1 92%; on 64 sequences +1.0%, top-1 91%): 1.5×
//! faster prefill and batched decoding. Output projections tied to the embedding keep two levels.
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
            levels: i64,
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

/// A matrix `(rows, cols)` quantized per row: int8 values and one f32 scale per row
/// (`W[j] ≈ s[j] · Q[j]`). The form in which weights are quantized before they are packed
/// for the kernel ([`Int8Linear::pack`]), and the table an int8 model looks its token
/// embeddings up in ([`lookup`](Self::lookup)): for a tied output projection the same rows
/// serve both.
///
/// ```
/// use nines_runtime::int8::Int8Rows;
/// use nines_runtime::tch::{Device, Kind, Tensor};
/// let w = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 4.0]).reshape([2, 2]);
/// let rows = Int8Rows::quantize(&w)?;
/// let looked_up = rows.lookup(&Tensor::from_slice(&[1i64, 0]))?;
/// assert_eq!(looked_up.size(), vec![2, 2]);
/// assert!((looked_up.double_value(&[0, 1]) - 4.0).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Int8Rows {
    /// `(rows, cols)` int8.
    values: Tensor,
    /// `(rows,)` f32.
    scale: Tensor,
}

impl Int8Rows {
    /// Quantizes `weight` `(rows, cols)` (any float kind, on the CPU).
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for a weight that is not a finite 2-D CPU float tensor.
    pub fn quantize(weight: &Tensor) -> Result<Self> {
        let (rows, cols) = match weight.size().as_slice() {
            &[o, i] if o > 0 && i > 0 => (o, i),
            s => {
                return Err(RuntimeError::InvalidInput(format!(
                    "int8 linear weight must be 2-D and non-empty, got {s:?}"
                )));
            }
        };
        Self::quantize_blocks(rows, cols, |start, count| {
            Ok(weight.f_narrow(0, start, count)?)
        })
    }

    /// Quantizes a `(rows, cols)` matrix read in blocks of rows: `read(start, count)` returns
    /// rows `start..start + count` (any float kind, on the CPU). Blocks hold about 4 MB of
    /// f32, so a large matrix (a 113 MB output projection) is quantized without an f32 copy
    /// of its size, straight from a checkpoint that can read part of a tensor.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for a block of another shape, kind or device, or with
    /// non-finite values; `read`'s own errors.
    pub fn quantize_blocks(
        rows: i64,
        cols: i64,
        mut read: impl FnMut(i64, i64) -> Result<Tensor>,
    ) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        let bad = |m: String| Err(RuntimeError::InvalidInput(m));
        if rows <= 0 || cols <= 0 {
            return bad(format!(
                "int8 linear weight must be non-empty, got [{rows}, {cols}]"
            ));
        }
        let values = Tensor::f_empty([rows, cols], (Kind::Int8, Device::Cpu))?;
        let scale = Tensor::f_ones([rows], (Kind::Float, Device::Cpu))?;
        let block = (1 << 20) / cols + 1;
        let dim = [1i64];
        let mut start = 0;
        while start < rows {
            let count = block.min(rows - start);
            let w = read(start, count)?;
            if w.device() != Device::Cpu {
                return bad(format!(
                    "int8 weights are quantized on the CPU, got {:?}",
                    w.device()
                ));
            }
            if !w.is_floating_point() {
                return bad(format!(
                    "int8 linear weight must be floating point, got {:?}",
                    w.kind()
                ));
            }
            if w.size() != [count, cols] {
                return bad(format!(
                    "rows {start}..{} of an int8 weight [{rows}, {cols}] came as {:?}",
                    start + count,
                    w.size()
                ));
            }
            let w = w.f_to_kind(Kind::Float)?;
            if !bool::try_from(w.f_isfinite()?.f_all()?)? {
                return bad("int8 linear weight has non-finite values".into());
            }
            let absmax = w
                .f_amax(dim.as_slice(), true)?
                .f_maximum(&w.f_amin(dim.as_slice(), true)?.f_neg()?)?;
            // An all-zero row keeps scale 1 (its weights quantize to 0 either way).
            let s =
                (&absmax / WEIGHT_MAX).f_where_self(&absmax.f_gt(0.0)?, &absmax.f_ones_like()?)?;
            let mut block_q = w.f_div(&s)?;
            let _ = block_q.f_round_()?;
            let _ = block_q.f_clamp_(-WEIGHT_MAX, WEIGHT_MAX)?;
            values.f_narrow(0, start, count)?.f_copy_(&block_q)?;
            scale
                .f_narrow(0, start, count)?
                .f_copy_(&s.f_squeeze_dim(1)?)?;
            start += count;
        }
        Ok(Int8Rows { values, scale })
    }

    /// The rows of several matrices with one column count, stacked in order (e.g. a layer's
    /// query, key and value projections). Per-row scales make this the same as quantizing
    /// the stacked matrix.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for no parts or parts whose column counts differ.
    pub fn stack(parts: Vec<Int8Rows>) -> Result<Self> {
        let cols: Vec<i64> = parts.iter().map(Int8Rows::cols).collect();
        if cols.windows(2).any(|p| p[0] != p[1]) || parts.is_empty() {
            return Err(RuntimeError::InvalidInput(format!(
                "stacked int8 weights need one input size, got {cols:?}"
            )));
        }
        if parts.len() == 1 {
            return Ok(parts.into_iter().next().expect("one part"));
        }
        let values: Vec<&Tensor> = parts.iter().map(|p| &p.values).collect();
        let scale: Vec<&Tensor> = parts.iter().map(|p| &p.scale).collect();
        Ok(Int8Rows {
            values: Tensor::f_cat(&values, 0)?,
            scale: Tensor::f_cat(&scale, 0)?,
        })
    }

    /// Multiplies row `j` by `factors[j]` `(rows,)` (f32, positive), exactly: only the
    /// per-row scales change.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for factors of another size or not finite and positive.
    pub fn scale_rows(&mut self, factors: &Tensor) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let factors = factors.f_to_kind(Kind::Float)?;
        let positive = bool::try_from(
            factors
                .f_isfinite()?
                .f_logical_and(&factors.f_gt(0.0)?)?
                .f_all()?,
        )?;
        if factors.size() != [self.rows()] || !positive {
            return Err(RuntimeError::InvalidInput(format!(
                "row factors must be {} finite positive numbers, got {:?}",
                self.rows(),
                factors.size()
            )));
        }
        self.scale = self.scale.f_mul(&factors)?;
        Ok(())
    }

    /// Rows.
    pub fn rows(&self) -> i64 {
        self.values.size()[0]
    }

    /// Columns.
    pub fn cols(&self) -> i64 {
        self.values.size()[1]
    }

    /// Bytes held (int8 values and scales).
    pub fn bytes(&self) -> i64 {
        self.values.numel() as i64 + 4 * self.scale.numel() as i64
    }

    /// Rows `ids` `(…)` (int64, on the CPU) dequantized to f32 `(…, cols)`: an embedding
    /// lookup.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] for an id outside `0..rows` or ids of a non-integer kind.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        let flat = ids
            .f_reshape([-1])
            .map_err(RuntimeError::torch("int8 embedding lookup"))?;
        let values = self
            .values
            .f_index_select(0, &flat)
            .map_err(RuntimeError::torch("int8 embedding lookup"))?;
        let scale = self.scale.f_index_select(0, &flat)?.f_unsqueeze(1)?;
        let mut shape = ids.size();
        shape.push(self.cols());
        Ok(values
            .f_to_kind(Kind::Float)?
            .f_mul(&scale)?
            .f_reshape(&shape)?)
    }
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
    /// How inputs are quantized.
    levels: ActivationLevels,
}

/// How an [`Int8Linear`] quantizes its input activations, row by row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationLevels {
    /// Each row in 8 bits, then its rounding residual in 8 more (about 15 bits): close to
    /// f32 activations on any input, at twice the kernel's arithmetic.
    Two,
    /// Each row in 8 bits: half the arithmetic, for inputs whose channels have been
    /// smoothed to similar ranges (see the models' int8 calibration), since one channel of
    /// large activations coarsens the whole row.
    One,
}

impl Int8Linear {
    /// Quantizes `weight` `(out, in)` (any float kind, on the CPU) and `bias` `(out,)`.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for a weight that is not a finite 2-D CPU float tensor
    /// or a bias of the wrong size; [`RuntimeError::Torch`] when FBGEMM cannot run (a CPU
    /// without AVX2).
    pub fn quantize(weight: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        Self::pack(&Int8Rows::quantize(weight)?, bias)
    }

    /// The layer whose weight `W` `(out, in)` is `weight` (quantized per output channel),
    /// with `bias` `(out,)`. `weight` is copied into FBGEMM's layout; it can be dropped, or
    /// kept as the embedding table of a tied model.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for a bias of the wrong size; [`RuntimeError::Torch`]
    /// when FBGEMM cannot run (a CPU without AVX2).
    pub fn pack(weight: &Int8Rows, bias: Option<&Tensor>) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        let (out, inp) = (weight.rows(), weight.cols());
        let q = &weight.values;
        let col_offsets = q.f_sum_dim_intlist([1i64].as_slice(), false, Kind::Int)?;
        let bias = match bias {
            Some(b) if b.size() == [out] => Some(
                b.f_to_kind(Kind::Float)?
                    .f_to_device(Device::Cpu)?
                    .f_contiguous()?,
            ),
            Some(b) => {
                return Err(RuntimeError::InvalidInput(format!(
                    "int8 linear bias has shape {:?}, the weight implies [{out}]",
                    b.size()
                )));
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
            scale: weight.scale.f_contiguous()?,
            bias,
            levels: ActivationLevels::Two,
        })
    }

    /// Quantizes the rows of several weights stacked along the output dimension (e.g. a
    /// layer's query, key and value projections), with their biases (all or none). Per-channel
    /// scales make this the same as quantizing each part apart.
    ///
    /// # Errors
    /// As [`quantize`](Self::quantize), and for parts whose input sizes differ.
    pub fn quantize_stacked(weights: &[Tensor], biases: Option<&[Tensor]>) -> Result<Self> {
        let rows = weights
            .iter()
            .map(Int8Rows::quantize)
            .collect::<Result<Vec<_>>>()?;
        let b = biases.map(|b| Tensor::f_cat(b, 0)).transpose()?;
        Self::pack(&Int8Rows::stack(rows)?, b.as_ref())
    }

    /// The layer with its inputs quantized as `levels` says (packing gives
    /// [`ActivationLevels::Two`]).
    pub fn with_activation_levels(mut self, levels: ActivationLevels) -> Self {
        self.levels = levels;
        self
    }

    /// How the layer quantizes its inputs.
    pub fn activation_levels(&self) -> ActivationLevels {
        self.levels
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
        record_input(self, x)?;
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
                match self.levels {
                    ActivationLevels::One => 1,
                    ActivationLevels::Two => 2,
                },
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

thread_local! {
    /// While [`record_input_maxima`] runs: each layer's (by address) largest input magnitude
    /// per input feature.
    static INPUT_MAXIMA: std::cell::RefCell<Option<InputMaxima>> = const { std::cell::RefCell::new(None) };
}

/// The largest magnitude each input feature of a layer reached, per layer, as recorded by
/// [`record_input_maxima`].
#[derive(Debug, Default)]
pub struct InputMaxima {
    by_layer: std::collections::HashMap<usize, Tensor>,
}

impl InputMaxima {
    /// `(in,)` f32: the largest magnitude of each input feature `layer` saw, or `None` if it
    /// was not called.
    pub fn get(&self, layer: &Int8Linear) -> Option<&Tensor> {
        self.by_layer.get(&(layer as *const Int8Linear as usize))
    }
}

/// Runs `f` and returns, with its result, the largest magnitude of every input feature of
/// every [`Int8Linear`] called on this thread meanwhile: the activation statistics that
/// per-channel smoothing is computed from. Layers are told apart by address, so the model
/// must not move while `f` runs or before the maxima are looked up.
///
/// ```
/// use nines_runtime::int8::{Int8Linear, record_input_maxima};
/// use nines_runtime::tch::{Device, Kind, Tensor};
/// let layer = Int8Linear::quantize(&Tensor::ones([4, 2], (Kind::Float, Device::Cpu)), None)?;
/// let x = Tensor::from_slice(&[1.0f32, -3.0, 2.0, 0.5]).view([2, 2]);
/// let (_, maxima) = record_input_maxima(|| layer.f_forward(&x))?;
/// assert_eq!(Vec::<f32>::try_from(maxima.get(&layer).unwrap())?, vec![2.0, 3.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`RuntimeError::InvalidInput`] when called inside another recording; `f`'s own errors.
pub fn record_input_maxima<R>(f: impl FnOnce() -> Result<R>) -> Result<(R, InputMaxima)> {
    INPUT_MAXIMA.with(|m| {
        let mut m = m.borrow_mut();
        if m.is_some() {
            return Err(RuntimeError::InvalidInput(
                "int8 input maxima are already being recorded".into(),
            ));
        }
        *m = Some(InputMaxima::default());
        Ok(())
    })?;
    let out = f();
    let maxima = INPUT_MAXIMA.with(|m| m.borrow_mut().take().unwrap_or_default());
    Ok((out?, maxima))
}

/// Folds `x`'s per-feature maxima into the recording, if one is running.
fn record_input(layer: &Int8Linear, x: &Tensor) -> Result<()> {
    INPUT_MAXIMA.with(|m| {
        let mut m = m.borrow_mut();
        let Some(maxima) = m.as_mut() else {
            return Ok(());
        };
        let _guard = tch::no_grad_guard();
        let cols = x.size().last().copied().unwrap_or(1);
        let now = x
            .f_reshape([-1, cols])?
            .f_abs()?
            .f_amax([0i64].as_slice(), false)?;
        let key = layer as *const Int8Linear as usize;
        let merged = match maxima.by_layer.remove(&key) {
            Some(before) => before.f_maximum(&now)?,
            None => now,
        };
        maxima.by_layer.insert(key, merged);
        Ok(())
    })
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
    fn rows_read_in_blocks_equal_rows_quantized_whole() {
        tch::manual_seed(7);
        let opts = (Kind::Float, Device::Cpu);
        // 65 536 columns make blocks of 17 rows: three reads for 40 rows.
        let w = Tensor::randn([40, 65_536], opts);
        let mut reads = Vec::new();
        let blocks = Int8Rows::quantize_blocks(40, 65_536, |start, count| {
            reads.push((start, count));
            Ok(w.narrow(0, start, count))
        })
        .unwrap();
        assert_eq!(reads, vec![(0, 17), (17, 17), (34, 6)]);
        let whole = Int8Rows::quantize(&w).unwrap();
        assert!(blocks.values.equal(&whole.values) && blocks.scale.equal(&whole.scale));
        assert_eq!(blocks.bytes(), 40 * 65_536 + 4 * 40);
        // A block of the wrong shape is refused.
        let short = Int8Rows::quantize_blocks(40, 65_536, |start, _| Ok(w.narrow(0, start, 1)));
        assert!(matches!(short, Err(RuntimeError::InvalidInput(m)) if m.contains("came as")));
    }

    #[test]
    fn lookup_returns_the_dequantized_rows() {
        tch::manual_seed(8);
        let opts = (Kind::Float, Device::Cpu);
        let w = Tensor::randn([10, 6], opts);
        let rows = Int8Rows::quantize(&w).unwrap();
        let ids = Tensor::from_slice(&[3i64, 0, 9, 3, 1, 1]).reshape([2, 3]);
        let got = rows.lookup(&ids).unwrap();
        assert_eq!(got.size(), vec![2, 3, 6]);
        let want = w.index_select(0, &ids.reshape([-1])).reshape([2, 3, 6]);
        // Within half a quantization step of each row (max |w| / 127 / 2).
        let step = w
            .abs()
            .amax([1i64].as_slice(), false)
            .max()
            .double_value(&[])
            / 127.0;
        let err = (&got - &want).abs().max().double_value(&[]);
        assert!(err <= step / 2.0 + 1e-6, "error {err}, step {step}");
        assert!(rows.lookup(&Tensor::from_slice(&[10i64])).is_err());
        // Stacked rows look up as the parts did.
        let stacked = Int8Rows::stack(vec![
            Int8Rows::quantize(&w.narrow(0, 0, 4)).unwrap(),
            Int8Rows::quantize(&w.narrow(0, 4, 6)).unwrap(),
        ])
        .unwrap();
        assert!(stacked.lookup(&ids).unwrap().equal(&got));
        let other = Int8Rows::quantize(&Tensor::ones([2, 5], opts)).unwrap();
        assert!(Int8Rows::stack(vec![rows, other]).is_err());
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

    #[test]
    fn input_maxima_are_recorded_per_layer_and_feature() {
        let a =
            Int8Linear::quantize(&Tensor::ones([2, 3], (Kind::Float, Device::Cpu)), None).unwrap();
        let b =
            Int8Linear::quantize(&Tensor::ones([2, 2], (Kind::Float, Device::Cpu)), None).unwrap();
        let x1 = Tensor::from_slice(&[1.0f32, -4.0, 0.5, -2.0, 1.0, 0.0]).view([2, 3]);
        let x2 = Tensor::from_slice(&[3.0f32, 0.0, 0.0]).view([1, 1, 3]);
        let (_, maxima) = record_input_maxima(|| {
            let _ = a.f_forward(&x1)?;
            a.f_forward(&x2)
        })
        .unwrap();
        let got = Vec::<f32>::try_from(maxima.get(&a).unwrap()).unwrap();
        assert_eq!(got, vec![3.0, 4.0, 0.5]);
        assert!(maxima.get(&b).is_none(), "b was not called");
        // Outside a recording nothing is kept.
        let _ = a.f_forward(&x1).unwrap();
        let (_, empty) = record_input_maxima(|| Ok(())).unwrap();
        assert!(empty.get(&a).is_none());
    }

    #[test]
    fn a_recording_inside_a_recording_is_an_error() {
        let (inner, _) =
            record_input_maxima(|| Ok(record_input_maxima(|| Ok(())).is_err())).unwrap();
        assert!(inner);
    }

    #[test]
    fn scaling_rows_is_exact_and_checked() {
        let w = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 4.0]).reshape([2, 2]);
        let mut rows = Int8Rows::quantize(&w).unwrap();
        let before = rows.lookup(&Tensor::from_slice(&[0i64, 1])).unwrap();
        rows.scale_rows(&Tensor::from_slice(&[2.0f32, 0.5]))
            .unwrap();
        let after = rows.lookup(&Tensor::from_slice(&[0i64, 1])).unwrap();
        let want = before * Tensor::from_slice(&[2.0f32, 0.5]).unsqueeze(1);
        assert_eq!((after - want).abs().max().double_value(&[]), 0.0);
        for bad in [vec![1.0f32], vec![1.0, 0.0], vec![1.0, f32::NAN]] {
            assert!(
                rows.scale_rows(&Tensor::from_slice(&bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
