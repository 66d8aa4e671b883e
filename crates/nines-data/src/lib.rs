//! Fiction data for Nines: corpus, prompts, the snippet store and labelers.
//!
//! This crate is the first stage of the pipeline and the format every later stage reads and
//! writes. It turns novels into labeled `(prompt, completion, verdict)` records:
//!
//! 1. [`corpus`] loads UTF-8 text (a file or a folder), strips Project Gutenberg header,
//!    footer and front matter, a byte-order mark and CRLF line ends, and maps every passage
//!    back to byte offsets of the original file. The default corpus is `data/corpus`.
//! 2. [`segment`] cuts text into headings and sentences (abbreviations, dialogue, nested
//!    quotes, ellipses, dashes); [`prompt`] takes runs of N sentences as prompts, within one
//!    chapter; [`split`] assigns chapters to train / validation / test.
//! 3. [`select`] scores prompts ([`select::PromptScorer`]) and samples them with recorded
//!    inclusion probabilities, so estimates can be reweighted to uniform prompts.
//! 4. [`complete`] samples k one-sentence completions per prompt through a
//!    [`complete::CompletionSampler`] (the model runtime implements it elsewhere).
//! 5. [`record`] defines the [`Snippet`] record; [`store`] keeps snippets in an append-only,
//!    crash-safe JSONL file.
//! 6. [`label`] holds the labelers: imports, a terminal labeler for people, the rule-based
//!    [`label::oracle::OracleLabeler`] that stands in for people in simulations, a noise
//!    wrapper, and aggregation with agreement statistics.
//!
//! [`score`] holds [`PairScorer`], the one trait every later stage (filter, active learning,
//! distillation) uses to ask for P(injury) of a `(prompt, completion)` pair.
//!
//! The crate does not depend on a model runtime.
//!
//! ```
//! use nines_data::corpus::{Corpus, Document};
//! use nines_data::label::oracle::OracleLabeler;
//! use nines_data::prompt::{build_prompts, PromptConfig};
//! use nines_data::record::{Snippet, Verdict};
//! use nines_data::select::{select, LexiconScorer, SelectionConfig};
//!
//! let text = "Chapter 1\n\nThe whale rose beside the boat in a cloud of spray. \
//!     Ahab stood in the bow with the harpoon raised high. The men held their breath.\n\n\
//!     The iron flew.\n\nChapter 2\n\nAll was calm.";
//! let corpus = Corpus::from_documents(vec![Document::from_text("moby", text, None)]).unwrap();
//! let (prompts, _) = build_prompts(&corpus, &PromptConfig::default()).unwrap();
//! let chosen = select(&prompts, &LexiconScorer::default(), &SelectionConfig::default()).unwrap();
//! assert_eq!(chosen.len(), 1); // one prompt, and a target above the population
//!
//! let p = &chosen[0];
//! let snippet = Snippet::new(p.prompt.text.clone(), "The harpoon pierced the whale's side.",
//!     Some(p.prompt.source.clone()), None, Some(p.selection.clone()));
//! let judgment = OracleLabeler::new().judge(&snippet.prompt, &snippet.completion);
//! assert_eq!(judgment.verdict, Verdict::Injury);
//! ```
#![deny(missing_docs)]

pub mod complete;
pub mod corpus;
pub mod error;
pub mod label;
pub mod prompt;
pub mod record;
pub mod score;
pub mod segment;
pub mod select;
pub mod split;
pub mod store;

pub use error::{Error, Result};
pub use record::{Label, Snippet, Verdict};
pub use score::{FnScorer, PairScorer};
pub use store::Store;
