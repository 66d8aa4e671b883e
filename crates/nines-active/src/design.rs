//! Sampling designs: from utilities to inclusion probabilities to a sample.
//!
//! Every reweightable design gives pair `i` a known inclusion probability `π_i ∈ (0, 1]` and
//! records it, so that `Σ_{i∈s} y_i / π_i` (Horvitz–Thompson) estimates a pool total without
//! bias whatever the strategy was:
//!
//! 1. **Weights.** `w_i = λ + (1 − λ) · u_i / ū` mixes the utility `u_i` with a uniform share
//!    `λ > 0` ([`weights`]), so that no pair has probability zero.
//! 2. **Probabilities.** `π_i = min(1, c · w_i)` with `c` chosen so that `Σ π_i = n`, the
//!    budget (pairs whose `c · w_i` reaches 1 are taken with certainty and `c` is re-solved;
//!    [`inclusion_probabilities`], shared with nines-data's prompt selection).
//! 3. **Draw.** [`poisson_draw`] includes each pair independently (sample size random, mean
//!    `n`); [`systematic_draw`] shuffles the pairs, lays the `π_i` end to end on `[0, n)` and
//!    takes the pairs under the points `U, U + 1, …, U + n − 1` for one uniform `U`, which
//!    gives every pair exactly probability `π_i` and a sample of exactly `n`.
//! 4. **Strata** ([`allocate`]): a stratified design draws `n_h` pairs in stratum `h` with the
//!    steps above inside the stratum; the strata must be fixed before the draw (e.g. k-center
//!    cells of the embeddings, which depend only on the pool), so that the probabilities are
//!    exact.

use rand::Rng;
use rand::seq::SliceRandom;

use crate::error::{ActiveError, Result};

pub use nines_data::select::inclusion_probabilities;

/// Sampling weights `λ + (1 − λ) · u_i / mean(u)` from non-negative utilities; `λ` is the
/// uniform share in (0, 1]. All-equal utilities give equal weights.
pub fn weights(utility: &[f64], uniform_mix: f64) -> Result<Vec<f64>> {
    check_mix(uniform_mix)?;
    if utility.is_empty() {
        return Err(ActiveError::EmptyPool);
    }
    if let Some((i, u)) = utility
        .iter()
        .enumerate()
        .find(|(_, u)| !(u.is_finite() && **u >= 0.0))
    {
        return Err(ActiveError::config(
            "utility",
            format!("utility {i} is {u}; utilities must be finite and non-negative"),
        ));
    }
    let mean = utility.iter().sum::<f64>() / utility.len() as f64;
    Ok(utility
        .iter()
        .map(|&u| {
            if mean > 0.0 {
                uniform_mix + (1.0 - uniform_mix) * u / mean
            } else {
                1.0
            }
        })
        .collect())
}

/// Checks a uniform share: in (0, 1].
pub fn check_mix(uniform_mix: f64) -> Result<()> {
    if uniform_mix.is_finite() && uniform_mix > 0.0 && uniform_mix <= 1.0 {
        Ok(())
    } else {
        Err(ActiveError::config(
            "SelectorConfig.uniform_mix",
            format!(
                "{uniform_mix} is not in (0, 1]: every pair needs a positive inclusion probability"
            ),
        ))
    }
}

/// Checks inclusion probabilities: each in (0, 1].
pub fn check_probabilities(pi: &[f64]) -> Result<()> {
    match pi
        .iter()
        .enumerate()
        .find(|(_, p)| !(p.is_finite() && **p > 0.0 && **p <= 1.0))
    {
        Some((i, &p)) => Err(ActiveError::BadProbability {
            what: format!("unit {i}"),
            value: p,
        }),
        None => Ok(()),
    }
}

/// Poisson sampling: unit `i` is included independently with probability `pi[i]`.
/// Returns the included positions in increasing order.
pub fn poisson_draw(pi: &[f64], rng: &mut impl Rng) -> Result<Vec<usize>> {
    check_probabilities(pi)?;
    Ok(pi
        .iter()
        .enumerate()
        .filter_map(|(i, &p)| (rng.random::<f64>() < p).then_some(i))
        .collect())
}

/// Systematic πps sampling in random order: exactly `round(Σ π)` units, unit `i` included
/// with probability `pi[i]`. Returns the included positions in increasing order.
pub fn systematic_draw(pi: &[f64], rng: &mut impl Rng) -> Result<Vec<usize>> {
    check_probabilities(pi)?;
    let mut order: Vec<usize> = (0..pi.len()).collect();
    order.shuffle(rng);
    let total: f64 = pi.iter().sum();
    let n = total.round() as usize;
    let start: f64 = rng.random();
    let mut out = Vec::with_capacity(n);
    let mut cum = 0.0;
    let mut k = 0usize; // next point is start + k
    for &i in &order {
        let next = cum + pi[i];
        // A unit covers [cum, next); it holds at most one point because pi[i] <= 1.
        if k < n && start + (k as f64) < next {
            out.push(i);
            k += 1;
        }
        cum = next;
    }
    out.sort_unstable();
    Ok(out)
}

/// Splits a sample of `n` over strata of the given sizes, proportionally to their `mass`
/// (e.g. summed weights): every stratum gets one unit, and each further unit goes to the
/// stratum with the largest `mass / allocated` that still has room (highest averages).
///
/// Errors when `n` is smaller than the number of strata (a stratum with no draw would give
/// its pairs probability zero) or when a stratum is empty.
pub fn allocate(mass: &[f64], sizes: &[usize], n: usize) -> Result<Vec<usize>> {
    if mass.len() != sizes.len() {
        return Err(ActiveError::config(
            "strata",
            format!("{} masses for {} strata", mass.len(), sizes.len()),
        ));
    }
    if sizes.contains(&0) {
        return Err(ActiveError::config("strata", "a stratum is empty"));
    }
    if n < sizes.len() {
        return Err(ActiveError::config(
            "SelectorConfig.clusters",
            format!(
                "{} strata need at least one draw each but the budget is {n}",
                sizes.len()
            ),
        ));
    }
    let mut alloc = vec![1usize; sizes.len()];
    let capacity: usize = sizes.iter().sum();
    let mut left = n.min(capacity) - sizes.len();
    while left > 0 {
        let best = (0..sizes.len())
            .filter(|&h| alloc[h] < sizes[h])
            .max_by(|&a, &b| {
                let qa = mass[a] / alloc[a] as f64;
                let qb = mass[b] / alloc[b] as f64;
                qa.total_cmp(&qb).then(b.cmp(&a))
            });
        match best {
            Some(h) => {
                alloc[h] += 1;
                left -= 1;
            }
            None => break,
        }
    }
    Ok(alloc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn systematic_draw_has_exact_size_and_frequencies() {
        let pi = [0.9, 0.5, 0.3, 0.2, 0.1, 1.0];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0usize; 6];
        let reps = 20_000;
        for _ in 0..reps {
            let s = systematic_draw(&pi, &mut rng).unwrap();
            assert_eq!(s.len(), 3);
            for i in s {
                counts[i] += 1;
            }
        }
        for (c, p) in counts.iter().zip(pi) {
            let f = *c as f64 / reps as f64;
            assert!((f - p).abs() < 0.015, "{f} vs {p}");
        }
    }

    #[test]
    fn allocation_follows_mass_and_respects_sizes() {
        assert_eq!(allocate(&[3.0, 1.0], &[10, 10], 4).unwrap(), vec![3, 1]);
        assert_eq!(allocate(&[100.0, 1.0], &[2, 10], 6).unwrap(), vec![2, 4]);
        assert_eq!(allocate(&[1.0, 1.0], &[1, 1], 5).unwrap(), vec![1, 1]);
        assert!(allocate(&[1.0, 1.0, 1.0], &[2, 2, 2], 2).is_err());
    }

    #[test]
    fn bad_probabilities_are_refused() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(matches!(
                poisson_draw(&[0.5, bad], &mut rng),
                Err(ActiveError::BadProbability { .. })
            ));
            assert!(matches!(
                systematic_draw(&[bad], &mut rng),
                Err(ActiveError::BadProbability { .. })
            ));
        }
        assert!(weights(&[1.0], 0.0).is_err());
    }
}
