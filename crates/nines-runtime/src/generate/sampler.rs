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
///
/// One `(rows, vocab)` tensor of probabilities crosses to the CPU per call (on a CPU model it
/// is only read); the nucleus is found there by selection, not by sorting the vocabulary.
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
        cpu_i64(&logits.argmax(-1, false))
    } else {
        draw(&logits, cfg, rngs)
    };
    let ids = Tensor::from_slice(&tokens)
        .to_device(logits.device())
        .unsqueeze(1);
    // log_softmax(logits)[token] without materializing the (rows, vocab) log-softmax.
    let logprobs =
        logits.gather(1, &ids, false).squeeze_dim(1) - logits.logsumexp([-1i64].as_slice(), false);
    let logprobs = Vec::<f32>::try_from(logprobs.to_device(tch::Device::Cpu)).unwrap_or_default();
    (tokens.into_iter().map(|t| t as u32).collect(), logprobs)
}

fn draw(logits: &Tensor, cfg: &GenerateConfig, rngs: &mut [&mut ChaCha8Rng]) -> Vec<i64> {
    let vocab = logits.size()[1];
    let mut scaled = if cfg.temperature == 1.0 {
        logits.shallow_clone()
    } else {
        logits / cfg.temperature
    };
    // A `top_k` at or above the vocabulary (however large) keeps every token.
    let k = i64::try_from(cfg.top_k).unwrap_or(i64::MAX);
    if k > 0 && k < vocab {
        let (top, _) = scaled.topk(k, -1, true, true);
        let kth = top.narrow(1, k - 1, 1);
        scaled = scaled.masked_fill(&scaled.lt_tensor(&kth), f64::NEG_INFINITY);
    }
    let probs = scaled.softmax(-1, Kind::Float);
    let n = vocab as usize;
    let host = probs.to_device(tch::Device::Cpu).contiguous();
    let numel = host.numel();
    let mut w = vec![0f32; numel];
    host.copy_data(&mut w, numel);
    let mut scratch = Vec::new();
    w.chunks_exact(n)
        .zip(rngs.iter_mut())
        .map(|(row, rng)| {
            if cfg.top_p < 1.0 {
                draw_nucleus(row, cfg.top_p, rng, &mut scratch) as i64
            } else {
                draw_row(row.iter().copied().enumerate(), rng) as i64
            }
        })
        .collect()
}

/// Nucleus (top-p) draw from one row of probabilities: keep the smallest set of most likely
/// tokens whose mass reaches `top_p` (a token is dropped when the mass strictly before it, in
/// descending order, already does), then draw by inverse CDF over the kept tokens.
///
/// The vocabulary is not sorted: tokens below `(1 - top_p) / vocab` cannot be in the nucleus
/// (together they weigh less than `1 - top_p`), and among the rest, repeated selection finds
/// the cut in expected linear time. The draw walks the nucleus in the (deterministic) order
/// selection left it in, so a seed still fixes the result.
fn draw_nucleus(
    row: &[f32],
    top_p: f64,
    rng: &mut ChaCha8Rng,
    cand: &mut Vec<(f32, u32)>,
) -> usize {
    // Half the bound, so that rounding in the probabilities cannot exclude a member.
    let floor = ((1.0 - top_p) / row.len() as f64 * 0.5) as f32;
    cand.clear();
    cand.extend(
        row.iter()
            .enumerate()
            .filter(|&(_, &p)| p > 0.0 && p >= floor)
            .map(|(i, &p)| (p, i as u32)),
    );
    if cand.is_empty() {
        return draw_row(row.iter().copied().enumerate(), rng);
    }
    let desc = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    // Invariant: cand[..start] are all kept and none is smaller than anything after them;
    // the cut lies in cand[start..end]; `before` is the mass of cand[..start].
    let (mut start, mut end, mut before) = (0, cand.len(), 0f64);
    while end - start > 64 {
        let mid = start + (end - start) / 2;
        cand[start..end].select_nth_unstable_by(mid - start, desc);
        let upper: f64 = cand[start..mid].iter().map(|c| f64::from(c.0)).sum();
        if before + upper >= top_p {
            end = mid;
        } else {
            before += upper;
            start = mid;
        }
    }
    cand[start..end].sort_unstable_by(desc);
    let mut cut = end;
    for (i, c) in cand[start..end].iter().enumerate() {
        if before >= top_p {
            cut = start + i;
            break;
        }
        before += f64::from(c.0);
    }
    let nucleus = &cand[..cut.max(1)];
    let pick = draw_row(nucleus.iter().map(|&(p, _)| p).enumerate(), rng);
    nucleus[pick].1 as usize
}

/// Inverse-CDF draw over `(position, weight)` pairs of unnormalized non-negative weights;
/// returns the position drawn.
fn draw_row(weights: impl Iterator<Item = (usize, f32)> + Clone, rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.clone().map(|(_, x)| f64::from(x)).sum();
    let mut u = rng.random::<f64>() * total;
    let mut last_positive = 0;
    for (i, x) in weights {
        if x > 0.0 {
            last_positive = i;
            u -= f64::from(x);
            if u < 0.0 {
                return i;
            }
        }
    }
    last_positive
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
    #[test]
    fn nucleus_by_selection_equals_nucleus_by_sorting() {
        use rand::Rng;
        let mut gen_rng = ChaCha8Rng::seed_from_u64(7);
        let mut cand = Vec::new();
        for case in 0..200 {
            let n = [5usize, 70, 1000, 5000][case % 4];
            let sharp = [0.5f64, 2.0, 8.0][case % 3];
            let raw: Vec<f64> = (0..n)
                .map(|_| (gen_rng.random::<f64>() * sharp * 3.0).exp())
                .collect();
            let total: f64 = raw.iter().sum();
            let row: Vec<f32> = raw.iter().map(|x| (x / total) as f32).collect();
            let top_p = [0.1, 0.5, 0.9, 0.95, 0.999][case % 5];
            // Reference: sort descending, keep while the mass before is below top_p.
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            let mut before = 0f64;
            let mut expected: Vec<usize> = Vec::new();
            for &i in &order {
                if before >= top_p {
                    break;
                }
                before += f64::from(row[i]);
                expected.push(i);
            }
            expected.sort_unstable();
            // Every draw lands in the reference nucleus, and over many draws all of a small
            // nucleus shows up.
            let mut rng = ChaCha8Rng::seed_from_u64(case as u64);
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..400 {
                let t = draw_nucleus(&row, top_p, &mut rng, &mut cand);
                assert!(
                    expected.binary_search(&t).is_ok(),
                    "case {case}: {t} outside"
                );
                seen.insert(t);
            }
            if expected.len() <= 3 {
                assert_eq!(seen.len(), expected.len(), "case {case}");
            }
        }
    }
}
