//! Generalized advantage estimation over right-padded completions, and masked whitening.

use tch::{Kind, Tensor};

/// Leave-one-out baseline within groups: each score minus the mean score of the *other*
/// members of its group (`groups[i]` names the group of `scores[i]`, e.g. the prompt it
/// completes). A member alone in its group keeps its score.
pub fn leave_one_out(scores: &[f32], groups: &[usize]) -> Vec<f32> {
    use std::collections::HashMap;
    let mut sums: HashMap<usize, (f64, usize)> = HashMap::new();
    for (&s, &g) in scores.iter().zip(groups) {
        let e = sums.entry(g).or_insert((0.0, 0));
        e.0 += f64::from(s);
        e.1 += 1;
    }
    scores
        .iter()
        .zip(groups)
        .map(|(&s, g)| {
            let (sum, n) = sums[g];
            if n < 2 {
                s
            } else {
                (f64::from(s) - (sum - f64::from(s)) / (n - 1) as f64) as f32
            }
        })
        .collect()
}

/// Mean of `x` over the positions where `mask` is set.
///
/// Shapes: `x`, `mask` `(batch, completion)`. Returns a scalar tensor.
pub fn masked_mean(x: &Tensor, mask: &Tensor) -> Tensor {
    let m = mask.to_kind(Kind::Float);
    (x * &m).sum(Kind::Float) / m.sum(Kind::Float).clamp_min(1.0)
}

/// Variance of `x` over the masked positions, with Bessel's correction (`n − 1` in the
/// denominator; 0 when fewer than two positions are set).
pub fn masked_var(x: &Tensor, mask: &Tensor) -> Tensor {
    let m = mask.to_kind(Kind::Float);
    let n = m.sum(Kind::Float);
    let mean = masked_mean(x, &m);
    let sq = ((x - mean).square() * &m).sum(Kind::Float);
    let denom = (&n - 1.0).clamp_min(1.0);
    sq / denom
}

/// Whitens `x` over the masked positions: `(x − mean) / sqrt(var + 1e-8)`; with
/// `shift_mean = false` the mean is added back (only the scale changes). Padding stays 0.
pub fn whiten(x: &Tensor, mask: &Tensor, shift_mean: bool) -> Tensor {
    let m = mask.to_kind(Kind::Float);
    let mean = masked_mean(x, &m);
    let var = masked_var(x, &m);
    let mut w = (x - &mean) * (var + 1e-8).rsqrt();
    if !shift_mean {
        w += mean;
    }
    w * m
}

/// Advantages and returns from generalized advantage estimation.
#[derive(Debug)]
pub struct Gae {
    /// `(batch, completion)`: `A_t = Σ_k (γλ)^k δ_{t+k}`, `δ_t = r_t + γ V_{t+1} − V_t`, zero
    /// on padding.
    pub advantages: Tensor,
    /// `(batch, completion)`: `A_t + V_t`, the value targets; zero on padding.
    pub returns: Tensor,
}

/// GAE over right-padded per-token rewards and values. The value after a completion's last
/// token is 0 (the episode ends there).
///
/// Shapes: `rewards`, `values`, `mask` `(batch, completion)`.
pub fn gae(rewards: &Tensor, values: &Tensor, mask: &Tensor, gamma: f64, lam: f64) -> Gae {
    let m = mask.to_kind(Kind::Float);
    let r = rewards.to_kind(Kind::Float) * &m;
    let v = values.to_kind(Kind::Float) * &m;
    let len = r.size()[1];
    let batch = r.size()[0];
    let mut next_adv = Tensor::zeros([batch], (Kind::Float, r.device()));
    let mut next_value = Tensor::zeros([batch], (Kind::Float, r.device()));
    let mut columns = Vec::with_capacity(len as usize);
    for t in (0..len).rev() {
        let mt = m.select(1, t);
        let delta = r.select(1, t) + &next_value * gamma - v.select(1, t);
        let adv = (delta + &next_adv * (gamma * lam)) * &mt;
        next_value = v.select(1, t);
        next_adv = adv.shallow_clone();
        columns.push(adv);
    }
    columns.reverse();
    let advantages = Tensor::stack(&columns, 1);
    let returns = (&advantages + &v) * &m;
    Gae {
        advantages,
        returns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
    }

    #[test]
    fn leave_one_out_by_hand() {
        // Group 0: 1, 0, -1 → 1 - (-0.5), 0 - 0, -1 - 0.5; group 7: 2, 4 → -2, 2; group 3 alone.
        let out = leave_one_out(&[1.0, 2.0, 0.0, 4.0, -1.0, 5.0], &[0, 7, 0, 7, 0, 3]);
        assert_eq!(out, vec![1.5, -2.0, 0.0, 2.0, -1.5, 5.0]);
    }

    #[test]
    fn gae_by_hand() {
        // Row 0: 3 tokens; row 1: 2 tokens then padding (whose junk values must be ignored).
        let r = Tensor::from_slice(&[0.0f32, 0.5, 1.0, -1.0, 2.0, 9.0]).view([2, 3]);
        let val = Tensor::from_slice(&[0.2f32, 0.4, 0.6, 0.1, 0.3, 7.0]).view([2, 3]);
        let mask = Tensor::from_slice(&[true, true, true, true, true, false]).view([2, 3]);
        let (g, l) = (0.9f32, 0.8f32);
        let out = gae(&r, &val, &mask, g as f64, l as f64);
        // Row 0: δ2 = 1 − 0.6 = 0.4; δ1 = 0.5 + 0.9·0.6 − 0.4 = 0.64; δ0 = 0 + 0.9·0.4 − 0.2 = 0.16
        let a2 = 0.4f32;
        let a1 = 0.64 + g * l * a2;
        let a0 = 0.16 + g * l * a1;
        // Row 1: δ1 = 2 − 0.3 = 1.7; δ0 = −1 + 0.9·0.3 − 0.1 = −0.83
        let b1 = 1.7f32;
        let b0 = -0.83 + g * l * b1;
        let want = [a0, a1, a2, b0, b1, 0.0];
        for (x, w) in v(&out.advantages).iter().zip(want) {
            assert!((x - w).abs() < 1e-5, "{:?} vs {want:?}", v(&out.advantages));
        }
        let ret = [a0 + 0.2, a1 + 0.4, a2 + 0.6, b0 + 0.1, b1 + 0.3, 0.0];
        for (x, w) in v(&out.returns).iter().zip(ret) {
            assert!((x - w).abs() < 1e-5);
        }
    }

    #[test]
    fn gamma_lambda_one_gives_reward_to_go_minus_value() {
        let r = Tensor::from_slice(&[1.0f32, 2.0, 3.0]).view([1, 3]);
        let val = Tensor::from_slice(&[0.5f32, 0.25, 0.125]).view([1, 3]);
        let mask = Tensor::ones([1, 3], (Kind::Bool, tch::Device::Cpu));
        let out = gae(&r, &val, &mask, 1.0, 1.0);
        assert_eq!(v(&out.advantages), vec![6.0 - 0.5, 5.0 - 0.25, 3.0 - 0.125]);
        assert_eq!(v(&out.returns), vec![6.0, 5.0, 3.0]);
    }

    #[test]
    fn whitening_by_hand() {
        let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 100.0]).view([1, 5]);
        let mask = Tensor::from_slice(&[true, true, true, true, false]).view([1, 5]);
        // mean 2.5, unbiased var 5/3
        let sd = (5.0f32 / 3.0 + 1e-8).sqrt();
        let w = v(&whiten(&x, &mask, true));
        let want = [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd, 0.0];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{w:?}");
        }
        let kept = v(&whiten(&x, &mask, false));
        assert!((kept[0] - (2.5 - 1.5 / sd)).abs() < 1e-5);
        assert_eq!(kept[4], 0.0);
        assert!((f32::try_from(masked_mean(&x, &mask)).unwrap() - 2.5).abs() < 1e-6);
    }
}
