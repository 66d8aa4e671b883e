//! Training examples: `(prompt, completion, label)` triples, and their conversion from
//! nines-data [`Snippet`]s.

use nines_data::label::aggregate::{Rule, aggregate};
use nines_data::split::Split;
use nines_data::{Snippet, Verdict};
use serde::{Deserialize, Serialize};

/// One labeled pair. `label` is true when the completion describes an injury.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The prompt (story so far).
    pub prompt: String,
    /// The completion to judge.
    pub completion: String,
    /// True for injury (the positive, forbidden class).
    pub label: bool,
}

impl Example {
    /// A labeled pair.
    pub fn new(prompt: impl Into<String>, completion: impl Into<String>, label: bool) -> Self {
        Example {
            prompt: prompt.into(),
            completion: completion.into(),
            label,
        }
    }
}

/// How many snippets a conversion used and why the others were left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionReport {
    /// Snippets turned into examples.
    pub used: usize,
    /// Of those, injuries.
    pub positives: usize,
    /// Left out: the combined verdict is `unsure` (or the labelers tie).
    pub unsure: usize,
    /// Left out: no label (from the chosen labeler, or none at all).
    pub missing: usize,
}

/// Which labels of a snippet decide its class.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// All labels, combined by majority (ties and all-`unsure` are unsure).
    #[default]
    Majority,
    /// All labels; one `injury` makes the snippet positive (the cautious rule).
    AnyInjury,
    /// Only the label of this labeler (e.g. `oracle`).
    Labeler(String),
}

/// Converts snippets to examples, leaving out and counting unsure and unlabeled ones.
///
/// ```
/// use nines_classify::example::{from_snippets, LabelSource};
/// use nines_data::{Label, Snippet, Verdict};
/// let mut a = Snippet::new("He ran.", "He fell and broke his arm.", None, None, None);
/// a.upsert_label(Label::now("oracle", Verdict::Injury, ""));
/// let b = Snippet::new("He ran.", "He stopped.", None, None, None);
/// let (examples, report) = from_snippets([&a, &b], &LabelSource::Majority);
/// assert_eq!(examples.len(), 1);
/// assert!(examples[0].label);
/// assert_eq!((report.used, report.missing), (1, 1));
/// ```
pub fn from_snippets<'a>(
    snippets: impl IntoIterator<Item = &'a Snippet>,
    source: &LabelSource,
) -> (Vec<Example>, ConversionReport) {
    let mut report = ConversionReport::default();
    let mut out = Vec::new();
    for s in snippets {
        let verdict = match source {
            LabelSource::Majority => aggregate(&s.labels, Rule::Majority),
            LabelSource::AnyInjury => aggregate(&s.labels, Rule::AnyInjury),
            LabelSource::Labeler(name) => s.label_by(name).map(|l| l.verdict),
        };
        match verdict {
            None => report.missing += 1,
            Some(Verdict::Unsure) => report.unsure += 1,
            Some(v) => {
                let label = v == Verdict::Injury;
                report.used += 1;
                report.positives += usize::from(label);
                out.push(Example::new(s.prompt.clone(), s.completion.clone(), label));
            }
        }
    }
    (out, report)
}

/// Examples of a store split three ways by each snippet's recorded split; snippets without a
/// source go to training.
#[derive(Debug, Clone, Default)]
pub struct SplitExamples {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation examples (early stopping, temperature, threshold).
    pub validation: Vec<Example>,
    /// Held-out test examples.
    pub test: Vec<Example>,
    /// What was used and left out, over all three.
    pub report: ConversionReport,
}

/// Converts snippets and splits them by their recorded split.
pub fn split_snippets<'a>(
    snippets: impl IntoIterator<Item = &'a Snippet>,
    source: &LabelSource,
) -> SplitExamples {
    let mut buckets: [Vec<&Snippet>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for s in snippets {
        let i = match s.source.as_ref().map(|src| src.split) {
            Some(Split::Validation) => 1,
            Some(Split::Test) => 2,
            _ => 0,
        };
        buckets[i].push(s);
    }
    let mut out = SplitExamples::default();
    for (i, bucket) in buckets.into_iter().enumerate() {
        let (ex, r) = from_snippets(bucket, source);
        out.report.used += r.used;
        out.report.positives += r.positives;
        out.report.unsure += r.unsure;
        out.report.missing += r.missing;
        match i {
            0 => out.train = ex,
            1 => out.validation = ex,
            _ => out.test = ex,
        }
    }
    out
}
/// Keeps every positive and `keep` negatives drawn uniformly with `seed` (all of them when
/// there are no more than `keep`): positives first, then the kept negatives. For large,
/// imbalanced training sets; rates over negatives stay unbiased on the subsample.
pub fn subsample_negatives(examples: Vec<Example>, keep: usize, seed: u64) -> Vec<Example> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let (pos, mut neg): (Vec<_>, Vec<_>) = examples.into_iter().partition(|e| e.label);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    neg.shuffle(&mut rng);
    neg.truncate(keep);
    pos.into_iter().chain(neg).collect()
}

/// Flips the labels of `examples` as a less accurate labeler would (`noise`, deterministic
/// per pair: the same pair text and `seed` always give the same flip), returning how many
/// changed. For studies of how labeling errors in training and validation data affect a
/// classifier measured on clean test labels.
///
/// ```
/// use nines_classify::example::{Example, flip_labels};
/// use nines_data::label::noise::Noise;
/// let mut examples: Vec<Example> = (0..200)
///     .map(|i| Example { prompt: format!("p{i}"), completion: "c".into(), label: i % 2 == 0 })
///     .collect();
/// let flipped = flip_labels(&mut examples, Noise::Symmetric(0.2), 1).unwrap();
/// assert!((20..60).contains(&flipped));
/// ```
///
/// # Errors
/// [`crate::ClassifyError::Config`] for rates outside [0, 1].
pub fn flip_labels(
    examples: &mut [Example],
    noise: nines_data::label::noise::Noise,
    seed: u64,
) -> crate::error::Result<usize> {
    use nines_data::Verdict;
    let flipper = nines_data::label::noise::NoisyLabeler::new(
        nines_data::label::oracle::OracleLabeler::new(),
        noise,
        seed,
    )
    .map_err(|e| crate::error::ClassifyError::Config {
        field: "noise".into(),
        message: e.to_string(),
    })?;
    let mut flipped = 0;
    for e in examples {
        let verdict = if e.label {
            Verdict::Injury
        } else {
            Verdict::NoInjury
        };
        let noisy = flipper.flip(&format!("{}\u{1f}{}", e.prompt, e.completion), verdict);
        if noisy != verdict {
            e.label = noisy == Verdict::Injury;
            flipped += 1;
        }
    }
    Ok(flipped)
}
