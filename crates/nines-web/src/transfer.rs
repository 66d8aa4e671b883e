//! Moving data between the database and nines-data files, so the pipeline reads what people
//! entered and people label what the pipeline produced.
//!
//! - Labeling items come in as nines-data records (store JSONL, or the label import formats
//!   of [`nines_data::label::import::read_snippets`]: JSONL or CSV). Records from a prompt or
//!   active-learning selection keep their `selection` (inclusion probability, population),
//!   so estimates from the labels can be reweighted.
//! - Labels go out into a nines-data store ([`export_store`]): records are appended (the
//!   store deduplicates) and every label made here is set on its record.
//! - Comparison pairs come in as JSONL [`PairItem`]s; judgments go out as JSONL
//!   [`Judgment`]s, the format `nines compare` writes.

use std::path::Path;

use nines_data::Snippet;
use nines_data::store::{AppendReport, Store};

use crate::db::Db;
use crate::db::labels::ImportCounts;
use crate::db::pairs::{Judgment, PairItem};
use crate::error::{Result, WebError};

/// Parses store records, one JSON object a line (blank lines skipped). Errors name
/// `field` and the line.
pub fn parse_snippets(field: &str, text: &str) -> Result<Vec<Snippet>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let s: Snippet = serde_json::from_str(line)
            .map_err(|e| WebError::field(field, format!("line {}: {e}", i + 1)))?;
        s.validate()
            .map_err(|e| WebError::field(field, format!("line {}: {e}", i + 1)))?;
        out.push(s);
    }
    Ok(out)
}

/// Parses comparison pairs, one JSON object a line (blank lines skipped). Errors name `field`
/// and the line.
pub fn parse_pairs(field: &str, text: &str) -> Result<Vec<PairItem>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: PairItem = serde_json::from_str(line)
            .map_err(|e| WebError::field(field, format!("line {}: {e}", i + 1)))?;
        if p.id.trim().is_empty() {
            return Err(WebError::field(field, format!("line {}: empty id", i + 1)));
        }
        out.push(p);
    }
    Ok(out)
}

/// Adds the records of a nines-data store or import file (JSONL or CSV, by extension) to a
/// labeling queue.
pub async fn import_snippets_file(db: &Db, queue: &str, path: &Path) -> Result<ImportCounts> {
    let (snippets, _) = nines_data::label::import::read_snippets(path, false)?;
    db.add_snippets(queue, &snippets).await
}

/// Adds the pairs of a JSONL file to a comparison queue; returns (added, already there).
pub async fn import_pairs_file(db: &Db, queue: &str, path: &Path) -> Result<(usize, usize)> {
    let text = std::fs::read_to_string(path).map_err(|source| WebError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    db.add_pairs(queue, &parse_pairs(&path.display().to_string(), &text)?)
        .await
}

/// Writes the snippets of `queue` (every labeling queue when `None`) with their labels into
/// the nines-data store at `path` (created if missing): new records are appended, and labels
/// made here are set on the stored records. Running it again changes nothing.
pub async fn export_store(db: &Db, queue: Option<&str>, path: &Path) -> Result<AppendReport> {
    let snippets = db.snippets(queue).await?;
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<AppendReport> {
        let mut store = Store::open(&path)?;
        let labels: Vec<(String, nines_data::Label)> = snippets
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| (s.id.clone(), l.clone())))
            .collect();
        let mut report = store.append(snippets)?;
        let known: Vec<_> = labels
            .into_iter()
            .filter(|(id, _)| store.get(id).is_some())
            .collect();
        report.updated += store.upsert_labels(known)?;
        Ok(report)
    })
    .await
    .map_err(|e| WebError::Io {
        what: "exporting".into(),
        source: std::io::Error::other(e),
    })?
}

/// Records as JSONL text (the store format, one a line).
pub fn snippets_jsonl(snippets: &[Snippet]) -> String {
    let mut out = String::new();
    for s in snippets {
        if let Ok(line) = serde_json::to_string(s) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Judgments as JSONL text (the format of `nines compare`).
pub fn judgments_jsonl(judgments: &[Judgment]) -> String {
    let mut out = String::new();
    for j in judgments {
        if let Ok(line) = serde_json::to_string(j) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_name_the_field_and_line() {
        let e = parse_snippets("jsonl", "\n{\"id\": 3}\n").unwrap_err();
        assert!(
            matches!(&e, WebError::BadField { field, reason } if field == "jsonl" && reason.starts_with("line 2:")),
            "{e}"
        );
        let e = parse_pairs(
            "jsonl",
            r#"{"id":"","prompt":"p","baseline":"a","candidate":"b"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("empty id"), "{e}");
        let ok = parse_pairs(
            "jsonl",
            r#"{"id":"x","prompt":"p","baseline":"a","candidate":"b"}"#,
        )
        .unwrap();
        assert!(!ok[0].unfiltered_accepted);
    }
}
