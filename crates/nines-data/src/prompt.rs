//! Prompts: runs of consecutive sentences of a chapter.
//!
//! [`build_prompts`] segments every document ([`crate::segment`]), cuts it into regions
//! (chapters; see [`crate::split`]) and, inside each region, takes windows of
//! [`PromptConfig::sentences`] consecutive sentences every [`PromptConfig::stride`] sentences.
//! A window never crosses a heading or a region boundary. Windows with a fragment (a sentence
//! shorter than [`PromptConfig::min_sentence_chars`] or without letters), or whose text is
//! shorter than [`PromptConfig::min_chars`] or longer than [`PromptConfig::max_chars`], are
//! skipped and counted in [`PromptStats`].
//!
//! Prompt text keeps paragraph breaks as a blank line and collapses other whitespace (line
//! wraps of the source file) to single spaces.

use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, Document};
use crate::error::{Error, Result};
use crate::record::Source;
use crate::segment::{self, Segment, SegmentKind};
use crate::split::SplitConfig;

/// How prompts are cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptConfig {
    /// Sentences per prompt. Default 3.
    pub sentences: usize,
    /// Sentences between the starts of consecutive windows. Default 3 (no overlap).
    pub stride: usize,
    /// Longest prompt, in characters. Default 600.
    pub max_chars: usize,
    /// Shortest prompt, in characters. Default 80.
    pub min_chars: usize,
    /// Shortest sentence allowed inside a prompt, in characters. Default 8.
    pub min_sentence_chars: usize,
    /// Region and split assignment.
    pub split: SplitConfig,
}

impl Default for PromptConfig {
    fn default() -> Self {
        PromptConfig {
            sentences: 3,
            stride: 3,
            max_chars: 600,
            min_chars: 80,
            min_sentence_chars: 8,
            split: SplitConfig::default(),
        }
    }
}

impl PromptConfig {
    /// Positive sentence count and stride, `min_chars <= max_chars`, valid split config.
    pub fn validate(&self) -> Result<()> {
        if self.sentences == 0 {
            return Err(Error::config("PromptConfig.sentences", "must be positive"));
        }
        if self.stride == 0 {
            return Err(Error::config("PromptConfig.stride", "must be positive"));
        }
        if self.min_chars > self.max_chars {
            return Err(Error::config(
                "PromptConfig.min_chars",
                format!("{} exceeds max_chars {}", self.min_chars, self.max_chars),
            ));
        }
        self.split.validate()
    }
}

/// A prompt cut from the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// `document:start` (start = byte offset in the original file); unique within a corpus.
    pub id: String,
    /// The prompt text.
    pub text: String,
    /// Where it comes from (document, original-file byte range, region, split).
    pub source: Source,
    /// The sentence that follows the prompt in the book, if it is in the same region.
    pub next_sentence: Option<String>,
}

/// Counts from [`build_prompts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptStats {
    /// Documents read.
    pub documents: usize,
    /// Regions (chapters or blocks) found.
    pub regions: usize,
    /// Sentences found.
    pub sentences: usize,
    /// Prompts kept.
    pub prompts: usize,
    /// Windows skipped because one sentence was a fragment.
    pub skipped_fragment: usize,
    /// Windows skipped for being shorter than `min_chars`.
    pub skipped_short: usize,
    /// Windows skipped for being longer than `max_chars`.
    pub skipped_long: usize,
}

/// The regions of a segmented document: for each segment, its region index.
///
/// Chapter headings open regions when the document has at least two of them; otherwise
/// regions are blocks of about `region_bytes`, cut at paragraph boundaries.
pub fn regions(segments: &[Segment], region_bytes: usize) -> Vec<u32> {
    let chapters = segments
        .iter()
        .filter(|s| s.kind == SegmentKind::ChapterHeading)
        .count();
    let mut out = Vec::with_capacity(segments.len());
    let mut region = 0u32;
    let mut region_start = segments.first().map_or(0, |s| s.start);
    let mut seen_content = false;
    let mut last_paragraph = usize::MAX;
    for s in segments {
        if chapters >= 2 {
            if s.kind == SegmentKind::ChapterHeading && seen_content {
                region += 1;
            }
        } else if s.paragraph != last_paragraph
            && s.start - region_start >= region_bytes.max(1)
            && seen_content
        {
            region += 1;
            region_start = s.start;
        }
        seen_content = true;
        last_paragraph = s.paragraph;
        out.push(region);
    }
    out
}

/// Cuts prompts from one document.
pub fn document_prompts(
    doc: &Document,
    cfg: &PromptConfig,
    stats: &mut PromptStats,
) -> Vec<Prompt> {
    let body = doc.body();
    let segs = segment::segment(body);
    let regs = regions(&segs, cfg.split.region_bytes);
    stats.documents += 1;
    stats.regions += regs.last().map_or(0, |&r| r as usize + 1);
    stats.sentences += segs
        .iter()
        .filter(|s| s.kind == SegmentKind::Sentence)
        .count();
    let mut out = Vec::new();
    // Runs of consecutive sentences in one region.
    let mut i = 0;
    while i < segs.len() {
        if segs[i].kind != SegmentKind::Sentence {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < segs.len() && segs[j].kind == SegmentKind::Sentence && regs[j] == regs[i] {
            j += 1;
        }
        let run = &segs[i..j];
        let mut w = 0;
        while w + cfg.sentences <= run.len() {
            let window = &run[w..w + cfg.sentences];
            let next = run.get(w + cfg.sentences);
            if let Some(p) = make_prompt(doc, body, window, next, regs[i], cfg, stats) {
                out.push(p);
            }
            w += cfg.stride;
        }
        i = j;
    }
    stats.prompts += out.len();
    out
}

fn make_prompt(
    doc: &Document,
    body: &str,
    window: &[Segment],
    next: Option<&Segment>,
    region: u32,
    cfg: &PromptConfig,
    stats: &mut PromptStats,
) -> Option<Prompt> {
    let fragment = window.iter().any(|s| {
        let t = s.text(body);
        t.chars().count() < cfg.min_sentence_chars || !t.chars().any(char::is_alphabetic)
    });
    if fragment {
        stats.skipped_fragment += 1;
        return None;
    }
    let mut text = String::new();
    for (k, s) in window.iter().enumerate() {
        if k > 0 {
            text.push_str(if s.paragraph != window[k - 1].paragraph {
                "\n\n"
            } else {
                " "
            });
        }
        text.push_str(&segment::collapse_whitespace(s.text(body)));
    }
    let chars = text.chars().count();
    if chars < cfg.min_chars {
        stats.skipped_short += 1;
        return None;
    }
    if chars > cfg.max_chars {
        stats.skipped_long += 1;
        return None;
    }
    let (first, last) = (window.first()?, window.last()?);
    let raw = doc.raw_range(first.start..last.end);
    Some(Prompt {
        id: format!("{}:{}", doc.id(), raw.start),
        text,
        source: Source {
            document: doc.id().to_string(),
            start: raw.start,
            end: raw.end,
            region,
            split: cfg.split.split_of(doc.id(), region),
        },
        next_sentence: next.map(|s| segment::collapse_whitespace(s.text(body))),
    })
}

/// Cuts prompts from every document of the corpus, in corpus order.
///
/// ```
/// use nines_data::corpus::{Corpus, Document};
/// use nines_data::prompt::{build_prompts, PromptConfig};
/// let text = "Chapter 1\n\nThe night was dark and the wind howled over the moor. \
///     Pip walked home alone along the river. He heard a sound behind him. \
///     A man rose up from among the graves.\n\nChapter 2\n\nMorning came.";
/// let corpus = Corpus::from_documents(vec![Document::from_text("pip", text, None)]).unwrap();
/// let (prompts, stats) = build_prompts(&corpus, &PromptConfig::default()).unwrap();
/// assert_eq!(prompts.len(), 1);
/// assert!(prompts[0].text.starts_with("The night was dark"));
/// assert_eq!(prompts[0].next_sentence.as_deref(), Some("A man rose up from among the graves."));
/// assert_eq!(stats.regions, 2);
/// ```
pub fn build_prompts(corpus: &Corpus, cfg: &PromptConfig) -> Result<(Vec<Prompt>, PromptStats)> {
    cfg.validate()?;
    let mut stats = PromptStats::default();
    let mut out = Vec::new();
    for doc in corpus.documents() {
        out.extend(document_prompts(doc, cfg, &mut stats));
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn chapter_book(chapters: usize) -> String {
        let mut s = String::from("A BOOK\n\n");
        for c in 0..chapters {
            s.push_str(&format!("Chapter {}\n\n", c + 1));
            for k in 0..12 {
                s.push_str(&format!(
                    "In chapter {c} the traveller walked a long way, step {k}. "
                ));
                if k % 4 == 3 {
                    s.push_str("\n\n");
                }
            }
        }
        s
    }

    #[test]
    fn prompts_never_cross_regions_and_splits_are_per_region() {
        let doc = Document::from_text("book", &chapter_book(30), None);
        let corpus = Corpus::from_documents(vec![doc]).unwrap();
        let (prompts, stats) = build_prompts(&corpus, &PromptConfig::default()).unwrap();
        assert_eq!(stats.regions, 30);
        assert_eq!(prompts.len(), 30 * 4);
        let mut split_of_region = HashMap::new();
        for p in &prompts {
            let chapter = p.text.split_whitespace().nth(2).unwrap_or("");
            assert!(
                p.text
                    .split("In chapter ")
                    .skip(1)
                    .all(|t| t.starts_with(chapter))
            );
            let prev = split_of_region.insert(p.source.region, p.source.split);
            assert!(prev.is_none() || prev == Some(p.source.split));
        }
        let splits: std::collections::HashSet<_> = split_of_region.values().collect();
        assert!(
            splits.len() >= 2,
            "30 chapters should fall in more than one split"
        );
    }

    #[test]
    fn paragraph_breaks_are_kept_and_offsets_point_into_the_file() {
        let text = chapter_book(2);
        let doc = Document::from_text("book", &text, None);
        let corpus = Corpus::from_documents(vec![doc]).unwrap();
        let cfg = PromptConfig {
            stride: 1,
            ..PromptConfig::default()
        };
        let (prompts, _) = build_prompts(&corpus, &cfg).unwrap();
        assert!(prompts.iter().any(|p| p.text.contains("\n\n")));
        for p in &prompts {
            let raw = &text[p.source.start as usize..p.source.end as usize];
            assert_eq!(
                segment::collapse_whitespace(raw),
                segment::collapse_whitespace(&p.text)
            );
        }
    }

    #[test]
    fn long_and_fragment_windows_are_skipped() {
        let long = "word ".repeat(200);
        let text = format!("Ok. {long}end. Then this. And that was that at last. Fine.");
        let corpus = Corpus::from_documents(vec![Document::from_text("d", &text, None)]).unwrap();
        let cfg = PromptConfig {
            stride: 1,
            ..PromptConfig::default()
        };
        let (prompts, stats) = build_prompts(&corpus, &cfg).unwrap();
        assert!(prompts.is_empty());
        assert!(
            stats.skipped_fragment > 0 && stats.skipped_long > 0,
            "{stats:?}"
        );
    }

    #[test]
    fn config_is_validated() {
        let cfg = PromptConfig {
            sentences: 0,
            ..PromptConfig::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(Error::Config {
                field: "PromptConfig.sentences",
                ..
            })
        ));
    }
}
