//! Losses for imbalanced binary classification: binary cross-entropy and focal loss, both
//! with a weight on positive examples.

use tch::{Kind, Tensor};

use crate::config::LossKind;

/// Mean loss of `logits` `(batch,)` against `targets` `(batch,)` (0/1 floats).
///
/// Per example: `w · (1 − p_t)^γ · BCE(z, y)` where `w = pos_weight` for positives and 1
/// otherwise, `p_t` the probability given to the true class, and `γ = 0` for
/// [`LossKind::Bce`].
pub fn loss(
    logits: &Tensor,
    targets: &Tensor,
    kind: LossKind,
    pos_weight: f64,
    focal_gamma: f64,
) -> Tensor {
    let targets = targets.to_kind(Kind::Float);
    let logits = logits.to_kind(Kind::Float);
    let bce = logits.binary_cross_entropy_with_logits::<Tensor>(
        &targets,
        None,
        None,
        tch::Reduction::None,
    );
    let weights = (&targets * (pos_weight - 1.0)) + 1.0;
    let per = match kind {
        LossKind::Bce => bce * &weights,
        LossKind::Focal => {
            let pt: Tensor = (-&bce).exp();
            let one_minus: Tensor = 1.0 - pt;
            one_minus.pow_tensor_scalar(focal_gamma) * bce * &weights
        }
    };
    per.mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(t: &Tensor) -> f64 {
        t.double_value(&[])
    }

    #[test]
    fn bce_matches_the_formula_and_weights_positives() {
        let z = Tensor::from_slice(&[2.0f32, -1.0]);
        let y = Tensor::from_slice(&[1.0f32, 0.0]);
        let expect = ((1.0 + (-2.0f64).exp()).ln() + (1.0 + (-1.0f64).exp()).ln()) / 2.0;
        assert!((val(&loss(&z, &y, LossKind::Bce, 1.0, 2.0)) - expect).abs() < 1e-6);
        let weighted = ((1.0 + (-2.0f64).exp()).ln() * 3.0 + (1.0 + (-1.0f64).exp()).ln()) / 2.0;
        assert!((val(&loss(&z, &y, LossKind::Bce, 3.0, 2.0)) - weighted).abs() < 1e-6);
    }

    #[test]
    fn focal_down_weights_easy_examples() {
        let y = Tensor::from_slice(&[1.0f32]);
        let easy = Tensor::from_slice(&[4.0f32]);
        let hard = Tensor::from_slice(&[-1.0f32]);
        let ratio_easy = val(&loss(&easy, &y, LossKind::Focal, 1.0, 2.0))
            / val(&loss(&easy, &y, LossKind::Bce, 1.0, 2.0));
        let ratio_hard = val(&loss(&hard, &y, LossKind::Focal, 1.0, 2.0))
            / val(&loss(&hard, &y, LossKind::Bce, 1.0, 2.0));
        let p = 1.0 / (1.0 + (-4.0f64).exp());
        assert!((ratio_easy - (1.0 - p).powi(2)).abs() < 1e-6);
        assert!(ratio_hard > 0.5 && ratio_easy < 0.001);
        // γ = 0 is plain BCE.
        assert!(
            (val(&loss(&hard, &y, LossKind::Focal, 1.0, 0.0))
                - val(&loss(&hard, &y, LossKind::Bce, 1.0, 0.0)))
            .abs()
                < 1e-7
        );
    }
}
