//! [`TerminalLabeler`]: a person labels snippets at a terminal.
//!
//! For each snippet it shows progress, the prompt and the completion, then reads one line:
//!
//! | key | action |
//! | --- | --- |
//! | `i` | injury |
//! | `n` | no injury |
//! | `u` | unsure |
//! | `s` | skip (leave unlabeled) |
//! | `b` | back: undo the previous decision |
//! | `q` | quit (also end of input) |
//!
//! Anything after the key is kept as the label's note (`i arm broken`). Run it with
//! [`crate::label::label_store`]: every decision is written to the store at once, and a new
//! run resumes with the first snippet this labeler has not labeled.

use std::io::{BufRead, Write};

use crate::error::{Error, Result};
use crate::label::{Decision, Labeler, Progress};
use crate::record::{Label, Snippet, Verdict};

/// A labeler that asks a person (see the module docs).
#[derive(Debug)]
pub struct TerminalLabeler<R, W> {
    name: String,
    input: R,
    output: W,
}

impl TerminalLabeler<std::io::StdinLock<'static>, std::io::Stdout> {
    /// A labeler on the process's standard input and output.
    pub fn stdio(name: impl Into<String>) -> Self {
        TerminalLabeler::new(name, std::io::stdin().lock(), std::io::stdout())
    }
}

impl<R: BufRead, W: Write> TerminalLabeler<R, W> {
    /// A labeler named `name` (the person's handle) reading `input` and writing `output`.
    pub fn new(name: impl Into<String>, input: R, output: W) -> Self {
        TerminalLabeler {
            name: name.into(),
            input,
            output,
        }
    }

    /// The output, to inspect what was shown.
    pub fn into_output(self) -> W {
        self.output
    }

    fn show(&mut self, snippet: &Snippet, p: Progress) -> std::io::Result<()> {
        let done = p.labeled;
        let pct = (100 * done).checked_div(p.total).unwrap_or(0);
        writeln!(self.output)?;
        writeln!(
            self.output,
            "── {}/{} labeled ({pct}%) · item {} of {} in this run · {} ──",
            done,
            p.total,
            p.index + 1,
            p.queue,
            snippet.id
        )?;
        writeln!(self.output, "PROMPT:")?;
        for line in snippet.prompt.lines() {
            writeln!(self.output, "  {line}")?;
        }
        writeln!(self.output, "COMPLETION:")?;
        writeln!(self.output, "» {}", snippet.completion)?;
        write!(
            self.output,
            "[i]njury  [n]o injury  [u]nsure  [s]kip  [b]ack  [q]uit > "
        )?;
        self.output.flush()
    }
}

impl<R: BufRead, W: Write> Labeler for TerminalLabeler<R, W> {
    fn name(&self) -> &str {
        &self.name
    }

    fn decide(&mut self, snippet: &Snippet, progress: Progress) -> Result<Decision> {
        let io_err = |e| Error::io("<terminal>", e);
        loop {
            self.show(snippet, progress).map_err(io_err)?;
            let mut line = String::new();
            if self.input.read_line(&mut line).map_err(io_err)? == 0 {
                writeln!(self.output).map_err(io_err)?;
                return Ok(Decision::Quit);
            }
            let line = line.trim();
            let (key, note) = match line.split_once(char::is_whitespace) {
                Some((k, n)) => (k, n.trim()),
                None => (line, ""),
            };
            let verdict = match key.to_lowercase().as_str() {
                "i" => Some(Verdict::Injury),
                "n" => Some(Verdict::NoInjury),
                "u" => Some(Verdict::Unsure),
                "s" => return Ok(Decision::Skip),
                "b" => return Ok(Decision::Undo),
                "q" => return Ok(Decision::Quit),
                _ => None,
            };
            match verdict {
                Some(v) => return Ok(Decision::Label(Label::now(self.name.clone(), v, note))),
                None => {
                    writeln!(self.output, "unknown key {key:?}: use i, n, u, s, b or q")
                        .map_err(io_err)?;
                }
            }
        }
    }

    fn is_interactive(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::{RunOptions, label_store};
    use crate::store::Store;

    #[test]
    fn keys_undo_resume_and_progress() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut store = Store::open(&path).unwrap();
        store
            .append((0..3).map(|i| {
                Snippet::new(
                    format!("prompt {i}"),
                    format!("completion {i}"),
                    None,
                    None,
                    None,
                )
            }))
            .unwrap();
        let input = b"x\ni broke his arm\nn\nb\nu\nq\n" as &[u8];
        let mut t = TerminalLabeler::new("ann", input, Vec::new());
        let report =
            label_store(&mut store, &mut t, &RunOptions::default(), &mut |_, _| {}).unwrap();
        assert!(report.quit);
        let shown = String::from_utf8(t.into_output()).unwrap();
        assert!(shown.contains("unknown key \"x\""));
        assert!(shown.contains("0/3 labeled"));
        assert!(shown.contains("» completion 1"));
        let labels: Vec<_> = store
            .iter()
            .map(|s| s.label_by("ann").map(|l| (l.verdict, l.note.clone())))
            .collect();
        assert_eq!(
            labels,
            [
                Some((Verdict::Injury, "broke his arm".to_string())),
                Some((Verdict::Unsure, String::new())),
                None
            ]
        );
        drop(store);
        // A new session resumes at the unlabeled snippet; end of input quits.
        let mut store = Store::open(&path).unwrap();
        let mut t = TerminalLabeler::new("ann", b"n\n" as &[u8], Vec::new());
        label_store(&mut store, &mut t, &RunOptions::default(), &mut |_, _| {}).unwrap();
        let shown = String::from_utf8(t.into_output()).unwrap();
        assert!(shown.contains("» completion 2") && !shown.contains("» completion 0"));
        assert!(store.iter().all(|s| s.label_by("ann").is_some()));
    }
}
