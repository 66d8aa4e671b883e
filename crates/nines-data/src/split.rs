//! Train / validation / test splits by document region.
//!
//! A *region* is a chapter (the text from one chapter heading to the next); a document with
//! fewer than two chapter headings is cut into regions of about
//! [`SplitConfig::region_bytes`] bytes at paragraph boundaries. Each `(document, region)` pair
//! goes to one split, chosen by a hash of the seed, document id and region index, so the
//! assignment is deterministic and every passage of a region (and so every prompt, which never
//! crosses a region) lands in the same split: nothing leaks between splits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::hash64;

/// One of the three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training data.
    Train,
    /// Validation data (model selection, thresholds).
    Validation,
    /// Held-out test data (final estimates).
    Test,
}

impl Split {
    /// The JSON spelling: `train`, `validation`, `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

/// How regions are formed and assigned to splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SplitConfig {
    /// Fraction of regions in the validation split. Default 0.1.
    pub validation: f64,
    /// Fraction of regions in the test split. Default 0.1.
    pub test: f64,
    /// Seed of the assignment hash. Default 0.
    pub seed: u64,
    /// Region size in bytes for documents without chapter headings. Default 20 000.
    pub region_bytes: usize,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            validation: 0.1,
            test: 0.1,
            seed: 0,
            region_bytes: 20_000,
        }
    }
}

impl SplitConfig {
    /// Fractions in [0, 1] summing to at most 1; `region_bytes` positive.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("SplitConfig.validation", self.validation),
            ("SplitConfig.test", self.test),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::config(field, format!("{v} is not in [0, 1]")));
            }
        }
        if self.validation + self.test > 1.0 {
            return Err(Error::config(
                "SplitConfig.test",
                format!(
                    "validation + test = {} exceeds 1",
                    self.validation + self.test
                ),
            ));
        }
        if self.region_bytes == 0 {
            return Err(Error::config(
                "SplitConfig.region_bytes",
                "must be positive",
            ));
        }
        Ok(())
    }

    /// The split of region `region` of document `document`.
    ///
    /// ```
    /// use nines_data::split::{Split, SplitConfig};
    /// let cfg = SplitConfig::default();
    /// let s = cfg.split_of("moby_dick", 3);
    /// assert_eq!(s, cfg.split_of("moby_dick", 3)); // deterministic
    /// ```
    pub fn split_of(&self, document: &str, region: u32) -> Split {
        let h = hash64(&[
            b"nines-split",
            &self.seed.to_le_bytes(),
            document.as_bytes(),
            &region.to_le_bytes(),
        ]);
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.test {
            Split::Test
        } else if u < self.test + self.validation {
            Split::Validation
        } else {
            Split::Train
        }
    }
}

/// Which half (0 or 1) of a split a chapter falls in, by a seeded hash of its document id and
/// region index: a second deterministic cut, e.g. to train a classifier on half of the
/// training chapters and keep the other half as an unlabeled active-learning pool that shares
/// no chapter with it.
///
/// ```
/// use nines_data::split::chapter_half;
/// let h = chapter_half("moby_dick", 3, 0);
/// assert!(h < 2);
/// assert_eq!(h, chapter_half("moby_dick", 3, 0)); // deterministic
/// ```
pub fn chapter_half(document: &str, region: u32, seed: u64) -> u8 {
    (hash64(&[
        document.as_bytes(),
        &region.to_le_bytes(),
        &seed.to_le_bytes(),
    ]) % 2) as u8
}

/// The text of every region of `corpus`, grouped by split (`[train, validation, test]`, each
/// in corpus order): whole chapters as documents, e.g. for language-model fine-tuning on the
/// training split and perplexity on the validation split, with nothing leaking between them.
pub fn region_texts(corpus: &crate::corpus::Corpus, cfg: &SplitConfig) -> [Vec<String>; 3] {
    let mut out: [Vec<String>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for doc in corpus.documents() {
        let body = doc.body();
        let segs = crate::segment::segment(body);
        let regs = crate::prompt::regions(&segs, cfg.region_bytes);
        let mut i = 0;
        while i < segs.len() {
            let r = regs[i];
            let mut j = i;
            while j + 1 < segs.len() && regs[j + 1] == r {
                j += 1;
            }
            let text = body[segs[i].start..segs[j].end].to_string();
            let k = match cfg.split_of(doc.id(), r) {
                Split::Train => 0,
                Split::Validation => 1,
                Split::Test => 2,
            };
            out[k].push(text);
            i = j + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_roughly_respected() {
        let cfg = SplitConfig::default();
        let mut counts = [0usize; 3];
        for r in 0..5000 {
            match cfg.split_of("doc", r) {
                Split::Train => counts[0] += 1,
                Split::Validation => counts[1] += 1,
                Split::Test => counts[2] += 1,
            }
        }
        assert!((3800..4200).contains(&counts[0]), "{counts:?}");
        assert!((380..620).contains(&counts[1]), "{counts:?}");
        assert!((380..620).contains(&counts[2]), "{counts:?}");
    }

    #[test]
    fn seed_changes_assignment() {
        let a = SplitConfig::default();
        let b = SplitConfig {
            seed: 1,
            ..SplitConfig::default()
        };
        let differ = (0..200)
            .filter(|&r| a.split_of("d", r) != b.split_of("d", r))
            .count();
        assert!(differ > 10);
    }

    #[test]
    fn validate_rejects_bad_fractions() {
        let bad = SplitConfig {
            validation: 0.6,
            test: 0.6,
            ..SplitConfig::default()
        };
        assert!(matches!(bad.validate(), Err(Error::Config { .. })));
        assert!(SplitConfig::default().validate().is_ok());
    }

    #[test]
    fn region_texts_cover_every_split_without_overlap() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/corpus");
        let corpus = crate::corpus::Corpus::load(&dir).unwrap();
        let [train, valid, test] = region_texts(&corpus, &SplitConfig::default());
        assert!(train.len() > 5 * valid.len() && !valid.is_empty() && !test.is_empty());
        let seen: std::collections::HashSet<&String> = train.iter().collect();
        assert!(valid.iter().chain(&test).all(|t| !seen.contains(t)));
    }
}
