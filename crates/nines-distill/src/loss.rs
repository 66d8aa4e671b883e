//! PPO's clipped surrogate and clipped value losses: pure functions of tensors returning the
//! loss to back-propagate and the statistics to log.

use tch::{Kind, Tensor};

use crate::advantage::masked_mean;

/// Inputs of one minibatch's loss, all `(batch, completion)` and right-padded.
#[derive(Debug)]
pub struct LossInputs<'a> {
    /// Log-probs of the completion tokens under the policy being trained (differentiable).
    pub logprobs: &'a Tensor,
    /// Log-probs under the policy that sampled the rollout (constants).
    pub old_logprobs: &'a Tensor,
    /// Value predictions of the policy being trained (differentiable).
    pub values: &'a Tensor,
    /// Value predictions at rollout time (constants).
    pub old_values: &'a Tensor,
    /// Advantages (constants).
    pub advantages: &'a Tensor,
    /// Value targets (constants).
    pub returns: &'a Tensor,
    /// Real completion tokens.
    pub mask: &'a Tensor,
}

/// Clip widths and the value-loss weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossSettings {
    /// Ratio clip ε.
    pub cliprange: f64,
    /// Value clip.
    pub cliprange_value: f64,
    /// Weight of the value loss.
    pub vf_coef: f64,
}

/// What one minibatch's loss computation measured (plain numbers, for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossStats {
    /// `pg_loss + vf_coef · vf_loss`.
    pub loss: f64,
    /// Clipped surrogate loss `mean(max(−A r, −A clip(r, 1 ± ε)))`.
    pub policy_loss: f64,
    /// Clipped value loss `½ mean(max((V − R)², (clip(V, V_old ± c) − R)²))`.
    pub value_loss: f64,
    /// Fraction of tokens where the clipped surrogate was the larger (clipping bit).
    pub clip_fraction: f64,
    /// Fraction of tokens where the clipped value loss was the larger.
    pub value_clip_fraction: f64,
    /// `½ mean((log π − log π_old)²)`, the approximate KL of the update.
    pub approx_kl: f64,
    /// Mean probability ratio `π / π_old`.
    pub ratio_mean: f64,
}

/// The PPO loss of a minibatch and its statistics.
///
/// Returns the scalar loss tensor (differentiable in `logprobs` and `values`) and the
/// statistics as numbers.
pub fn ppo_loss(x: &LossInputs<'_>, s: LossSettings) -> (Tensor, LossStats) {
    let m = x.mask.to_kind(Kind::Float);
    let vclipped =
        x.old_values + (x.values - x.old_values).clamp(-s.cliprange_value, s.cliprange_value);
    let vf1 = (x.values - x.returns).square();
    let vf2 = (&vclipped - x.returns).square();
    let value_loss = masked_mean(&vf1.maximum(&vf2), &m) * 0.5;
    let value_clip_fraction = masked_mean(&vf2.gt_tensor(&vf1).to_kind(Kind::Float), &m);

    let log_ratio = x.logprobs - x.old_logprobs;
    let ratio = log_ratio.exp();
    let pg1 = -x.advantages * &ratio;
    let pg2 = -x.advantages * ratio.clamp(1.0 - s.cliprange, 1.0 + s.cliprange);
    let policy_loss = masked_mean(&pg1.maximum(&pg2), &m);
    let clip_fraction = masked_mean(&pg2.gt_tensor(&pg1).to_kind(Kind::Float), &m);
    let loss = &policy_loss + &value_loss * s.vf_coef;

    let _guard = tch::no_grad_guard();
    let num = |t: &Tensor| t.double_value(&[]);
    let stats = LossStats {
        loss: num(&loss),
        policy_loss: num(&policy_loss),
        value_loss: num(&value_loss),
        clip_fraction: num(&clip_fraction),
        value_clip_fraction: num(&value_clip_fraction),
        approx_kl: num(&(masked_mean(&log_ratio.square(), &m) * 0.5)),
        ratio_mean: num(&masked_mean(&ratio, &m)),
    };
    (loss, stats)
}

/// Mean entropy (nats) of next-token distributions given as logits `(tokens, vocab)`, one
/// row per real completion position (as `SharedPromptBatch::real_logits` gives them).
pub fn entropy(logits: &Tensor) -> Tensor {
    let logp = logits.log_softmax(-1, Kind::Float);
    (-(logp.exp() * &logp).sum_dim_intlist(-1, false, Kind::Float)).mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v).view([1, v.len() as i64])
    }

    #[test]
    fn clipped_losses_by_hand() {
        // Token 0: ratio e^0.5 ≈ 1.65, A = 1 → clipped at 1.2 (pg2 = −1.2 > pg1 = −1.65).
        // Token 1: ratio e^−0.5 ≈ 0.61, A = 1 → unclipped wins (pg1 = −0.61 > pg2 = −0.8).
        // Token 2: ratio 1, A = −2 → both 2, no clip. Token 3 is padding.
        let lp = t(&[-0.5, -1.5, -1.0, 5.0]);
        let old = t(&[-1.0, -1.0, -1.0, 0.0]);
        let adv = t(&[1.0, 1.0, -2.0, 9.0]);
        let vals = t(&[1.0, 0.0, 0.5, 3.0]);
        let old_vals = t(&[0.5, 0.0, 0.5, 0.0]);
        let ret = t(&[0.0, 1.0, 0.5, 0.0]);
        let mask = Tensor::from_slice(&[true, true, true, false]).view([1, 4]);
        let (loss, s) = ppo_loss(
            &LossInputs {
                logprobs: &lp,
                old_logprobs: &old,
                values: &vals,
                old_values: &old_vals,
                advantages: &adv,
                returns: &ret,
                mask: &mask,
            },
            LossSettings {
                cliprange: 0.2,
                cliprange_value: 0.2,
                vf_coef: 0.1,
            },
        );
        let e = 0.5f64.exp();
        let pg = (-1.2 + -(1.0 / e) + 2.0) / 3.0;
        assert!((s.policy_loss - pg).abs() < 1e-6, "{s:?}");
        assert!((s.clip_fraction - 1.0 / 3.0).abs() < 1e-6);
        // Values: token 0: V = 1, clipped 0.7, R = 0 → max(1, 0.49) = 1; token 1: (0 − 1)² = 1
        // both; token 2: 0. Mean 2/3, halved 1/3. Clipped loss never larger here.
        assert!((s.value_loss - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(s.value_clip_fraction, 0.0);
        assert!((s.loss - (pg + 0.1 / 3.0)).abs() < 1e-6);
        assert!((s.approx_kl - 0.5 * (0.25 + 0.25) / 3.0).abs() < 1e-6);
        assert!((s.ratio_mean - (e + 1.0 / e + 1.0) / 3.0).abs() < 1e-5);
        assert!((loss.double_value(&[]) - s.loss).abs() < 1e-6);
    }

    #[test]
    fn value_clipping_bites_when_the_value_jumps_the_wrong_way() {
        // V_old = 1, V = 1.5, R = 2: clipped V = 1.2, (1.2 − 2)² = 0.64 > (1.5 − 2)² = 0.25,
        // so the clipped loss is the larger: ½ · 0.64.
        let v = t(&[1.5]);
        let old = t(&[1.0]);
        let r = t(&[2.0]);
        let z = t(&[0.0]);
        let mask = Tensor::from_slice(&[true]).view([1, 1]);
        let (_, s) = ppo_loss(
            &LossInputs {
                logprobs: &z,
                old_logprobs: &z,
                values: &v,
                old_values: &old,
                advantages: &z,
                returns: &r,
                mask: &mask,
            },
            LossSettings {
                cliprange: 0.2,
                cliprange_value: 0.2,
                vf_coef: 1.0,
            },
        );
        assert!((s.value_loss - 0.5 * 0.64).abs() < 1e-6);
        assert_eq!(s.value_clip_fraction, 1.0);
    }

    #[test]
    fn gradient_flows_only_through_the_unclipped_side() {
        let lp = Tensor::from_slice(&[-0.5f32, -1.5])
            .view([1, 2])
            .set_requires_grad(true);
        let old = t(&[-1.0, -1.0]);
        let adv = t(&[1.0, 1.0]);
        let z = t(&[0.0, 0.0]);
        let mask = Tensor::from_slice(&[true, true]).view([1, 2]);
        let (loss, _) = ppo_loss(
            &LossInputs {
                logprobs: &lp,
                old_logprobs: &old,
                values: &z,
                old_values: &z,
                advantages: &adv,
                returns: &z,
                mask: &mask,
            },
            LossSettings {
                cliprange: 0.2,
                cliprange_value: 0.2,
                vf_coef: 0.0,
            },
        );
        loss.backward();
        let g = Vec::<f32>::try_from(lp.grad().flatten(0, -1)).unwrap();
        assert_eq!(g[0], 0.0); // clipped: no gradient
        assert!((g[1] - (-(-0.5f32).exp() / 2.0)).abs() < 1e-6);
    }

    #[test]
    fn entropy_of_uniform_is_log_vocab() {
        let logits = Tensor::zeros([6, 8], (Kind::Float, tch::Device::Cpu));
        assert!((entropy(&logits).double_value(&[]) - 8f64.ln()).abs() < 1e-6);
        // A certain next token has none; the mean is over rows.
        let sure = Tensor::from_slice(&[50f32, 0., 0., 0.]).view([1, 4]);
        let both = Tensor::cat(
            &[sure, Tensor::zeros([1, 4], (Kind::Float, tch::Device::Cpu))],
            0,
        );
        assert!((entropy(&both).double_value(&[]) - 4f64.ln() / 2.0).abs() < 1e-6);
    }
}
