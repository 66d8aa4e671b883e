//! The labeled record every stage reads and writes: a [`Snippet`].
//!
//! # JSON form (one object per JSONL line)
//!
//! Field names are part of the data format and do not change:
//!
//! ```json
//! {"id": "sn-3f2a9c0d1b7e4a55",
//!  "prompt": "Three sentences of a novel...",
//!  "completion": "One sentence a model wrote.",
//!  "source": {"document": "moby_dick", "start": 10234, "end": 10511,
//!             "region": 12, "split": "train"},
//!  "generator": {"model": "smollm2-135m", "seed": 17,
//!                "settings": {"temperature": 0.9, "top_p": 0.95, "top_k": null,
//!                             "max_new_tokens": 48, "extra": {}}},
//!  "selection": {"strategy": "lexicon-poisson", "probability": 0.031,
//!                "score": 0.42, "population": 18210},
//!  "labels": [{"labeler": "oracle", "verdict": "injury",
//!              "note": "rule=injury cue=\"stabbed\" victim=\"him\"",
//!              "time": "2025-01-01T12:00:00Z"}]}
//! ```
//!
//! - `source.start`/`end`: byte offsets of the prompt in the original file (see
//!   [`crate::corpus::Document::raw_range`]); `region` is the chapter index; `split` is
//!   `train`, `validation` or `test`.
//! - `generator.seed`: the seed the sampler used for this completion.
//! - `selection.probability`: the prompt's inclusion probability under the sampling design,
//!   so that `1 / (population * probability)` reweights to the uniform prompt distribution.
//! - `labels[].verdict`: `injury`, `no_injury` or `unsure`; `time` is RFC 3339 UTC.
//! - `source`, `generator`, `selection` may be `null` (imported records).
//!
//! The *content* of a snippet is everything but `id` and `labels`; its SHA-256
//! ([`Snippet::content_hash`]) identifies duplicates. A snippet's default id is `sn-` and the
//! first 16 hex digits of that hash.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::split::Split;

/// A label's verdict: does the completion describe someone getting injured?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The completion describes or newly implies an injury to a sentient being.
    Injury,
    /// It does not.
    NoInjury,
    /// The labeler cannot tell.
    Unsure,
}

impl Verdict {
    /// All verdicts, in a fixed order (the category order of agreement statistics).
    pub const ALL: [Verdict; 3] = [Verdict::Injury, Verdict::NoInjury, Verdict::Unsure];

    /// The JSON spelling: `injury`, `no_injury`, `unsure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Injury => "injury",
            Verdict::NoInjury => "no_injury",
            Verdict::Unsure => "unsure",
        }
    }

    /// Parses a verdict, naming `at` (e.g. `file.csv:12`) in the error.
    ///
    /// Accepts the JSON spellings, case-insensitively, and `no injury` / `no-injury`.
    pub fn parse_at(value: &str, at: &str) -> Result<Verdict> {
        match value
            .trim()
            .to_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "injury" => Ok(Verdict::Injury),
            "no_injury" => Ok(Verdict::NoInjury),
            "unsure" => Ok(Verdict::Unsure),
            _ => Err(Error::UnknownVerdict {
                at: at.to_string(),
                value: value.to_string(),
            }),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = Error;
    fn from_str(s: &str) -> Result<Verdict> {
        Verdict::parse_at(s, "verdict")
    }
}

/// One labeler's judgment of a snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Who labeled: a person's handle, `oracle`, `noisy(oracle,p=0.1)`, ...
    pub labeler: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Free text; rule-based labelers put the rule that fired here.
    #[serde(default)]
    pub note: String,
    /// When, as RFC 3339 UTC (`2025-01-01T12:00:00Z`).
    pub time: String,
    /// The version of a rule-based labeler's rules (the oracle's hash of its lexicon and
    /// rule code); absent for people. A label of another version is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Label {
    /// A label stamped with the current time.
    pub fn now(labeler: impl Into<String>, verdict: Verdict, note: impl Into<String>) -> Label {
        Label {
            labeler: labeler.into(),
            verdict,
            note: note.into(),
            time: now_rfc3339(),
            version: None,
        }
    }

    /// The same label, stamped with the labeler's rule version.
    pub fn with_version(self, version: impl Into<String>) -> Label {
        Label {
            version: Some(version.into()),
            ..self
        }
    }

    /// Whether two labels say the same thing (labeler, verdict, note, rule version), ignoring
    /// time.
    pub fn same_judgment(&self, other: &Label) -> bool {
        self.labeler == other.labeler
            && self.verdict == other.verdict
            && self.note == other.note
            && self.version == other.version
    }
}

/// The current UTC time as RFC 3339, to the second.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Where a prompt comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Document id (file stem in the corpus folder).
    pub document: String,
    /// Byte offset of the prompt's first byte in the original file.
    pub start: u64,
    /// Byte offset one past the prompt's last byte in the original file.
    pub end: u64,
    /// Region (chapter) index within the document, from 0.
    pub region: u32,
    /// The split the region belongs to.
    pub split: Split,
}

impl Source {
    /// The key that ties completions to their prompt: `document:start`.
    pub fn prompt_key(&self) -> String {
        format!("{}:{}", self.document, self.start)
    }
}

/// Sampling settings of a generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingSettings {
    /// Softmax temperature (1.0 = unchanged).
    pub temperature: f64,
    /// Nucleus sampling mass (1.0 = off).
    pub top_p: f64,
    /// Top-k cutoff, if any.
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Maximum new tokens per completion.
    pub max_new_tokens: u32,
    /// Any other setting, by name (repetition penalty, stop strings, ...).
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for SamplingSettings {
    /// Temperature 1, no top-p or top-k cut, 48 new tokens.
    fn default() -> Self {
        SamplingSettings {
            temperature: 1.0,
            top_p: 1.0,
            top_k: None,
            max_new_tokens: 48,
            extra: BTreeMap::new(),
        }
    }
}

/// What produced a completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// Model id (a checkpoint name, or `corpus-reference` for the book's own next sentence).
    pub model: String,
    /// Sampling settings.
    pub settings: SamplingSettings,
    /// Seed used for this completion.
    pub seed: u64,
}

/// How the prompt was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Strategy name (`uniform`, `lexicon-poisson`, ...).
    pub strategy: String,
    /// The prompt's inclusion probability under the sampling design, in (0, 1].
    pub probability: f64,
    /// The prompt score that drove the selection, if any.
    #[serde(default)]
    pub score: Option<f64>,
    /// Number of prompts the sample was drawn from (all strata together for a stratified
    /// design).
    pub population: u64,
    /// The stratum the prompt was drawn from, for a stratified design.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stratum: Option<Stratum>,
}

/// A stratum of a stratified prompt sample: prompts chosen by heuristics as likely to be
/// continued with an injury, and all the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stratum {
    /// Prompts likely to be continued with an injury.
    InjuryProne,
    /// Every other prompt.
    Rest,
}

impl Stratum {
    /// Both strata.
    pub const ALL: [Stratum; 2] = [Stratum::InjuryProne, Stratum::Rest];

    /// The stratum's name in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stratum::InjuryProne => "injury_prone",
            Stratum::Rest => "rest",
        }
    }
}

impl Selection {
    /// Horvitz–Thompson weight `1 / (population * probability)`: summing `weight * f(prompt)`
    /// over the sample estimates the mean of `f` over the uniform prompt distribution.
    pub fn weight(&self) -> f64 {
        1.0 / (self.population as f64 * self.probability)
    }
}

/// A (prompt, completion) pair with provenance and labels. See the module docs for its JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snippet {
    /// Unique id within a store.
    pub id: String,
    /// The prompt text.
    pub prompt: String,
    /// The completion text.
    pub completion: String,
    /// Where the prompt comes from.
    #[serde(default)]
    pub source: Option<Source>,
    /// What wrote the completion.
    #[serde(default)]
    pub generator: Option<Generator>,
    /// How the prompt was selected.
    #[serde(default)]
    pub selection: Option<Selection>,
    /// Labels, at most one per labeler.
    #[serde(default)]
    pub labels: Vec<Label>,
}

#[derive(Serialize)]
struct Content<'a> {
    prompt: &'a str,
    completion: &'a str,
    source: &'a Option<Source>,
    generator: &'a Option<Generator>,
    selection: &'a Option<Selection>,
}

impl Snippet {
    /// A snippet without labels, its id derived from its content.
    pub fn new(
        prompt: impl Into<String>,
        completion: impl Into<String>,
        source: Option<Source>,
        generator: Option<Generator>,
        selection: Option<Selection>,
    ) -> Snippet {
        let mut s = Snippet {
            id: String::new(),
            prompt: prompt.into(),
            completion: completion.into(),
            source,
            generator,
            selection,
            labels: Vec::new(),
        };
        s.id = s.default_id();
        s
    }

    /// SHA-256 (hex) of the snippet's content: prompt, completion, source, generator and
    /// selection (not id, not labels).
    pub fn content_hash(&self) -> String {
        let content = Content {
            prompt: &self.prompt,
            completion: &self.completion,
            source: &self.source,
            generator: &self.generator,
            selection: &self.selection,
        };
        // Serializing these plain structs cannot fail; fall back to Debug to stay total.
        let bytes = serde_json::to_vec(&content).unwrap_or_else(|_| {
            format!("{:?}", (self.prompt.as_str(), self.completion.as_str())).into_bytes()
        });
        hex(&Sha256::digest(&bytes))
    }

    /// `sn-` and the first 16 hex digits of [`Snippet::content_hash`].
    pub fn default_id(&self) -> String {
        format!("sn-{}", &self.content_hash()[..16])
    }

    /// The label of `labeler`, if any.
    pub fn label_by(&self, labeler: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.labeler == labeler)
    }

    /// Sets `label` as its labeler's label (replacing an earlier one). Returns whether anything
    /// changed: a label with the same verdict and note changes nothing, whatever its time.
    pub fn upsert_label(&mut self, label: Label) -> bool {
        match self.labels.iter_mut().find(|l| l.labeler == label.labeler) {
            Some(l) if l.same_judgment(&label) => false,
            Some(l) => {
                *l = label;
                true
            }
            None => {
                self.labels.push(label);
                true
            }
        }
    }

    /// Removes the label of `labeler`, returning it.
    pub fn remove_label(&mut self, labeler: &str) -> Option<Label> {
        let i = self.labels.iter().position(|l| l.labeler == labeler)?;
        Some(self.labels.remove(i))
    }

    /// Checks the record's invariants: non-empty id and prompt, `source.start <= source.end`,
    /// selection probability in (0, 1], finite generator settings, one label per labeler.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, reason: String| Error::InvalidRecord {
            id: self.id.clone(),
            field,
            reason,
        };
        if self.id.trim().is_empty() {
            return Err(bad("id", "is empty".into()));
        }
        if self.prompt.trim().is_empty() {
            return Err(bad("prompt", "is empty".into()));
        }
        if let Some(s) = &self.source
            && s.start > s.end
        {
            return Err(bad("source", format!("start {} > end {}", s.start, s.end)));
        }
        if let Some(sel) = &self.selection
            && !(sel.probability > 0.0 && sel.probability <= 1.0)
        {
            return Err(bad(
                "selection.probability",
                format!("{} is not in (0, 1]", sel.probability),
            ));
        }
        if let Some(g) = &self.generator
            && !(g.settings.temperature.is_finite() && g.settings.top_p.is_finite())
        {
            return Err(bad(
                "generator.settings",
                "temperature and top_p must be finite".into(),
            ));
        }
        for (i, l) in self.labels.iter().enumerate() {
            if self.labels[..i].iter().any(|o| o.labeler == l.labeler) {
                return Err(bad("labels", format!("two labels by {:?}", l.labeler)));
            }
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A stable 64-bit hash of byte strings (first 8 bytes of their SHA-256), for deriving seeds.
pub fn hash64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snippet {
        Snippet::new(
            "He raised the knife.",
            "He stabbed the man.",
            Some(Source {
                document: "d".into(),
                start: 3,
                end: 20,
                region: 1,
                split: Split::Train,
            }),
            Some(Generator {
                model: "m".into(),
                settings: SamplingSettings::default(),
                seed: 7,
            }),
            Some(Selection {
                strategy: "uniform".into(),
                probability: 0.5,
                score: None,
                population: 10,
                stratum: None,
            }),
        )
    }

    #[test]
    fn id_and_hash_ignore_labels() {
        let mut s = sample();
        let h = s.content_hash();
        assert!(s.id.starts_with("sn-") && s.id.len() == 19);
        s.upsert_label(Label::now("a", Verdict::Injury, ""));
        assert_eq!(s.content_hash(), h);
        let mut t = sample();
        if let Some(g) = t.generator.as_mut() {
            g.seed = 8;
        }
        assert_ne!(t.content_hash(), h, "the seed is content");
    }

    #[test]
    fn upsert_label_is_idempotent() {
        let mut s = sample();
        assert!(s.upsert_label(Label::now("a", Verdict::Injury, "x")));
        let mut again = Label::now("a", Verdict::Injury, "x");
        again.time = "2000-01-01T00:00:00Z".into();
        assert!(!s.upsert_label(again));
        assert!(s.upsert_label(Label::now("a", Verdict::NoInjury, "x")));
        assert_eq!(s.labels.len(), 1);
        assert_eq!(s.label_by("a").map(|l| l.verdict), Some(Verdict::NoInjury));
        assert!(s.remove_label("a").is_some());
        assert!(s.labels.is_empty());
    }

    #[test]
    fn verdicts_parse_and_reject_unknown() {
        assert_eq!("no injury".parse::<Verdict>().ok(), Some(Verdict::NoInjury));
        assert_eq!("INJURY".parse::<Verdict>().ok(), Some(Verdict::Injury));
        match Verdict::parse_at("maybe", "f.csv:3") {
            Err(Error::UnknownVerdict { at, value }) => {
                assert_eq!((at.as_str(), value.as_str()), ("f.csv:3", "maybe"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validate_rejects_bad_probability() {
        let mut s = sample();
        if let Some(x) = s.selection.as_mut() {
            x.probability = 0.0;
        }
        assert!(matches!(
            s.validate(),
            Err(Error::InvalidRecord {
                field: "selection.probability",
                ..
            })
        ));
        assert!(sample().validate().is_ok());
    }

    #[test]
    fn json_field_names_are_stable() {
        let v = serde_json::to_value(sample()).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        for k in [
            "id",
            "prompt",
            "completion",
            "source",
            "generator",
            "selection",
            "labels",
        ] {
            assert!(keys.contains(&k.to_string()), "{k}");
        }
        assert_eq!(v["source"]["split"], "train");
        assert_eq!(
            serde_json::to_value(Verdict::NoInjury).unwrap(),
            "no_injury"
        );
    }
}
