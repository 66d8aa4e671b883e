//! Token sampling: temperature, top-k, top-p (nucleus) and greedy, with the random draw made
//! by a seeded per-sequence generator so that results do not depend on LibTorch's global RNG.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use super::GenerateConfig;

/// Picks one token per row of `logits` `(rows, vocab)`; `rngs[i]` draws for row `i`.
/// `banned` token ids get zero probability (used to enforce a minimum length).
///
/// Returns the tokens and their log-probabilities under the model's unmodified distribution
/// (temperature 1, no truncation): the behaviour policy's log-probabilities that PPO needs.
pub(crate) fn sample(
    logits: &Tensor,
    cfg: &GenerateConfig,
    rngs: &mut [&mut ChaCha8Rng],
    banned: &[u32],
) -> (Vec<u32>, Vec<f32>) {
    let mut logits = logits.to_kind(Kind::Float);
    if !banned.is_empty() {
        let ids: Vec<i64> = banned.iter().map(|&b| i64::from(b)).collect();
        logits = logits.index_fill(
            1,
            &Tensor::from_slice(&ids).to_device(logits.device()),
            f64::NEG_INFINITY,
        );
    }
    let tokens: Vec<i64> = if cfg.temperature == 0.0 {
        Vec::<i64>::try_from(logits.argmax(-1, false).to_device(tch::Device::Cpu))
            .unwrap_or_default()
    } else {
        draw(&logits, cfg, rngs)
    };
    let ids = Tensor::from_slice(&tokens)
        .to_device(logits.device())
        .unsqueeze(1);
    let logprobs = logits
        .log_softmax(-1, Kind::Float)
        .gather(1, &ids, false)
        .squeeze_dim(1);
    let logprobs = Vec::<f32>::try_from(logprobs.to_device(tch::Device::Cpu)).unwrap_or_default();
    (tokens.into_iter().map(|t| t as u32).collect(), logprobs)
}

fn draw(logits: &Tensor, cfg: &GenerateConfig, rngs: &mut [&mut ChaCha8Rng]) -> Vec<i64> {
    let vocab = logits.size()[1];
    let mut scaled = logits / cfg.temperature;
    if cfg.top_k > 0 && (cfg.top_k as i64) < vocab {
        let (top, _) = scaled.topk(cfg.top_k as i64, -1, true, true);
        let kth = top.narrow(1, cfg.top_k as i64 - 1, 1);
        scaled = scaled.masked_fill(&scaled.lt_tensor(&kth), f64::NEG_INFINITY);
    }
    if cfg.top_p < 1.0 {
        let (sorted, order) = scaled.sort(-1, true);
        let probs = sorted.softmax(-1, Kind::Float);
        // Keep the smallest prefix whose mass reaches top_p: drop a token when the mass
        // strictly before it already does.
        let before = probs.cumsum(-1, Kind::Float) - &probs;
        let probs = probs.masked_fill(&before.ge(cfg.top_p), 0.0);
        // Map each row's pick (a position in sorted order) back to its token id on the
        // device: one id per row crosses to the CPU, not the whole sorted index.
        let picks: Vec<i64> = draw_rows(&probs, rngs)
            .into_iter()
            .map(|p| p as i64)
            .collect();
        let picks = Tensor::from_slice(&picks)
            .to_device(order.device())
            .unsqueeze(1);
        cpu_i64(&order.gather(1, &picks, false))
    } else {
        let probs = scaled.softmax(-1, Kind::Float);
        draw_rows(&probs, rngs)
            .into_iter()
            .map(|p| p as i64)
            .collect()
    }
}

/// Inverse-CDF draw per row of unnormalized non-negative weights `(rows, n)`.
fn draw_rows(weights: &Tensor, rngs: &mut [&mut ChaCha8Rng]) -> Vec<usize> {
    let n = weights.size()[1] as usize;
    let w = Vec::<f32>::try_from(
        weights
            .to_device(tch::Device::Cpu)
            .contiguous()
            .flatten(0, -1),
    )
    .unwrap_or_default();
    w.chunks_exact(n)
        .zip(rngs.iter_mut())
        .map(|(row, rng)| {
            let total: f64 = row.iter().map(|&x| f64::from(x)).sum();
            let mut u = rng.random::<f64>() * total;
            let mut last_positive = 0;
            for (i, &x) in row.iter().enumerate() {
                if x > 0.0 {
                    last_positive = i;
                    u -= f64::from(x);
                    if u < 0.0 {
                        return i;
                    }
                }
            }
            last_positive
        })
        .collect()
}

fn cpu_i64(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t.to_device(tch::Device::Cpu).contiguous().flatten(0, -1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rngs(n: usize) -> Vec<ChaCha8Rng> {
        (0..n)
            .map(|i| ChaCha8Rng::seed_from_u64(i as u64))
            .collect()
    }

    #[test]
    fn greedy_and_banned() {
        let logits = Tensor::from_slice(&[0.0f32, 3.0, 1.0, 2.0, 0.0, -1.0]).view([2, 3]);
        let cfg = GenerateConfig {
            temperature: 0.0,
            ..Default::default()
        };
        let mut r = rngs(2);
        let mut refs: Vec<&mut ChaCha8Rng> = r.iter_mut().collect();
        let (t, lp) = sample(&logits, &cfg, &mut refs, &[]);
        assert_eq!(t, vec![1, 0]);
        assert!(lp[0] < 0.0 && lp[0] > -1.0);
        let (t, _) = sample(&logits, &cfg, &mut refs, &[1]);
        assert_eq!(t[0], 2);
    }

    #[test]
    fn top_k_one_and_tiny_top_p_are_greedy() {
        let logits = Tensor::from_slice(&[0.5f32, 0.1, 2.0, 1.9]).view([1, 4]);
        for cfg in [
            GenerateConfig {
                top_k: 1,
                ..Default::default()
            },
            GenerateConfig {
                top_p: 1e-6,
                ..Default::default()
            },
        ] {
            let mut r = rngs(1);
            for _ in 0..20 {
                let mut refs: Vec<&mut ChaCha8Rng> = r.iter_mut().collect();
                assert_eq!(sample(&logits, &cfg, &mut refs, &[]).0, vec![2]);
            }
        }
    }

    #[test]
    fn top_p_keeps_the_nucleus_only() {
        // probs ≈ [0.5, 0.3, 0.15, 0.05]; top_p 0.7 keeps tokens 0 and 1.
        let p = [0.5f32, 0.3, 0.15, 0.05];
        let logits = Tensor::from_slice(&p.map(f32::ln)).view([1, 4]);
        let cfg = GenerateConfig {
            top_p: 0.7,
            ..Default::default()
        };
        let mut r = rngs(1);
        let mut counts = [0usize; 4];
        for _ in 0..2000 {
            let mut refs: Vec<&mut ChaCha8Rng> = r.iter_mut().collect();
            counts[sample(&logits, &cfg, &mut refs, &[]).0[0] as usize] += 1;
        }
        assert_eq!(counts[2] + counts[3], 0);
        let frac0 = counts[0] as f64 / 2000.0;
        assert!((frac0 - 0.625).abs() < 0.04, "token 0 frequency {frac0}");
    }
}
