//! Importing snippets and labels from JSONL or CSV files.
//!
//! - [`read_snippets`] reads records to add to a store: JSONL lines in the store format, or
//!   CSV with a header row and columns `prompt`, `completion` (required) and `id`,
//!   `verdict`, `labeler`, `note`, `time` (optional; a `verdict` adds a label).
//! - [`ImportLabeler`] reads labels for records already in a store, matched by `id` or by
//!   (`prompt`, `completion`): JSONL objects with `id` or `prompt` + `completion`, `verdict`,
//!   and optional `labeler`, `note`, `time` (or whole store records, whose `labels` are
//!   taken); or CSV with the same columns.
//!
//! The format follows the file extension (`.csv` is CSV, anything else JSONL). Errors name
//! `file:line`; an unknown verdict is [`Error::UnknownVerdict`]; in lenient mode bad lines
//! are skipped and counted instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::label::{Decision, Labeler, Progress};
use crate::record::{Label, Snippet, Verdict, now_rfc3339};

/// Rows read and skipped by an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows read successfully.
    pub rows: usize,
    /// Bad rows skipped (lenient mode).
    pub bad_rows: usize,
    /// The first few bad rows, as `file:line: reason`.
    pub bad_row_errors: Vec<String>,
}

impl ImportReport {
    fn bad(&mut self, lenient: bool, e: Error) -> Result<()> {
        if !lenient {
            return Err(e);
        }
        self.bad_rows += 1;
        if self.bad_row_errors.len() < 10 {
            self.bad_row_errors.push(e.to_string());
        }
        Ok(())
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// One generic row: field name → value, with its line number.
struct Row {
    line: usize,
    fields: serde_json::Map<String, serde_json::Value>,
}

fn bad_line(path: &Path, line: usize, reason: impl Into<String>) -> Error {
    Error::BadLine {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Reads rows of a JSONL or CSV file as JSON objects.
fn read_rows(path: &Path, lenient: bool, report: &mut ImportReport) -> Result<Vec<Row>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    if is_csv(path) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes.as_slice());
        let headers = reader
            .byte_headers()
            .map_err(|e| bad_line(path, 1, format!("CSV header: {e}")))?
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_lowercase())
            .collect::<Vec<_>>();
        for record in reader.byte_records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line() as usize);
                    report.bad(lenient, bad_line(path, line, e.to_string()))?;
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line() as usize);
            let mut fields = serde_json::Map::new();
            let mut utf8_error = None;
            for (h, v) in headers.iter().zip(record.iter()) {
                match std::str::from_utf8(v) {
                    Ok(s) => {
                        fields.insert(h.clone(), serde_json::Value::String(s.to_string()));
                    }
                    Err(_) => utf8_error = Some(h.clone()),
                }
            }
            if let Some(h) = utf8_error {
                report.bad(
                    lenient,
                    bad_line(path, line, format!("column {h:?} is not valid UTF-8")),
                )?;
                continue;
            }
            rows.push(Row { line, fields });
        }
    } else {
        for (k, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line_no = k + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = std::str::from_utf8(line)
                .map_err(|e| format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()))
                .and_then(|t| {
                    serde_json::from_str::<serde_json::Value>(t).map_err(|e| e.to_string())
                });
            match parsed {
                Ok(serde_json::Value::Object(fields)) => rows.push(Row {
                    line: line_no,
                    fields,
                }),
                Ok(_) => report.bad(lenient, bad_line(path, line_no, "not a JSON object"))?,
                Err(reason) => report.bad(lenient, bad_line(path, line_no, reason))?,
            }
        }
    }
    Ok(rows)
}

fn text_field(row: &Row, name: &str) -> Option<String> {
    match row.fields.get(name)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn row_label(path: &Path, row: &Row, default_labeler: &str) -> Result<Option<Label>> {
    let Some(v) = row.fields.get("verdict") else {
        return Ok(None);
    };
    let at = format!("{}:{}", path.display(), row.line);
    let verdict = match v {
        serde_json::Value::String(s) if s.trim().is_empty() => return Ok(None),
        serde_json::Value::String(s) => Verdict::parse_at(s, &at)?,
        serde_json::Value::Null => return Ok(None),
        other => {
            return Err(Error::UnknownVerdict {
                at,
                value: other.to_string(),
            });
        }
    };
    Ok(Some(Label {
        labeler: text_field(row, "labeler").unwrap_or_else(|| default_labeler.to_string()),
        verdict,
        note: text_field(row, "note").unwrap_or_default(),
        time: text_field(row, "time").unwrap_or_else(now_rfc3339),
        version: text_field(row, "version"),
    }))
}

/// Reads snippets to add to a store (see the module docs); CSV rows without an `id` get
/// the content-derived id. A `verdict` column without `labeler` is labeled `import`.
pub fn read_snippets(
    path: impl AsRef<Path>,
    lenient: bool,
) -> Result<(Vec<Snippet>, ImportReport)> {
    let path = path.as_ref();
    let mut report = ImportReport::default();
    let mut out = Vec::new();
    if !is_csv(path) {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        for (k, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match crate::store::parse_line(path, line, k + 1) {
                Ok(s) => {
                    out.push(s);
                    report.rows += 1;
                }
                Err(e) => report.bad(lenient, e)?,
            }
        }
        return Ok((out, report));
    }
    for row in read_rows(path, lenient, &mut report)? {
        let result = (|| {
            let prompt = text_field(&row, "prompt")
                .ok_or_else(|| bad_line(path, row.line, "missing column \"prompt\""))?;
            let completion = row
                .fields
                .get("completion")
                .and_then(|v| v.as_str())
                .ok_or_else(|| bad_line(path, row.line, "missing column \"completion\""))?
                .to_string();
            let mut s = Snippet::new(prompt, completion, None, None, None);
            if let Some(id) = text_field(&row, "id") {
                s.id = id;
            }
            if let Some(l) = row_label(path, &row, "import")? {
                s.labels.push(l);
            }
            s.validate()
                .map_err(|e| bad_line(path, row.line, e.to_string()))?;
            Ok(s)
        })();
        match result {
            Ok(s) => {
                out.push(s);
                report.rows += 1;
            }
            Err(e) => report.bad(lenient, e)?,
        }
    }
    Ok((out, report))
}

/// Labels from a file, applied to the snippets they match (see the module docs).
#[derive(Debug, Clone)]
pub struct ImportLabeler {
    name: String,
    path: PathBuf,
    by_id: HashMap<String, Vec<Label>>,
    by_content: HashMap<(String, String), Vec<Label>>,
    report: ImportReport,
}

impl ImportLabeler {
    /// Reads the labels of `path`. `name` is the labeler name for rows without a `labeler`,
    /// and the name runs resume by. Two rows for the same snippet and labeler with different
    /// verdicts are an [`Error::DuplicateId`].
    ///
    /// ```
    /// use nines_data::label::import::ImportLabeler;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("labels.csv");
    /// std::fs::write(&path, "id,verdict,labeler\nsn-1,injury,alice\nsn-2,no injury,alice\n").unwrap();
    /// let labels = ImportLabeler::from_file(&path, "alice", false).unwrap();
    /// assert_eq!(labels.len(), 2);
    /// ```
    pub fn from_file(path: impl AsRef<Path>, name: &str, lenient: bool) -> Result<Self> {
        let path = path.as_ref();
        let mut report = ImportReport::default();
        let rows = read_rows(path, lenient, &mut report)?;
        let mut me = ImportLabeler {
            name: name.to_string(),
            path: path.to_path_buf(),
            by_id: HashMap::new(),
            by_content: HashMap::new(),
            report: ImportReport::default(),
        };
        // (key, labeler) -> line of first row, to report conflicts.
        let mut first_line: HashMap<(String, String), usize> = HashMap::new();
        for row in rows {
            match me.add_row(&row, &mut first_line) {
                Ok(()) => report.rows += 1,
                Err(e) => report.bad(lenient, e)?,
            }
        }
        me.report = report;
        Ok(me)
    }

    fn add_row(
        &mut self,
        row: &Row,
        first_line: &mut HashMap<(String, String), usize>,
    ) -> Result<()> {
        let mut labels = Vec::new();
        if let Some(serde_json::Value::Array(ls)) = row.fields.get("labels") {
            for l in ls {
                let label: Label = serde_json::from_value(l.clone()).map_err(|e| {
                    match l.get("verdict").and_then(|v| v.as_str()) {
                        Some(v) if Verdict::parse_at(v, "").is_err() => Error::UnknownVerdict {
                            at: format!("{}:{}", self.path.display(), row.line),
                            value: v.to_string(),
                        },
                        _ => bad_line(&self.path, row.line, e.to_string()),
                    }
                })?;
                labels.push(label);
            }
        } else if let Some(l) = row_label(&self.path, row, &self.name)? {
            labels.push(l);
        } else {
            return Err(bad_line(&self.path, row.line, "no \"verdict\""));
        }
        let id = text_field(row, "id");
        let content = match (
            text_field(row, "prompt"),
            row.fields.get("completion").and_then(|v| v.as_str()),
        ) {
            (Some(p), Some(c)) => Some((p, c.to_string())),
            _ => None,
        };
        let key = match (&id, &content) {
            (Some(id), _) => format!("id:{id}"),
            (None, Some((p, c))) => format!("content:{p}\u{0}{c}"),
            (None, None) => {
                return Err(bad_line(
                    &self.path,
                    row.line,
                    "needs \"id\" or \"prompt\" and \"completion\"",
                ));
            }
        };
        for label in labels {
            let slot = match (&id, &content) {
                (Some(id), _) => self.by_id.entry(id.clone()).or_default(),
                (None, Some(c)) => self.by_content.entry(c.clone()).or_default(),
                (None, None) => continue,
            };
            match slot.iter().find(|l| l.labeler == label.labeler) {
                Some(existing) if existing.verdict != label.verdict => {
                    return Err(Error::DuplicateId {
                        path: self.path.clone(),
                        id: id.clone().unwrap_or_else(|| key.clone()),
                        first_line: first_line
                            .get(&(key.clone(), label.labeler.clone()))
                            .copied()
                            .unwrap_or(0),
                        line: row.line,
                    });
                }
                Some(_) => {}
                None => {
                    first_line.insert((key.clone(), label.labeler.clone()), row.line);
                    slot.push(label);
                }
            }
        }
        Ok(())
    }

    /// Number of snippets with imported labels.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.by_content.len()
    }

    /// Whether no labels were read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows read and skipped.
    pub fn report(&self) -> &ImportReport {
        &self.report
    }

    /// The imported labels for a snippet (by id, else by prompt and completion).
    pub fn labels_for(&self, snippet: &Snippet) -> &[Label] {
        self.by_id
            .get(&snippet.id)
            .or_else(|| {
                self.by_content
                    .get(&(snippet.prompt.clone(), snippet.completion.clone()))
            })
            .map_or(&[], Vec::as_slice)
    }
}

impl Labeler for ImportLabeler {
    fn name(&self) -> &str {
        &self.name
    }

    /// The imported label of this labeler's name for the snippet, or else its first
    /// imported label; skip when the file has none.
    fn decide(&mut self, snippet: &Snippet, _progress: Progress) -> Result<Decision> {
        let labels = self.labels_for(snippet);
        let chosen = labels
            .iter()
            .find(|l| l.labeler == self.name)
            .or_else(|| labels.first());
        Ok(match chosen {
            Some(l) => Decision::Label(l.clone()),
            None => Decision::Skip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::{RunOptions, label_store};
    use crate::store::Store;

    #[test]
    fn csv_snippets_and_labels_round_trip_through_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("in.csv");
        std::fs::write(
            &csv_path,
            "prompt,completion,verdict,labeler\n\
             \"He said, \"\"Run.\"\"\",He was shot.,injury,bob\n\
             The sea was calm.,Nothing happened.,,\n",
        )
        .unwrap();
        let (snips, report) = read_snippets(&csv_path, false).unwrap();
        assert_eq!(report.rows, 2);
        assert_eq!(snips[0].prompt, "He said, \"Run.\"");
        assert_eq!(snips[0].labels[0].labeler, "bob");
        assert!(snips[1].labels.is_empty());
        let mut store = Store::open(dir.path().join("s.jsonl")).unwrap();
        store.append(snips.clone()).unwrap();
        assert_eq!(
            store.append(snips).unwrap().added,
            0,
            "re-import is idempotent"
        );

        let labels_path = dir.path().join("labels.jsonl");
        std::fs::write(
            &labels_path,
            "{\"prompt\": \"The sea was calm.\", \"completion\": \"Nothing happened.\", \"verdict\": \"no_injury\"}\n",
        )
        .unwrap();
        let mut importer = ImportLabeler::from_file(&labels_path, "carol", false).unwrap();
        let r = label_store(
            &mut store,
            &mut importer,
            &RunOptions::default(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!((r.labeled, r.skipped), (1, 1));
        let second = store.iter().nth(1).unwrap();
        assert_eq!(
            second.label_by("carol").map(|l| l.verdict),
            Some(Verdict::NoInjury)
        );
    }

    #[test]
    fn unknown_verdict_and_conflicts_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, "id,verdict\na,injury\nb,perhaps\n").unwrap();
        match ImportLabeler::from_file(&p, "x", false) {
            Err(Error::UnknownVerdict { at, value }) => {
                assert!(at.ends_with("l.csv:3"), "{at}");
                assert_eq!(value, "perhaps");
            }
            other => panic!("{other:?}"),
        }
        let lenient = ImportLabeler::from_file(&p, "x", true).unwrap();
        assert_eq!((lenient.len(), lenient.report().bad_rows), (1, 1));

        std::fs::write(&p, "id,verdict\na,injury\na,injury\na,no_injury\n").unwrap();
        match ImportLabeler::from_file(&p, "x", false) {
            Err(Error::DuplicateId {
                id,
                first_line,
                line,
                ..
            }) => {
                assert_eq!((id.as_str(), first_line, line), ("a", 2, 4));
            }
            other => panic!("{other:?}"),
        }
        let j = dir.path().join("l.jsonl");
        std::fs::write(&j, "{\"id\": \"a\", \"verdict\": \"injury\"}\nnot json\n").unwrap();
        assert!(matches!(
            ImportLabeler::from_file(&j, "x", false),
            Err(Error::BadLine { line: 2, .. })
        ));
    }
}
