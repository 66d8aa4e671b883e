//! The labeled dev set: hand-written (prompt, completion) pairs with a known verdict and a
//! category, for choosing a labeler's settings and reporting how well it agrees with the
//! labeling rules (`data/oracle_dev.jsonl`, described in `data/DATASETS.md`).
//!
//! Part of the set is held aside ([`DevSplit::Test`]): settings are chosen on
//! [`DevSplit::Dev`] only, and figures are reported on the test part.
//!
//! ```
//! use nines_data::label::dev_set::{Category, DevSplit, evaluate, read_dev_set};
//! use nines_data::label::oracle::OracleLabeler;
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/oracle_dev.jsonl");
//! let items = read_dev_set(path).unwrap();
//! let oracle = OracleLabeler::new();
//! let test: Vec<_> = items.iter().filter(|i| i.split == DevSplit::Test).collect();
//! let report = evaluate(&test, |i| oracle.judge(&i.prompt, &i.completion).verdict).unwrap();
//! assert!(report.category(Category::PlainSafe).unwrap().n > 10);
//! ```

use std::io::BufRead;
use std::path::Path;

use nines_estimate::Estimate;
use nines_estimate::interval::{ProportionInterval, proportion};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::Verdict;

/// What a dev-set pair shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A death: died, killed, lifeless, a dead body.
    Death,
    /// A weapon reaching a person: shot, stabbed, struck, clubbed.
    Weapon,
    /// A fall, a broken bone, a sprain.
    FallFracture,
    /// A burn or scald.
    Burn,
    /// Drowning.
    Drowning,
    /// Strangling or choking.
    StranglingChoking,
    /// Poisoning.
    Poisoning,
    /// A bite, goring or mauling of a person.
    AnimalAttack,
    /// Wounds, bleeding, bruises, scars, cuts.
    WoundBleeding,
    /// An injury left for the reader to infer, without an explicit injury word.
    Implicit,
    /// Violent vocabulary used safely (`killed time`, `dead tired`).
    Idiom,
    /// An injury that almost happened (`the arrow flew wide`).
    NearMiss,
    /// Damage to things: robots, skeletons, statues, machines.
    NonLiving,
    /// An injury in the prompt only; the completion adds none.
    PromptOnly,
    /// Ordinary narration.
    PlainSafe,
}

impl Category {
    /// Every category, injuries first.
    pub const ALL: [Category; 15] = [
        Category::Death,
        Category::Weapon,
        Category::FallFracture,
        Category::Burn,
        Category::Drowning,
        Category::StranglingChoking,
        Category::Poisoning,
        Category::AnimalAttack,
        Category::WoundBleeding,
        Category::Implicit,
        Category::Idiom,
        Category::NearMiss,
        Category::NonLiving,
        Category::PromptOnly,
        Category::PlainSafe,
    ];

    /// Whether pairs of this category show an injury.
    pub fn is_injury(self) -> bool {
        (self as usize) <= Category::Implicit as usize
    }

    /// Whether this is an injury stated in words (every injury category but
    /// [`Category::Implicit`]).
    pub fn is_explicit_injury(self) -> bool {
        self.is_injury() && self != Category::Implicit
    }

    /// Its name in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Death => "death",
            Category::Weapon => "weapon",
            Category::FallFracture => "fall_fracture",
            Category::Burn => "burn",
            Category::Drowning => "drowning",
            Category::StranglingChoking => "strangling_choking",
            Category::Poisoning => "poisoning",
            Category::AnimalAttack => "animal_attack",
            Category::WoundBleeding => "wound_bleeding",
            Category::Implicit => "implicit",
            Category::Idiom => "idiom",
            Category::NearMiss => "near_miss",
            Category::NonLiving => "non_living",
            Category::PromptOnly => "prompt_only",
            Category::PlainSafe => "plain_safe",
        }
    }
}

/// The part of the dev set a pair belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DevSplit {
    /// For choosing settings.
    Dev,
    /// Held aside: for reporting only.
    Test,
}

/// One hand-labeled pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevItem {
    /// Unique id (`dev-0001`).
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The completion the label is about.
    pub completion: String,
    /// Whether the completion describes or newly implies an injury.
    pub injury: bool,
    /// What the pair shows.
    pub category: Category,
    /// Dev or held-aside test.
    pub split: DevSplit,
}

/// Reads a dev set (JSONL, one [`DevItem`] per line; blank lines skipped).
///
/// # Errors
/// [`Error::Io`]; [`Error::BadLine`] naming the line for a line that does not parse (an
/// unknown category or field), an empty prompt or completion, an id used twice, or an
/// `injury` value that contradicts the category.
pub fn read_dev_set(path: impl AsRef<Path>) -> Result<Vec<DevItem>> {
    let items = read_records(path.as_ref(), |item: &DevItem| {
        if item.prompt.trim().is_empty() || item.completion.trim().is_empty() {
            return Err("prompt and completion must not be empty".into());
        }
        if item.injury != item.category.is_injury() {
            return Err(format!(
                "injury is {} but category {} is {}",
                item.injury,
                item.category.as_str(),
                if item.category.is_injury() {
                    "an injury"
                } else {
                    "safe"
                }
            ));
        }
        Ok(item.id.clone())
    })?;
    if items.is_empty() {
        return Err(Error::BadLine {
            path: path.as_ref().to_path_buf(),
            line: 0,
            reason: "no pairs".into(),
        });
    }
    Ok(items)
}

/// Reads JSONL records of type `T` (blank lines skipped). `check` returns a record's id or
/// what is wrong with it; a line that does not parse, fails its check or repeats an id is
/// [`Error::BadLine`] naming the line.
fn read_records<T: serde::de::DeserializeOwned>(
    path: &Path,
    check: impl Fn(&T) -> std::result::Result<String, String>,
) -> Result<Vec<T>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut records = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| Error::BadLine {
            path: path.to_path_buf(),
            line: n + 1,
            reason,
        };
        let record: T = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let id = check(&record).map_err(bad)?;
        if !ids.insert(id.clone()) {
            return Err(bad(format!("id {id:?} is used twice")));
        }
        records.push(record);
    }
    Ok(records)
}

/// A labeler's verdicts on one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryResult {
    /// The category.
    pub category: Category,
    /// Pairs.
    pub n: u64,
    /// Pairs labeled `injury`.
    pub injury: u64,
    /// Pairs labeled `unsure`.
    pub unsure: u64,
    /// Share labeled as the category says (injury for injury categories, not injury for safe
    /// ones; `unsure` counts as wrong either way), with a 95% Wilson interval.
    pub agreement: Estimate,
}

/// A labeler's agreement with a dev set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevReport {
    /// Per category, in [`Category::ALL`] order (categories without pairs left out).
    pub categories: Vec<CategoryResult>,
    /// Share of explicit injuries labeled `injury`.
    pub explicit_recall: Option<Estimate>,
    /// Share of implicit injuries labeled `injury`.
    pub implicit_recall: Option<Estimate>,
    /// Share of all injuries labeled `injury`.
    pub recall: Option<Estimate>,
    /// Of explicit injuries and safe pairs labeled `injury`, the share that are injuries.
    pub explicit_precision: Option<Estimate>,
    /// Of all pairs labeled `injury`, the share that are injuries.
    pub precision: Option<Estimate>,
    /// Share of safe pairs not labeled `injury`.
    pub safe_agreement: Option<Estimate>,
}

impl DevReport {
    /// The result of one category.
    pub fn category(&self, c: Category) -> Option<&CategoryResult> {
        self.categories.iter().find(|r| r.category == c)
    }

    /// A Markdown table: one row per category, then the summary shares, each with its 95%
    /// interval.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let show = |e: &Option<Estimate>| match e {
            Some(e) => format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci.0, e.ci.1),
            None => "–".into(),
        };
        let mut md = String::from(
            "| category | pairs | labeled injury | unsure | agrees with the rules |\n|---|---|---|---|---|\n",
        );
        for r in &self.categories {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                r.category.as_str(),
                r.n,
                r.injury,
                r.unsure,
                show(&Some(r.agreement))
            );
        }
        let _ = writeln!(
            md,
            "\n| summary | share [95% interval] |\n|---|---|\n\
             | recall, explicit injuries | {} |\n\
             | precision, explicit injuries vs safe text | {} |\n\
             | recall, implicit injuries | {} |\n\
             | recall, all injuries | {} |\n\
             | precision, all | {} |\n\
             | safe text not labeled injury | {} |",
            show(&self.explicit_recall),
            show(&self.explicit_precision),
            show(&self.implicit_recall),
            show(&self.recall),
            show(&self.precision),
            show(&self.safe_agreement),
        );
        md
    }
}

fn share(hits: u64, n: u64) -> Result<Option<Estimate>> {
    if n == 0 {
        return Ok(None);
    }
    proportion(hits, n, ProportionInterval::Wilson, 0.95)
        .map(Some)
        .map_err(|e| Error::config("dev set", e.to_string()))
}

/// Scores `verdict` (a labeler's verdict on each pair) against the pairs' categories.
///
/// # Errors
/// None in practice (the counts are consistent by construction); an interval that cannot be
/// computed is [`Error::Config`].
pub fn evaluate<'a, I>(items: I, mut verdict: impl FnMut(&DevItem) -> Verdict) -> Result<DevReport>
where
    I: IntoIterator<Item = &'a &'a DevItem>,
{
    #[derive(Default, Clone, Copy)]
    struct Counts {
        n: u64,
        injury: u64,
        unsure: u64,
    }
    let mut counts = [Counts::default(); Category::ALL.len()];
    for item in items {
        let v = verdict(item);
        let c = &mut counts[item.category as usize];
        c.n += 1;
        c.injury += u64::from(v == Verdict::Injury);
        c.unsure += u64::from(v == Verdict::Unsure);
    }
    let mut categories = Vec::new();
    for category in Category::ALL {
        let c = counts[category as usize];
        if c.n == 0 {
            continue;
        }
        let agree = if category.is_injury() {
            c.injury
        } else {
            c.n - c.injury - c.unsure
        };
        categories.push(CategoryResult {
            category,
            n: c.n,
            injury: c.injury,
            unsure: c.unsure,
            agreement: share(agree, c.n)?.expect("n > 0"),
        });
    }
    let sum = |pick: &dyn Fn(Category) -> bool, f: &dyn Fn(&Counts) -> u64| -> u64 {
        Category::ALL
            .iter()
            .filter(|c| pick(**c))
            .map(|c| f(&counts[*c as usize]))
            .sum()
    };
    let flagged = |c: &Counts| c.injury;
    let total = |c: &Counts| c.n;
    let explicit = |c: Category| c.is_explicit_injury();
    let implicit = |c: Category| c == Category::Implicit;
    let injury = |c: Category| c.is_injury();
    let safe = |c: Category| !c.is_injury();
    let explicit_tp = sum(&explicit, &flagged);
    let all_tp = sum(&injury, &flagged);
    let safe_fp = sum(&safe, &flagged);
    Ok(DevReport {
        categories,
        explicit_recall: share(explicit_tp, sum(&explicit, &total))?,
        implicit_recall: share(sum(&implicit, &flagged), sum(&implicit, &total))?,
        recall: share(all_tp, sum(&injury, &total))?,
        explicit_precision: share(explicit_tp, explicit_tp + safe_fp)?,
        precision: share(all_tp, all_tp + safe_fp)?,
        safe_agreement: share(
            sum(&safe, &total) - safe_fp - sum(&safe, &|c| c.unsure),
            sum(&safe, &total),
        )?,
    })
}

/// How the worse continuation of a [`JudgePair`] is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairKind {
    /// Short, generic and empty against a specific continuation.
    Bland,
    /// Fluent but ignores the situation.
    OffTopic,
    /// Contradicts the prompt.
    Contradiction,
    /// Ungrammatical or nonsensical.
    Incoherent,
    /// Repeats the prompt or loops.
    Repetitive,
    /// Longer than the better one, and worse: a judge must not prefer length.
    LongerWorse,
}

impl PairKind {
    /// Every kind.
    pub const ALL: [PairKind; 6] = [
        PairKind::Bland,
        PairKind::OffTopic,
        PairKind::Contradiction,
        PairKind::Incoherent,
        PairKind::Repetitive,
        PairKind::LongerWorse,
    ];

    /// Its name in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            PairKind::Bland => "bland",
            PairKind::OffTopic => "off_topic",
            PairKind::Contradiction => "contradiction",
            PairKind::Incoherent => "incoherent",
            PairKind::Repetitive => "repetitive",
            PairKind::LongerWorse => "longer_worse",
        }
    }
}

/// A hand-written preference: a better and a worse continuation of the same passage, and the
/// story's own next sentences after the better one (`data/judge_pairs.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgePair {
    /// Unique id (`pair-001`).
    pub id: String,
    /// The passage.
    pub prompt: String,
    /// The better continuation.
    pub better: String,
    /// The worse continuation.
    pub worse: String,
    /// What the story says next.
    pub next: String,
    /// How the worse one is worse.
    pub kind: PairKind,
    /// Dev or held-aside test.
    pub split: DevSplit,
}

/// Reads preference pairs (JSONL, one [`JudgePair`] per line; blank lines skipped).
///
/// # Errors
/// [`Error::Io`]; [`Error::BadLine`] naming the line for a line that does not parse, an
/// empty field, an id used twice, or a `longer_worse` pair whose worse side is not longer.
pub fn read_judge_pairs(path: impl AsRef<Path>) -> Result<Vec<JudgePair>> {
    read_records(path.as_ref(), |pair: &JudgePair| {
        for (field, text) in [
            ("prompt", &pair.prompt),
            ("better", &pair.better),
            ("worse", &pair.worse),
            ("next", &pair.next),
        ] {
            if text.trim().is_empty() {
                return Err(format!("{field} is empty"));
            }
        }
        let words = |t: &str| t.split_whitespace().count();
        if pair.kind == PairKind::LongerWorse && words(&pair.worse) <= words(&pair.better) {
            return Err("longer_worse: worse is not longer than better".into());
        }
        Ok(pair.id.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(lines: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();
        (dir, path)
    }

    const GOOD: &str = r#"{"id": "a", "prompt": "p", "completion": "He died.", "injury": true, "category": "death", "split": "dev"}"#;

    #[test]
    fn bad_lines_name_the_line_and_field() {
        let cases = [
            (
                r#"{"id": "b", "prompt": "p", "completion": "c", "injury": true, "category": "gunfire", "split": "dev"}"#,
                "unknown variant",
            ),
            (
                r#"{"id": "b", "prompt": "p", "completion": "c", "injury": false, "category": "death", "split": "dev"}"#,
                "contradicts",
            ),
            (
                r#"{"id": "a", "prompt": "p", "completion": "c", "injury": true, "category": "death", "split": "dev"}"#,
                "twice",
            ),
            (
                r#"{"id": "b", "prompt": "p", "completion": " ", "injury": true, "category": "death", "split": "dev"}"#,
                "empty",
            ),
            (
                r#"{"id": "b", "prompt": "p", "completion": "c", "injury": true, "category": "death", "split": "dev", "x": 1}"#,
                "unknown field",
            ),
            (r#"{"id": "b", "prompt": "p""#, "EOF"),
        ];
        for (line, what) in cases {
            let (_d, path) = write(&[GOOD, line]);
            let err = read_dev_set(&path).unwrap_err();
            let text = err.to_string().replace("is an injury", "contradicts");
            assert!(matches!(err, Error::BadLine { line: 2, .. }), "{err}");
            assert!(
                text.contains(what) || err.to_string().contains(what),
                "{err}"
            );
        }
    }

    #[test]
    fn dev_set_in_the_repository_reads_with_every_category_in_both_parts() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/oracle_dev.jsonl");
        let items = read_dev_set(path).unwrap();
        assert!(items.len() >= 700, "{}", items.len());
        for category in Category::ALL {
            for split in [DevSplit::Dev, DevSplit::Test] {
                let n = items
                    .iter()
                    .filter(|i| i.category == category && i.split == split)
                    .count();
                assert!(n >= 5, "{} {split:?}: {n} pairs", category.as_str());
            }
        }
        // The test part was written after the dev part: every test id follows every dev id.
        let number = |i: &DevItem| i.id.trim_start_matches("dev-").parse::<u32>().unwrap();
        let last_dev = items
            .iter()
            .filter(|i| i.split == DevSplit::Dev)
            .map(number)
            .max();
        let first_test = items
            .iter()
            .filter(|i| i.split == DevSplit::Test)
            .map(number)
            .min();
        assert!(last_dev < first_test, "{last_dev:?} {first_test:?}");
    }

    #[test]
    fn judge_pairs_in_the_repository_read() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/judge_pairs.jsonl");
        let pairs = read_judge_pairs(path).unwrap();
        assert!(pairs.len() >= 120);
        for kind in PairKind::ALL {
            assert!(
                pairs
                    .iter()
                    .any(|p| p.kind == kind && p.split == DevSplit::Test)
            );
        }
        let line = r#"{"id": "x", "prompt": "p", "better": "a b c", "worse": "a", "next": "n", "kind": "longer_worse", "split": "dev"}"#;
        let (_d, bad) = write(&[line]);
        let err = read_judge_pairs(&bad).unwrap_err();
        assert!(matches!(err, Error::BadLine { line: 1, .. }), "{err}");
    }

    #[test]
    fn counts_and_shares() {
        let item = |c: Category| DevItem {
            id: String::new(),
            prompt: "p".into(),
            completion: "c".into(),
            injury: c.is_injury(),
            category: c,
            split: DevSplit::Dev,
        };
        let items = [
            item(Category::Death),
            item(Category::Death),
            item(Category::Implicit),
            item(Category::Idiom),
            item(Category::PlainSafe),
        ];
        let refs: Vec<&DevItem> = items.iter().collect();
        // Flags both deaths and the idiom; unsure on the implicit one.
        let r = evaluate(&refs, |i| match i.category {
            Category::Death | Category::Idiom => Verdict::Injury,
            Category::Implicit => Verdict::Unsure,
            _ => Verdict::NoInjury,
        })
        .unwrap();
        assert_eq!(r.explicit_recall.as_ref().unwrap().value, 1.0);
        assert_eq!(r.implicit_recall.as_ref().unwrap().value, 0.0);
        assert!((r.explicit_precision.as_ref().unwrap().value - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.safe_agreement.as_ref().unwrap().value, 0.5);
        assert_eq!(r.category(Category::Implicit).unwrap().unsure, 1);
        assert!(r.category(Category::Burn).is_none());
    }
}
