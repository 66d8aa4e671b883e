//! Labelers: who decides whether a completion describes an injury.
//!
//! Every labeler implements [`Labeler`]: shown a [`Snippet`], it returns a [`Decision`]
//! (a label, skip, or — for people at a terminal — undo or quit). [`label_store`] runs a
//! labeler over a [`Store`]: it visits the records that labeler has not labeled yet (so a run
//! resumes where the last one stopped), handles undo, and writes labels to the store in
//! batches (after every decision for interactive labelers).
//!
//! Implementations, one per module:
//! - [`import::ImportLabeler`]: labels read from a JSONL or CSV file;
//! - [`terminal::TerminalLabeler`]: a person at a terminal;
//! - [`oracle::OracleLabeler`]: the documented rule-based injury predicate;
//! - [`noise::NoisyLabeler`]: wraps another labeler and flips its verdicts at set rates.
//!
//! [`aggregate`] combines labels of several labelers and measures their agreement.

pub mod aggregate;
pub mod dev_set;
pub mod import;
pub mod noise;
pub mod oracle;
pub mod terminal;
pub mod understanding;

use crate::error::Result;
use crate::record::{Label, Snippet};
use crate::store::Store;

/// Where a labeling run is, shown to labelers that display progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Position of this snippet in the run's queue, from 0.
    pub index: usize,
    /// Length of the run's queue.
    pub queue: usize,
    /// Records of the store this labeler has labeled, before this one.
    pub labeled: usize,
    /// Records in the store.
    pub total: usize,
}

/// A labeler's answer for one snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Set this label.
    Label(Label),
    /// Leave the snippet unlabeled for now.
    Skip,
    /// Go back to the previous decision of this run and remove its label.
    Undo,
    /// Stop the run; everything decided so far is kept.
    Quit,
}

/// Something that labels snippets.
pub trait Labeler {
    /// The labeler's name, stored in [`Label::labeler`]; a run skips snippets that already
    /// carry a label of this name.
    fn name(&self) -> &str;

    /// Decides one snippet.
    fn decide(&mut self, snippet: &Snippet, progress: Progress) -> Result<Decision>;

    /// Whether a person is deciding: then every decision is written at once.
    fn is_interactive(&self) -> bool {
        false
    }

    /// The version of a rule-based labeler's rules, stored in [`Label::version`]: a run
    /// relabels snippets whose label of this name carries another version. `None` (people,
    /// imports) never makes a label stale.
    fn version(&self) -> Option<&str> {
        None
    }
}

impl<L: Labeler + ?Sized> Labeler for Box<L> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn decide(&mut self, snippet: &Snippet, progress: Progress) -> Result<Decision> {
        (**self).decide(snippet, progress)
    }

    fn is_interactive(&self) -> bool {
        (**self).is_interactive()
    }

    fn version(&self) -> Option<&str> {
        (**self).version()
    }
}

/// Options of [`label_store`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RunOptions {
    /// Also visit snippets this labeler has labeled. Default false (resume).
    pub relabel: bool,
    /// Labels per store write for non-interactive labelers. Default 1000.
    pub batch: usize,
}

impl RunOptions {
    /// A positive batch size.
    pub fn validate(&self) -> Result<()> {
        if self.batch == 0 {
            return Err(crate::error::Error::config(
                "RunOptions.batch",
                "must be positive",
            ));
        }
        Ok(())
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            relabel: false,
            batch: 1000,
        }
    }
}

/// What [`label_store`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Labels written (that changed the store).
    pub labeled: usize,
    /// Snippets skipped.
    pub skipped: usize,
    /// Decisions undone.
    pub undone: usize,
    /// The labeler quit before the end of the queue.
    pub quit: bool,
}

/// Runs `labeler` over the store's snippets that it has not labeled yet (or labeled with
/// another version of its rules), in store order.
///
/// `on_progress(done, queue)` is called after each snippet. Undo goes back one decision of
/// this run (restoring that snippet's previous label of this labeler, if any) and shows that
/// snippet again.
pub fn label_store(
    store: &mut Store,
    labeler: &mut dyn Labeler,
    options: &RunOptions,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<RunReport> {
    options.validate()?;
    let name = labeler.name().to_string();
    let version = labeler.version().map(str::to_string);
    let current = |s: &Snippet| {
        s.label_by(&name)
            .is_some_and(|l| version.is_none() || l.version == version)
    };
    let queue: Vec<String> = store
        .iter()
        .filter(|s| options.relabel || !current(s))
        .map(|s| s.id.clone())
        .collect();
    let interactive = labeler.is_interactive();
    let batch = options.batch;
    let mut report = RunReport::default();
    let mut pending: Vec<(String, Label)> = Vec::new();
    // (queue index, previous label of this labeler) for each label decision of this run.
    let mut history: Vec<(usize, Option<Label>)> = Vec::new();
    let mut labeled = store.iter().filter(|s| s.label_by(&name).is_some()).count();
    let mut i = 0;
    while i < queue.len() {
        let id = &queue[i];
        let Some(snippet) = store.get(id).cloned() else {
            i += 1;
            continue;
        };
        let progress = Progress {
            index: i,
            queue: queue.len(),
            labeled,
            total: store.len(),
        };
        match labeler.decide(&snippet, progress)? {
            Decision::Label(label) => {
                let previous = snippet.label_by(&label.labeler).cloned();
                history.push((i, previous));
                if snippet.label_by(&label.labeler).is_none() && label.labeler == name {
                    labeled += 1;
                }
                pending.push((id.clone(), label));
                if interactive || pending.len() >= batch {
                    report.labeled += store.upsert_labels(std::mem::take(&mut pending))?;
                }
                i += 1;
            }
            Decision::Skip => {
                report.skipped += 1;
                i += 1;
            }
            Decision::Undo => {
                report.labeled += store.upsert_labels(std::mem::take(&mut pending))?;
                if let Some((back, previous)) = history.pop() {
                    let back_id = &queue[back];
                    match previous {
                        Some(l) => {
                            store.upsert_label(back_id, l)?;
                        }
                        None => {
                            if store.remove_label(back_id, &name)?.is_some() {
                                labeled = labeled.saturating_sub(1);
                            }
                        }
                    }
                    report.undone += 1;
                    i = back;
                }
            }
            Decision::Quit => {
                report.quit = true;
                break;
            }
        }
        on_progress(i, queue.len());
    }
    report.labeled += store.upsert_labels(pending)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Verdict;

    struct Scripted {
        answers: Vec<Decision>,
        seen: Vec<String>,
    }

    impl Labeler for Scripted {
        fn name(&self) -> &str {
            "script"
        }
        fn decide(&mut self, s: &Snippet, _: Progress) -> Result<Decision> {
            self.seen.push(s.prompt.clone());
            Ok(if self.answers.is_empty() {
                Decision::Quit
            } else {
                self.answers.remove(0)
            })
        }
        fn is_interactive(&self) -> bool {
            true
        }
    }

    fn label(v: Verdict) -> Decision {
        Decision::Label(Label::now("script", v, ""))
    }

    #[test]
    fn oracle_run_writes_in_batches_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut store = Store::open(&path).unwrap();
        let completions = [
            "He stabbed the man.",
            "She poured the tea.",
            "He did not hurt her.",
        ];
        store
            .append(
                completions
                    .iter()
                    .map(|c| Snippet::new("The night was dark.", *c, None, None, None)),
            )
            .unwrap();
        let mut oracle = oracle::OracleLabeler::new();
        let options = RunOptions {
            relabel: false,
            batch: 2,
        };
        let mut calls = 0;
        let r = label_store(&mut store, &mut oracle, &options, &mut |_, _| calls += 1).unwrap();
        assert_eq!((r.labeled, calls), (3, 3));
        let verdicts: Vec<_> = store
            .iter()
            .map(|s| s.label_by("oracle").map(|l| l.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                Some(Verdict::Injury),
                Some(Verdict::NoInjury),
                Some(Verdict::NoInjury)
            ]
        );
        drop(store);
        // Two batches of two and one: the label lines follow the three record lines.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 6);
        let mut store = Store::open(&path).unwrap();
        let again = label_store(&mut store, &mut oracle, &options, &mut |_, _| {}).unwrap();
        assert_eq!(again.labeled, 0, "a second run has nothing left to label");
        assert!(store.iter().all(|s| {
            s.label_by("oracle").unwrap().version.as_deref() == Some(oracle::lexicon::version())
        }));
        // A label written by other rules (an older lexicon) is stale: the run redoes it.
        let first = store.iter().next().unwrap().id.clone();
        let old = store
            .get(&first)
            .unwrap()
            .label_by("oracle")
            .unwrap()
            .clone();
        store
            .upsert_label(&first, old.with_version("0000000000000000"))
            .unwrap();
        let stale = label_store(&mut store, &mut oracle, &options, &mut |_, _| {}).unwrap();
        assert_eq!(stale.labeled, 1);
        let relabeled = store.get(&first).unwrap().label_by("oracle").unwrap();
        assert_eq!(
            relabeled.version.as_deref(),
            Some(oracle::lexicon::version())
        );
    }

    #[test]
    fn undo_skip_quit_and_resume() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("s.jsonl")).unwrap();
        store
            .append((0..4).map(|i| Snippet::new(format!("p{i}"), "c", None, None, None)))
            .unwrap();
        let mut l = Scripted {
            answers: vec![
                label(Verdict::Injury),
                label(Verdict::NoInjury),
                Decision::Undo,
                label(Verdict::Unsure),
                Decision::Skip,
                Decision::Quit,
            ],
            seen: vec![],
        };
        let r = label_store(&mut store, &mut l, &RunOptions::default(), &mut |_, _| {}).unwrap();
        assert_eq!(l.seen, ["p0", "p1", "p2", "p1", "p2", "p3"]);
        assert!(r.quit);
        assert_eq!(r.undone, 1);
        let verdicts: Vec<_> = store
            .iter()
            .map(|s| s.label_by("script").map(|l| l.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [Some(Verdict::Injury), Some(Verdict::Unsure), None, None]
        );
        // Resume: only unlabeled snippets are shown.
        let mut l2 = Scripted {
            answers: vec![label(Verdict::NoInjury), label(Verdict::NoInjury)],
            seen: vec![],
        };
        label_store(&mut store, &mut l2, &RunOptions::default(), &mut |_, _| {}).unwrap();
        assert_eq!(l2.seen, ["p2", "p3"]);
        assert!(store.iter().all(|s| s.label_by("script").is_some()));
    }
}
