//! Seeded bootstrap intervals for any statistic: percentile, BCa, and the cluster bootstrap
//! that resamples whole prompts (clusters) so within-prompt correlation is honoured.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::ContinuousCDF;

use crate::check;
use crate::error::{EstimateError, Result};
use crate::estimate::{Estimate, Estimator, IntervalKind, Method};
use crate::interval::{std_normal, z_value};
use crate::stats;

/// Which bootstrap interval to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootstrapMethod {
    /// Quantiles `α/2`, `1−α/2` of the replicates.
    Percentile,
    /// Bias-corrected and accelerated quantiles (Efron 1987): corrects median bias and
    /// skewness; second-order accurate. Costs `n` extra evaluations (jackknife).
    #[default]
    Bca,
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootstrapConfig {
    /// Number of bootstrap replicates. Default 2000; at least 100 (BCa tails need ≥ 1000 for
    /// stable 95% intervals).
    pub resamples: usize,
    /// Two-sided confidence level in (0, 1). Default 0.95.
    pub level: f64,
    /// Seed of the ChaCha8 generator; the same seed and data give the same interval. Default 0.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: 2000,
            level: 0.95,
            seed: 0,
        }
    }
}

impl BootstrapConfig {
    /// Checks `resamples >= 100` and `level` in (0, 1).
    pub fn validate(&self) -> Result<()> {
        check::level(self.level)?;
        if self.resamples < 100 {
            return Err(EstimateError::Parameter {
                name: "resamples",
                value: self.resamples.to_string(),
                reason: "at least 100 bootstrap replicates are needed",
            });
        }
        Ok(())
    }
}

/// Percentile bootstrap interval for `statistic` on i.i.d. `data`; `n = data.len()`.
///
/// ```
/// use nines_estimate::bootstrap::{percentile, BootstrapConfig};
/// let data: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
/// let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
/// let e = percentile(&data, mean, &BootstrapConfig::default()).unwrap();
/// assert!(e.ci.0 < e.value && e.value < e.ci.1);
/// ```
pub fn percentile<T, F>(data: &[T], statistic: F, cfg: &BootstrapConfig) -> Result<Estimate>
where
    T: Clone,
    F: Fn(&[T]) -> f64,
{
    observations(data, &statistic, BootstrapMethod::Percentile, cfg)
}

/// BCa bootstrap interval for `statistic` on i.i.d. `data`; `n = data.len()`.
pub fn bca<T, F>(data: &[T], statistic: F, cfg: &BootstrapConfig) -> Result<Estimate>
where
    T: Clone,
    F: Fn(&[T]) -> f64,
{
    observations(data, &statistic, BootstrapMethod::Bca, cfg)
}

/// Cluster bootstrap: resamples whole `clusters` (for example all samples of one prompt) with
/// replacement, concatenates them and evaluates `statistic` on the observations. BCa uses a
/// leave-one-cluster-out jackknife. `n` = number of clusters. Use this whenever observations
/// from one prompt are correlated; the i.i.d. bootstrap then under-covers.
pub fn cluster<T, F>(
    clusters: &[Vec<T>],
    statistic: F,
    method: BootstrapMethod,
    cfg: &BootstrapConfig,
) -> Result<Estimate>
where
    T: Clone,
    F: Fn(&[T]) -> f64,
{
    if clusters.iter().all(|c| c.is_empty()) {
        return Err(EstimateError::Empty { field: "clusters" });
    }
    let mut buf: Vec<T> = Vec::new();
    let eval = |idx: &[usize]| {
        buf.clear();
        for &i in idx {
            buf.extend_from_slice(&clusters[i]);
        }
        statistic(&buf)
    };
    let interval = match method {
        BootstrapMethod::Percentile => IntervalKind::ClusterPercentile,
        BootstrapMethod::Bca => IntervalKind::ClusterBca,
    };
    run(clusters.len(), "clusters", eval, method, interval, cfg)
}

/// The raw bootstrap replicates of `statistic` (for diagnostics or custom intervals).
pub fn replicates<T, F>(data: &[T], statistic: F, cfg: &BootstrapConfig) -> Result<Vec<f64>>
where
    T: Clone,
    F: Fn(&[T]) -> f64,
{
    cfg.validate()?;
    check::nonempty("data", data)?;
    let mut buf: Vec<T> = Vec::with_capacity(data.len());
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let n = data.len();
    let mut reps = Vec::with_capacity(cfg.resamples);
    for r in 0..cfg.resamples {
        buf.clear();
        for _ in 0..n {
            buf.push(data[index(&mut rng, n)].clone());
        }
        let v = statistic(&buf);
        finite_stat(v, || format!("bootstrap replicate {r}"))?;
        reps.push(v);
    }
    Ok(reps)
}

fn observations<T, F>(
    data: &[T],
    statistic: &F,
    method: BootstrapMethod,
    cfg: &BootstrapConfig,
) -> Result<Estimate>
where
    T: Clone,
    F: Fn(&[T]) -> f64,
{
    let mut buf: Vec<T> = Vec::with_capacity(data.len());
    let eval = |idx: &[usize]| {
        buf.clear();
        for &i in idx {
            buf.push(data[i].clone());
        }
        statistic(&buf)
    };
    let interval = match method {
        BootstrapMethod::Percentile => IntervalKind::BootstrapPercentile,
        BootstrapMethod::Bca => IntervalKind::BootstrapBca,
    };
    run(data.len(), "data", eval, method, interval, cfg)
}

fn finite_stat(v: f64, on: impl FnOnce() -> String) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(EstimateError::Statistic { on: on(), value: v })
    }
}

/// A uniform index in `0..n` by Lemire's multiply-shift (bias below `n / 2^64`).
fn index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// Core: resample `n` units (by index) with replacement, evaluate, build the interval.
fn run<G>(
    n: usize,
    field: &'static str,
    mut eval: G,
    method: BootstrapMethod,
    interval: IntervalKind,
    cfg: &BootstrapConfig,
) -> Result<Estimate>
where
    G: FnMut(&[usize]) -> f64,
{
    cfg.validate()?;
    if n < 2 {
        return Err(if n == 0 {
            EstimateError::Empty { field }
        } else {
            EstimateError::TooFew {
                field,
                need: 2,
                got: n,
            }
        });
    }
    let all: Vec<usize> = (0..n).collect();
    let theta = eval(&all);
    finite_stat(theta, || "the original sample".into())?;

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut pick: Vec<usize> = vec![0; n];
    let mut reps = Vec::with_capacity(cfg.resamples);
    for r in 0..cfg.resamples {
        for p in pick.iter_mut() {
            *p = index(&mut rng, n);
        }
        let v = eval(&pick);
        finite_stat(v, || format!("bootstrap replicate {r}"))?;
        reps.push(v);
    }
    let se = stats::variance(&reps).sqrt();
    reps.sort_by(f64::total_cmp);
    let alpha = 1.0 - cfg.level;
    let (q_lo, q_hi) = match method {
        BootstrapMethod::Percentile => (0.5 * alpha, 1.0 - 0.5 * alpha),
        BootstrapMethod::Bca => {
            // Bias correction: z0 = Φ⁻¹(share of replicates below θ̂), ties counted half.
            let below = reps.iter().filter(|&&v| v < theta).count() as f64;
            let equal = reps.iter().filter(|&&v| v == theta).count() as f64;
            let share = (below + 0.5 * equal) / reps.len() as f64;
            if share <= 0.0 || share >= 1.0 {
                return Err(EstimateError::Degenerate(format!(
                    "all {} bootstrap replicates lie on one side of the estimate {theta}; \
                     the BCa bias correction is infinite (use the percentile interval or \
                     more data)",
                    reps.len()
                )));
            }
            let nd = std_normal();
            let z0 = nd.inverse_cdf(share);
            // Acceleration from the jackknife.
            let mut jack = Vec::with_capacity(n);
            let mut loo: Vec<usize> = (1..n).collect();
            for i in 0..n {
                // loo = 0..n without i: swap i back in place of i−1's slot as i advances.
                if i > 0 {
                    loo[i - 1] = i - 1;
                }
                let v = eval(&loo);
                finite_stat(v, || format!("jackknife sample {i} (unit {i} left out)"))?;
                jack.push(v);
            }
            let jbar = stats::mean(&jack);
            let (mut num, mut den) = (0.0, 0.0);
            for j in &jack {
                let d = jbar - j;
                num += d * d * d;
                den += d * d;
            }
            let a = if den > 0.0 {
                num / (6.0 * den.powf(1.5))
            } else {
                0.0
            };
            let z = z_value(cfg.level)?;
            let adj = |zq: f64| {
                let t = z0 + zq;
                nd.cdf(z0 + t / (1.0 - a * t))
            };
            (adj(-z), adj(z))
        }
    };
    let ci = (
        stats::quantile_sorted(&reps, q_lo),
        stats::quantile_sorted(&reps, q_hi),
    );
    Ok(Estimate {
        value: theta,
        std_error: se,
        ci,
        level: cfg.level,
        n,
        method: Method::new(Estimator::Statistic, interval),
    })
}
