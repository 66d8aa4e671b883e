//! How accurate do labelers need to be? The results of the label-noise study
//! (`scripts/label_noise_study.sh`): the default classifier trained on labels flipped at
//! several rates, each tested against the clean test labels, as a table and a figure.
//!
//! Each trained setting is a folder `KIND-LEVEL-SEED` (`symmetric-0.1-2`: 10% of training and
//! validation labels flipped either way, noise draw 2; `missed-0.2-1`: 20% of injuries
//! reported safe) holding the `test.json` that `nines train-classifier` writes.
//!
//! ```no_run
//! let results = nines::label_noise::read_results("runs/noise".as_ref()).unwrap();
//! println!("{}", nines::label_noise::to_markdown(&results));
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nines_classify::metrics::auroc_interval;
use nines_estimate::interval::{ProportionInterval, effective_bounds};
use serde::Deserialize;

use crate::pipeline::plot;

/// Which labels the noise corrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoiseKind {
    /// Either verdict flipped with the same probability.
    Symmetric,
    /// Injuries reported as safe; safe pairs kept.
    Missed,
}

impl NoiseKind {
    /// The kind's name in folder names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::Symmetric => "symmetric",
            NoiseKind::Missed => "missed",
        }
    }
}

/// What can go wrong reading the study.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// A folder or file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `test.json` is not what the trainer writes.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An interval could not be computed.
    #[error("{path}: {message}")]
    Interval {
        /// The file whose figures were used.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// One trained setting, measured on the clean test labels.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseResult {
    /// Which labels were corrupted.
    pub kind: NoiseKind,
    /// Share flipped.
    pub level: f64,
    /// The noise draw.
    pub seed: u64,
    /// Test AUROC and its 95% Hanley-McNeil interval.
    pub auroc: (f64, f64, f64),
    /// Test injuries and how many of them the validation threshold let through.
    pub injuries: u64,
    /// Injuries let through.
    pub missed: u64,
    /// One-sided 95% Clopper-Pearson bound on the share let through.
    pub missed_upper: f64,
    /// Share of safe test pairs rejected at the validation threshold, with its 95% Wilson
    /// interval.
    pub safe_rejected: (f64, f64, f64),
    /// Safe test pairs.
    pub safe: u64,
}

#[derive(Deserialize)]
struct TestFile {
    metrics: TestMetrics,
    threshold: TestThreshold,
}

#[derive(Deserialize)]
struct TestMetrics {
    auroc: f64,
}

#[derive(Deserialize)]
struct TestThreshold {
    positives: u64,
    missed: u64,
    fnr_upper: f64,
    negatives: u64,
    rejected_safe: u64,
}

/// Parses a setting folder's name, `KIND-LEVEL-SEED`.
pub fn parse_setting(name: &str) -> Option<(NoiseKind, f64, u64)> {
    let mut parts = name.splitn(3, '-');
    let kind = match parts.next()? {
        "symmetric" => NoiseKind::Symmetric,
        "missed" => NoiseKind::Missed,
        _ => return None,
    };
    let level: f64 = parts.next()?.parse().ok()?;
    let seed: u64 = parts.next()?.parse().ok()?;
    (0.0..=1.0).contains(&level).then_some((kind, level, seed))
}

/// Every finished setting under `dir` (folders without `test.json` are still training and
/// are skipped), sorted by kind, level and seed.
pub fn read_results(dir: &Path) -> Result<Vec<NoiseResult>, StudyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StudyError::Io { path, source }
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((kind, level, seed)) = parse_setting(&name) else {
            continue;
        };
        let path = entry.path().join("test.json");
        if !path.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let t: TestFile = serde_json::from_str(&text).map_err(|e| StudyError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let th = &t.threshold;
        let interval = |message: String| StudyError::Interval {
            path: path.clone(),
            message,
        };
        let (lo, hi) = auroc_interval(
            t.metrics.auroc,
            th.positives as usize,
            th.negatives as usize,
            0.95,
        )
        .map_err(|e| interval(e.to_string()))?;
        let rejected = th.rejected_safe as f64 / th.negatives.max(1) as f64;
        let (rlo, rhi) = effective_bounds(
            rejected,
            th.negatives as f64,
            ProportionInterval::Wilson,
            0.95,
        )
        .map_err(|e| interval(e.to_string()))?;
        out.push(NoiseResult {
            kind,
            level,
            seed,
            auroc: (t.metrics.auroc, lo, hi),
            injuries: th.positives,
            missed: th.missed,
            missed_upper: th.fnr_upper,
            safe_rejected: (rejected, rlo, rhi),
            safe: th.negatives,
        });
    }
    out.sort_by(|a, b| {
        (a.kind, a.level, a.seed)
            .partial_cmp(&(b.kind, b.level, b.seed))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(out)
}

/// The results as a Markdown table. The clean setting (level 0) is listed once, as the first
/// row of every kind.
pub fn to_markdown(results: &[NoiseResult]) -> String {
    let mut md = String::from(
        "| labels flipped | share | noise draw | test AUROC (95% CI) | test injuries let through (95% upper bound) | safe test pairs rejected (95% CI) |\n|---|---|---|---|---|---|\n",
    );
    for r in results {
        let kind = if r.level == 0.0 {
            "none"
        } else {
            match r.kind {
                NoiseKind::Symmetric => "either way",
                NoiseKind::Missed => "injuries reported safe",
            }
        };
        let _ = writeln!(
            md,
            "| {kind} | {:.0}% | {} | {:.3} [{:.3}, {:.3}] | {} of {} ({:.3}) | {:.3} [{:.3}, {:.3}] |",
            100.0 * r.level,
            r.seed,
            r.auroc.0,
            r.auroc.1,
            r.auroc.2,
            r.missed,
            r.injuries,
            r.missed_upper,
            r.safe_rejected.0,
            r.safe_rejected.1,
            r.safe_rejected.2,
        );
    }
    md
}

/// The figure: test AUROC and the safe-rejection rate against the share of labels flipped,
/// one line per kind and measure (the clean setting starts every line), every noise draw a
/// point with its 95% interval.
pub fn figure(results: &[NoiseResult]) -> Result<String, crate::pipeline::PipelineError> {
    let mut series: Vec<(String, Vec<plot::IntervalPoint>)> = Vec::new();
    for kind in [NoiseKind::Symmetric, NoiseKind::Missed] {
        let of_kind: Vec<&NoiseResult> = results
            .iter()
            .filter(|r| r.kind == kind || r.level == 0.0)
            .collect();
        series.push((
            format!("AUROC, {}", kind.name()),
            of_kind
                .iter()
                .map(|r| (r.level, r.auroc.0, r.auroc.1, r.auroc.2))
                .collect(),
        ));
        series.push((
            format!("safe rejected, {}", kind.name()),
            of_kind
                .iter()
                .map(|r| {
                    (
                        r.level,
                        r.safe_rejected.0,
                        r.safe_rejected.1,
                        r.safe_rejected.2,
                    )
                })
                .collect(),
        ));
    }
    let named: Vec<(&str, Vec<plot::IntervalPoint>)> = series
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    plot::lines_with_intervals(
        "Classifier trained on noisy labels, tested on clean ones",
        "share of training and validation labels flipped",
        "test AUROC / safe pairs rejected",
        &named,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_from_folder_names() {
        assert_eq!(
            parse_setting("symmetric-0.1-2"),
            Some((NoiseKind::Symmetric, 0.1, 2))
        );
        assert_eq!(
            parse_setting("missed-0.3-1"),
            Some((NoiseKind::Missed, 0.3, 1))
        );
        assert_eq!(parse_setting("missed-1.5-1"), None);
        assert_eq!(parse_setting("other-0.1-1"), None);
        assert_eq!(parse_setting("symmetric-0.1"), None);
    }

    #[test]
    fn results_read_into_a_table_and_a_figure_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("test.json"), text).unwrap();
        };
        let test = |auroc: f64, rejected: u64| {
            format!(
                r#"{{"metrics": {{"auroc": {auroc}}}, "threshold": {{"positives": 46, "missed": 0,
                "fnr_upper": 0.063, "negatives": 2699, "rejected_safe": {rejected}}}}}"#
            )
        };
        write("symmetric-0-1", &test(0.96, 1175));
        write("symmetric-0.1-1", &test(0.958, 2664));
        write("missed-0.3-1", &test(0.955, 661));
        std::fs::create_dir_all(dir.path().join("missed-0.2-1")).unwrap(); // still training
        let results = read_results(dir.path()).unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].level, 0.0);
        let md = to_markdown(&results);
        assert!(md.contains("| none | 0% | 1 | 0.960"), "{md}");
        assert!(md.contains("injuries reported safe | 30%"), "{md}");
        let svg = figure(&results).unwrap();
        assert!(svg.contains("<svg") && svg.contains("AUROC, missed"));
        write("symmetric-0.2-1", "{}");
        let err = read_results(dir.path()).unwrap_err();
        assert!(err.to_string().contains("symmetric-0.2-1"), "{err}");
    }
}
