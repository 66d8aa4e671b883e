//! Per-channel smoothing of the inputs of int8 layers, so that one 8-bit level per row is
//! enough (SmoothQuant: Xiao et al., 2023).
//!
//! A layer quantizes each input row with one scale, so a feature whose activations run much
//! larger than the others (a few of the residual stream's features do, in every token)
//! coarsens the whole row. Smoothing divides input feature `c` by `s_c` and multiplies
//! column `c` of every weight that reads it by `s_c`: the product is unchanged, the
//! activations' features are evened out, and the weights (quantized per output row) take
//! up the difference. The division is folded into whatever writes the input (a
//! normalization's weight, or rows of the previous projection), so it costs nothing at run
//! time. With `a_c` the largest magnitude of feature `c` on a calibration text and `w_c`
//! the largest magnitude of column `c` of the weights,
//! `s_c = a_c^α / w_c^(1 − α)`, `α` = [`ALPHA`].

use tch::{Kind, Tensor};

use crate::error::Result;

/// Migration strength: 0.5 splits the range evenly between activations and weights.
/// (`scripts/peers/int8_smoothing_sim.py`, SmolLM2-135M with every projection's activations
/// at 8 bits, output projection included: perplexity +1.6% over f32 at 0.5, +1.9% at 0.3,
/// +2.5% at 0.7, +2.7% at 0.85, +4.0% unsmoothed.)
pub(crate) const ALPHA: f64 = 0.5;

/// The text whose activations set the smoothing factors: original prose written for this
/// purpose (narration and dialogue, about 400 tokens), so that no evaluation text is seen.
pub(crate) const CALIBRATION_TEXT: &str = include_str!("calibration.txt");

/// Smallest magnitude a statistic is taken to have, so that a feature that never fired
/// (or an all-zero column) gets a finite factor.
const FLOOR: f64 = 1e-5;

/// `s_c = a_c^α / w_c^(1 − α)` from activation maxima `a` and weight column maxima `w`,
/// both `(in,)`.
pub(crate) fn factors(activation_max: &Tensor, weight_max: &Tensor) -> Result<Tensor> {
    let a = activation_max.f_to_kind(Kind::Float)?.f_clamp_min(FLOOR)?;
    let w = weight_max.f_to_kind(Kind::Float)?.f_clamp_min(FLOOR)?;
    Ok(a.f_pow_tensor_scalar(ALPHA)?
        .f_div(&w.f_pow_tensor_scalar(1.0 - ALPHA)?)?
        .f_clamp_min(FLOOR)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::TensorSource;
    use crate::error::RuntimeError;
    use crate::models::{Int8Part, read_int8_scaled};

    #[test]
    fn factors_balance_activation_and_weight_ranges() {
        let a = Tensor::from_slice(&[16.0f32, 1.0, 0.0]);
        let w = Tensor::from_slice(&[1.0f32, 4.0, 1.0]);
        let s = factors(&a, &w).unwrap();
        // a/s and w·s: sqrt(a·w) for both, at α = 0.5.
        let got = Vec::<f32>::try_from(&s).unwrap();
        assert!(
            (got[0] - 4.0).abs() < 1e-5 && (got[1] - 0.5).abs() < 1e-5,
            "{got:?}"
        );
        // A feature that never fired gets a small positive factor, not 0 or NaN.
        assert!(got[2] > 0.0 && got[2].is_finite());
        let even_a = Vec::<f32>::try_from(&(&a / &s)).unwrap();
        let even_w = Vec::<f32>::try_from(&(&w * &s)).unwrap();
        assert!((even_a[0] - even_w[0]).abs() < 1e-4 && (even_a[1] - even_w[1]).abs() < 1e-4);
    }

    /// Named tensors in memory.
    struct Tensors(Vec<(&'static str, Tensor)>);

    impl TensorSource for Tensors {
        fn read(&self, name: &str) -> Result<Option<Tensor>> {
            Ok(self
                .0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.shallow_clone()))
        }

        fn origin(&self, _name: &str) -> std::path::PathBuf {
            "memory".into()
        }
    }

    fn part(name: &str, in_dim: i64, out_dim: i64, bias: bool) -> Int8Part {
        Int8Part {
            weight: name.into(),
            in_dim,
            out_dim,
            bias,
            transposed: false,
        }
    }

    #[test]
    fn column_maxima_cover_every_stacked_part() {
        let a = Tensor::from_slice(&[1.0f32, -5.0, 2.0, 0.5]).view([2, 2]);
        let b = Tensor::from_slice(&[-3.0f32, 1.0]).view([1, 2]);
        let src = Tensors(vec![("a.weight", a), ("b.weight", b)]);
        let parts = [part("a.weight", 2, 2, false), part("b.weight", 2, 1, false)];
        // Maxima of the weights as stored, whatever the column factors.
        for columns in [None, Some(Tensor::from_slice(&[2.0f32, 0.5]))] {
            let (_, m) = read_int8_scaled(&src, &parts, columns.as_ref(), None).unwrap();
            assert_eq!(Vec::<f32>::try_from(&m).unwrap(), vec![3.0, 5.0]);
        }
        let missing =
            read_int8_scaled(&src, &[part("c.weight", 2, 1, false)], None, None).unwrap_err();
        assert!(
            matches!(missing, RuntimeError::MissingTensor { .. }),
            "{missing}"
        );
    }

    /// A layer read with columns multiplied by `s` and rows by `r`, fed inputs divided by
    /// `s`, computes `r ⊙ (x Wᵀ + b)`: the smoothing is a reparametrization.
    #[test]
    fn smoothed_weights_compute_the_same_product() {
        tch::manual_seed(5);
        let opts = (Kind::Float, tch::Device::Cpu);
        let w = Tensor::randn([6, 8], opts);
        let bias = Tensor::randn([6], opts);
        let src = Tensors(vec![
            ("p.weight", w.shallow_clone()),
            ("p.bias", bias.shallow_clone()),
        ]);
        let columns = Tensor::from_slice(&[4.0f32, 0.25, 1.0, 2.0, 0.5, 8.0, 1.0, 0.125]);
        let rows = Tensor::from_slice(&[1.0f32, 2.0, 0.5, 1.0, 4.0, 1.0]);
        let (layer, _) = read_int8_scaled(
            &src,
            &[part("p.weight", 8, 6, true)],
            Some(&columns),
            Some(&rows),
        )
        .unwrap();
        let x = Tensor::randn([3, 8], opts);
        let got = layer.f_forward(&(&x / &columns)).unwrap();
        let want = (x.linear(&w, Some(&bias))) * &rows;
        let err = (&got - &want).norm().double_value(&[]) / want.norm().double_value(&[]);
        assert!(err < 0.03, "relative error {err}");
        let wrong = read_int8_scaled(&src, &[part("p.weight", 8, 6, true)], Some(&rows), None);
        assert!(
            wrong.is_err(),
            "column factors of the wrong size are refused"
        );
    }

    #[test]
    fn the_calibration_text_is_long_enough() {
        assert!(CALIBRATION_TEXT.split_whitespace().count() >= 250);
    }
}
