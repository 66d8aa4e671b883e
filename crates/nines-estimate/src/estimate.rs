//! The one result type every estimator returns: [`Estimate`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point estimate with its standard error and a two-sided confidence interval.
///
/// Serializes to a flat JSON object, for example
/// `{"value":0.52,"std_error":0.01,"ci":[0.50,0.54],"level":0.95,"n":2000,
/// "method":{"estimator":"win_rate_efficient","interval":"normal"}}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// Its estimated standard error (for bootstrap intervals: the standard deviation of the
    /// replicates; for a worst-case bound with no sampling variance: 0).
    pub std_error: f64,
    /// Lower and upper end of the confidence interval.
    pub ci: (f64, f64),
    /// Nominal two-sided coverage of `ci`, in (0, 1), e.g. 0.95.
    pub level: f64,
    /// Number of independent units the estimate rests on (samples, pairs or prompts; each
    /// function's documentation says which).
    pub n: usize,
    /// How the value and the interval were computed.
    pub method: Method,
}

impl Estimate {
    /// Whether `truth` lies in the closed interval `ci`.
    pub fn covers(&self, truth: f64) -> bool {
        self.ci.0 <= truth && truth <= self.ci.1
    }

    /// Half the interval's width.
    pub fn half_width(&self) -> f64 {
        0.5 * (self.ci.1 - self.ci.0)
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.6} (se {:.6}; {:.0}% CI [{:.6}, {:.6}]; n = {}; {})",
            self.value,
            self.std_error,
            100.0 * self.level,
            self.ci.0,
            self.ci.1,
            self.n,
            self.method
        )
    }
}

/// Which estimator produced the value and which interval surrounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Method {
    /// The point estimator.
    pub estimator: Estimator,
    /// The interval construction.
    pub interval: IntervalKind,
}

impl Method {
    /// Shorthand constructor.
    pub const fn new(estimator: Estimator, interval: IntervalKind) -> Self {
        Self {
            estimator,
            interval,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.estimator.name(), self.interval.name())
    }
}

/// Point estimators in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// Plain sample mean of i.i.d. values.
    SampleMean,
    /// Binomial proportion `k / n`.
    Proportion,
    /// Ratio of two sample means (delta method).
    Ratio,
    /// A user statistic evaluated on the sample (bootstrap).
    Statistic,
    /// Horvitz-Thompson mean under Poisson sampling with known inclusion probabilities.
    HorvitzThompson,
    /// Hájek (ratio) mean under sampling without replacement with known inclusion
    /// probabilities.
    Hajek,
    /// Unnormalized importance sampling with exact density-ratio weights.
    Importance,
    /// Self-normalized importance sampling.
    SelfNormalized,
    /// Importance sampling with weights clipped at a cap (biased; see `weighting::clipped`).
    ClippedImportance,
    /// Clipped self-normalized importance sampling.
    ClippedSelfNormalized,
    /// Naive win rate: mean of human judgments on every pair.
    WinRateNaive,
    /// Efficient win rate: accepted pairs count 1/2, only rejected pairs are judged.
    WinRateEfficient,
    /// Stratified efficient win rate.
    WinRateStratified,
    /// Efficient win rate over prompts sampled with unequal probabilities (weighted).
    WinRateWeighted,
    /// Filtered-policy failure rate, sequential rejection sampling (one threshold or per-prompt
    /// thresholds), from labeled unfiltered samples weighted by 1 / acceptance.
    FailureRateSequential,
    /// Filtered-policy failure rate for the batched-safest filter.
    FailureRateBatched,
}

impl Estimator {
    /// The snake-case name also used by serde.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SampleMean => "sample_mean",
            Self::Proportion => "proportion",
            Self::Ratio => "ratio",
            Self::Statistic => "statistic",
            Self::HorvitzThompson => "horvitz_thompson",
            Self::Hajek => "hajek",
            Self::Importance => "importance",
            Self::SelfNormalized => "self_normalized",
            Self::ClippedImportance => "clipped_importance",
            Self::ClippedSelfNormalized => "clipped_self_normalized",
            Self::WinRateNaive => "win_rate_naive",
            Self::WinRateEfficient => "win_rate_efficient",
            Self::WinRateStratified => "win_rate_stratified",
            Self::WinRateWeighted => "win_rate_weighted",
            Self::FailureRateSequential => "failure_rate_sequential",
            Self::FailureRateBatched => "failure_rate_batched",
        }
    }
}

/// Interval constructions in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalKind {
    /// Normal approximation (CLT, with the delta method where the estimator is a ratio):
    /// `value ± z · std_error`.
    Normal,
    /// Normal approximation with a cluster-robust standard error (variance from per-prompt
    /// totals, for several correlated units per prompt).
    ClusterNormal,
    /// The efficient win rate's small-sample interval: a Wilson interval for the mean judgment
    /// on rejected pairs, combined with the normal interval of the pair counts by the method of
    /// variance estimates recovery (MOVER).
    WilsonMover,
    /// Wilson score interval (with an effective sample size for weighted estimators).
    Wilson,
    /// Clopper-Pearson exact binomial interval (with an effective sample size for weighted
    /// estimators).
    ClopperPearson,
    /// Bootstrap percentile interval.
    BootstrapPercentile,
    /// Bootstrap bias-corrected and accelerated (BCa) interval.
    BootstrapBca,
    /// Cluster bootstrap percentile interval (clusters resampled whole).
    ClusterPercentile,
    /// Cluster bootstrap BCa interval (jackknife over clusters).
    ClusterBca,
    /// A deterministic worst-case bound combined with an exact binomial bound (used when no
    /// rejected pair exists to judge; see `win_rate::efficient`).
    Bound,
}

impl IntervalKind {
    /// The snake-case name also used by serde.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::ClusterNormal => "cluster_normal",
            Self::WilsonMover => "wilson_mover",
            Self::Wilson => "wilson",
            Self::ClopperPearson => "clopper_pearson",
            Self::BootstrapPercentile => "bootstrap_percentile",
            Self::BootstrapBca => "bootstrap_bca",
            Self::ClusterPercentile => "cluster_percentile",
            Self::ClusterBca => "cluster_bca",
            Self::Bound => "bound",
        }
    }
}
