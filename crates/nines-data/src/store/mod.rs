//! The snippet store: an append-only JSONL file of [`Snippet`]s.
//!
//! # Format and semantics
//!
//! One JSON object per line (see [`crate::record`] for the fields). Lines are only ever
//! appended. A line whose `id` was seen before with the same content (see
//! [`Snippet::content_hash`]) is a newer *version* of that record (a label was added or
//! changed) and replaces it; the same id with different content is an
//! [`Error::DuplicateId`]. [`Store::iter`] yields the latest version of each record, in order of
//! first appearance. [`Store::compact`] rewrites the file with only latest versions.
//!
//! # Durability
//!
//! - [`Store::append`] writes a whole batch with one `write` call, then `fsync`s; records are
//!   in memory only once they are on disk.
//! - A crash can only tear the last line. On [`Store::open`] an unterminated last line that
//!   does not parse is cut off so that appends start on a fresh line, but its bytes are
//!   first appended to the quarantine file `<store>.quarantine` next to the store and synced
//!   (reported in [`OpenReport::quarantine`]): nothing stored is ever deleted. A torn write
//!   (the JSON ends early) is expected after a crash; a complete line that is not a valid
//!   record is someone's data, and opening says so on stderr. Every earlier line is kept. A
//!   test kills a writer process with SIGKILL mid-write to check this.
//! - A UTF-8 byte-order mark at the start of the file is accepted and kept.
//! - Whole-file rewrites ([`Store::compact`], [`write_jsonl_atomic`]) go to a temporary file
//!   in the same folder, which is `fsync`ed and renamed over the target, then the folder is
//!   `fsync`ed.
//! - One writer at a time: a writer holds an exclusive lock on `<store>.lock`
//!   ([`Error::Locked`] otherwise). Readers ([`Store::open_read_only`]) take no lock.
//!
//! # Duplicates and re-import
//!
//! Appending a record whose content is already stored (under any id) adds nothing but merges
//! its labels into the stored record, so importing the same file twice changes nothing.
//!
//! ```
//! use nines_data::record::{Label, Snippet, Verdict};
//! use nines_data::store::Store;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("snippets.jsonl");
//! let mut store = Store::open(&path).unwrap();
//! let s = Snippet::new("The door opened.", "A man fell and broke his arm.", None, None, None);
//! let id = s.id.clone();
//! store.append(vec![s.clone()]).unwrap();
//! store.upsert_label(&id, Label::now("alice", Verdict::Injury, "")).unwrap();
//! assert_eq!(store.append(vec![s]).unwrap().added, 0); // idempotent
//! drop(store);
//! let store = Store::open(&path).unwrap();
//! assert_eq!(store.get(&id).unwrap().labels[0].verdict, Verdict::Injury);
//! ```

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::{Label, Snippet};

/// How to treat bad lines when opening a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StoreOptions {
    /// Skip and count unparsable or conflicting lines instead of failing on the first.
    pub lenient: bool,
}

/// What [`Store::open`] found in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Non-empty lines read.
    pub lines: usize,
    /// Distinct records.
    pub records: usize,
    /// Lines that were newer versions of an earlier record.
    pub versions: usize,
    /// Lines whose content duplicated another record's (skipped, labels merged).
    pub duplicates: usize,
    /// Bad lines skipped in lenient mode.
    pub bad_lines: usize,
    /// The first few bad lines, as `file:line: reason`.
    pub bad_line_errors: Vec<String>,
    /// Bytes of an unterminated last line that ended early (a torn write), set aside: cut
    /// from the store and kept in the quarantine file by a writer, ignored by a reader.
    pub torn_tail_bytes: u64,
    /// An unterminated last line that is not a valid record, set aside the same way.
    pub invalid_tail: Option<InvalidTail>,
    /// Where a writer kept the last line it cut off, if it cut one.
    pub quarantine: Option<PathBuf>,
    /// Whether the file starts with a UTF-8 byte-order mark (accepted and kept).
    pub byte_order_mark: bool,
}

/// An unterminated last line that parses as JSON but is not a valid record, or does not
/// parse for a reason other than ending early: not a crash artefact but someone's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTail {
    /// 1-based line number.
    pub line: usize,
    /// Its length in bytes.
    pub bytes: u64,
    /// Why it is not a record.
    pub reason: String,
}

/// The quarantine file of a store: `<store>.quarantine`, next to it.
pub fn quarantine_path(store: &Path) -> PathBuf {
    let mut name = store
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".quarantine");
    store.with_file_name(name)
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// What [`Store::append`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// New records.
    pub added: usize,
    /// Existing records that got new or changed labels.
    pub updated: usize,
    /// Records already stored with the same labels (nothing written).
    pub unchanged: usize,
}

/// An open snippet store. See the module docs.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// `Some` for a writer: the data file (append mode) and the held lock file.
    writer: Option<(File, File)>,
    records: Vec<Snippet>,
    hashes: Vec<String>,
    /// 1-based line of each record's first appearance.
    first_line: Vec<usize>,
    by_id: HashMap<String, usize>,
    by_hash: HashMap<String, usize>,
    lines: usize,
    report: OpenReport,
}

enum Pending {
    New(Snippet, String),
    Replace(usize, Snippet),
}

impl Store {
    /// Opens (creating if needed) a store for reading and appending, strictly: the first bad
    /// line is an error naming `file:line`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens a store for writing with the given options.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let lock_path = lock_path(&path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { path }),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        let mut store = Store::empty(path.clone());
        let keep = store.load(&bytes, options)?;
        if keep < bytes.len() {
            // Set the unparsable tail aside, then cut it: appends start on a fresh line and
            // no byte is lost.
            let quarantine = quarantine_path(&path);
            keep_aside(&quarantine, &bytes[keep..])?;
            file.set_len(keep as u64).map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
            if let Some(t) = &store.report.invalid_tail {
                eprintln!(
                    "warning: {}:{}: the last line ({} bytes) is not a valid record ({}); it was moved to {} and the store continues without it",
                    path.display(),
                    t.line,
                    t.bytes,
                    t.reason,
                    quarantine.display()
                );
            }
            store.report.quarantine = Some(quarantine);
        } else if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
            // A complete last record without its newline: terminate it.
            file.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
            file.sync_data().map_err(|e| Error::io(&path, e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&path, e))?;
        store.writer = Some((file, lock));
        Ok(store)
    }

    /// Opens a store for reading only: no lock, no repair (a torn tail is ignored).
    pub fn open_read_only(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let mut store = Store::empty(path);
        store.load(&bytes, options)?;
        Ok(store)
    }

    fn empty(path: PathBuf) -> Store {
        Store {
            path,
            writer: None,
            records: Vec::new(),
            hashes: Vec::new(),
            first_line: Vec::new(),
            by_id: HashMap::new(),
            by_hash: HashMap::new(),
            lines: 0,
            report: OpenReport::default(),
        }
    }

    /// Parses the file content; returns how many bytes to keep (less than all when the last
    /// line is torn).
    fn load(&mut self, bytes: &[u8], options: StoreOptions) -> Result<usize> {
        let start = if bytes.starts_with(BYTE_ORDER_MARK) {
            self.report.byte_order_mark = true;
            BYTE_ORDER_MARK.len()
        } else {
            0
        };
        let complete = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(start, |i| (i + 1).max(start));
        let mut keep = bytes.len();
        let mut line_no = 0;
        for line in bytes[start..complete].split_inclusive(|&b| b == b'\n') {
            line_no += 1;
            self.load_line(&line[..line.len() - 1], line_no, options)?;
        }
        let tail = &bytes[complete..];
        if !tail.iter().all(u8::is_ascii_whitespace) {
            line_no += 1;
            match parse_line(&self.path, tail, line_no) {
                Ok(_) => self.load_line(tail, line_no, options)?,
                Err(e) => {
                    let torn = matches!(
                        serde_json::from_slice::<serde_json::Value>(tail),
                        Err(ref j) if j.is_eof()
                    );
                    if torn {
                        self.report.torn_tail_bytes = tail.len() as u64;
                    } else {
                        self.report.invalid_tail = Some(InvalidTail {
                            line: line_no,
                            bytes: tail.len() as u64,
                            reason: e.to_string(),
                        });
                    }
                    keep = complete;
                }
            }
        }
        self.lines = line_no;
        self.report.records = self.records.len();
        Ok(keep)
    }

    fn load_line(&mut self, line: &[u8], line_no: usize, options: StoreOptions) -> Result<()> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.report.lines += 1;
        match self.parse_and_insert(line, line_no) {
            Ok(()) => Ok(()),
            Err(e) if options.lenient => {
                self.report.bad_lines += 1;
                if self.report.bad_line_errors.len() < 10 {
                    self.report.bad_line_errors.push(e.to_string());
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn parse_and_insert(&mut self, line: &[u8], line_no: usize) -> Result<()> {
        let snippet = parse_line(&self.path, line, line_no)?;
        let hash = snippet.content_hash();
        if let Some(&i) = self.by_id.get(&snippet.id) {
            if self.hashes[i] != hash {
                return Err(Error::DuplicateId {
                    path: self.path.clone(),
                    id: snippet.id,
                    first_line: self.first_line[i],
                    line: line_no,
                });
            }
            self.records[i] = snippet;
            self.report.versions += 1;
            return Ok(());
        }
        if let Some(&i) = self.by_hash.get(&hash) {
            for l in snippet.labels {
                self.records[i].upsert_label(l);
            }
            self.report.duplicates += 1;
            return Ok(());
        }
        self.insert(snippet, hash, line_no);
        Ok(())
    }

    fn insert(&mut self, snippet: Snippet, hash: String, line_no: usize) {
        let i = self.records.len();
        self.by_id.insert(snippet.id.clone(), i);
        self.by_hash.insert(hash.clone(), i);
        self.records.push(snippet);
        self.hashes.push(hash);
        self.first_line.push(line_no);
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening found.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store has no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Latest version of every record, in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = &Snippet> {
        self.records.iter()
    }

    /// The record with this id.
    pub fn get(&self, id: &str) -> Option<&Snippet> {
        self.by_id.get(id).map(|&i| &self.records[i])
    }

    /// Appends records (see the module docs for duplicates). The batch is checked whole
    /// before anything is written: a conflicting id ([`Error::DuplicateId`]) or an invalid
    /// record ([`Error::InvalidRecord`]) writes nothing.
    pub fn append(&mut self, records: impl IntoIterator<Item = Snippet>) -> Result<AppendReport> {
        let mut report = AppendReport::default();
        let mut pending: Vec<Pending> = Vec::new();
        // id or hash -> index into `pending` for records new in this batch.
        let mut new_by_id: HashMap<String, usize> = HashMap::new();
        let mut new_by_hash: HashMap<String, usize> = HashMap::new();
        let mut replaced: HashMap<usize, usize> = HashMap::new();
        for rec in records {
            rec.validate()?;
            let hash = rec.content_hash();
            let target = if let Some(&p) = new_by_id.get(&rec.id) {
                Some(Err(p))
            } else if let Some(&i) = self.by_id.get(&rec.id) {
                Some(Ok(i))
            } else if let Some(&p) = new_by_hash.get(&hash) {
                Some(Err(p))
            } else {
                self.by_hash.get(&hash).map(|&i| Ok(i))
            };
            match target {
                None => {
                    new_by_id.insert(rec.id.clone(), pending.len());
                    new_by_hash.insert(hash.clone(), pending.len());
                    pending.push(Pending::New(rec, hash));
                    report.added += 1;
                }
                Some(Err(p)) => {
                    let Pending::New(cur, cur_hash) = &mut pending[p] else {
                        continue;
                    };
                    if *cur_hash != hash {
                        return Err(self.dup(&rec.id, 0));
                    }
                    for l in rec.labels {
                        cur.upsert_label(l);
                    }
                }
                Some(Ok(i)) => {
                    if self.hashes[i] != hash {
                        return Err(self.dup(&rec.id, i));
                    }
                    let slot = replaced.get(&i).copied();
                    let mut merged = match slot {
                        Some(p) => match &pending[p] {
                            Pending::Replace(_, s) => s.clone(),
                            Pending::New(s, _) => s.clone(),
                        },
                        None => self.records[i].clone(),
                    };
                    let mut changed = false;
                    for l in rec.labels {
                        changed |= merged.upsert_label(l);
                    }
                    if !changed {
                        report.unchanged += 1;
                        continue;
                    }
                    report.updated += 1;
                    match slot {
                        Some(p) => pending[p] = Pending::Replace(i, merged),
                        None => {
                            replaced.insert(i, pending.len());
                            pending.push(Pending::Replace(i, merged));
                        }
                    }
                }
            }
        }
        self.write_pending(pending)?;
        Ok(report)
    }

    fn dup(&self, id: &str, existing: usize) -> Error {
        Error::DuplicateId {
            path: self.path.clone(),
            id: id.to_string(),
            first_line: self.first_line.get(existing).copied().unwrap_or(0),
            line: 0,
        }
    }

    fn write_pending(&mut self, pending: Vec<Pending>) -> Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let Some((file, _)) = self.writer.as_mut() else {
            return Err(Error::io(
                &self.path,
                std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "store was opened read-only",
                ),
            ));
        };
        let mut buf = Vec::new();
        for p in &pending {
            let s = match p {
                Pending::New(s, _) | Pending::Replace(_, s) => s,
            };
            serde_json::to_writer(&mut buf, s).map_err(|e| Error::InvalidRecord {
                id: s.id.clone(),
                field: "json",
                reason: e.to_string(),
            })?;
            buf.push(b'\n');
        }
        file.write_all(&buf).map_err(|e| Error::io(&self.path, e))?;
        file.sync_data().map_err(|e| Error::io(&self.path, e))?;
        for p in pending {
            self.lines += 1;
            match p {
                Pending::New(s, hash) => {
                    let line = self.lines;
                    self.insert(s, hash, line);
                }
                Pending::Replace(i, s) => self.records[i] = s,
            }
        }
        Ok(())
    }

    /// Sets `label` on record `id` (replacing that labeler's earlier label); writes a new
    /// version only if the verdict or note changed.
    pub fn upsert_label(&mut self, id: &str, label: Label) -> Result<bool> {
        Ok(self.upsert_labels(vec![(id.to_string(), label)])? > 0)
    }

    /// [`Store::upsert_label`] for many labels with one write; returns how many records changed.
    pub fn upsert_labels(
        &mut self,
        labels: impl IntoIterator<Item = (String, Label)>,
    ) -> Result<usize> {
        let mut changed: Vec<(usize, Snippet)> = Vec::new();
        let mut slot: HashMap<usize, usize> = HashMap::new();
        for (id, label) in labels {
            let i = *self.by_id.get(&id).ok_or_else(|| Error::UnknownId {
                path: self.path.clone(),
                id: id.clone(),
            })?;
            match slot.get(&i) {
                Some(&p) => {
                    changed[p].1.upsert_label(label);
                }
                None => {
                    let mut s = self.records[i].clone();
                    if s.upsert_label(label) {
                        slot.insert(i, changed.len());
                        changed.push((i, s));
                    }
                }
            }
        }
        let n = changed.len();
        self.write_pending(
            changed
                .into_iter()
                .map(|(i, s)| Pending::Replace(i, s))
                .collect(),
        )?;
        Ok(n)
    }

    /// Removes `labeler`'s label from record `id` (used by undo); returns the removed label.
    pub fn remove_label(&mut self, id: &str, labeler: &str) -> Result<Option<Label>> {
        let i = *self.by_id.get(id).ok_or_else(|| Error::UnknownId {
            path: self.path.clone(),
            id: id.to_string(),
        })?;
        let mut s = self.records[i].clone();
        let removed = s.remove_label(labeler);
        if removed.is_some() {
            self.write_pending(vec![Pending::Replace(i, s)])?;
        }
        Ok(removed)
    }

    /// Rewrites the file atomically with only the latest version of each record.
    pub fn compact(&mut self) -> Result<()> {
        if self.writer.is_none() {
            return Err(Error::io(
                &self.path,
                std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "store was opened read-only",
                ),
            ));
        }
        write_jsonl_atomic(&self.path, &self.records)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        if let Some((f, _)) = self.writer.as_mut() {
            *f = file;
        }
        self.lines = self.records.len();
        self.first_line = (1..=self.records.len()).collect();
        Ok(())
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// Parses one JSONL line into a validated snippet, with `file:line` errors.
/// Appends `bytes` (and a newline) to the quarantine file and syncs it.
fn keep_aside(quarantine: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(quarantine)
        .map_err(|e| Error::io(quarantine, e))?;
    f.write_all(bytes)
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(quarantine, e))
}

pub(crate) fn parse_line(path: &Path, line: &[u8], line_no: usize) -> Result<Snippet> {
    let bad = |reason: String| Error::BadLine {
        path: path.to_path_buf(),
        line: line_no,
        reason,
    };
    let text = std::str::from_utf8(line).map_err(|e| {
        bad(format!(
            "invalid UTF-8 at byte {} of the line",
            e.valid_up_to()
        ))
    })?;
    let snippet: Snippet = match serde_json::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            if let Some(v) = unknown_verdict(text) {
                return Err(Error::UnknownVerdict {
                    at: format!("{}:{line_no}", path.display()),
                    value: v,
                });
            }
            return Err(bad(e.to_string()));
        }
    };
    snippet.validate().map_err(|e| bad(e.to_string()))?;
    Ok(snippet)
}

/// The first verdict string in a JSON record's labels that is not a known verdict.
fn unknown_verdict(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("labels")?.as_array()?.iter().find_map(|l| {
        let verdict = l.get("verdict")?;
        match verdict.as_str() {
            Some(s)
                if serde_json::from_value::<crate::record::Verdict>(verdict.clone()).is_err() =>
            {
                Some(s.to_string())
            }
            None => Some(verdict.to_string()),
            _ => None,
        }
    })
}

/// Writes `records` as JSONL to `path` atomically (see [`write_lines_atomic`]).
pub fn write_jsonl_atomic<'a>(
    path: &Path,
    records: impl IntoIterator<Item = &'a Snippet>,
) -> Result<()> {
    let mut lines = Vec::new();
    for r in records {
        lines.push(serde_json::to_string(r).map_err(|e| Error::InvalidRecord {
            id: r.id.clone(),
            field: "json",
            reason: e.to_string(),
        })?);
    }
    write_lines_atomic(path, lines.iter().map(String::as_str))
}

/// Writes lines to `path` atomically (see [`write_atomic_with`]), each ended by `\n`.
pub fn write_lines_atomic<'a>(path: &Path, lines: impl IntoIterator<Item = &'a str>) -> Result<()> {
    write_atomic_with(path, |f| {
        for line in lines {
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// Writes `bytes` to `path` atomically (see [`write_atomic_with`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// The one crash-safe writer of single files in Nines: `fill` writes into a temporary file
/// in the same folder, which is `fsync`ed and renamed over `path`, then the folder is
/// `fsync`ed. Readers see the old file or the new one, never a mix; on any error the
/// temporary file is removed and `path` is left as it was. (Checkpoint folders have their
/// own routine, `nines_runtime::train::CheckpointSlot`.)
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(name);
    let result = (|| {
        let mut f = std::io::BufWriter::new(File::create(&tmp).map_err(|e| Error::io(&tmp, e))?);
        fill(&mut f).map_err(|e| Error::io(&tmp, e))?;
        let f = f
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        if let Ok(d) = File::open(dir) {
            // Not every platform can fsync a folder; the rename is still atomic.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
